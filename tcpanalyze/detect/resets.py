"""rst_teardown (a session aborted by RST after data flowed) and rst_storm (one host sending
many RSTs in a short time).

Who reset: from the first RST packet when packets are at hand; from the sessions frame alone,
Zeek's conn_state says it (RSTO: originator, RSTR: responder). Whether the reset cut a
transfer short needs the packets: data one side had sent and the other had not yet
acknowledged when the RST went out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .frame import Finding
from .inputs import RST, Inputs, distinct, first_of_each
from .text import count_of, endpoint, n, secs
from .windows import busy_episodes


@dataclass
class RstTeardownConfig:
    enabled: bool = True
    # Application bytes (both directions, by sequence numbers) a session must have carried
    # before its RST: a RST on a session that never carried data is a refusal or a probe,
    # reported by handshake_failures and port_scan instead.
    min_bytes: int = 1


@dataclass
class RstStormConfig:
    enabled: bool = True
    # RSTs one host sends within the window. Zeek's RST_storm needs 1000 RSTs less than 1 s
    # apart in one connection; across a host's connections 100 in a second is already far from
    # the few aborts a healthy server makes.
    min_rsts: int = 100
    window_s: float = 1.0


TEARDOWN_CHUNK = 4096  # rst_teardown's rows read as Python values at once


def _first_rsts(inp: Inputs) -> pd.DataFrame:
    """Per session with a RST packet: row, frame, time, and whether the originator sent it."""
    is_rst = (inp.flags & RST) != 0
    rows = inp.packet_rows[is_rst]
    rows_u, first = first_of_each(rows)
    where = np.flatnonzero(is_rst)[first]
    return pd.DataFrame({"row": rows_u, "packet": where, "frame": inp.frames[where], "ts": inp.seconds(where),
                         "by_orig": inp.from_orig[where]})


def _reset_by_orig(s: pd.DataFrame) -> np.ndarray:
    """Per session, from the sessions alone: did its originator reset it? Zeek's conn_state says
    (RSTO, RSTR), else the side that closed it."""
    conn_state = s["conn_state"]
    closed_by_orig = (s["closed_by"] == "orig").to_numpy()
    return np.where((conn_state == "RSTO").to_numpy(), True,
                    np.where((conn_state == "RSTR").to_numpy(), False, closed_by_orig))


def detect_rst_teardown(inp: Inputs, cfg: RstTeardownConfig) -> Iterator[Finding]:
    """One finding per session reset after data flowed. They are made as they are read, from
    the few columns they need (a big capture has tens of thousands), so detection can let its
    inputs go before it holds them (``detect``)."""
    s = inp.sessions
    orig_bytes, resp_bytes = s["orig_bytes"].to_numpy(np.int64), s["resp_bytes"].to_numpy(np.int64)
    # A lone RST (even one carrying data) is no session to tear down: at least one other packet.
    several = (s["orig_pkts"] + s["resp_pkts"]).to_numpy() >= 2
    rows = np.flatnonzero((s["close_type"] == "rst").to_numpy() & several & (orig_bytes + resp_bytes >= cfg.min_bytes))
    if rows.size == 0:
        return iter(())
    by_orig = _reset_by_orig(s)[rows]
    rst_ts, rst_frame = inp.end[rows], s["last_frame"].to_numpy(np.int64)[rows]
    in_flight = s["rst_unacked_bytes"].to_numpy(np.int64)[rows]  # at the session's first RST (engine)
    if inp.packets is not None:
        rsts = _first_rsts(inp)
        rsts = rsts[np.isin(rsts["row"], rows)]
        at = np.searchsorted(rows, rsts["row"].to_numpy())  # rows ascending, each of these among them
        by_orig[at], rst_ts[at], rst_frame[at] = rsts["by_orig"], rsts["ts"], rsts["frame"]
    return _teardowns((*inp.endpoint_columns(rows), by_orig, orig_bytes[rows], resp_bytes[rows], in_flight,
                       rst_frame, rst_ts, inp.start[rows], inp.end[rows], inp.session_ids[rows]))


def _teardowns(columns: tuple[np.ndarray, ...]) -> Iterator[Finding]:
    """rst_teardown's findings from its columns (``detect_rst_teardown``), one per row. The columns
    wait as arrays and are read as Python values a chunk at a time: not per finding (slow), nor
    all at once (on a big capture, tens of MB of Python objects held until the findings are made)."""
    for at in range(0, columns[0].size, TEARDOWN_CHUNK):
        chunk = zip(*(column[at:at + TEARDOWN_CHUNK].tolist() for column in columns))
        for o_addr, o_port, r_addr, r_port, by_o, ob, rb, unacked, frame, ts, start, end, sid in chunk:
            o, r = (o_addr, o_port), (r_addr, r_port)
            who, peer = (o, r) if by_o else (r, o)
            mid = unacked > 0
            if mid:
                state = f"; {count_of(unacked, 'byte')} sent were not yet acknowledged (reset mid-transfer)"
            else:
                state = "; no data was in flight"
            details = {"reset_by": "orig" if by_o else "resp", "orig_bytes": ob, "resp_bytes": rb,
                       "rst_frame": frame, "mid_transfer": mid, "unacked_bytes": unacked, "duration_s": end - start}
            yield Finding(
                "rst_teardown", "warning" if mid else "info", start, ts, r[0], r[1],
                f"{endpoint(*who)} reset its session with {endpoint(*peer)} after {n(ob)} bytes from the "
                f"originator and {n(rb)} from the responder{state}",
                [o[0]], [sid], [frame], details)


def detect_rst_storm(inp: Inputs, cfg: RstStormConfig) -> list[Finding]:
    """RST packets per sending host; without packets, the sessions that ended in a RST."""
    if inp.packets is not None:
        rst = np.flatnonzero((inp.flags & RST) != 0)
        times, frames, rows = inp.seconds(rst), inp.frames[rst], inp.packet_rows[rst]
        from_orig = inp.from_orig[rst]
    else:
        rows = np.flatnonzero((inp.sessions["close_type"] == "rst").to_numpy())
        times, frames = inp.end[rows], inp.sessions["last_frame"].to_numpy(np.int64)[rows]
        from_orig = _reset_by_orig(inp.sessions)[rows]
    o, r, names = inp.hosts(rows)  # one code per host: its RSTs as originator and as responder count together
    sender = np.where(from_orig, o, r)
    findings = []
    for ep in busy_episodes(times, sender, cfg.window_s, cfg.min_rsts):
        t = times[ep.rows]
        host = str(names[ep.group])
        peer_is_orig = ~from_orig[ep.rows]
        peers = np.where(peer_is_orig, inp.orig_names(rows[ep.rows]), inp.resp_names(rows[ep.rows]))
        n_peers = len(set(peers))
        sessions = distinct(inp.session_ids[rows[ep.rows]])
        if inp.packets is not None:
            what = f"sent {count_of(ep.rows.size, 'RST')} to {count_of(n_peers, 'peer')} over {count_of(sessions.size, 'session')}"
        else:
            what = f"reset {count_of(sessions.size, 'session')} with {count_of(n_peers, 'peer')}"
        findings.append(Finding(
            "rst_storm", "warning", float(t.min()), float(t.max()), host, None,
            f"{host} {what} in {secs(t.max() - t.min())} (peak {n(ep.peak / cfg.window_s)}/s)",
            peers, sessions, frames[ep.rows],
            {"rsts": int(ep.rows.size), "peak_rate_per_s": ep.peak / cfg.window_s, "peers": n_peers,
             "sessions_reset": int(sessions.size), "counted": "packets" if inp.packets is not None else "sessions"}))
    return findings
