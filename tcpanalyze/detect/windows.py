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


def key_spacing(times: np.ndarray, window_s: float) -> tuple[float, float]:
    """Origin and group stride of ``grouped_time_keys`` over these times: groups further apart
    than any time span and window."""
    low = times.min()
    return low, (times.max() - low) + 2 * window_s + 1.0


def grouped_time_keys(times: np.ndarray, groups: np.ndarray, low: float, stride: float) -> np.ndarray:
    """One float key per event, ordered by group, then time: ``(time - low) + group * stride``."""
    key = times - low
    key += groups * stride
    return key


def busy_episodes(times: np.ndarray, groups: np.ndarray, window_s: float, threshold: int) -> list[Episode]:
    """Episodes where a group has at least ``threshold`` events within ``window_s`` seconds.

    ``times`` are float seconds, ``groups`` non-negative int codes, one per event, in any
    order. The window of an event is ``[t, t + window_s]``.
    """
    n = times.size
    if n == 0 or threshold <= 0 or n < threshold:
        return []
    # The sort key's origin and group spacing come from all events (the same float keys whichever
    # events are kept); only the events of groups with ``threshold`` of them are sorted.
    low, stride = key_spacing(times, window_s)
    kept = _in_big_groups(groups, threshold)
    if kept is None:
        return _episodes(times, groups, window_s, threshold, low, stride)
    episodes = _episodes(times[kept], groups[kept], window_s, threshold, low, stride)
    for episode in episodes:
        episode.rows = kept[episode.rows]
    return episodes


def _in_big_groups(groups: np.ndarray, threshold: int) -> np.ndarray | None:
    """Positions of the events whose group has at least ``threshold`` events (None: all of them);
    no other group can hold a busy window."""
    ordered = np.sort(groups)  # a sorted copy counts the groups in a fraction of a hash table's memory
    firsts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    big = ordered[firsts[np.diff(firsts, append=ordered.size) >= threshold]]
    if big.size == firsts.size:
        return None
    if big.size == 0:
        return np.empty(0, np.intp)
    del ordered
    at = np.minimum(np.searchsorted(big, groups), big.size - 1)
    return np.flatnonzero(big[at] == groups)


def _episodes(times: np.ndarray, groups: np.ndarray, window_s: float, threshold: int, low: float,
              stride: float) -> list[Episode]:
    """``busy_episodes`` over these events (``grouped_time_keys``)."""
    n = times.size
    order = np.lexsort((times, groups))
    g = groups[order].astype(np.int64, copy=False)
    key = grouped_time_keys(times[order], g, low, stride)  # sorted: each group's times past the previous group's
    ends = np.searchsorted(key, key + window_s, side="right")  # first event past each window
    counts = ends - np.arange(n)
    busy = np.flatnonzero(counts >= threshold)
    if busy.size == 0:
        return []
    # Every event inside a busy window is hot (difference array over window spans).
    marks = np.bincount(busy, minlength=n + 1) - np.bincount(ends[busy], minlength=n + 1)
    hot = np.flatnonzero(np.cumsum(marks[:n]) > 0)
    # Split hot events into episodes: new group, or a gap longer than a window.
    t = times[order[hot]]
    breaks = np.flatnonzero((np.diff(g[hot]) != 0) | (np.diff(t) > window_s)) + 1
    return [Episode(int(g[run[0]]), order[run], int(counts[run].max())) for run in np.split(hot, breaks)]
