"""backscatter: unsolicited SYN-ACKs and RSTs from many hosts to one address, answering SYNs it
never sent. Someone flooded those hosts with SYNs carrying this address as their source (a SYN
flood spoofing it, or a SYN-ACK reflection attack aimed at it), and their answers came here.

An *unsolicited reply* is a session that carried no application byte, in which one side (the
reflector) sent only SYN-ACKs and RSTs and the other (the receiver) sent nothing but RSTs (a
live stack resets a SYN-ACK it did not ask for; it sent no SYN), between two hosts that have no
other session in the capture. The sessions frame alone says all of it: the packets add nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frame import Finding
from .inputs import Inputs, distinct, first_of_each
from .text import count_of, n, secs
from .windows import busy_episodes

TOP_PORTS = 5  # the reflectors' ports named in the message and details


@dataclass
class BackscatterConfig:
    enabled: bool = True
    # Sliding window over the replies' times, seconds: a reflection attack runs at thousands a
    # second, the backscatter of floods spoofing an address at tens a minute.
    window_s: float = 60.0
    # Unsolicited replies to one address within the window; a host sees a stray late SYN-ACK or
    # RST now and then (a peer's retransmission after the session was forgotten), not 50 a minute.
    min_replies: int = 50
    # Distinct reflectors in the episode: many hosts answering SYNs nobody here sent.
    min_sources: int = 20


def unsolicited_replies(inp: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """(rows of the unsolicited replies, whether each one's reflector is the responder)."""
    s = inp.sessions
    # either way the receiver sent only RSTs, if anything: the other counts are read for those sessions alone
    rows = np.flatnonzero(inp.no_payload & (s["orig_pkts"].to_numpy() == s["orig_rst_pkts"].to_numpy()))
    o_pkts, r_pkts, r_rst, r_synack = (inp.counts_at(column, rows) for column in (
        "orig_pkts", "resp_pkts", "resp_rst_pkts", "resp_synack_pkts"))
    # a SYN-ACK first makes its sender the responder; a bare RST's sender is either side (port heuristic)
    by_resp = (r_pkts > 0) & (r_pkts == r_synack + r_rst)
    by_orig = ~by_resp & (o_pkts > 0) & (r_pkts == 0)
    replies = by_resp | by_orig
    rows, by_resp = rows[replies], by_resp[replies]
    if rows.size:  # between hosts that talked otherwise, a stray RST or SYN-ACK is no backscatter
        alone = ~_talked_otherwise(inp, rows)
        rows, by_resp = rows[alone], by_resp[alone]
    return rows, by_resp


def _talked_otherwise(inp: Inputs, rows: np.ndarray) -> np.ndarray:
    """Whether the two hosts of each of ``rows`` have a session that is not one of ``rows``."""
    o, r, names = inp.hosts(rows)
    others = inp.between(np.concatenate([o, r]))  # the only sessions that can be between the same hosts
    others[rows] = False
    o_other, r_other, _ = inp.hosts(np.flatnonzero(others))
    return np.isin(_pair(o, r, names.size), _pair(o_other, r_other, names.size))


def _pair(o: np.ndarray, r: np.ndarray, hosts: int) -> np.ndarray:
    """One code per unordered pair of hosts."""
    return np.minimum(o, r) * hosts + np.maximum(o, r)


def detect_backscatter(inp: Inputs, cfg: BackscatterConfig) -> list[Finding]:
    rows, by_resp = unsolicited_replies(inp)
    o, r, names = inp.hosts(rows)
    receiver = np.where(by_resp, o, r)
    reflector = np.where(by_resp, r, o)
    o_rst, r_rst = inp.counts_at("orig_rst_pkts", rows), inp.counts_at("resp_rst_pkts", rows)
    synacks = np.where(by_resp, inp.counts_at("resp_synack_pkts", rows), 0)
    rsts, answered = np.where(by_resp, r_rst, o_rst), np.where(by_resp, o_rst, r_rst)
    ports = np.where(by_resp, inp.counts_at("resp_port", rows), inp.counts_at("orig_port", rows))
    findings = []
    for ep in busy_episodes(inp.start[rows], receiver, cfg.window_s, cfg.min_replies):
        at, members = ep.rows, rows[ep.rows]
        sources = names[reflector[at]]
        n_sources = distinct(reflector[at]).size
        if n_sources < cfg.min_sources:
            continue
        host = str(names[ep.group])
        start, end = float(inp.start[members].min()), float(inp.end[members].max())
        values, first = first_of_each(ports[at])
        counts = np.bincount(np.searchsorted(values, ports[at]), minlength=values.size)
        top = values[np.lexsort((first, -counts))][:TOP_PORTS].tolist()
        details = {"replies": int(members.size), "synacks": int(synacks[at].sum()),
                   "rsts": int(rsts[at].sum()), "sources": int(n_sources), "ports": int(values.size),
                   "top_ports": top, "answered_with_rst": int((answered[at] > 0).sum()),
                   "peak_in_window": ep.peak}
        more = f" and {n(values.size - len(top))} more" if values.size > len(top) else ""
        findings.append(Finding(
            "backscatter", "warning", start, end, host, None,
            f"{host} received {count_of(details['synacks'], 'SYN-ACK')} and {count_of(details['rsts'], 'RST')} "
            f"from {count_of(n_sources, 'source')} in {secs(end - start)} (from their ports {', '.join(map(str, top))}"
            f"{more}), answering SYNs it never sent: backscatter of a SYN flood spoofing its address",
            sources, inp.session_ids[members], inp.first_frames(members), details))
    return findings
