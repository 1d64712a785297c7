"""One capture analysed by several workers, split by flow, and merged back into one result.

A capture's TCP packets are split into parts by a hash of their unordered address pair (and
IP version): both directions of a session, every session between the same two hosts (so a
reused 4-tuple) and the fragments of one datagram (reassembled before the split) all fall into
the same part, and each part is analysed by an engine of its own (``PartEngine``). The merge
numbers the sessions in order of their first frame, as a single engine does (Wireshark's
``tcp.stream``), so the result is the same as one engine's: session ids, every session
column, per-frame flags, the detectors' evidence.

Two ways to run the parts:

- local worker processes (``workers``, ``analyze_shuffled``): this process reads and decodes
  the capture once (standard input too) and sends each batch's packets to the worker of
  their part, which sends its sessions back at the end;
- the tasks of a Dask distributed cluster (``client``, ``analyze_part``): each task reads and
  decodes the whole capture, by its absolute path on storage the workers share, and keeps its
  part's packets (frame numbers, fragments and the record accounting are the capture's own).

>>> part = analyze_part("big.pcap", 1, 4, packets=False)    # the sessions of a quarter of the flows
>>> result = merge_parts([analyze_part("big.pcap", k, 4, packets=False) for k in range(4)])
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import jit, malloc
from ..capture import BATCH_RECORDS, CaptureSpec, capture_files
from ..capture.reader import ProgressCallback
from ..decode import PacketBatch
from ..engine import Engine, EngineOptions
from ..engine.evidence import Evidence, EvidenceFrames
from ..engine.rtt_samples import RttSamples
from ..engine.streaming import EMIT_CHUNK, in_order_of_appearance, sessions_frame
from ..errors import TcpanalyzeError, UsageError
from ..frames import packets_frame
from ..packets import Accounting, decoded_batches, open_capture, read_ahead
from ..spill import ColumnSpill
from .handoff import BatchRing, read_batch
from .packet_tables import no_packet_rows, packet_rows, packets_table
from .decoding import decoder_for

# splitmix64's constants: every input bit moves about half of the output bits.
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


@dataclass
class Part:
    """What one engine found: sessions (ids numbered within the part), the packets table when
    kept, the detectors' evidence when kept, and the accounting of every record of the capture."""

    sessions: pd.DataFrame
    packets: pd.DataFrame | None
    evidence: EvidenceFrames | None
    accounting: Accounting


def flow_parts(tcp: PacketBatch, parts: int) -> np.ndarray:
    """Each packet's part, 0..parts-1: a hash of its unordered address pair and IP version."""
    a_hi, a_lo, b_hi, b_lo = tcp["src_hi"], tcp["src_lo"], tcp["dst_hi"], tcp["dst_lo"]
    swap = (a_hi > b_hi) | ((a_hi == b_hi) & (a_lo > b_lo))
    h = tcp["ip_version"].astype(np.uint64)
    for word in (np.where(swap, b_hi, a_hi), np.where(swap, b_lo, a_lo), np.where(swap, a_hi, b_hi),
                 np.where(swap, a_lo, b_lo)):
        h = (h ^ word) * _MIX[0]
        h ^= h >> np.uint64(29)
        h *= _MIX[1]
        h ^= h >> np.uint64(32)
    return (h % np.uint64(parts)).astype(np.int64)


class PartEngine:
    """One engine with what it keeps: feed it TCP batches in file order, then ``finish``."""

    def __init__(self, *, packets: bool = True, options: EngineOptions | None = None, evidence: bool = True,
                 columns: list[str] | None = None) -> None:
        self.packets, self.columns = packets, columns
        self.collector = Evidence() if evidence and not packets else None
        self.engine = Engine(options, per_packet=packets, evidence=self.collector, session_columns=columns)
        self.chunks = ColumnSpill("session records'")  # as column arrays
        self.packet_frames: list[pd.DataFrame] = []

    def feed(self, tcp: PacketBatch) -> None:
        results = self.engine.process(tcp)
        if self.packets:
            self.packet_frames.append(packet_rows(packets_frame(tcp), results))
        for chunk in self.engine.emit_arrays(min_sessions=EMIT_CHUNK):
            self.chunks.add(chunk)

    def finish(self, accounting: Accounting) -> Part:
        """Every session ended: the part's result (its engine's memory goes first)."""
        for chunk in self.engine.emit_arrays(final=True):
            self.chunks.add(chunk)
        if self.packets and not self.packet_frames:  # no records at all: still the same columns
            self.packet_frames.append(no_packet_rows(self.engine))
        del self.engine  # its flow table and stash go before the sessions frame is built
        kept = self.collector.frames() if self.collector is not None else None
        table = packets_table(self.packet_frames) if self.packets else None
        sessions = sessions_frame(self.chunks)
        if self.columns is not None and list(sessions.columns) != self.columns:
            sessions = sessions[self.columns]  # the chunks kept these already; an empty frame has them all
        malloc.trim()  # what the engine and the emitted chunks held, for whatever comes next
        return Part(sessions, table, kept, accounting)


