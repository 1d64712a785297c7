"""The packets the detectors and the report read, kept in one pass instead of the packets table.

The detectors (``tcpanalyze.detect``) read packets only of some sessions, and take the rest
from the session records and from what the engine computes per packet (``rst_in_window``,
``resend``) and per session (``rst_unacked_bytes``, SYN counts...). What they read:

- *marker* packets: SYN, FIN, RST, any retransmission (``retransmissions``), and data whose payload was captured
  (overlap conflicts compare payloads); a retransmission or a capture's copy is one of them;
- every packet of a session from its first RST or its first zero window on (stall episodes,
  packets sent after a RST).

So, as it goes, ``Evidence`` keeps the marker packets, and every packet of a session that has
sent a RST or a zero window (as the kernels count them) at or before it. Once a session is
emitted, what stays depends on ``packets_needed``: everything kept, for sessions with a RST, a
zero window, a retried SYN or a SYN-ACK repeated after the client's ACK; the marker packets but
RSTs, for sessions whose only sign is a retransmission; nothing for the others. What stays of
emitted sessions is set aside for good (``tcpanalyze.spill``: past a budget, in a temporary
file), so memory holds the packets of live sessions; ``frames`` puts them back in file order.

The report and ``check`` read every ACK's RTT sample: ``Evidence`` keeps all of them in an
``RttSamples`` (past ``rtt_samples.SPILL_ROWS``, in a temporary file), read back a batch at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import malloc
from ..spill import ColumnSpill

from .flags import RESEND_LOST_BEFORE_CAPTURE, RESEND_RETRANSMISSION
from .rtt_samples import DIRECTIONS, RttSamples

# The kept columns: the decoded fields detectors read (reassembly's too: overlap conflicts), then
# the engine's per-packet results they read. Nothing more: millions of rows on a big capture.
PACKET_FIELDS = ("frame", "ts_ns", "tcp_flags", "seq_raw", "win_raw", "payload_len", "payload_caplen", "rec_off",
                 "payload_off")
RESULT_FIELDS = ("analysis_flags", "rst_in_window", "resend")
# 15 flag bits; -1, 0 or 1; RESEND_* codes
RESULT_DTYPES = {"analysis_flags": np.uint16, "rst_in_window": np.int8, "resend": np.int8}
# Session ids and frame numbers are buffered as uint32 while they fit (``_compact``); the frame keeps
# the frame numbers that way but widens the session ids to int64, as a multi-worker analysis renumbers them.
IDS = ("session_id", "frame")
# Trim the buffered rows when they pass twice what survived the last trim (and at least this many).
MIN_TRIM_ROWS = 1 << 18
# What a session needs kept (by session id), and a session not emitted yet, which keeps everything.
KEEP_NONE, KEEP_MARKERS, KEEP_ALL, KEEP_UNSETTLED = 0, 1, 2, 3
SYN_OR_FIN, SYN_FIN_RST = 0x03, 0x07


def packets_needed(records: "pd.DataFrame | dict") -> np.ndarray:
    """KEEP_* per session (rows of a session records frame, or its columns by name): which of
    its packets a detector may read."""
    def column(name: str) -> np.ndarray:
        return np.asarray(records[name], np.int64)

    def both(name: str) -> np.ndarray:
        return column(f"orig_{name}") + column(f"resp_{name}")

    everything = ((both("rst_pkts") > 0) | (both("zero_window_episodes") > 0)
                  | (column("orig_syn_pkts") > 1) | (column("resp_synacks_after_ack") > 0))
    return np.where(everything, KEEP_ALL, np.where(both("retrans_pkts") > 0, KEEP_MARKERS, KEEP_NONE))


def markers(flags: np.ndarray, resend: np.ndarray, payload_len: np.ndarray,
            payload_caplen: np.ndarray, *, rst: bool = True) -> np.ndarray:
    """Marker packets (see the module docstring); ``rst=False`` leaves RSTs out."""
    return (((flags & (SYN_FIN_RST if rst else SYN_OR_FIN)) != 0) | retransmissions(resend)
            | ((payload_len > 0) & (payload_caplen > 0)))


def retransmissions(resend: np.ndarray) -> np.ndarray:
    """Which packets re-send sequence space, by their ``resend`` kinds (engine/kernels.py
    RESEND_*): a retransmission seen twice, or of a segment lost before the capture point."""
    return (resend == RESEND_RETRANSMISSION) | (resend == RESEND_LOST_BEFORE_CAPTURE)


@dataclass
class EvidenceFrames:
    """What ``Evidence`` kept: ``packets`` (the columns above plus session_id and direction, in
    file order; frame numbers as uint32 while they fit) and ``rtt`` (every RTT sample, read a batch
    at a time: ``RttSamples``)."""

    packets: pd.DataFrame
    rtt: RttSamples


class Evidence:
    """Packets of sessions that may need them, and RTT samples, collected batch by batch."""

    def __init__(self) -> None:
        self._chunks: list[dict[str, np.ndarray]] = []  # rows of sessions that may not be emitted yet
        self._rows = 0
        self._limit = MIN_TRIM_ROWS
        self._keep = np.zeros(0, np.int8)  # KEEP_* by session id
        self._settled = ColumnSpill("detectors' evidence")  # the kept rows of emitted sessions
        self._rtt = RttSamples()

    def add_rtt(self, session_id: np.ndarray, direction: np.ndarray, ack_rtt_ns: np.ndarray) -> None:
        """The RTT samples of packets just analysed (-1: none), by the direction of the ACK."""
        sampled = ack_rtt_ns >= 0
        if sampled.any():
            data_direction = 1 - direction[sampled].astype(np.int8)  # an ACK times the other side's data
            self._rtt.add(session_id[sampled], ack_rtt_ns[sampled], data_direction)

    def add(self, session_id: np.ndarray, direction: np.ndarray, fields: dict[str, np.ndarray],
            results: dict[str, np.ndarray]) -> None:
        """Packets to keep: ``fields`` by PACKET_FIELDS name, ``results`` by RESULT_FIELDS name,
        all the same length (the engine picks them: see the module docstring)."""
        if not session_id.size:
            return
        chunk = {"session_id": session_id, "direction": direction, **fields,
                 **{k: v.astype(RESULT_DTYPES.get(k, np.int64), copy=False) for k, v in results.items()}}
        self._chunks.append({**chunk, **{name: _compact(chunk[name]) for name in IDS}})
        self._rows += session_id.size

    def settle(self, records: "pd.DataFrame | dict") -> None:
        """Emitted sessions (their records, or record columns by name): from now on keep only what they need."""
        ids = np.asarray(records["session_id"], np.int64)
        if not ids.size:
            return
        if self._keep.size <= ids.max():
            grown = np.full(max(int(ids.max()) + 1, 2 * self._keep.size), KEEP_UNSETTLED, np.int8)
            grown[: self._keep.size] = self._keep
            self._keep = grown
        self._keep[ids] = packets_needed(records)
        if self._rows > self._limit:
            self._trim()
            self._limit = max(2 * self._rows, MIN_TRIM_ROWS)

    def _trim(self) -> None:
        """Drop the packets emitted sessions do not need and set the rest of theirs aside for
        good (``_settled``, one chunk per trim); the rows of sessions not emitted yet stay."""
        settled, waiting = [], []
        for chunk in self._chunks:
            ids = chunk["session_id"]
            need = np.full(ids.size, KEEP_UNSETTLED, np.int8)
            known = ids < self._keep.size
            need[known] = self._keep[ids[known]]
            marked = markers(chunk["tcp_flags"], chunk["resend"], chunk["payload_len"], chunk["payload_caplen"],
                             rst=False)
            settled.append((need == KEEP_ALL) | ((need == KEEP_MARKERS) & marked))
            waiting.append(need == KEEP_UNSETTLED)
        chunks, self._chunks = self._chunks, []
        for into, masks in ((self._settled.add, settled), (self._chunks.append, waiting)):
            if any(mask.any() for mask in masks):
                into({name: np.concatenate([c[name][mask] for c, mask in zip(chunks, masks)]) for name in chunks[0]})
        self._rows = sum(c["session_id"].size for c in self._chunks)

    def frames(self) -> EvidenceFrames:
        """The kept packets in file order, and the RTT samples (call after the last ``settle``)."""
        self._trim()
        for chunk in [*self._chunks, _empty()]:  # the empty chunk: the columns when nothing was kept
            self._settled.add(chunk)
        self._chunks = []
        kept = self._settled
        frames = np.concatenate(kept.pieces("frame", release=False) or [np.empty(0, np.int64)])
        order = None if bool(np.all(frames[1:] >= frames[:-1])) else np.argsort(frames, kind="stable")
        del frames
        columns = {}
        for name in kept.names or list(kept.empty):
            pieces = kept.pieces(name) or [kept.empty[name]]
            values = np.concatenate(pieces)
            del pieces
            columns[name] = values if order is None else values[order]
            malloc.trim()  # the pieces just copied, back to the system before the next column
        kept.close()
        columns["session_id"] = columns["session_id"].astype(np.int64, copy=False)
        columns["direction"] = pd.Categorical.from_codes(columns["direction"].astype(np.int8), categories=DIRECTIONS)
        frames = EvidenceFrames(pd.DataFrame(columns, copy=False), self._rtt.close())
        malloc.trim()  # the chunks' memory, for the sessions frame built next
        return frames


def _compact(ids: np.ndarray) -> np.ndarray:
    """Ids (session ids, frame numbers) as uint32 while they fit: half the memory of the kept rows' ids."""
    return ids.astype(np.uint32) if ids.size and ids.max() < 2**32 else ids


def _empty() -> dict[str, np.ndarray]:
    names = ("session_id", "direction", *PACKET_FIELDS, *RESULT_FIELDS)
    dtypes = {"direction": np.uint8, **dict.fromkeys(IDS, np.uint32), **RESULT_DTYPES}
    return {k: np.empty(0, dtypes.get(k, np.int64)) for k in names}
