"""Plain-language diagnoses of sessions, derived from their records.

``flag_sessions`` finds, vectorised over every session, the facts worth telling a user (a
zero-window stall, retransmission, a retried SYN, a slow handshake, a reset, a refused or
unanswered connection, bytes the capture missed), each with a severity and what was lost,
which ranks it among its kind (stall seconds, segments re-sent, seconds lost, bytes...).
``describe`` turns one such fact into a sentence; it runs only for the few sessions a
report shows, so a capture of a million sessions costs one pass of numpy, not a million
Python calls.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..frames import endpoint

# Severity order, worst first; also the order reports sort by.
SEVERITIES = ("critical", "warning", "info")
CRITICAL, WARNING, INFO = range(3)

# A handshake slower than this is worth a line; past a second the SYN or SYN-ACK was most
# likely lost and resent (Linux's initial RTO is 1 s, RFC 6298 section 2).
SLOW_HANDSHAKE_MS = 200.0
LOST_SYN_HANDSHAKE_MS = 1000.0
# A handshake whose SYN (or SYN-ACK) had to be sent again and that waited this long for it (an
# initial RTO) is a warning: the user waited a second before anything happened.
LOST_SYN_S = LOST_SYN_HANDSHAKE_MS / 1000
# Retransmitted share of data segments: a lossy path is a warning at 1 %, critical at 10 % -
# given enough segments to say so: a session needs this many retransmitted data segments to be
# a warning, and as many as the retransmission_storm detector's minimum to be critical (2 of 4
# is 50 % of a session too short to mean anything).
RETRANS_WARNING_PCT = 1.0
RETRANS_CRITICAL_PCT = 10.0
RETRANS_WARNING_MIN = 3
RETRANS_CRITICAL_MIN = 10
# A zero-window stall this long is a warning (a user notices a one-second freeze).
STALL_WARNING_S = 1.0

# Finding kinds in the order a report lists them when severities tie.
KINDS = ("zero_window", "retransmission", "handshake_retry", "refused", "unanswered", "reset", "slow_handshake",
         "capture_loss")
ROLES = {"orig": "originator", "resp": "responder"}  # the two ends, as every command names them
SIDES = ("orig", "resp", "")  # a finding's side: who it is about ("" for the session as a whole)


def flag_sessions(sessions: pd.DataFrame) -> pd.DataFrame:
    """Every finding over every session: one row each with ``row`` (position in ``sessions``),
    ``session_id``, ``kind``, ``side`` (orig/resp/""), ``severity`` and ``value`` (what was lost,
    which ranks it: seconds of stall, data segments re-sent, seconds lost to a retried SYN, SYNs
    sent, handshake ms, bytes). ``kind``, ``side`` and
    ``severity`` are categoricals, their categories in ``KINDS``, ``SIDES`` and ``SEVERITIES``
    order (a flood gives a million findings)."""
    parts = []
    for side in ROLES:
        rows = np.flatnonzero(sessions[f"{side}_zero_window_episodes"].to_numpy() > 0)
        longest = _values(sessions, f"{side}_zero_window_longest_s", rows)
        parts.append(_part(rows, "zero_window", side, np.where(longest >= STALL_WARNING_S, WARNING, INFO), longest))
    rows = np.flatnonzero((sessions["orig_retrans_data_pkts"].to_numpy() > 0) |
                          (sessions["resp_retrans_data_pkts"].to_numpy() > 0))
    retrans, resent = _retrans_pct(sessions, rows)
    parts.append(_part(rows, "retransmission", "", np.select(
        [(retrans >= RETRANS_CRITICAL_PCT) & (resent >= RETRANS_CRITICAL_MIN),
         (retrans >= RETRANS_WARNING_PCT) & (resent >= RETRANS_WARNING_MIN)], [CRITICAL, WARNING], INFO), resent))
    rows = np.flatnonzero((sessions["orig_syn_pkts"].to_numpy() > 1) | (sessions["resp_synack_pkts"].to_numpy() > 1))
    waited = _handshake_retry_s(sessions[["orig_syn_pkts", "resp_synack_pkts", "handshake_s", "irtt_ms"]].iloc[rows])
    lost = waited >= LOST_SYN_S
    parts.append(_part(rows[lost], "handshake_retry", "", WARNING, waited[lost]))
    close_type = sessions["close_type"]
    for kind, close in (("refused", "refused"), ("unanswered", "unanswered")):
        rows = np.flatnonzero((close_type == close).to_numpy(bool))
        parts.append(_part(rows, kind, "", WARNING, _values(sessions, "orig_pkts", rows)))
    # a reset is ordinary teardown (many programs close with one) unless data was still in flight
    rows = np.flatnonzero((close_type == "rst").to_numpy(bool))
    unacked = _values(sessions, "rst_unacked_bytes", rows)
    parts.append(_part(rows, "reset", "", np.where(unacked > 0, WARNING, INFO), unacked))
    rows = np.flatnonzero(sessions["irtt_ms"].to_numpy(float) >= SLOW_HANDSHAKE_MS)
    irtt = _values(sessions, "irtt_ms", rows)
    parts.append(_part(rows, "slow_handshake", "", np.where(irtt >= LOST_SYN_HANDSHAKE_MS, WARNING, INFO), irtt))
    rows = np.flatnonzero(sessions["missed_bytes"].to_numpy() > 0)
    parts.append(_part(rows, "capture_loss", "", INFO, _values(sessions, "missed_bytes", rows)))
    rows = np.concatenate([p[0] for p in parts])

    def categorical(codes: list[np.ndarray], categories: tuple[str, ...]) -> pd.Categorical:
        return pd.Categorical.from_codes(np.concatenate(codes), categories=categories)

    return pd.DataFrame({
        "row": rows,
        "session_id": sessions["session_id"].to_numpy()[rows],
        "kind": categorical([p[1] for p in parts], KINDS),
        "side": categorical([p[2] for p in parts], SIDES),
        "severity": categorical([p[3] for p in parts], SEVERITIES),
        "value": np.concatenate([p[4] for p in parts]),
    })


def _values(sessions: pd.DataFrame, column: str, rows: np.ndarray) -> np.ndarray:
    """A column's values at ``rows``, as floats (converted there only: a finding's rows are few)."""
    return np.asarray(sessions[column].to_numpy()[rows], float)


def _part(rows: np.ndarray, kind: str, side: str, severity: int | np.ndarray, value: np.ndarray
          ) -> tuple[np.ndarray, ...]:
    """One kind's findings at ``rows``: rows, then the codes of kind, side and severity (``severity``:
    one for all, or one a row), then values (one a row)."""
    return (rows, np.full(rows.size, KINDS.index(kind), np.int8), np.full(rows.size, SIDES.index(side), np.int8),
            np.broadcast_to(np.asarray(severity, np.int8), rows.shape), np.asarray(value, float))


def _retrans_pct(sessions: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of the sessions at ``rows``: data segments re-sent, both directions, as a percentage of the
    data segments of the sides that re-sent them (a side that re-sent nothing does not dilute its
    peer's loss); and how many were re-sent."""
    resent = {side: _values(sessions, f"{side}_retrans_data_pkts", rows) for side in ROLES}
    data = sum(np.where(resent[side] > 0, _values(sessions, f"{side}_data_pkts", rows), 0.0) for side in ROLES)
    total = resent["orig"] + resent["resp"]
    return np.where(data > 0, 100 * total / np.maximum(data, 1), 0.0), total