def analyze_part(path: CaptureSpec, part: int, parts: int, *, max_records: int = BATCH_RECORDS,
                 progress: ProgressCallback | None = None, **settings) -> Part:
    """Analyse the flows of part ``part`` of ``parts`` (all of them when ``parts`` is 1),
    reading the whole capture: what a Dask task does. ``settings`` are ``PartEngine``'s (see
    ``tcpanalyze.pipeline.analyze``); ``columns`` must hold ``session_id`` and, with several
    parts, ``first_frame`` (the merge orders by it)."""
    accounting = Accounting()
    part_engine = PartEngine(**settings)
    with open_capture(path, progress) as reader:
        # one part among several: the other parts' processes have the other cores
        decoder = decoder_for(settings.get("options"), parallel=parts == 1)
        for _, tcp in read_ahead(decoded_batches(reader, decoder, accounting, max_records=max_records)):
            part_engine.feed(tcp.select(flow_parts(tcp, parts) == part) if parts > 1 else tcp)
        return part_engine.finish(accounting)


def analyze_shuffled(path: CaptureSpec, parts: int, *, max_records: int = BATCH_RECORDS,
                     progress: ProgressCallback | None = None, **settings) -> Part:
    """Read and decode the capture once, here, and hand each batch to ``parts`` worker
    processes (through shared memory: ``handoff``), each of which keeps its part's packets and
    runs that part's engine; merge what they found."""
    accounting = Accounting()
    context = _worker_processes()
    ring = BatchRing(HANDOFF_SLOTS)
    connections, workers = [], []
    try:
        for part in range(parts):
            theirs, mine = context.Pipe(duplex=True)
            worker = context.Process(target=_part_worker, args=(theirs, part, parts, settings), daemon=True)
            worker.start()
            theirs.close()
            connections.append(mine)
            workers.append(worker)
        with _workers_failing(WORKER_PROCESS, (EOFError, OSError)), open_capture(path, progress) as reader:
            plain = jit.running_plain()
            for connection in connections:
                connection.send(plain)
            done = [0] * parts  # batches each worker has copied its rows out of
            batches = decoded_batches(reader, decoder_for(settings.get("options")), accounting, max_records=max_records)
            for index, (_, tcp) in enumerate(batches):
                for k, connection in enumerate(connections):  # the file about to be written again is free
                    while done[k] <= index - HANDOFF_SLOTS:
                        done[k] += connection.recv()
                message = ring.write(index, tcp)
                for connection in connections:
                    connection.send(message)
            for connection in connections:
                connection.send(None)
            found = []
            for connection in connections:
                while isinstance(answer := connection.recv(), int):
                    pass
                found.append(answer)
    except BaseException:
        for worker in workers:
            worker.terminate()
        raise
    finally:
        for worker in workers:
            worker.join()
        ring.close()
    for part in found:
        part.accounting = accounting
    return merge_parts(found)


WORKER_PROCESS = "a worker process (in a script, start them under `if __name__ == \"__main__\":`)"
# Decoded batches in shared memory at once: the reader runs this many batches ahead of the
# slowest worker at most.
HANDOFF_SLOTS = 4


def _part_worker(connection, part: int, parts: int, settings: dict) -> None:
    """A worker process: the rows of part ``part`` of each batch it is handed (it says 1 when
    it has copied them), through one part's engine, until None; then its result goes back."""
    with jit.mode(plain=connection.recv()):
        part_engine = PartEngine(**settings)
        while (message := connection.recv()) is not None:
            batch = read_batch(message)
            mine = batch.select(np.flatnonzero(flow_parts(batch, parts) == part))
            del batch
            connection.send(1)
            part_engine.feed(mine)
        part = part_engine.finish(Accounting())
        if part.evidence is not None:  # this machine's process: the RTT samples' file goes by name
            part.evidence = dataclasses.replace(part.evidence, rtt=part.evidence.rtt.by_name())
        connection.send(part)
    connection.close()


