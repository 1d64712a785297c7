"""The streaming engine: decoded TCP batches in, per-packet analysis and finished session records out.

``Engine`` keeps every piece of state between batches: the flow table, the per-session
analysis state (per direction, per session, Zeek's endpoints, the unacked-segment pool).
After each batch it emits the sessions that ended or went idle and frees their state, so
memory follows the number of live sessions, not the size of the capture.

A session that has seen a single packet (a scan probe, a spoofed SYN) holds no analysis
state: its packet is set aside in a small stash, and replayed through the kernels when a
second packet arrives or the session is emitted (``snapshot`` replays it into temporary
state). The results are the same as if it had been analysed at once; a flood of a million
one-packet sessions then costs about a hundred bytes each instead of a kilobyte.

The engine reads no file and knows no driver: ``tcpanalyze.pipeline`` feeds it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.internals import create_dataframe_from_blocks

from .. import jit, malloc
from ..decode import PacketBatch
from ..decode.columns import MARK_BAD_IP_CHECKSUM, MARK_BAD_TCP_CHECKSUM, N_U32, OPT_SACK
from ..flows import (ANY_RST, CLOSE_BITS, FLIPPED, LAST_TS, ORIG_FIN, PACKETS, RESP_FIN, SESSION_ID, TH_ACK, TH_RST,
                     TH_SYN, FlowTable)
from ..frames import FIXED_CODES
from ..spill import ColumnSpill
from ..state import Rows, SlotAllocator, StateTable
from . import kernels, zeek
from .evidence import PACKET_FIELDS, RESULT_FIELDS, Evidence, markers
from .layout import BAD_CHECKSUM_PKTS, DIRECTION_LAYOUT, RST_PKTS, SEGMENT_LAYOUT, SESSION_LAYOUT, ZERO_WIN_PKTS
from .session import record_arrays, session_records, session_values

NS = 1_000_000_000
# A packet with either is left out of the analysis (EngineOptions.verify_checksums).
BAD_CHECKSUM = MARK_BAD_IP_CHECKSUM | MARK_BAD_TCP_CHECKSUM
# Sessions are turned into records this many at a time, bounding the memory emission needs
# (8192 keeps the peak 10 MB lower than 16384 on mixed-2m and 25 MB on synflood-1m at the same
# CPU time; 4096 saves 20 MB more but costs ~1 s of CPU on synflood's 1M sessions).
EMIT_CHUNK = 1 << 13

# The packet of a one-packet session, set aside until the session needs analysis state.
STASH_LAYOUT = {
    "u32": Rows(("seq", "ack", "base_fwd", "base_rev", "ip_id"), np.uint32),
    "u16": Rows(("tcp_flags", "win", "mss"), np.uint16),
    "i32": Rows(("payload_len", "payload_caplen", "payload_off"), np.int32),
    "i64": Rows(("ts", "frame", "rec_off"), np.int64, -1),
    "u8": Rows(("dirn", "new", "options", "wscale", "ip_version"), np.uint8),
}


@dataclass
class EngineOptions:
    """Settings of the analysis; every one has a documented default.

    >>> options = tcpanalyze.EngineOptions(default_window_scale=7, idle_timeout_s=300)
    >>> tcpanalyze.analyze("capture.pcap", options=options)
    """

    # Window shift assumed when a session's SYNs were not captured (Wireshark's
    # default_window_scaling): -1 leaves such windows unscaled.
    default_window_scale: int = -1
    # A session that closed (FIN both ways, or RST) ends this long after its last packet: it
    # is emitted, and a later packet on its 4-tuple starts a new session.
    closed_linger_s: float = 60.0
    # Any session ends this long after its last packet. Off by default, as in Wireshark
    # (captures with clock jumps would split sessions); set it for long or live captures.
    idle_timeout_s: float = float("inf")
    # Check the IPv4 header and TCP checksums. Off by default, as in Wireshark: a capture taken
    # on a host that offloads checksums shows wrong ones on every packet that host sent. A
    # packet with a wrong IPv4 header or TCP checksum is left out of the analysis as Zeek leaves
    # it out: it counts only in its session's ``bad_checksum_pkts`` and history (Zeek's C/c).
    verify_checksums: bool = False


class Engine:
    """Streaming TCP analysis: feed decoded batches in file order, collect finished sessions.

    ``per_packet=True`` keeps every packet's analysis (flags, RTT, ...) in ``process``'s
    result; without it, one-packet sessions are stashed and nothing per packet is returned,
    but an ``evidence`` collector, if given, gets what the detectors and the report need.
    """

    def __init__(self, options: EngineOptions | None = None, *, per_packet: bool = True,
                 evidence: Evidence | None = None, session_columns: list[str] | None = None) -> None:
        self.options = options or EngineOptions()
        self.per_packet = per_packet
        self.evidence = evidence
        self.session_columns = session_columns  # the columns emitted records keep (None: all)
        self.flows = FlowTable(idle_timeout_ns=_ns(self.options.idle_timeout_s),
                               closed_linger_ns=_ns(self.options.closed_linger_s))
        self.stash = StateTable(STASH_LAYOUT, self.flows.state.capacity)
        self.column = np.full(self.flows.state.capacity, -1, np.int64)  # flow slot -> state column
        self.sessions = StateTable(SESSION_LAYOUT, 0, record_major=True)
        self.columns = SlotAllocator(self.sessions)
        self.directions = StateTable(DIRECTION_LAYOUT, 0, record_major=True)  # column * 2 + direction
        self.zeek = zeek.zeek_table(0)
        self.segments = StateTable(SEGMENT_LAYOUT, 0, record_major=True)
        self.flipped = np.zeros(0, np.uint8)  # by state column: Zeek's '^' for the session
        self.pool = np.array([-1, 0], np.int64)  # free-list head, free count
        self.latest_ts = 0

    # -- capacity -----------------------------------------------------------------------
    def _sync_slots(self) -> None:
        capacity = self.flows.state.capacity
        self.stash.grow(capacity)
        if self.column.size < capacity:
            self.column = np.concatenate([self.column, np.full(capacity - self.column.size, -1, np.int64)])

    def _give_state(self, slots: np.ndarray) -> None:
        """Analysis state columns for sessions that need them."""
        columns = self.columns.take(slots.size)
        self.column[slots] = columns
        capacity = self.sessions.capacity
        self.directions.grow(2 * capacity)
        self.zeek.grow(capacity)
        if self.flipped.size < capacity:
            self.flipped = np.concatenate([self.flipped, np.zeros(capacity - self.flipped.size, np.uint8)])
        self.flipped[columns] = self.flows.state.m["u8"][FLIPPED][slots]

    def _reserve_segments(self, n: int) -> None:
        if self.pool[1] >= n:
            return
        old = self.segments.capacity
        new = max(old + old // 2, old + n - int(self.pool[1]), 4096)
        self.segments.grow(new)
        nxt = self.segments.column("i64", "next")
        nxt[old : new - 1] = np.arange(old + 1, new)
        nxt[new - 1] = self.pool[0]
        self.pool[0] = old
        self.pool[1] += new - old

    # -- packets ------------------------------------------------------------------------
    def process(self, packets: PacketBatch) -> dict[str, np.ndarray]:
        """Analyse a batch of TCP packets in file order.

        Returns per-packet columns (session_id, direction, analysis flags, RTT, ...) when the
        engine keeps per-packet results, else only session_id and direction.
        """
        n = len(packets)
        self.flows.reserve(n)
        self._sync_slots()
        slot = np.empty(n, np.int64)
        dirn = np.empty(n, np.uint8)
        new = np.empty(n, np.uint8)
        base = np.empty((2, n), np.uint32)
        self.flows.assign(packets, slot, dirn, new, base)
        if n:
            self.latest_ts = max(self.latest_ts, int(packets["ts_ns"].max()))
        bad = (packets["marks"] & BAD_CHECKSUM) != 0  # marked only when checksums are verified
        if self.per_packet:
            run = np.ones(n, np.bool_)
        else:
            has_sack = ((packets["options"] & OPT_SACK) != 0) & (packets["sack_count"] > 0)
            run = (self.flows.state.m["i64"][PACKETS][slot] > 1) | has_sack | bad
        mark = np.zeros(self.column.size, np.bool_)
        mark[slot[run]] = True
        mark &= self.column < 0
        fresh = np.flatnonzero(mark)
        self._give_state(fresh)
        replay = fresh[self.stash.m["i64"][1][fresh] >= 0]
        if replay.size:  # earlier lone packets first: they precede this batch in their sessions
            self._replay(replay)
            self.stash.reset(replay)
        rows = _batch_rows(packets, slot, dirn, new, base)
        state_column = np.where(run, self.column[slot], -1)
        out = self._run_kernels(rows, state_column, bad if bad.any() else None)
        if self.evidence is not None:
            self._collect(slot, dirn, packets, out, np.flatnonzero(run & ~bad))
        lone = np.flatnonzero(~run)
        if lone.size:
            self._set_aside(packets, slot[lone], dirn[lone], new[lone], base[:, lone], lone)
        results = {"session_id": self.flows.state.m["i64"][SESSION_ID][slot], "direction": dirn}
        if self.per_packet:
            results.update({name: out[row] for name, row in kernels.OUT_ROWS.items()})
        return results

    def _run_kernels(self, rows: dict[str, np.ndarray], state_column: np.ndarray,
                     bad: np.ndarray | None = None) -> np.ndarray:
        """The analysis and Zeek kernels over ``rows``: they share no state, so when compiled
        (no GIL held) Zeek's runs on a second thread meanwhile. Rows marked ``bad`` (wrong IPv4
        header or TCP checksum) go to Zeek's kernel alone (its C/c letters) and are counted per direction;
        their analysis results say "nothing" (``kernels.OUT_NOTHING``)."""
        n = rows["slot"].size
        self._reserve_segments(n)
        out = np.empty((kernels.N_OUT, n), np.int64)
        d, s, g = self.directions.m, self.sessions.m, self.segments.m
        z = self.zeek.m
        zeek_args = (state_column, rows["dirn"], rows["tcp_flags"], rows["seq_raw"], rows["ack_raw"],
                     rows["payload_len"], rows["win_raw"], np.zeros(n, np.bool_) if bad is None else bad, self.flipped,
                     *(z[k] for k in zeek.ZEEK_LAYOUT))
        if bad is not None:
            out[:, bad] = _left_out(rows, bad)
            np.add.at(d["u32"][:, BAD_CHECKSUM_PKTS], state_column[bad] * 2 + rows["dirn"][bad], 1)
            state_column = np.where(bad, -1, state_column)
        beside = _beside().submit(zeek.zeek_packets, *zeek_args) if n >= BESIDE_MIN and not jit.running_plain() else None
        kernels.analyze_packets(state_column, rows["dirn"], rows["new"], rows["tcp_flags"],
                                rows["seq_raw"], rows["ack_raw"], rows["win_raw"], rows["payload_len"],
                                rows["ts_ns"], rows["frame"], rows["ip_id"], rows["options"], rows["mss"], rows["wscale"],
                                rows["sack_count"], rows["dec_u32"], rows["base"], d["u32"], d["i64"],
                                d["sum"], d["f64"], d["i8"], s["i64"], g["u32"], g["i64"], self.pool,
                                self.options.default_window_scale, out)
        if beside is None:
            zeek.zeek_packets(*zeek_args)
        else:
            beside.result()
        return out

    def _set_aside(self, packets: PacketBatch, slots, dirn, new, base, rows) -> None:
        m = self.stash.m
        m["u32"][0, slots], m["u32"][1, slots] = packets["seq_raw"][rows], packets["ack_raw"][rows]
        m["u32"][2, slots], m["u32"][3, slots] = base[0], base[1]
        m["u32"][4, slots] = packets["ip_id"][rows]
        m["u16"][0, slots], m["u16"][1, slots] = packets["tcp_flags"][rows], packets["win_raw"][rows]
        m["u16"][2, slots] = packets["mss"][rows]
        m["i32"][0, slots], m["i32"][1, slots] = packets["payload_len"][rows], packets["payload_caplen"][rows]
        m["i32"][2, slots] = packets["payload_off"][rows]
        m["i64"][0, slots], m["i64"][1, slots] = packets["ts_ns"][rows], packets["frame"][rows]
        m["i64"][2, slots] = packets["rec_off"][rows]
        m["u8"][0, slots], m["u8"][1, slots] = dirn, new
        m["u8"][2, slots], m["u8"][3, slots] = packets["options"][rows], packets["wscale"][rows]
        m["u8"][4, slots] = packets["ip_version"][rows]

    def _stash_rows(self, slots: np.ndarray) -> dict[str, np.ndarray]:
        m = self.stash.m
        n = slots.size
        return {"slot": slots, "dirn": m["u8"][0, slots], "new": m["u8"][1, slots], "tcp_flags": m["u16"][0, slots],
                "seq_raw": m["u32"][0, slots], "ack_raw": m["u32"][1, slots], "win_raw": m["u16"][1, slots],
                "payload_len": m["i32"][0, slots], "ts_ns": m["i64"][0, slots], "frame": m["i64"][1, slots],
                "options": m["u8"][2, slots], "mss": m["u16"][2, slots], "wscale": m["u8"][3, slots],
                "sack_count": np.zeros(n, np.uint8), "dec_u32": np.zeros((N_U32, n), np.uint32),
                "base": m["u32"][2:4, slots], "ip_id": m["u32"][4, slots], "payload_caplen": m["i32"][1, slots],
                "payload_off": m["i32"][2, slots], "rec_off": m["i64"][2, slots], "ip_version": m["u8"][4, slots]}

    def _replay(self, slots: np.ndarray) -> None:
        """Run the stashed packets of ``slots`` (which now have state) through the kernels."""
        rows = self._stash_rows(slots)
        out = self._run_kernels(rows, self.column[slots])
        if self.evidence is not None:
            self._collect(slots, rows["dirn"], rows, out, np.arange(slots.size))

    def _collect(self, slots, dirn, fields, out, rows: np.ndarray) -> None:
        """Give the evidence collector the RTT samples of the analysed packets ``rows`` (of
        ``slots``, ``fields``, ``out``; just counted by the kernels, in their order), and those of
        them it keeps: markers, and every packet of a session that has sent a RST or a zero window
        at or before it."""
        session_id = self.flows.state.m["i64"][SESSION_ID][slots[rows]]
        self.evidence.add_rtt(session_id, dirn[rows], out[kernels.OUT_ACK_RTT, rows])
        state_column = self.column[slots[rows]]
        u32 = self.directions.m["u32"]
        sent_by_now = np.zeros(rows.size, np.int64)  # the session's RSTs and zero windows, this call's included
        for counter in (RST_PKTS, ZERO_WIN_PKTS):
            sent_by_now += u32[2 * state_column, counter].astype(np.int64) + u32[2 * state_column + 1, counter]
        flags = fields["tcp_flags"][rows]
        counted = ((flags & TH_RST) != 0) | ((fields["win_raw"][rows] == 0) & ((flags & TH_SYN) == 0))
        hot = sent_by_now > 0
        if counted.any():  # a session that counted one here: hot from that packet on
            again = np.flatnonzero(hot & np.isin(state_column, state_column[counted]))
            hot[again] = sent_by_now[again] > _later_of_group(state_column[again], counted[again])
        keep = hot | markers(flags, out[kernels.OUT_RESEND, rows], fields["payload_len"][rows],
                             fields["payload_caplen"][rows])
        take = rows[keep]
        self.evidence.add(session_id[keep], dirn[take], {k: fields[k][take] for k in PACKET_FIELDS},
                          {k: out[kernels.OUT_ROWS[k], take] for k in RESULT_FIELDS})

    # -- sessions -----------------------------------------------------------------------
    def emit(self, final: bool = False) -> Iterator[pd.DataFrame]:
        """Session records of the sessions that ended or idled out (all live ones if ``final``),
        in chunks, each chunk ordered by session id; their state is freed as they go."""
        return map(pd.DataFrame, self.emit_arrays(final))

    def emit_arrays(self, final: bool = False, min_sessions: int = 1) -> Iterator[dict[str, object]]:
        """``emit``'s chunks as column arrays by name (``session.record_arrays``), for a caller
        that joins them into one frame (``sessions_frame``) instead of using each. Unless
        ``final``, nothing is emitted until at least ``min_sessions`` have ended: records are
        built in a fraction of the time in chunks of thousands rather than of the few that end
        per batch, while the ended sessions wait with their state (a later packet on their
        4-tuple starts a new session all the same)."""
        f_i64 = self.flows.state.m["i64"]
        live = np.flatnonzero(f_i64[SESSION_ID] >= 0)
        if not final and live.size:
            # The flow table starts a new session for any later packet of these (same rule).
            idle = self.latest_ts - f_i64[LAST_TS][live]
            bits = self.flows.state.m["u8"][CLOSE_BITS][live]
            closed = ((bits & (ORIG_FIN | RESP_FIN)) == (ORIG_FIN | RESP_FIN)) | ((bits & ANY_RST) != 0)
            done = (idle > self.options.idle_timeout_s * NS) | (closed & (idle > self.options.closed_linger_s * NS))
            live = live[done]
            if live.size < min_sessions:
                return
        live = live[np.argsort(f_i64[SESSION_ID][live], kind="stable")]
        for start in range(0, live.size, EMIT_CHUNK):
            yield self._emit_chunk(live[start : start + EMIT_CHUNK])

    def snapshot(self, slots: np.ndarray | None = None) -> pd.DataFrame:
        """Records of live sessions (all, or the flow slots ``slots``) as ``emit`` would give them
        if they ended now, ordered by session id; the sessions go on as if nothing happened.

        A one-packet session's stashed packet is replayed into temporary state, which is freed
        again (its packet stays stashed), EMIT_CHUNK sessions at a time.
        """
        session_id = self.flows.state.m["i64"][SESSION_ID]
        if slots is None:
            slots = np.flatnonzero(session_id >= 0)
        slots = slots[np.argsort(session_id[slots], kind="stable")]
        return sessions_frame([self._peek_chunk(slots[start : start + EMIT_CHUNK])
                                for start in range(0, slots.size, EMIT_CHUNK)])

    def _peek_chunk(self, slots: np.ndarray) -> dict[str, object]:
        stashed = slots[self.column[slots] < 0]
        if stashed.size:
            self._give_state(stashed)
            self._run_kernels(self._stash_rows(stashed), self.column[stashed])
        records = record_arrays(session_values(self, slots))
        if stashed.size:
            self._free_state(stashed)
        return records

    def _emit_chunk(self, slots: np.ndarray) -> dict[str, object]:
        stashed = slots[self.column[slots] < 0]
        if stashed.size:
            self._give_state(stashed)
            self._replay(stashed)
            self.stash.reset(stashed)
        values = session_values(self, slots)
        if self.evidence is not None:
            self.evidence.settle(values)
        records = record_arrays(values, self.session_columns)
        self._free_state(slots)
        self.flows.release(slots)
        return records

    def _free_state(self, slots: np.ndarray) -> None:
        """Give back the analysis state of these sessions (their flow slots stay)."""
        cols = self.column[slots]
        directions = np.concatenate([2 * cols, 2 * cols + 1])
        kernels.release_segments(directions, self.directions.m["u32"], self.directions.m["i64"],
                                 self.segments.m["i64"], self.pool)
        self.directions.reset(directions)
        self.zeek.reset(cols)
        self.columns.give_back(cols)
        self.column[slots] = -1


# Batches from this many packets run the Zeek kernel on a second thread (below, the hand-off
# costs more than it saves).
BESIDE_MIN = 4096


@functools.cache
def _beside() -> ThreadPoolExecutor:
    """One worker thread for the kernel that runs beside the analysis kernel."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="tcpanalyze-zeek")


