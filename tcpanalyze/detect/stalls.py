"""zero_window_stall: a receiver advertised a zero window for longer than a threshold.

The durations come from the session record (``<side>_zero_window_longest_s``: from the first
zero-window advertisement to the side's next non-zero window, or to its last packet when none
came). With packets, the longest episode is also located: what ended it (a window update,
a RST, a FIN, or the end of the capture), the peer's probes during it, and its frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.flags import KEEP_ALIVE, ZERO_WINDOW_PROBE
from .frame import Finding
from .inputs import FIN, RST, SYN, Inputs
from .text import count_of, endpoint, secs

PROBE_FLAGS = ZERO_WINDOW_PROBE | KEEP_ALIVE  # what a peer sends into a zero window


@dataclass
class ZeroWindowStallConfig:
    enabled: bool = True
    # Longest zero-window episode of one side, seconds. Linux's first zero-window probe goes
    # out after one RTO (>= 200 ms, TCP_RTO_MIN); a window shut for less is ordinary flow control.
    min_stall_s: float = 0.2
    # An episode this long (or one never reopened) is critical: the application stopped reading.
    critical_s: float = 5.0


def _episode(inp: Inputs, session: np.ndarray, side_is_orig: bool) -> dict:
    """The longest zero-window episode of one side of one session, from its packets (indices, file order)."""
    mine = session[inp.from_orig[session] == side_is_orig]
    theirs = session[inp.from_orig[session] != side_is_orig]
    win = inp.win_raw
    zero = (win[mine] == 0) & ((inp.flags[mine] & (RST | SYN)) == 0)
    starts = np.flatnonzero(zero & ~np.concatenate([[False], zero[:-1]]))
    if starts.size == 0:
        return {}
    best = None
    for k in starts:
        after = np.flatnonzero(~zero[k:])
        stop = mine[k + after[0]] if after.size else -1
        length = inp.seconds(stop if stop >= 0 else session[-1]) - inp.seconds(mine[k])
        if best is None or length > best[2]:
            best = (mine[k], stop, length)
    first, stop, _ = best
    t0 = inp.seconds(first)
    t1 = inp.seconds(stop) if stop >= 0 else np.inf
    if stop >= 0 and (inp.flags[stop] & RST):
        ended = "rst"
    elif stop >= 0 and (inp.flags[stop] & FIN):
        ended = "fin"
    elif stop >= 0:
        ended = "window_update"
    else:
        later_rst = np.any(inp.flags[session] & RST)
        ended = "rst" if later_rst else "capture_end"
    their_times = inp.seconds(theirs)
    during = theirs[(their_times > t0) & (their_times <= t1)]
    probes = during[(inp.analysis_flags[during] & PROBE_FLAGS) != 0]
    my_times = inp.seconds(mine)
    zero_frames = mine[(my_times >= t0) & (my_times < t1) & (win[mine] == 0)]
    frames = inp.frames[np.concatenate([zero_frames, probes])].tolist() + ([int(inp.frames[stop])] if stop >= 0 else [])
    return {"ended_by": ended, "episode_start_frame": int(inp.frames[first]),
            "frames": sorted(set(frames)), "start": float(t0)}  # as the table lists them: no copy when tabled


def detect_zero_window_stall(inp: Inputs, cfg: ZeroWindowStallConfig) -> list[Finding]:
    s = inp.sessions
    findings = []
    for side in ("orig", "resp"):
        rows = np.flatnonzero(s[f"{side}_zero_window_longest_s"].to_numpy() >= cfg.min_stall_s)
        longest, total, episodes, probes = (s[f"{side}_zero_window_{name}"].to_numpy()[rows]
                                            for name in ("longest_s", "s", "episodes", "probes"))
        first_frames = inp.first_frames(rows)
        packets_of = inp.packets_of(rows) if inp.packets is not None else None
        for k, (row, o, r) in enumerate(zip(rows, *inp.endpoints(rows))):
            me, peer = (o, r) if side == "orig" else (r, o)
            found = _episode(inp, packets_of(row), side == "orig") if packets_of is not None else {}
            start = found.get("start", float(inp.start[row]))
            ended = found.get("ended_by")
            details = {"side": side, "longest_s": float(longest[k]), "total_s": float(total[k]),
                       "episodes": int(episodes[k]), "probes": int(probes[k]), "ended_by": ended}
            if found:
                details["episode_start_frame"] = found["episode_start_frame"]
            critical = longest[k] >= cfg.critical_s or ended in ("capture_end", "rst")
            end_text = {"window_update": "; a window update ended it", "rst": "; it ended with a RST",
                        "fin": "; it ended with a FIN", "capture_end": "; it was still closed when the capture ended",
                        None: ""}[ended]
            findings.append(Finding(
                "zero_window_stall", "critical" if critical else "warning", start,
                start + float(longest[k]), me[0], me[1],
                f"{endpoint(*me)} advertised a zero window to {endpoint(*peer)} for {secs(longest[k])} "
                f"({count_of(details['episodes'], 'episode')}, {secs(details['total_s'])} in all, "
                f"{count_of(details['probes'], 'probe')}){end_text}",
                [peer[0]], [int(inp.session_ids[row])], found.get("frames", [int(first_frames[k])]),
                details))
    return findings