def merge_parts(parts: list[Part]) -> Part:
    """One result from the parts of a capture: sessions numbered in order of first frame, and
    the packets and evidence of every part renumbered to match, in frame order. The parts are
    used up: their sessions and evidence go as they are merged, not held twice."""
    if len(parts) == 1:
        return parts[0]
    first_frames = np.concatenate([p.sessions["first_frame"].to_numpy(np.int64) for p in parts])
    order = np.argsort(first_frames, kind="stable")
    new_ids = np.empty(order.size, np.int64)
    new_ids[order] = np.arange(order.size)
    bounds = np.cumsum([0, *(len(p.sessions) for p in parts)])
    renumber = [_id_map(p.sessions["session_id"].to_numpy(np.int64), new_ids[bounds[k]:bounds[k + 1]])
                for k, p in enumerate(parts)]
    chunks = [p.sessions.assign(session_id=new_ids[bounds[k]:bounds[k + 1]]) for k, p in enumerate(parts)]
    for part in parts:  # each part's frame goes as its columns are copied
        part.sessions = None
    sessions = sessions_frame(chunks)
    packets = None
    if parts[0].packets is not None:
        frames = [_renumbered(p.packets, renumber[k]) for k, p in enumerate(parts)]
        packets = _in_frame_order(packets_table(_nonempty(frames)))
        for name in ("src_addr", "dst_addr"):  # categories as one engine's batches give them
            packets[name] = in_order_of_appearance(packets[name].array)
    evidence = None
    if parts[0].evidence is not None:
        kept = [_renumbered(p.evidence.packets, renumber[k]) for k, p in enumerate(parts)]
        rtt = RttSamples.joined(p.evidence.rtt.renumbered(renumber[k]) for k, p in enumerate(parts))
        for part in parts:
            part.evidence = None
        kept = _concat(kept)  # the parts' pieces go once joined, before they are put in frame order
        evidence = EvidenceFrames(_in_frame_order(kept), rtt)
    return Part(sessions, packets, evidence, parts[0].accounting)


def _id_map(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """An array giving the new id of each old one (indexed by old id)."""
    mapping = np.full(int(old.max()) + 1 if old.size else 0, -1, np.int64)
    mapping[old] = new
    return mapping


def _renumbered(frame: pd.DataFrame, mapping: np.ndarray) -> pd.DataFrame:
    return frame.assign(session_id=mapping[frame["session_id"].to_numpy(np.int64)])


def _nonempty(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """The frames with rows (empty ones may have other dtypes), or the first if none has any."""
    return [f for f in frames if len(f)] or frames[:1]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames one after the other, empty ones left out."""
    nonempty = _nonempty(frames)
    return nonempty[0] if len(nonempty) == 1 else pd.concat(nonempty, ignore_index=True)


def _in_frame_order(frame: pd.DataFrame) -> pd.DataFrame:
    frames = frame["frame"].to_numpy()
    if bool(np.all(frames[1:] >= frames[:-1])):
        return frame
    return frame.iloc[np.argsort(frames, kind="stable")].reset_index(drop=True)


def analyze_parts(path: CaptureSpec, parts: int, *, client=None, progress: ProgressCallback | None = None,
                  **settings) -> Part:
    """``path`` analysed in ``parts`` parts, merged: on the Dask cluster of ``client`` (a
    ``distributed.Client``; each task reads the whole capture), else by ``parts`` local worker
    processes fed by this one (``analyze_shuffled``). ``settings`` are ``analyze_part``'s."""
    if client is not None:
        if path == "-":
            raise UsageError("a Dask cluster's workers read the capture themselves: give it as a file, not standard input")
        shared = _absolute(path)  # the cluster's workers read the capture themselves
        futures = client.map(analyze_part, [shared] * parts, range(parts), [parts] * parts, pure=False, **settings)
        with _workers_failing("a worker of the Dask cluster", (Exception,)):
            return merge_parts(client.gather(futures))
    return analyze_shuffled(path, parts, progress=progress, **settings)



@contextlib.contextmanager
def _workers_failing(who: str, failures: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Our own errors as they are (a capture that cannot be read...); ``failures`` (a pipe to a
    worker that died, a cluster without tcpanalyze...) as one error naming ``who`` failed."""
    try:
        yield
    except TcpanalyzeError:
        raise
    except failures as exc:
        raise TcpanalyzeError(f"{who} failed: {type(exc).__name__}: {exc}".rstrip(": ")) from exc


def _worker_processes() -> multiprocessing.context.BaseContext:
    """Where worker processes come from: a fork server that has imported this module, and so
    the analysis, but run nothing (a process that has run the parallel decoder cannot fork
    safely: OpenMP's threads), so each worker starts in a fraction of a second."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([f"{__package__}.worker_start"])
    return context


def _absolute(path: CaptureSpec) -> CaptureSpec:
    """The capture's files as absolute paths, for workers that do not share this directory."""
    files = capture_files(path)
    return os.path.abspath(files[0]) if len(files) == 1 else [os.path.abspath(f) for f in files]


@contextlib.contextmanager
def cluster_client(address: str | None) -> Iterator[object | None]:
    """A ``distributed.Client`` connected to the Dask scheduler at ``address`` (None: no client),
    closed on exit. A missing ``distributed`` package or an unreachable scheduler is a
    UsageError of one line."""
    if address is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--scheduler needs Dask's distributed package: pip install 'tcpanalyze[cluster]'") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client:
        yield client


# How long to try reaching a Dask scheduler before giving up.
CONNECT_TIMEOUT_S = 10
