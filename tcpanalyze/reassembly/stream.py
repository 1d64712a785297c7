"""Reassembled sessions: each direction's bytes, gaps and overlap conflicts, and the turns between them."""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..frames import endpoint
from .kernels import assemble, stream_offsets
from .segments import Segments

POLICIES = ("first", "last")
DIRECTIONS = ("orig", "resp")
CHUNK_COLUMNS = ("direction", "offset", "length", "first_frame", "ts_ns", "missing")
SHOWN_CONFLICTS = 3  # conflicts a warning names one by one


@dataclass(frozen=True)
class Conflict:
    """A later copy of stream bytes that differs from the first copy captured.

    ``offset``/``length`` span the differing bytes of one overlapping run of the later
    segment (first to last differing byte); ``first_frame`` delivered the byte at ``offset``.
    """

    offset: int
    length: int
    first_frame: int
    later_frame: int


@dataclass
class StreamDirection:
    """One direction of a session as the receiver's application would read it.

    ``data`` holds the captured bytes in stream order, each byte once; bytes never captured
    are left out, and ``gaps`` says where they were: (stream offset, length) pairs. Offsets
    count from the first data byte (ISN + 1, or the first sequence number seen when the
    SYN was not captured). ``slice(offset, n)`` reads ``data`` by stream offset.
    """

    direction: str
    data: bytes
    gaps: list[tuple[int, int]]
    conflicts: list[Conflict]
    length: int  # stream extent: bytes of sequence space from offset 0 to the furthest byte seen
    seen_bytes: int  # bytes some captured packet carried, whether or not the snaplen kept them
    overlap_bytes: int  # captured bytes that arrived more than once (retransmissions, overlaps)
    turns: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # the chunk rows before merging
    _gap_ends: list[int] = field(default_factory=list, init=False, repr=False)
    _missing_before: list[int] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        total = 0
        for offset, length in self.gaps:
            total += length
            self._gap_ends.append(offset + length)
            self._missing_before.append(total)

    @property
    def missing_bytes(self) -> int:
        """Bytes of the stream not in ``data``: the sum of the gaps."""
        return self.length - len(self.data)

    @property
    def truncated_bytes(self) -> int:
        """Missing bytes that a packet carried but the capture cut (snaplen)."""
        return self.seen_bytes - len(self.data)

    @property
    def unseen_bytes(self) -> int:
        """Missing bytes no captured packet carried: the session record's ``*_missed_bytes``."""
        return self.length - self.seen_bytes

    def slice(self, offset: int, length: int) -> bytes:
        """The captured bytes at stream ``offset`` (which must not fall in a gap)."""
        k = bisect.bisect_right(self._gap_ends, offset)
        start = offset - (self._missing_before[k - 1] if k else 0)
        return self.data[start : start + length]


@dataclass
class Stream:
    """Both directions of a reassembled session and ``chunks``, the turns they took.

    ``chunks`` has one row per run of bytes a direction delivered, in capture order:
    direction, stream offset, length, first_frame, ts_ns (of that frame), and ``missing``
    (True for a gap, placed where the capture first reached it).

    >>> stream = tcpanalyze.analyze("sample_pcaps/real-graceful-close.pcap").stream(0)
    >>> stream.orig.data[:40], stream.resp.gaps, stream.chunks
    """

    session_id: int
    orig_addr: str
    orig_port: int
    resp_addr: str
    resp_port: int
    orig: StreamDirection
    resp: StreamDirection
    policy: str = "first"

    @functools.cached_property
    def chunks(self) -> pd.DataFrame:
        """The turns: one row per run of bytes a direction delivered, and per gap, in capture order."""
        return _chunks([pd.DataFrame({"direction": d.direction, **d.turns}) for d in (self.orig, self.resp) if d.turns])

    def direction(self, name: str) -> StreamDirection:
        """``orig`` or ``resp`` by name."""
        return self.orig if name == "orig" else self.resp

    def endpoints(self, name: str) -> tuple[str, str]:
        """(sender, receiver) of direction ``name`` as ``addr:port`` text (IPv6 in brackets)."""
        orig, resp = endpoint(self.orig_addr, self.orig_port), endpoint(self.resp_addr, self.resp_port)
        return (orig, resp) if name == "orig" else (resp, orig)

    def warnings(self, directions: tuple[str, ...] = DIRECTIONS) -> list[str]:
        """What a reader of these directions' bytes must know: data not captured, conflicting copies."""
        out = []
        for d in (self.direction(name) for name in directions):
            where = f"session {self.session_id} {d.direction}"
            if d.length and not d.data:
                why = "headers-only capture" if d.truncated_bytes else "its segments are not in the capture"
                out.append(f"{where}: {d.length} bytes in flight but none captured ({why})")
            elif d.missing_bytes:
                cut = f", {d.truncated_bytes} of them cut by the snaplen" if d.truncated_bytes else ""
                out.append(f"{where}: {d.missing_bytes} of {d.length} bytes missing in {len(d.gaps)} gap(s){cut}")
            if d.conflicts:
                shown = "; ".join(f"offset {c.offset} ({c.length} bytes) frame {c.first_frame} vs {c.later_frame}"
                                  for c in d.conflicts[:SHOWN_CONFLICTS])
                more = f"; {len(d.conflicts) - SHOWN_CONFLICTS} more" if len(d.conflicts) > SHOWN_CONFLICTS else ""
                out.append(f"{where}: {len(d.conflicts)} overlap conflict(s), retransmitted bytes that differ from the "
                           f"first copy ({shown}{more}); the {self.policy}-seen bytes are kept")
        return out