def _handshake_retry_s(sessions: pd.DataFrame | pd.Series) -> np.ndarray:
    """Seconds a completed handshake lost to SYNs (or SYN-ACKs) sent again, per session (or for one
    session's record): from the first SYN to the one answered (``handshake_s`` runs from the first
    SYN, the iRTT from the last); 0 without a retry, NaN for a handshake that did not complete. To
    the microsecond: a 1 s RTO is 1.0 s, not 0.99999999."""
    retried = (np.asarray(sessions["orig_syn_pkts"]) > 1) | (np.asarray(sessions["resp_synack_pkts"]) > 1)
    waited = np.asarray(sessions["handshake_s"], float) - np.asarray(sessions["irtt_ms"], float) / 1000
    return np.where(retried, np.round(waited, 6), 0.0)


def describe(kind: str, side: str, session: pd.Series) -> str:
    """One sentence saying what a finding means for this session (``session`` is its record)."""
    if kind == "zero_window":
        return _zero_window(side, session)
    if kind == "retransmission":
        return _retransmission(session)
    if kind == "handshake_retry":
        return _handshake_retry(session)
    if kind == "refused":
        return (f"refused: {endpoint(session['resp_addr'], session['resp_port'])} answered "
                f"{_count(int(session['orig_pkts']), 'SYN')} with a reset")
    if kind == "unanswered":
        syns = int(session["orig_pkts"])
        return "no answer to 1 SYN" if syns == 1 else f"no answer to {syns:,} SYNs over {session['duration']:.1f} s"
    if kind == "reset":
        return _reset(session)
    if kind == "slow_handshake":
        return f"handshake took {session['irtt_ms']:,.0f} ms{_handshake_sides(session)}"
    if kind == "capture_loss":
        return (f"{int(session['missed_bytes']):,} bytes acknowledged but never seen by the capture "
                "(capture loss, not network loss)")
    raise ValueError(f"unknown finding kind {kind!r}")


