"""What the detectors read: the sessions frame, the packets frame when there is one, and facts
derived from them once and shared (address codes, which sessions were connection attempts,
per-session packet facts such as SYN and SYN-ACK counts).

Every property is computed on first use and cached, so a detector pays only for what it reads.
Columns are read as stored where a detector's arithmetic allows (no widening copy): the
caches live until the last detector has run.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np
import pandas as pd

from ..engine.evidence import retransmissions

SYN, RST, ACK, FIN, PSH, URG = 0x02, 0x04, 0x10, 0x01, 0x08, 0x20
# The session columns detectors read: ``Inputs`` keeps these alone, so a detector reading
# another fails in every test; ``analyze(columns=...)`` needs no more for anomaly detection.
DETECTOR_COLUMNS = (
    "session_id", "orig_addr", "orig_port", "resp_addr", "resp_port", "start", "end", "duration", "first_frame",
    "last_frame", "handshake", "conn_state", "close_type", "closed_by", "rst_unacked_bytes", "orig_first_flags",
    "resp_synacks_after_ack", "resp_highest_ack", "orig_syn_pkts", "resp_synack_pkts", "orig_rst_pkts", "resp_rst_pkts",
    *(f"{side}_{name}" for side in ("orig", "resp") for name in (
        "pkts", "bytes", "payload_bytes", "data_pkts", "retrans_data_pkts", "zero_window_episodes",
        "zero_window_s", "zero_window_longest_s", "zero_window_probes", "duplicate_pkts")),
    "orig_retrans_pkts",  # backlog overflow: the client resent its data
)
# The handshake outcomes (tcpanalyze.engine.session) of sessions whose originator sent a SYN.
ATTEMPT_OUTCOMES = ("complete", "syn_synack", "refused", "unanswered")
ROWS_CHUNK = 1 << 16  # packets whose session rows are looked up at once


def first_of_each(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``keys``, sorted, and the position of each one's first occurrence.

    (``np.unique`` does the same but, in numpy 2.4, ten times slower on a million keys.)
    """
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.ones(ordered.size, bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return ordered[first], order[first]


def distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct values of ``keys``, sorted."""
    return first_of_each(np.asarray(keys))[0]


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...], reader: str) -> pd.DataFrame:
    """``frame`` with only ``columns``, in that order (a ValueError naming the missing ones), not
    copied: pandas' column selection copies every block whose columns it cannot slice (80 MB of
    a 500k-session frame selected for detection)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{reader} reads the session columns {', '.join(missing)}, which this sessions frame "
                         "does not have (analyze with columns=None keeps them all)")
    if list(frame.columns) == list(columns):
        return frame
    return pd.DataFrame({name: frame[name] for name in columns}, copy=False)


def one_of(column: pd.Series, values: tuple[str, ...]) -> np.ndarray:
    """``column.isin(values)`` as a mask; a categorical's codes are looked up in a table of its
    categories (pandas widens them to int64 first)."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return column.isin(values).to_numpy()
    wanted = np.zeros(column.cat.categories.size + 1, bool)  # the last entry: code -1, a missing value
    at = column.cat.categories.get_indexer(list(values))
    wanted[at[at >= 0]] = True
    return wanted[column.cat.codes.to_numpy()]


def address_codes(column: pd.Series, dtype: type | None = np.int64) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and the text of each code for an address column (categorical or text).

    ``dtype=None`` keeps a categorical's codes as stored (int8 to int32, no copy).
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(dtype), np.asarray(column.cat.categories.astype(str), dtype=object)
    codes, uniques = pd.factorize(column.astype(str))
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _from_zero(sorted_ids: np.ndarray) -> bool:
    """Whether ``sorted_ids`` (ascending, distinct) are 0..n-1, as every session of an analysis."""
    return bool(sorted_ids.size and sorted_ids[0] == 0 and sorted_ids[-1] == sorted_ids.size - 1)


def _among(ids: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Mask of ``ids`` found in ``sorted_ids`` (ascending, distinct): a range check when those are
    ``_from_zero``, else looked up a chunk at a time (``np.isin`` sorts copies of both)."""
    n = sorted_ids.size
    if _from_zero(sorted_ids):
        return (ids >= 0) & (ids < n)
    known = np.empty(ids.size, np.bool_)
    for at in range(0, ids.size, ROWS_CHUNK):
        some = ids[at:at + ROWS_CHUNK]
        where = np.minimum(np.searchsorted(sorted_ids, some), max(n - 1, 0))
        known[at:at + ROWS_CHUNK] = (sorted_ids[where] == some) if n else False
    return known


