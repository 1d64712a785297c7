"""Orchestration: decoded batches in, per-packet analysis and finished session records out.

``Engine`` keeps every piece of state between batches (the flow table, per-direction and
per-session state, the unacked-segment pool, Zeek's endpoint state). After each batch it
emits the sessions that ended or went idle and frees their slots, so memory follows the
number of live sessions, not the size of the capture. ``analyze`` runs a whole capture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..capture import BATCH_RECORDS, CaptureReader
from ..decode import Decoder, PacketBatch, status
from ..flows import FlowTable
from ..packets import Accounting, iter_packet_batches
from ..state import StateTable
from . import kernels
from .flags import flag_lists
from .layout import (
    DIRECTION_LAYOUT, FIN_TS, RST_TS, SEG_NEXT, SEGMENT_LAYOUT, SESSION_LAYOUT,
)
from . import zeek
from .session import session_records

NS = 1_000_000_000


@dataclass
class EngineOptions:
    """Settings of the analysis; every one has a documented default."""

    # Window shift assumed when a session's SYNs were not captured (Wireshark's
    # default_window_scaling): -1 leaves such windows unscaled.
    default_window_scale: int = -1
    # Emit a session this long after its last packet once it closed (FIN both ways or RST).
    closed_linger_s: float = 60.0
    # Emit any session this long after its last packet.
    idle_timeout_s: float = 3600.0


class Engine:
    """Streaming TCP analysis: feed decoded batches in file order, collect finished sessions."""

    def __init__(self, options: EngineOptions | None = None, capacity: int = 1024) -> None:
        self.options = options or EngineOptions()
        self.flows = FlowTable(capacity)
        self.directions = StateTable(DIRECTION_LAYOUT, 2 * capacity)
        self.sessions = StateTable(SESSION_LAYOUT, capacity)
        self.zeek = StateTable(zeek.ZEEK_LAYOUT, capacity)
        self.segments = StateTable(SEGMENT_LAYOUT, 0)
        self.pool = np.array([-1, 0], np.int64)  # free-list head, free count
        self.latest_ts = 0

    def _reserve(self, n: int) -> None:
        self.flows.reserve(n)
        capacity = self.flows.state.capacity
        self.directions.grow(2 * capacity)
        self.sessions.grow(capacity)
        self.zeek.grow(capacity)
        if self.pool[1] < n:
            old = self.segments.capacity
            new = max(old + old // 2, old + n - int(self.pool[1]), 4096)
            self.segments.grow(new)
            nxt = self.segments.m["i64"][SEG_NEXT]
            nxt[old : new - 1] = np.arange(old + 1, new)
            nxt[new - 1] = self.pool[0]
            self.pool[0] = old
            self.pool[1] += new - old

    def process(self, packets: PacketBatch) -> dict[str, np.ndarray]:
        """Analyse a batch of TCP packets; returns per-packet columns (session, flags, RTT...)."""
        n = len(packets)
        self._reserve(n)
        slot = np.empty(n, np.int64)
        dirn = np.empty(n, np.uint8)
        new = np.empty(n, np.uint8)
        self.flows.assign(packets, slot, dirn, new)
        out = np.empty((kernels.N_OUT, n), np.int64)
        d, s, g = self.directions.m, self.sessions.m, self.segments.m
        kernels.analyze_packets(slot, dirn, new, packets["tcp_flags"], packets["seq_raw"], packets["ack_raw"],
                                packets["win_raw"], packets["payload_len"], packets["ts_ns"], packets["frame"],
                                packets["options"], packets["mss"], packets["wscale"], packets["sack_count"],
                                packets.matrices["u32"], self.flows.state.m["u32"], d["u32"], d["i64"], d["sum"],
                                d["f64"], d["i8"], s["i64"], g["u32"], g["i64"], self.pool,
                                self.options.default_window_scale, out)
        z = self.zeek.m
        zeek.zeek_packets(slot, dirn, packets["tcp_flags"], packets["seq_raw"], packets["ack_raw"],
                          packets["payload_len"], packets["win_raw"], np.zeros(n, np.bool_),
                          self.flows.state.column("u8", "flipped"), *(z[k] for k in zeek.ZEEK_LAYOUT))
        if n:
            self.latest_ts = max(self.latest_ts, int(packets["ts_ns"].max()))
        session_id = self.flows.state.column("i64", "session_id")[slot]
        return {"session_id": session_id, "direction": dirn, "new": new,
                **{name: out[row] for name, row in kernels.OUT_ROWS.items()}}

    def emit(self, final: bool = False) -> pd.DataFrame:
        """Session records of the sessions that ended or idled out (all live ones if ``final``)."""
        live = np.flatnonzero(self.flows.state.column("i64", "session_id") >= 0)
        if not final:
            last = self.flows.state.column("i64", "last_ts")[live]
            idle = self.latest_ts - last
            d_i64 = self.directions.m["i64"]
            closed = ((d_i64[FIN_TS, 2 * live] >= 0) & (d_i64[FIN_TS, 2 * live + 1] >= 0)) | \
                     (d_i64[RST_TS, 2 * live] >= 0) | (d_i64[RST_TS, 2 * live + 1] >= 0)
            done = (idle > self.options.idle_timeout_s * NS) | (closed & (idle > self.options.closed_linger_s * NS))
            live = live[done]
        if live.size == 0:
            return session_records(self, live)
        records = session_records(self, live)
        columns = np.concatenate([2 * live, 2 * live + 1])
        kernels.release_segments(columns, self.directions.m["u32"], self.directions.m["i64"],
                                 self.segments.m["i64"], self.pool)
        self.directions.reset(columns)
        self.sessions.reset(live)
        self.zeek.reset(live)
        self.flows.release(live)
        return records


@dataclass
class Analysis:
    """What ``analyze`` found: ``sessions`` and ``packets`` DataFrames and the record accounting."""

    sessions: pd.DataFrame
    packets: pd.DataFrame | None
    accounting: Accounting
    warnings: list[str] = field(default_factory=list)


def analyze(path: str, *, packets: bool = True, options: EngineOptions | None = None,
            max_records: int = BATCH_RECORDS) -> Analysis:
    """Analyse a capture: every TCP session and (unless ``packets=False``) every TCP packet.

    >>> result = tcpanalyze.analyze("sample_pcaps/real-graceful-close.pcap")
    >>> result.sessions[["session_id", "conn_state", "history", "orig_bytes", "resp_bytes"]]
    """
    from ..frames import packets_frame

    engine = Engine(options)
    accounting = Accounting()
    emitted: list[pd.DataFrame] = []
    packet_frames: list[pd.DataFrame] = []
    with CaptureReader(path) as reader:
        for batch in iter_packet_batches(reader, Decoder(), accounting, max_records):
            tcp = batch.select(batch["status"] == status.TCP)
            results = engine.process(tcp)
            if packets:
                packet_frames.append(_packet_rows(packets_frame(tcp), results))
            emitted.append(engine.emit())
    emitted.append(engine.emit(final=True))
    sessions = pd.concat(emitted, ignore_index=True).sort_values("session_id", ignore_index=True)
    packet_df = None
    if packets:
        if not packet_frames:  # no records at all: still the same columns
            empty = PacketBatch.empty()
            packet_frames.append(_packet_rows(packets_frame(empty), engine.process(empty)))
        packet_df = pd.concat(packet_frames, ignore_index=True)
    return Analysis(sessions, packet_df, accounting, list(accounting.warnings))


def _packet_rows(frame: pd.DataFrame, results: dict[str, np.ndarray]) -> pd.DataFrame:
    frame.insert(1, "session_id", results["session_id"])
    frame.insert(2, "direction", np.where(results["direction"] == 0, "orig", "resp"))
    for name in ("analysis_flags", "dupack_num", "dupack_frame", "acks_frame", "ack_rtt_ns", "bytes_in_flight",
                 "window", "seq_rel", "ack_rel", "rto_ns", "rto_frame"):
        frame[name] = results[name]
    frame["analysis"] = flag_lists(results["analysis_flags"])
    return frame