def _ns(seconds: float) -> int:
    """Seconds as int64 nanoseconds, "never" (huge values) capped so the kernels can hold it."""
    return int(min(seconds * NS, 2**62))


def _left_out(rows: dict[str, np.ndarray], bad: np.ndarray) -> np.ndarray:
    """The per-packet results of the ``bad`` rows, left out of the analysis: nothing analysed,
    but relative sequence and ACK numbers from the session's base and the window field unscaled."""
    out = np.repeat(kernels.OUT_NOTHING[:, None], np.count_nonzero(bad), axis=1)
    base = rows["base"][:, bad].astype(np.int64)
    out[kernels.OUT_REL_SEQ] = (rows["seq_raw"][bad].astype(np.int64) - base[0]) & 0xFFFFFFFF
    acked = (rows["tcp_flags"][bad] & TH_ACK) != 0
    out[kernels.OUT_REL_ACK] = np.where(acked, (rows["ack_raw"][bad].astype(np.int64) - base[1]) & 0xFFFFFFFF, -1)
    out[kernels.OUT_WIN] = rows["win_raw"][bad]
    return out


def _later_of_group(group: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """Per row, how many ``counted`` rows of its group (same ``group`` value) come after it."""
    if not counted.any():
        return np.zeros(group.size, np.int64)
    order = np.argsort(group, kind="stable")
    ordered = group[order]
    through = np.cumsum(counted[order], dtype=np.int64)  # counted rows up to each, groups in a row
    ends = np.flatnonzero(np.r_[ordered[1:] != ordered[:-1], True])
    later = np.empty(group.size, np.int64)
    later[order] = np.repeat(through[ends], np.diff(ends, prepend=-1)) - through
    return later


def _batch_rows(packets: PacketBatch, slot, dirn, new, base) -> dict[str, np.ndarray]:
    names = ("tcp_flags", "seq_raw", "ack_raw", "win_raw", "payload_len", "ts_ns", "frame", "ip_id", "options", "mss",
             "wscale", "sack_count")
    return {"slot": slot, "dirn": dirn, "new": new, **{k: packets[k] for k in names},
            "dec_u32": packets.matrices["u32"], "base": base}


def session_records_empty() -> pd.DataFrame:
    """A sessions frame with no rows and all the columns."""
    with jit.mode(plain=True):  # no rows: nothing worth loading numba for
        return session_records(Engine(), np.empty(0, np.int64))


def sessions_frame(chunks: list[pd.DataFrame | dict[str, object]] | ColumnSpill) -> pd.DataFrame:
    """One sessions frame, ordered by session id, from emitted chunks: frames, or column arrays
    by name (``Engine.emit_arrays``), or a ``ColumnSpill`` of column arrays. A list is emptied.

    Built block by block, as pandas stores a frame (one 2-D array per numpy dtype): each block
    is filled column by column, ordered as it is copied, and each piece is let go once copied,
    so the peak stays near one copy of the sessions plus one block (pd.concat, then sorting,
    held three); from a spill, one column of the chunks is read back at a time. The address
    categories are united in one pass (fixed code categories keep their order)."""
    if isinstance(chunks, list):
        spill = ColumnSpill.held([_column_arrays(c) for c in chunks])
        chunks.clear()  # the caller's list: the chunks go as soon as their columns are copied
    else:
        spill = chunks
    if not spill.rows:
        return session_records_empty() if spill.empty is None else pd.DataFrame(spill.empty)
    single = spill.only_held()
    if single is not None:
        frame = pd.DataFrame(single)
        if frame["session_id"].is_monotonic_increasing:
            return frame
        return frame.sort_values("session_id", ignore_index=True)
    ids = np.concatenate(spill.pieces("session_id", release=False))
    order = None if bool(np.all(ids[1:] >= ids[:-1])) else np.argsort(ids, kind="stable")
    del ids
    names = spill.names
    by_dtype: dict[np.dtype, list[int]] = {}
    blocks = []
    for position, name in enumerate(names):
        dtype = spill.dtypes[name]
        if isinstance(dtype, np.dtype):
            by_dtype.setdefault(dtype, []).append(position)
        else:  # extension arrays (categories, nullable integers, text) are blocks of their own
            values = concat_arrays(spill.pieces(name))
            values = values if order is None else values.take(order)
            if isinstance(values, pd.Categorical) and names[position] not in FIXED_CODES:
                values = in_order_of_appearance(values)
            blocks.append((values, np.array([position])))
    for dtype, positions in by_dtype.items():
        block = np.empty((len(positions), spill.rows), dtype)
        for row, position in enumerate(positions):
            values = np.concatenate(spill.pieces(names[position]))
            block[row] = values if order is None else values[order]
        blocks.append((block, np.array(positions)))
        malloc.trim()  # the pieces of this block (a frame's own block goes with its last column)
    spill.close()
    return create_dataframe_from_blocks(blocks, index=pd.RangeIndex(spill.rows), columns=pd.Index(names))


def _column_arrays(chunk: pd.DataFrame | dict[str, object]) -> dict[str, object]:
    """A chunk's columns by name as arrays: numpy arrays (views of a frame's blocks) or pandas
    extension arrays."""
    if isinstance(chunk, dict):
        return dict(chunk)
    return {name: column.array if not isinstance(column.dtype, np.dtype) else column.to_numpy()
            for name, column in chunk.items()}


def in_order_of_appearance(values: pd.Categorical) -> pd.Categorical:
    """The same values with their categories in order of first appearance, as a single chunk
    has them: however the chunks came (emitted as sessions ended, or from several workers),
    the frame's categories are the same."""
    codes, uniques = pd.factorize(values)
    return pd.Categorical.from_codes(codes, categories=pd.Index(np.asarray(uniques), dtype=values.categories.dtype))


def concat_arrays(parts: list) -> object:
    """One array from same-typed column pieces; categoricals with different categories (the
    address columns: each chunk has its own) get the union of them, missing values kept."""
    first = parts[0]
    if isinstance(first, pd.Categorical):
        categories = [np.asarray(p.categories, dtype=object) for p in parts]
        codes, uniques = pd.factorize(np.concatenate(categories), sort=False)
        bounds = np.cumsum([0, *(c.size for c in categories)])
        # code -1 (missing) reads the -1 appended to each piece's new codes
        recoded = [np.append(codes[bounds[k]:bounds[k + 1]], -1)[p.codes] for k, p in enumerate(parts)]
        return pd.Categorical.from_codes(np.concatenate(recoded),
                                         categories=pd.Index(uniques, dtype=first.categories.dtype))
    if isinstance(first, pd.arrays.NumpyExtensionArray):
        return np.concatenate([p.to_numpy() for p in parts])
    return type(first)._concat_same_type(parts)
