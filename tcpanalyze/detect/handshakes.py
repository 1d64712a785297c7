"""handshake_failures: connection attempts to one service refused (REJ) or left unanswered (S0)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frame import Finding
from .inputs import Inputs, one_of
from .text import count_of, endpoint, n, secs
from .windows import busy_episodes


@dataclass
class HandshakeFailuresConfig:
    enabled: bool = True
    # Failed attempts to one address and port within the window. A client retrying a dead
    # service a few times is normal; ten failures a minute means a service is down or missing.
    min_failures: int = 10
    window_s: float = 60.0


def detect_handshake_failures(inp: Inputs, cfg: HandshakeFailuresConfig) -> list[Finding]:
    failed = np.flatnonzero(one_of(inp.sessions["handshake"], ("refused", "unanswered")))
    findings = []
    for ep in busy_episodes(inp.start[failed], inp.listeners(failed), cfg.window_s, cfg.min_failures):
        members = failed[ep.rows]
        addr, port = inp.listener_name(ep.group)
        refused = int((inp.text_at("handshake", members) == "refused").sum())
        unanswered = members.size - refused
        start, end = float(inp.start[members].min()), float(inp.end[members].max())
        sources = inp.orig_names(members)
        during = np.flatnonzero(inp.attempt & (inp.start >= start) & (inp.start <= end))
        attempts = int((inp.listeners(during) == ep.group).sum())
        findings.append(Finding(
            "handshake_failures", "warning", start, end, addr, port,
            f"{endpoint(addr, port)} refused {n(refused)} and left {n(unanswered)} unanswered of "
            f"{n(attempts)} connection attempts from {count_of(len(set(sources)), 'source')} in {secs(end - start)}",
            sources, inp.session_ids[members], inp.first_frames(members),
            {"failures": int(members.size), "refused": refused, "unanswered": int(unanswered),
             "attempts": attempts, "peak_in_window": ep.peak}))
    return findings
