"""Read a capture into decoded columns, with every record accounted for.

The one read -> decode -> TCP loop: ``open_capture`` opens a file for a pass, and
``decoded_batches`` walks it batch by batch, decodes each batch, counts every record into its
class and hands on the TCP packets (``decode_batch`` is one step of it, for live capture).
Every pass over a capture (the analysis drivers, stream collection) goes through it.
``decode_capture`` keeps the rows of a whole capture; ``read_packets`` is its DataFrame face.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from . import jit
from .capture import BATCH_RECORDS, CaptureInfo, CaptureReader, CaptureSpec, MergedReader, RecordBatch, open_reader
from .capture.reader import ProgressCallback
from .decode import Decoder, PacketBatch, status, tunnels
from .decode.columns import MARK_BAD_IP_CHECKSUM, MARK_BAD_TCP_CHECKSUM, MARK_REASSEMBLED, MARK_TRUNCATED

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")
# How many batches ``read_ahead`` reads and decodes ahead of the analysis.
READ_AHEAD_BATCHES = 2
IP_PROTOCOL_NAMES = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 41: "ipv6", 47: "gre", 50: "esp", 51: "ah",
                     58: "icmpv6", 59: "ipv6_no_next", 89: "ospf", 103: "pim", 112: "vrrp", 132: "sctp"}


@dataclass
class Accounting:
    """How many records landed in each class, and why: the counts add up to ``records``."""

    records: int = 0
    by_class: dict[str, int] = field(default_factory=lambda: dict.fromkeys(status.CLASSES, 0))
    by_status: dict[str, int] = field(default_factory=dict)
    other_ip_protocols: dict[str, int] = field(default_factory=dict)
    tcp_truncated: int = 0
    tcp_reassembled: int = 0
    # TCP packets with a wrong IPv4 header or TCP checksum (counted only when checksums are verified)
    tcp_bad_checksum: int = 0
    tcp_by_tunnel: dict[str, int] = field(default_factory=dict)  # TCP packets by tunnel chain ("gre>vxlan")
    warnings: list[str] = field(default_factory=list)
    complete: bool = True  # every reader got to the end of its file (False: cut off or damaged)
    first_tcp_ts_ns: int | None = None  # time of the first TCP packet in file order: time 0 of relative times

    def add(self, packets: PacketBatch) -> None:
        """Count one decoded batch (after fragment reassembly has settled its rows)."""
        codes = packets["status"]
        self.records += len(packets)
        counts = np.bincount(codes, minlength=len(status.STATUSES))
        for code in np.flatnonzero(counts):
            name, klass, _ = status.STATUSES[int(code)]
            self.by_status[name] = self.by_status.get(name, 0) + int(counts[code])
            self.by_class[klass] += int(counts[code])
        other = packets["ip_proto"][codes == status.NOT_TCP]
        if other.size:
            protocols = Counter(IP_PROTOCOL_NAMES.get(int(p), f"proto_{int(p)}") for p in other)
            for name, n in protocols.items():
                self.other_ip_protocols[name] = self.other_ip_protocols.get(name, 0) + n
        tcp = codes == status.TCP
        if self.first_tcp_ts_ns is None and tcp.any():
            self.first_tcp_ts_ns = int(packets["ts_ns"][np.argmax(tcp)])
        self.tcp_truncated += int(np.count_nonzero(tcp & ((packets["marks"] & MARK_TRUNCATED) != 0)))
        self.tcp_reassembled += int(np.count_nonzero(tcp & ((packets["marks"] & MARK_REASSEMBLED) != 0)))
        bad = (packets["marks"] & (MARK_BAD_IP_CHECKSUM | MARK_BAD_TCP_CHECKSUM)) != 0
        self.tcp_bad_checksum += int(np.count_nonzero(tcp & bad))
        if packets.tunnelled:
            for chain, n in tunnels.count_by_chain(packets["tunnel_chain"][tcp]).items():
                self.tcp_by_tunnel[chain] = self.tcp_by_tunnel.get(chain, 0) + n

    def finish(self, info: CaptureInfo) -> None:
        """A reader is done: keep its warnings, and whether it read its whole file."""
        self.warnings.extend(info.warnings)
        self.complete = self.complete and not info.stopped_early

    def as_dict(self) -> dict:
        return {"records": self.records, **self.by_class, "by_status": dict(self.by_status),
                "other_ip_protocols": dict(self.other_ip_protocols), "tcp_truncated": self.tcp_truncated,
                "tcp_reassembled": self.tcp_reassembled, "tcp_bad_checksum": self.tcp_bad_checksum,
                "tcp_by_tunnel": dict(self.tcp_by_tunnel),
                "complete": self.complete, "warnings": list(self.warnings)}


@dataclass
class DecodedCapture:
    """The decoded rows kept (TCP by default), the accounting, and what the reader learned."""

    packets: PacketBatch
    accounting: Accounting
    info: CaptureInfo
    reassembled_payloads: dict[int, bytes]


@contextlib.contextmanager
def open_capture(path: CaptureSpec, progress: ProgressCallback | None = None) -> Iterator[CaptureReader | MergedReader]:
    """A capture (one file, or several read as one: see ``capture.merge``) opened for one pass;
    inside, kernels run as plain Python if it is small (see ``tcpanalyze.jit``). ``progress`` is
    called after each batch read."""
    with open_reader(path, progress) as reader, jit.plain_python_for(reader.size_bytes):
        yield reader


def decode_batch(decoder: Decoder, records: RecordBatch, accounting: Accounting, tcp_only: bool = True) -> PacketBatch:
    """Decode one batch of records, counting every record into ``accounting``: its TCP packets
    (every record's row, with ``tcp_only=False``)."""
    packets = decoder.decode(records)
    accounting.add(packets)
    return packets.select(packets["status"] == status.TCP) if tcp_only else packets


def decoded_batches(reader: CaptureReader | MergedReader, decoder: Decoder, accounting: Accounting, *,
                    max_records: int = BATCH_RECORDS, tcp_only: bool = True) -> Iterator[tuple[RecordBatch, PacketBatch]]:
    """Each batch of records in file order with its decoded TCP packets (``decode_batch``); at
    the end, the reader's warnings and whether it read the whole file go into ``accounting``."""
    for records in reader.batches(max_records):
        yield records, decode_batch(decoder, records, accounting, tcp_only)
    accounting.finish(reader.info)


def read_ahead(batches: Iterator[T], depth: int = READ_AHEAD_BATCHES) -> Iterator[T]:
    """``batches`` (``decoded_batches``) made on a thread of their own, up to ``depth`` ahead:
    reading and decoding the next batch (compiled kernels that release the GIL) runs on
    another core while the caller analyses this one. Errors come out where the caller reads;
    a caller that stops early leaves the thread to stop at its next batch."""
    if jit.running_plain():  # plain Python holds the GIL: nothing would overlap
        yield from batches
        return
    ready: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def hand(item: object, error: BaseException | None = None) -> bool:
        """Queue one item for the caller; False once the caller has gone."""
        while not stop.is_set():
            try:
                ready.put((item, error), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            with jit.mode(plain=False):  # modes are per thread: compiled, as the caller's
                for item in batches:
                    if not hand(item):
                        return
            hand(_END)
        except BaseException as exc:  # raised again where the caller reads
            hand(_END, exc)

    threading.Thread(target=produce, name="tcpanalyze-read-ahead", daemon=True).start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()


_END = object()  # read_ahead's end of batches


def decode_capture(path: str, *, tcp_only: bool = True, max_records: int = BATCH_RECORDS,
                   progress: ProgressCallback | None = None, verify_checksums: bool = False) -> DecodedCapture:
    """Decode a whole capture; keep TCP rows only unless ``tcp_only`` is False."""
    accounting = Accounting()
    decoder = Decoder(verify_checksums=verify_checksums)
    with open_capture(path, progress) as reader:
        kept = [packets for _, packets in decoded_batches(reader, decoder, accounting, max_records=max_records,
                                                          tcp_only=tcp_only)]
        info = reader.info
    return DecodedCapture(PacketBatch.concat(kept), accounting, info, decoder.fragments.payloads)


def read_packets(path: str, *, all_records: bool = False, progress: ProgressCallback | None = None,
                 verify_checksums: bool = False) -> "pd.DataFrame":
    """Read a capture as a DataFrame, one row per TCP packet (per record with ``all_records``),
    checksums checked with ``verify_checksums`` (``bad_ip_checksum``, ``bad_tcp_checksum``).

    Columns and dtypes are documented in ``tcpanalyze.frames.PACKET_COLUMNS``; the record
    accounting is in ``df.attrs["accounting"]`` and reader warnings in ``df.attrs["warnings"]``.

    >>> df = tcpanalyze.read_packets("sample_pcaps/real-graceful-close.pcap")
    >>> df[["frame", "src_addr", "dst_port", "seq_raw", "payload_len"]].head()
    """
    from .frames import packets_frame

    decoded = decode_capture(path, tcp_only=not all_records, progress=progress, verify_checksums=verify_checksums)
    frame = packets_frame(decoded.packets, with_status=all_records)
    frame.attrs["accounting"] = decoded.accounting.as_dict()
    frame.attrs["warnings"] = list(decoded.accounting.warnings)
    return frame
