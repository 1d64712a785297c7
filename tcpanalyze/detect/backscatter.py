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
    """(reply mask, reflector is the responder) over all sessions."""
    s = inp.sessions
    o_pkts, r_pkts = s["orig_pkts"].to_numpy(np.int64), s["resp_pkts"].to_numpy(np.int64)
    o_rst, r_rst = s["orig_rst_pkts"].to_numpy(np.int64), s["resp_rst_pkts"].to_numpy(np.int64)
    r_synack = s["resp_synack_pkts"].to_numpy(np.int64)
    # a SYN-ACK first makes its sender the responder; a bare RST's sender is either side (port heuristic)
    by_resp = inp.no_payload & (r_pkts > 0) & (r_pkts == r_synack + r_rst) & (o_pkts == o_rst)
    by_orig = inp.no_payload & ~by_resp & (o_pkts > 0) & (o_pkts == o_rst) & (r_pkts == 0)
    mask = by_resp | by_orig
    if mask.any():  # between hosts that talked otherwise, a stray RST or SYN-ACK is no backscatter
        o, r, names = inp.hosts()
        pair = np.minimum(o, r) * names.size + np.maximum(o, r)
        mask &= ~np.isin(pair, pair[~mask])
    return mask, by_resp


def detect_backscatter(inp: Inputs, cfg: BackscatterConfig) -> list[Finding]:
    mask, by_resp = unsolicited_replies(inp)
    rows = np.flatnonzero(mask)
    o, r, names = inp.hosts()
    receiver = np.where(by_resp, o, r)
    reflector = np.where(by_resp, r, o)
    s = inp.sessions
    o_rst, r_rst = s["orig_rst_pkts"].to_numpy(np.int64), s["resp_rst_pkts"].to_numpy(np.int64)
    synacks = np.where(by_resp, s["resp_synack_pkts"].to_numpy(np.int64), 0)
    rsts, answered = np.where(by_resp, r_rst, o_rst), np.where(by_resp, o_rst, r_rst)
    ports = np.where(by_resp, inp.resp_port, s["orig_port"].to_numpy(np.int64))
    findings = []
    for ep in busy_episodes(inp.start[rows], receiver[rows], cfg.window_s, cfg.min_replies):
        members = rows[ep.rows]
        sources = names[reflector[members]]
        n_sources = distinct(reflector[members]).size
        if n_sources < cfg.min_sources:
            continue
        host = str(names[ep.group])
        start, end = float(inp.start[members].min()), float(inp.end[members].max())
        values, first = first_of_each(ports[members])
        counts = np.bincount(np.searchsorted(values, ports[members]), minlength=values.size)
        top = values[np.lexsort((first, -counts))][:TOP_PORTS].tolist()
        details = {"replies": int(members.size), "synacks": int(synacks[members].sum()),
                   "rsts": int(rsts[members].sum()), "sources": int(n_sources), "ports": int(values.size),
                   "top_ports": top, "answered_with_rst": int((answered[members] > 0).sum()),
                   "peak_in_window": ep.peak}
        more = f" and {n(values.size - len(top))} more" if values.size > len(top) else ""
        findings.append(Finding(
            "backscatter", "warning", start, end, host, None,
            f"{host} received {count_of(details['synacks'], 'SYN-ACK')} and {count_of(details['rsts'], 'RST')} "
            f"from {count_of(n_sources, 'source')} in {secs(end - start)} (from their ports {', '.join(map(str, top))}"
            f"{more}), answering SYNs it never sent: backscatter of a SYN flood spoofing its address",
            sources, inp.session_ids[members], inp.first_frames(members), details))
    return findings
