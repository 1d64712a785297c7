"""Sliding-window counting over sorted event times, vectorised with ``np.searchsorted``.

Detectors turn sessions or packets into events (a time and a group such as "this target
address and port"), then ask: where does some group see at least ``threshold`` events
within ``window_s`` seconds? The answer comes back as *episodes*: maximal runs of a group's
events that lie inside such a busy window, merged when they are less than a window apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Episode:
    """A run of one group's events inside busy windows: ``rows`` index the caller's events."""

    group: int
    rows: np.ndarray  # positions in the caller's event arrays, in time order
    peak: int  # most events in any one window of the episode


def busy_episodes(times: np.ndarray, groups: np.ndarray, window_s: float, threshold: int) -> list[Episode]:
    """Episodes where a group has at least ``threshold`` events within ``window_s`` seconds.

    ``times`` are float seconds, ``groups`` non-negative int codes, one per event, in any
    order. The window of an event is ``[t, t + window_s]``.
    """
    n = times.size
    if n == 0 or threshold <= 0 or n < threshold:
        return []
    order = np.lexsort((times, groups))
    t, g = times[order], groups[order].astype(np.int64)
    # One sorted key across groups: each group's times shifted past the previous group's.
    base = t - t.min()
    stride = base.max() + 2 * window_s + 1.0
    key = g * stride + base
    ends = np.searchsorted(key, key + window_s, side="right")  # first event past each window
    counts = ends - np.arange(n)
    busy = np.flatnonzero(counts >= threshold)
    if busy.size == 0:
        return []
    # Every event inside a busy window is hot (difference array over window spans).
    marks = np.zeros(n + 1, np.int64)
    np.add.at(marks, busy, 1)
    np.add.at(marks, ends[busy], -1)
    hot = np.flatnonzero(np.cumsum(marks[:n]) > 0)
    # Split hot events into episodes: new group, or a gap longer than a window.
    breaks = np.flatnonzero((np.diff(g[hot]) != 0) | (np.diff(t[hot]) > window_s)) + 1
    episodes = []
    for run in np.split(hot, breaks):
        episodes.append(Episode(int(g[run[0]]), order[run], int(counts[run].max())))
    return episodes