def build_streams(records: pd.DataFrame, segments: Segments, policy: str = "first") -> Iterator[Stream]:
    """A :class:`Stream` for each session record, from the segments of those sessions."""
    if policy not in POLICIES:
        raise UsageError(f"unknown overlap policy {policy!r}: use 'first' or 'last'")
    n = len(segments)
    order = np.lexsort((np.arange(n), segments["direction"], segments["session_id"]))
    key = segments["session_id"][order] * 2 + segments["direction"][order]
    bounds = np.flatnonzero(np.diff(key)) + 1
    starts = np.concatenate([[0], bounds, [n]]).astype(np.int64) if n else np.zeros(1, np.int64)
    offsets = np.empty(n, np.int64)
    cols = {k: v[order] for k, v in segments.columns.items()}
    stream_offsets(starts, cols["seq_raw"], cols["tcp_flags"], offsets)
    group_of = {int(key[a]): (int(a), int(b)) for a, b in itertools.pairwise(starts) if b > a}
    for rec in records.sort_values("session_id").itertuples(index=False):
        sid = int(rec.session_id)
        orig, resp = (_direction(name, *group_of.get(2 * sid + d, (0, 0)), cols, offsets, segments.payload, policy)
                      for d, name in enumerate(DIRECTIONS))
        yield Stream(sid, str(rec.orig_addr), int(rec.orig_port), str(rec.resp_addr), int(rec.resp_port), orig, resp,
                     policy)


def _direction(name: str, a: int, b: int, cols: dict[str, np.ndarray], offsets: np.ndarray, payload: np.ndarray,
               policy: str) -> StreamDirection:
    """One direction group (rows a:b) reassembled, with its turn rows (data pieces and gaps)."""
    data, gaps, gap_row, pieces, conflicts, length, seen, overlap = assemble(
        offsets[a:b], cols["payload_len"][a:b], cols["payload_caplen"][a:b], cols["pay_start"][a:b],
        cols["tcp_flags"][a:b], payload, policy == "last")
    frame, ts = cols["frame"][a:b], cols["ts_ns"][a:b]
    found = [Conflict(int(o), int(n), int(frame[f]) if f >= 0 else -1, int(frame[later])) for o, n, f, later in conflicts]
    gap_row = np.maximum(gap_row, 0)
    turns = {
        "offset": np.concatenate([pieces[:, 1], gaps[:, 0]]),
        "length": np.concatenate([pieces[:, 2], gaps[:, 1]]),
        "first_frame": np.concatenate([frame[pieces[:, 0]], frame[gap_row] if gaps.size else gap_row]),
        "ts_ns": np.concatenate([ts[pieces[:, 0]], ts[gap_row] if gaps.size else gap_row]),
        "missing": np.concatenate([np.zeros(len(pieces), bool), np.ones(len(gaps), bool)]),
    }
    return StreamDirection(name, data.tobytes(), [(int(o), int(n)) for o, n in gaps], found, int(length), int(seen),
                           int(overlap), turns)


def _chunks(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Pieces and gaps of both directions in capture order, runs of the same direction merged."""
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(CHUNK_COLUMNS, (object, "int64", "int64", "int64",
                                                                                    "int64", bool))})
    rows = rows.sort_values(["first_frame", "offset"], kind="stable", ignore_index=True)
    direction = rows["direction"].to_numpy()
    offset, length = rows["offset"].to_numpy(), rows["length"].to_numpy()
    missing = rows["missing"].to_numpy()
    prev_end = np.concatenate([[-1], (offset + length)[:-1]])
    fresh = np.ones(len(rows), bool)
    fresh[1:] = (direction[1:] != direction[:-1]) | missing[1:] | missing[:-1] | (offset[1:] != prev_end[1:])
    starts = np.flatnonzero(fresh)
    merged = rows.iloc[starts].reset_index(drop=True)
    merged["length"] = np.add.reduceat(length, starts)
    return merged[list(CHUNK_COLUMNS)]
