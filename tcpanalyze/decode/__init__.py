"""Decode layer: record batches in, columns of decoded fields out."""

from __future__ import annotations

import numpy as np

from .. import jit
from ..capture import RecordBatch
from . import kernels, status, tunnels
from .columns import FIELDS, PacketBatch, allocate, packet_matrices
from .fragments import FragmentReassembler

# Batches this big are decoded on all cores (``parallel``, which imports numba itself); smaller
# ones on one thread, where waking numba's thread pool is not worth it, and as plain Python
# for tiny captures (see ``tcpanalyze.jit``).
MIN_PARALLEL_RECORDS = 1 << 14


class Decoder:
    """Decodes record batches in file order, keeping fragment state between batches.

    With ``verify_checksums`` the TCP rows' IPv4 header and TCP checksums are checked (a second
    pass over the batch, so the default path pays nothing) and wrong ones marked in ``marks``
    (``MARK_BAD_IP_CHECKSUM``, ``MARK_BAD_TCP_CHECKSUM``). UDP tunnels are found by the ports
    in ``tunnels.udp_ports`` (``tunnels.set_udp_port``).
    """

    def __init__(self, parallel: bool = True, verify_checksums: bool = False) -> None:
        self.fragments = FragmentReassembler()
        self.parallel = parallel  # may big batches use every core (not when other processes do)
        self.verify_checksums = verify_checksums

    def decode(self, batch: RecordBatch) -> PacketBatch:
        out = allocate(len(batch))
        if self.parallel and len(batch) >= MIN_PARALLEL_RECORDS and not jit.running_plain():
            from .parallel import decode_records
        else:
            decode_records = kernels.decode_records
        decode_records(batch.buf, batch.rec_off, batch.caplen, batch.origlen, batch.linktype,
                       out["u64"], out["u32"], out["i32"], out["u16"], out["u8"], tunnels.udp_ports)
        records = {
            "frame": batch.frame, "ts_ns": batch.ts_ns, "caplen": batch.caplen, "origlen": batch.origlen,
            "iface": batch.iface, "linktype": batch.linktype, "rec_off": batch.stream_positions(),
        }
        packets = PacketBatch(records, packet_matrices(out))
        if np.any(packets["status"] == status.IP_FRAGMENT):
            self.fragments.feed(packets, batch.buf, batch.rec_off)
        if self.verify_checksums:
            kernels.verify_checksums(batch.buf, batch.rec_off, batch.caplen, out["u64"], out["i32"], out["u8"])
        return packets


__all__ = ["Decoder", "FIELDS", "PacketBatch", "status", "tunnels"]
