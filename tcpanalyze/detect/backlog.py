"""backlog_overflow: a listener that is not accepting connections fast enough.

Linux, when a listener's accept queue (min(backlog, somaxconn) + 1 entries) is full, drops
the client's handshake ACK silently (tcp_abort_on_overflow = 0) and keeps retransmitting its
SYN-ACK, and drops new SYNs, which the clients retry after 1 s, 3 s, 7 s... A capture shows
it per session as one of:

- ``synack_after_ack``: the server sent a SYN-ACK again after the client's handshake ACK was
  captured (the ``resp_synacks_after_ack`` session column);
- ``data_unacked``: the client's data after the handshake was retransmitted and never
  acknowledged (``resp_highest_ack`` never passed the SYN);
- ``syn_retried``: the client had to send its SYN more than once (``orig_syn_pkts``) while
  the same listener answered other clients within ``answer_window_s`` (it is alive, just full).

All three come from the sessions frame: the engine counts the packets per session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frame import Finding
from .inputs import SYN, Inputs, distinct, one_of
from .text import endpoint, n, secs
from .windows import grouped_time_keys, key_spacing


@dataclass
class BacklogOverflowConfig:
    enabled: bool = True
    # Sessions of one listener showing any of the signs; one retried SYN is ordinary loss.
    min_sessions: int = 3
    # A retried SYN counts only if the listener answered another SYN this close in time (s).
    answer_window_s: float = 10.0


def _signals(inp: Inputs) -> dict[str, np.ndarray]:
    s = inp.sessions
    data_retried = ((s["handshake"] == "complete").to_numpy() & (s["orig_data_pkts"] > 0).to_numpy()
                    & (s["orig_retrans_pkts"] > 0).to_numpy())
    data_unacked = np.zeros(inp.n, bool)  # and no ACK past the client's SYN
    retried = np.flatnonzero(data_retried)
    data_unacked[retried] = (s["resp_highest_ack"].iloc[retried].fillna(-1) <= 1).to_numpy(bool)
    syn_retried = inp.orig_syns >= 2
    synack_after_ack = (s["resp_synacks_after_ack"] > 0).to_numpy()
    return {"synack_after_ack": synack_after_ack, "data_unacked": data_unacked, "syn_retried": syn_retried}


def _answered_nearby(inp: Inputs, rows: np.ndarray, window_s: float) -> np.ndarray:
    """Whether each row's listener answered another session's SYN within ``window_s`` of its start."""
    listeners = inp.listeners(rows)
    # the answered sessions of these listeners: no other can be near a row
    answered = one_of(inp.sessions["handshake"], ("complete", "syn_synack")) & inp.to_listeners(distinct(listeners))
    # one sorted key over (listener, start), listeners spaced further apart than any window
    low, stride = key_spacing(inp.start, window_s)
    keys = grouped_time_keys(inp.start[answered], inp.listeners(answered), low, stride)
    keys.sort()
    at = grouped_time_keys(inp.start[rows], listeners, low, stride)
    around = np.searchsorted(keys, at + window_s, side="right") - np.searchsorted(keys, at - window_s, side="left")
    return around - answered[rows] > 0  # a session's own answer does not count


def detect_backlog_overflow(inp: Inputs, cfg: BacklogOverflowConfig) -> list[Finding]:
    signals = _signals(inp)
    retried = np.flatnonzero(signals["syn_retried"])
    keep = _answered_nearby(inp, retried, cfg.answer_window_s)
    signals["syn_retried"] = np.zeros(inp.n, bool)
    signals["syn_retried"][retried[keep]] = True
    any_sign = signals["synack_after_ack"] | signals["data_unacked"] | signals["syn_retried"]
    overflowing = [(listener, members) for listener, members in _by_listener(inp, np.flatnonzero(any_sign))
                   if members.size >= cfg.min_sessions]
    # the attempts to those listeners alone, counted per listener
    attempted = inp.listeners(inp.attempt & inp.to_listeners(np.array([code for code, _ in overflowing], np.int64)))
    attempted.sort()
    evidence_of = _evidence(inp, any_sign)
    findings = []
    for listener, members in overflowing:
        addr, port = inp.listener_name(listener)
        attempts = int(np.searchsorted(attempted, listener, "right") - np.searchsorted(attempted, listener, "left"))
        counts = {k: int(v[members].sum()) for k, v in signals.items()}
        start, end = float(inp.start[members].min()), float(inp.end[members].max())
        severe = counts["synack_after_ack"] + counts["data_unacked"] > 0
        parts = [f"{n(counts['synack_after_ack'])} with the SYN-ACK retransmitted after the client's ACK",
                 f"{n(counts['data_unacked'])} with client data never acknowledged",
                 f"{n(counts['syn_retried'])} with SYNs retried while other clients were answered"]
        findings.append(Finding(
            "backlog_overflow", "critical" if severe else "warning", start, end, addr, port,
            f"{endpoint(addr, port)} is not accepting connections fast enough: {n(members.size)} of "
            f"{n(attempts)} connection attempts in {secs(end - start)} show a full accept queue "
            f"({', '.join(p for p in parts if not p.startswith('0 '))})",
            inp.orig_names(members), inp.session_ids[members], evidence_of(listener, members),
            {"sessions_affected": int(members.size), "attempts": attempts, **counts}))
    return findings


def _by_listener(inp: Inputs, rows: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``rows`` (ascending) grouped by listener: (listener, its rows ascending), listeners in ascending order."""
    if not rows.size:
        return []
    listeners = inp.listeners(rows)
    order = np.argsort(listeners, kind="stable")
    rows, listeners = rows[order], listeners[order]
    starts = np.flatnonzero(np.diff(listeners)) + 1
    return list(zip(listeners[np.r_[0, starts]].tolist(), np.split(rows, starts)))


def _evidence(inp: Inputs, affected: np.ndarray):
    """A function giving the evidence of one listener's affected sessions: their SYNs and
    SYN-ACKs (their first frames without packets). The packets are grouped once for all listeners."""
    if inp.packets is None:
        return lambda listener, members: inp.first_frames(members)
    handshake = np.flatnonzero(affected[inp.packet_rows] & ((inp.flags & SYN) != 0))  # file order
    keys = inp.listeners(inp.packet_rows[handshake])
    order = np.argsort(keys, kind="stable")
    keys, frames = keys[order], inp.frames[handshake[order]]
    return lambda listener, members: frames[np.searchsorted(keys, listener, "left"):
                                            np.searchsorted(keys, listener, "right")]
