"""idle_exhaustion: many established sessions to one server, held open for long while carrying
almost nothing (slowloris-like: the server's connection slots are used up by idle clients)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frame import Finding
from .inputs import Inputs, distinct
from .text import count_of, endpoint, n, secs


@dataclass
class IdleExhaustionConfig:
    enabled: bool = True
    # A session counts when its handshake completed, it lasted this long (s)...
    min_duration_s: float = 30.0
    # ...and carried at most this many application bytes per second (both ways).
    max_bytes_per_s: float = 50.0
    # Such sessions open to one server at the same moment. Connection pools keep tens of idle
    # sessions; slowloris needs hundreds to fill a server, this leaves room for pools.
    min_concurrent: int = 50


def _peak_concurrency(starts: np.ndarray, ends: np.ndarray) -> tuple[int, float]:
    times = np.concatenate([starts, ends])
    steps = np.concatenate([np.ones(starts.size, np.int64), -np.ones(ends.size, np.int64)])
    order = np.lexsort((-steps, times))  # at equal times, openings first
    level = np.cumsum(steps[order])
    best = int(np.argmax(level))
    return int(level[best]), float(times[order][best])


def detect_idle_exhaustion(inp: Inputs, cfg: IdleExhaustionConfig) -> list[Finding]:
    s = inp.sessions
    duration = s["duration"].to_numpy(np.float64)
    rows = np.flatnonzero((s["handshake"] == "complete").to_numpy() & (duration >= cfg.min_duration_s))
    duration = duration[rows]
    bytes_total = (s["orig_bytes"].to_numpy()[rows] + s["resp_bytes"].to_numpy()[rows]).astype(np.float64)
    idle = np.flatnonzero(bytes_total / np.maximum(duration, 1e-9) <= cfg.max_bytes_per_s)  # positions in rows
    listeners = inp.listeners(rows[idle])
    findings = []
    for listener in distinct(listeners):
        at = idle[listeners == listener]
        members = rows[at]
        if members.size < cfg.min_concurrent:
            continue
        peak, when = _peak_concurrency(inp.start[members], inp.end[members])
        if peak < cfg.min_concurrent:
            continue
        addr, port = inp.listener_name(int(listener))
        sources = inp.orig_names(members)
        mean_rate = float(bytes_total[at].sum() / duration[at].sum())
        findings.append(Finding(
            "idle_exhaustion", "warning", float(inp.start[members].min()), float(inp.end[members].max()), addr, port,
            f"{endpoint(addr, port)} held {n(members.size)} established sessions from {count_of(len(set(sources)), 'source')} "
            f"open for {secs(float(np.median(duration[at])))} (median) carrying {mean_rate:.1f} bytes/s on "
            f"average, {n(peak)} of them at once",
            sources, inp.session_ids[members], inp.first_frames(members),
            {"sessions": int(members.size), "peak_concurrent": peak, "peak_at": when,
             "median_duration_s": float(np.median(duration[at])), "mean_bytes_per_s": mean_rate}))
    return findings
