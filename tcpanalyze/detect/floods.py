"""syn_flood: connection attempts to one service at a high rate, from many sources, mostly
never completing the handshake."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frame import Finding
from .inputs import Inputs
from .text import endpoint, n, pct, secs
from .windows import busy_episodes


@dataclass
class SynFloodConfig:
    enabled: bool = True
    # Sliding window over SYN (connection attempt) times, seconds.
    window_s: float = 1.0
    # Peak attempts per second in that window; far above what one service sees from real clients
    # whose handshakes fail (a refused or dead port gets a handful per second).
    min_rate_per_s: float = 100.0
    # Distinct source addresses in the episode: a flood from one host is a scan or a bad client.
    min_sources: int = 20
    # Share of attempts in the episode that never completed the handshake.
    min_half_open_ratio: float = 0.8


# SYN-ACKs to half-open attempts needed before their never being retransmitted says anything.
MIN_SYNACKS_FOR_COOKIES = 10


def _synack_signs(inp: Inputs, half_open: np.ndarray) -> dict:
    """SYN-ACKs the target sent to the flood's half-open attempts (rows), and whether they look like SYN cookies.

    A SYN cookie (Linux, when its SYN queue is full) keeps no state, so it is never retransmitted;
    an ordinary half-open connection gets its SYN-ACK retransmitted after 1 s, 3 s, ...
    """
    synacks = inp.counts_at("resp_synack_pkts", half_open)
    sent = int(synacks.sum())
    answered = int((synacks > 0).sum())
    return {"synacks_sent": sent, "synack_retransmissions": sent - answered,
            "syn_cookies_likely": bool(answered >= MIN_SYNACKS_FOR_COOKIES and sent == answered)}


def detect_syn_flood(inp: Inputs, cfg: SynFloodConfig) -> list[Finding]:
    threshold = max(int(np.ceil(cfg.min_rate_per_s * cfg.window_s)), 1)
    episodes = busy_episodes(inp.start[inp.attempt], inp.listeners(inp.attempt), cfg.window_s, threshold)
    rows = np.flatnonzero(inp.attempt)  # the attempts' rows, once the episodes' working arrays are gone
    findings = []
    for ep in episodes:
        members = rows[ep.rows]
        sources = inp.orig_names(members)
        n_sources = len(set(sources))
        handshake = inp.text_at("handshake", members)
        half_open = int((handshake != "complete").sum())
        ratio = half_open / members.size
        if n_sources < cfg.min_sources or ratio < cfg.min_half_open_ratio:
            continue
        addr, port = inp.listener_name(ep.group)
        start, end = float(inp.start[members].min()), float(inp.start[members].max())
        peak_rate = ep.peak / cfg.window_s
        outcomes = {k: int((handshake == k).sum()) for k in ("unanswered", "syn_synack", "refused", "complete")}
        details = {"attempts": int(members.size), "peak_rate_per_s": peak_rate, "half_open": half_open,
                   "half_open_ratio": round(ratio, 4), **outcomes}
        cookies = ""
        attempts = f"{n(members.size)} SYNs"
        details["syn_packets"] = int(inp.orig_syns[members].sum())
        details.update(_synack_signs(inp, members[handshake != "complete"]))
        if details["syn_cookies_likely"]:
            cookies = (f"; its {n(details['synacks_sent'])} SYN-ACKs were never retransmitted, "
                       "a sign of SYN cookies")
        if details["syn_packets"] != members.size:  # sources that re-sent a SYN (or reused a port)
            attempts = f"{n(members.size)} connection attempts ({n(details['syn_packets'])} SYNs)"
        findings.append(Finding(
            "syn_flood", "critical", start, end, addr, port,
            f"{endpoint(addr, port)} received {attempts} from {n(n_sources)} sources in "
            f"{secs(end - start)} (peak {n(peak_rate)}/s); {pct(half_open, members.size)} never completed the "
            f"handshake{cookies}",
            sources, inp.session_ids[members], inp.first_frames(members), details))
    return findings