class Inputs:
    """Sessions (and packets, or None) plus cached derived views; see the module docstring."""

    def __init__(self, sessions: pd.DataFrame, packets: pd.DataFrame | None, path: str | None = None) -> None:
        sessions = require_columns(sessions, DETECTOR_COLUMNS, "anomaly detection")
        if not sessions["session_id"].is_monotonic_increasing:
            sessions = sessions.sort_values("session_id", kind="stable")
        self.sessions = sessions.reset_index(drop=True)
        if packets is not None and len(packets):
            # a filtered sessions frame: only the packets of its sessions count
            known = _among(packets["session_id"].to_numpy(), self.sessions["session_id"].to_numpy(np.int64))
            packets = packets if known.all() else packets[known].reset_index(drop=True)
        self.packets = packets if packets is not None and len(packets) else None
        self.path = path  # the capture file, for detectors that read payload bytes back
        self.n = len(self.sessions)

    # -- sessions ----------------------------------------------------------------------
    @cached_property
    def orig(self) -> tuple[np.ndarray, np.ndarray]:
        """(codes, names) of the originator addresses; the codes as stored (widen them before arithmetic)."""
        return address_codes(self.sessions["orig_addr"], None)

    @cached_property
    def resp(self) -> tuple[np.ndarray, np.ndarray]:
        """(codes, names) of the responder addresses; the codes as stored (widen them before arithmetic)."""
        return address_codes(self.sessions["resp_addr"], None)

    @cached_property
    def _host_codes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(host code of each originator code, of each responder code, host names)."""
        (_, o_names), (_, r_names) = self.orig, self.resp
        codes, names = pd.factorize(np.concatenate([o_names, r_names]))
        return codes[:o_names.size], codes[o_names.size:], np.asarray(names, dtype=object)

    def hosts(self, rows: np.ndarray | slice = slice(None)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(originator codes, responder codes, names) of ``rows`` (all sessions by default) in one code
        space: a host has one code on either side."""
        of_orig, of_resp, names = self._host_codes
        return of_orig[self.orig[0][rows]], of_resp[self.resp[0][rows]], names

    def between(self, hosts: np.ndarray) -> np.ndarray:
        """Mask of the sessions both of whose hosts are among ``hosts`` (codes as ``hosts()`` gives them)."""
        of_orig, of_resp, names = self._host_codes
        among = np.zeros(names.size, bool)
        among[hosts] = True
        return among[of_orig][self.orig[0]] & among[of_resp][self.resp[0]]

    def orig_names(self, rows: np.ndarray) -> np.ndarray:
        codes, names = self.orig
        return names[codes[rows]]

    def resp_names(self, rows: np.ndarray) -> np.ndarray:
        codes, names = self.resp
        return names[codes[rows]]

    @cached_property
    def session_ids(self) -> np.ndarray:
        return self.sessions["session_id"].to_numpy(np.int64)

    @cached_property
    def start(self) -> np.ndarray:
        return self.sessions["start"].to_numpy(np.float64)

    @cached_property
    def end(self) -> np.ndarray:
        return self.sessions["end"].to_numpy(np.float64)

    @cached_property
    def resp_port(self) -> np.ndarray:
        return self.sessions["resp_port"].to_numpy()

    def listeners(self, rows: np.ndarray | slice) -> np.ndarray:
        """One code per (responder address, port) of ``rows``: the service each session was opened to.
        Not cached: detectors read them for some rows, not an int64 per session held to the end."""
        listener = np.multiply(self.resp[0][rows], 65536, dtype=np.int64)
        listener += self.resp_port[rows]
        return listener

    def to_listeners(self, listeners: np.ndarray) -> np.ndarray:
        """Mask of the sessions opened to one of ``listeners`` (ascending, distinct codes), a chunk of
        sessions at a time."""
        mask = np.empty(self.n, bool)
        for at in range(0, self.n, ROWS_CHUNK):
            mask[at:at + ROWS_CHUNK] = _among(self.listeners(slice(at, at + ROWS_CHUNK)), listeners)
        return mask

    def listener_name(self, code: int) -> tuple[str, int]:
        return str(self.resp[1][code // 65536]), int(code % 65536)

    @cached_property
    def attempt(self) -> np.ndarray:
        """Sessions whose originator sent a SYN (connection attempts, answered or not)."""
        return one_of(self.sessions["handshake"], ATTEMPT_OUTCOMES)

    @cached_property
    def no_payload(self) -> np.ndarray:
        """Sessions that carried no application byte either way."""
        s = self.sessions
        return ((s["orig_payload_bytes"] == 0) & (s["resp_payload_bytes"] == 0)).to_numpy()

    def text_at(self, column: str, rows: np.ndarray) -> np.ndarray:
        """A text column's values at ``rows`` (object array). Whole columns are compared in pandas
        instead: ``to_numpy`` on a categorical of Arrow strings makes a string per row."""
        return self.sessions[column].iloc[rows].to_numpy()

    def counts_at(self, column: str, rows: np.ndarray) -> np.ndarray:
        """A numeric column's values at ``rows`` as int64 (the column read as stored, only those rows widened)."""
        return self.sessions[column].to_numpy()[rows].astype(np.int64)

    def rows_of(self, session_ids: np.ndarray) -> np.ndarray:
        """Row positions of these session ids."""
        return np.searchsorted(self.session_ids, session_ids)

    def first_frames(self, rows: np.ndarray) -> np.ndarray:
        return self.sessions["first_frame"].to_numpy(np.int64)[rows]

    # -- packets ------------------------------------------------------------------------
    @cached_property
    def packet_rows(self) -> np.ndarray:
        """Row position in ``sessions`` of every packet (packets frame required): when the session ids
        are the rows (``_from_zero``), the packets' ids as stored (uint32 in the evidence), else int32
        below 2**31 sessions."""
        ids = self.packets["session_id"].to_numpy()
        if _from_zero(self.session_ids):
            return ids
        rows = np.empty(ids.size, np.int32 if self.n < 2**31 else np.int64)
        for at in range(0, ids.size, ROWS_CHUNK):  # searchsorted's int64 positions, a chunk at a time
            rows[at:at + ROWS_CHUNK] = self.rows_of(ids[at:at + ROWS_CHUNK])
        return rows

    @cached_property
    def flags(self) -> np.ndarray:
        return self.packets["tcp_flags"].to_numpy()

    @cached_property
    def from_orig(self) -> np.ndarray:
        return (self.packets["direction"] == "orig").to_numpy()

    @cached_property
    def win_raw(self) -> np.ndarray:
        """Each packet's window field as on the wire."""
        return self.packets["win_raw"].to_numpy()

    @cached_property
    def _ts_ns(self) -> np.ndarray:
        return self.packets["ts_ns"].to_numpy(np.int64)

    def seconds(self, packets: np.ndarray | int) -> np.ndarray | np.float64:
        """Capture times in seconds of these packets (indices or a mask), converted for them alone."""
        return self._ts_ns[packets] / 1e9

    @cached_property
    def frames(self) -> np.ndarray:
        """Each packet's frame number, as stored (uint32 in the evidence while they fit: no widened copy)."""
        return self.packets["frame"].to_numpy()

    def packets_of(self, rows: np.ndarray) -> Callable[[int], np.ndarray]:
        """A function giving the indices of one session's packets in file order, for any of ``rows``
        (session rows): these sessions' packets are grouped, not every packet."""
        m = self.packet_rows.size
        wanted = np.zeros(self.n, bool)
        wanted[rows] = True
        # one sorted key per packet, row * m + index: each session's packets together, in file order
        keys = np.flatnonzero(wanted[self.packet_rows])
        for at in range(0, keys.size, ROWS_CHUNK):  # the rows added a chunk at a time: no temporary per packet
            part = keys[at:at + ROWS_CHUNK]
            part += np.multiply(self.packet_rows[part], m, dtype=np.int64)
        keys.sort()
        return lambda row: keys[np.searchsorted(keys, int(row) * m):np.searchsorted(keys, (int(row) + 1) * m)] % m

    def endpoint_columns(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(originator address, its port, responder address, its port) of each row, as arrays."""
        return (self.orig_names(rows), self.sessions["orig_port"].to_numpy()[rows],
                self.resp_names(rows), self.resp_port[rows])

    def endpoints(self, rows: np.ndarray) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """(originator, responder) as (address, port) pairs for each row."""
        o_addr, o_port, r_addr, r_port = (column.tolist() for column in self.endpoint_columns(rows))
        return list(zip(o_addr, o_port)), list(zip(r_addr, r_port))

    @cached_property
    def orig_syns(self) -> np.ndarray:
        """SYN packets (without ACK) each session's originator sent."""
        return self.sessions["orig_syn_pkts"].to_numpy()

    @cached_property
    def resend(self) -> np.ndarray:
        """Each packet's resend kind (``engine.kernels.RESEND_*``): the packets table holds the
        kinds as a categorical, the engine's evidence as codes."""
        resend = self.packets["resend"]
        return (resend.cat.codes if isinstance(resend.dtype, pd.CategoricalDtype) else resend).to_numpy()

    @cached_property
    def retransmitted(self) -> np.ndarray:
        """Packets re-sending sequence space (``engine.evidence.retransmissions``)."""
        return retransmissions(self.resend)

    @cached_property
    def analysis_flags(self) -> np.ndarray:
        """Each packet's analysis flags as bits (``tcpanalyze.engine.flags``)."""
        return self.packets["analysis_flags"].to_numpy()

    @cached_property
    def first_orig_flags(self) -> np.ndarray:
        """TCP flags of each session's first packet from its originator (-1: none)."""
        return self.sessions["orig_first_flags"].to_numpy(np.int16, na_value=-1)