def _zero_window(side: str, session: pd.Series) -> str:
    """The side that advertised a zero window stopped reading; its peer had to wait."""
    who = endpoint(session[f"{side}_addr"], session[f"{side}_port"])
    episodes = int(session[f"{side}_zero_window_episodes"])
    probes = _count(int(session[f"{side}_zero_window_probes"]), "probe")
    longest = session[f"{side}_zero_window_longest_s"]
    peer = ROLES[_peer(side)]
    if episodes == 1:
        return f"{who} stopped reading for {_duration(longest)} (zero window, {probes}); the {peer} waited"
    total = session[f"{side}_zero_window_s"]
    return (f"{who} stopped reading {episodes} times, {_duration(total)} in all, longest {_duration(longest)} "
            f"(zero window, {probes}); the {peer} waited")


def _duration(seconds: float) -> str:
    """'1.4 s'; under a tenth of a second in milliseconds ('35 ms', '0.2 ms'), not '0.0 s'."""
    if seconds >= 0.1:
        return f"{seconds:.1f} s"
    ms = seconds * 1000
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def _handshake_sides(session: pd.Series) -> str:
    """Where the handshake's time went, either side of the capture point."""
    resp, orig = session.get("irtt_resp_ms"), session.get("irtt_orig_ms")
    if resp is None or orig is None or pd.isna(resp) or pd.isna(orig):
        return ""
    return (f" ({resp:,.0f} ms from the capture point to the {ROLES['resp']} and back, "
            f"{orig:,.0f} ms to the {ROLES['orig']} and back)")


def _retransmission(session: pd.Series) -> str:
    """The share re-sent, of each sender's own data segments: '2.5 % of segments retransmitted (7
    of 284, by the originator)'."""
    counts = {side: (int(session[f"{side}_retrans_data_pkts"]), int(session[f"{side}_data_pkts"]))
              for side in ROLES if session[f"{side}_retrans_data_pkts"] > 0}
    retrans, data = (sum(c[k] for c in counts.values()) for k in (0, 1))
    if len(counts) == 1:
        [(side, (_, sent))] = counts.items()
        who = f"{retrans:,} of {sent:,}, by the {ROLES[side]}"
    else:
        who = ", ".join(f"{r:,} of {d:,} by the {ROLES[side]}" for side, (r, d) in counts.items())
    return f"{100 * retrans / data:.1f} % of segments retransmitted ({who})"


def _handshake_retry(session: pd.Series) -> str:
    """How many SYNs (and SYN-ACKs) the handshake took and the time the retry cost."""
    sent = _count(int(session["orig_syn_pkts"]), "SYN")
    synacks = int(session["resp_synack_pkts"])
    if synacks > 1:
        sent += f" and {_count(synacks, 'SYN-ACK')}"
    waited = float(_handshake_retry_s(session))
    return (f"handshake needed {sent}: {_duration(waited)} lost from the first SYN to the one answered "
            f"(the session lasted {_duration(float(session['duration']))})")


def _reset(session: pd.Series) -> str:
    """Who sent the RST, what had gone through by then, and what was still in flight."""
    side = _resetter(session)
    if side == "both":
        text = (f"reset by both sides after {int(session['orig_bytes']):,} bytes from the {ROLES['orig']} and "
                f"{int(session['resp_bytes']):,} from the {ROLES['resp']}")
    else:
        sent, received = int(session[f"{side}_bytes"]), int(session[f"{_peer(side)}_bytes"])
        text = (f"reset by the {ROLES[side]} after {sent:,} bytes each way" if sent == received else
                f"reset by the {ROLES[side]} after {sent:,} bytes sent and {received:,} received")
        peer_fin = "f" if side == "orig" else "F"  # Zeek history: upper case for the originator
        if peer_fin in str(session["history"]):
            text += f" (the {ROLES[_peer(side)]} had already sent its FIN)"
    unacked = int(session["rst_unacked_bytes"])
    return text + (f"; {unacked:,} bytes sent were not yet acknowledged" if unacked else "")


def _resetter(session: pd.Series) -> str:
    """orig, resp or both: who sent RSTs (the sessions' *_rst_pkts, as every command counts them)."""
    orig, resp = session["orig_rst_pkts"] > 0, session["resp_rst_pkts"] > 0
    if orig and resp:
        return "both"
    return "orig" if orig else "resp"


def _peer(side: str) -> str:
    return "resp" if side == "orig" else "orig"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
