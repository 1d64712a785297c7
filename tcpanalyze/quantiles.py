"""Exact quantiles of many groups of integer values (RTTs in ns), in memory that follows the
number of groups, not the number of values.

The values are read in batches, and read again as often as needed: ``read`` gives every batch
anew on each call (the RTT samples' temporary file). The first read counts each group's values
and finds its smallest and biggest; while they all fit in COLLECT_BUDGET it also keeps them,
and then every quantile comes from them. Past that, a quantile needs two order statistics per
group (linear interpolation between them, as numpy and pandas do) and each group keeps a window
of values known to hold both: each further read either collects the values inside the smallest
windows (up to COLLECT_BUDGET values in all), or counts the values of up to NARROWED_PER_PASS
groups in BUCKETS buckets each, with each bucket's smallest and biggest value, and the bucket
holding the ranks becomes the window (at least BUCKETS times narrower). Two neighbouring ranks
in two buckets are the last value of one and the first of the next, and a bucket of one value is
that value: neither needs collecting. The 95th percentile of 148k servers from the 18.6M RTT
samples of a 50M-packet capture takes five reads.

>>> q = GroupQuantiles(lambda: [(np.array([0, 0, 1]), np.array([1000, 3000, 5000]))], 2)
>>> q.quantile(0.5), q.counts, q.maxima
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from . import malloc

# Values held at once: by the first pass while every value fits, by a pass collecting windows
# (16 bytes each, with their group).
COLLECT_BUDGET = 1 << 19
# Buckets per group in a pass that narrows the windows, and groups narrowed in one pass: each
# bucket keeps a count, its smallest and its biggest value (24 bytes, 12 MB in all).
BUCKETS = 8
NARROWED_PER_PASS = 1 << 16

# Batches of (group, value) pairs, anew on each call; group -1: the value counts for no group.
Batches = Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]


def groups_by_id(group_of: np.ndarray, ids: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """Each id's group in the table ``group_of`` (by id): -1 for an id with -1 there, past the
    table's end, or left out by ``where``."""
    known = ids < group_of.size
    if where is not None:
        known &= where
    group = np.full(ids.size, -1, np.int64)
    group[known] = group_of[ids[known]]
    return group


class GroupQuantiles:
    """Quantiles, counts and maxima of the values of ``groups`` groups (0..groups-1) that
    ``read`` gives (see the module docstring)."""

    def __init__(self, read: Batches, groups: int) -> None:
        self.groups = groups
        self._read = read
        self.counts = np.zeros(groups, np.int64)
        self._minima = np.full(groups, np.iinfo(np.int64).max, np.int64)
        self._maxima = np.full(groups, np.iinfo(np.int64).min, np.int64)
        held: list[tuple[np.ndarray, np.ndarray]] | None = []
        values_held = 0
        for group, values in self._batches():
            self.counts += np.bincount(group, minlength=groups)
            np.minimum.at(self._minima, group, values)
            np.maximum.at(self._maxima, group, values)
            values_held += group.size
            if values_held > COLLECT_BUDGET:
                held = None  # too many: windows, pass after pass
            elif held is not None:
                held.append((group, values))
        # every value, sorted by group then value, when they all fitted
        self._held = None if held is None else _sorted_by_group(
            np.concatenate([g for g, _ in held] or [np.empty(0, np.int64)]),
            np.concatenate([v for _, v in held] or [np.empty(0, np.int64)]), groups)
        malloc.trim()  # the batches' memory, back to the system before the next pass

    def _batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The (group, value) batches ``read`` gives, as int64, without the values of no group."""
        for group, values in self._read():
            group, values = np.asarray(group, np.int64), np.asarray(values, np.int64)
            counted = group >= 0
            if not counted.all():
                group, values = group[counted], values[counted]
            if group.size:
                yield group, values

    @property
    def maxima(self) -> np.ndarray:
        """Each group's biggest value; NaN for a group without any."""
        return np.where(self.counts > 0, self._maxima, np.nan)

    def quantile(self, q: float) -> np.ndarray:
        """The ``q`` quantile (0..1) of each group's values; NaN for a group without any."""
        has = self.counts > 0
        position = q * (self.counts[has] - 1)
        low = np.zeros(self.groups, np.int64)
        low[has] = np.floor(position)
        high = np.minimum(low + 1, np.maximum(self.counts - 1, 0))
        if self._held is not None:
            values, starts = self._held
            a, b = np.zeros(self.groups, np.int64), np.zeros(self.groups, np.int64)
            a[has], b[has] = values[starts[has] + low[has]], values[starts[has] + high[has]]
        else:
            a, b = self._order_statistics(low, high, has)
        result = np.full(self.groups, np.nan)
        result[has] = a[has] + (position - low[has]) * (b[has] - a[has])
        return result

    def _order_statistics(self, low: np.ndarray, high: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``low``-th and ``high``-th smallest value (from 0) of each ``wanted`` group, a
        pass over the values at a time (see the module docstring)."""
        start, end = self._minima.copy(), self._maxima + 1  # each group's window of values, [start, end)
        below = np.zeros(self.groups, np.int64)  # the group's values under its window
        inside = self.counts.copy()  # the group's values inside its window
        a, b = np.zeros(self.groups, np.int64), np.zeros(self.groups, np.int64)
        open_ = wanted.copy()
        while True:
            single = open_ & (end - start == 1)
            a[single] = b[single] = start[single]
            open_ &= ~single
            if not open_.any():
                return a, b
            collected = _smallest_within(inside, open_, COLLECT_BUDGET)
            narrowing = open_.copy()
            narrowing[collected] = False
            narrowed = np.flatnonzero(narrowing)[:NARROWED_PER_PASS]  # the others wait for a later pass
            width = np.maximum(-(-(end - start) // BUCKETS), 1)
            values, starts, (counts, smallest, biggest) = self._pass(start, end, width, collected, narrowed)
            a[collected] = values[starts + low[collected] - below[collected]]
            b[collected] = values[starts + high[collected] - below[collected]]
            open_[collected] = False
            del values
            cum = counts.cumsum(axis=1)
            rows = np.arange(narrowed.size)
            to_low = (cum <= (low - below)[narrowed, None]).sum(axis=1)  # the bucket holding each rank
            to_high = (cum <= (high - below)[narrowed, None]).sum(axis=1)
            under = np.where(to_low > 0, cum[rows, np.maximum(to_low - 1, 0)], 0)
            # the two ranks are neighbours: in two buckets, the last value of one and the first of
            # the next; in one bucket of a single value, that value; else that bucket is the window
            low_value, high_value = biggest[rows, to_low], smallest[rows, to_high]
            told = (to_low != to_high) | (smallest[rows, to_low] == low_value)
            a[narrowed[told]], b[narrowed[told]] = low_value[told], high_value[told]
            open_[narrowed[told]] = False
            start[narrowed], end[narrowed] = smallest[rows, to_low], low_value + 1
            below[narrowed] += under
            inside[narrowed] = cum[rows, to_low] - under

    def _pass(self, start: np.ndarray, end: np.ndarray, width: np.ndarray, collected: np.ndarray,
              narrowed: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """One pass over the values inside the windows: those of the ``collected`` groups sorted by
        group then value, with where each group's start (in ``collected`` order); and per
        ``narrowed`` group, BUCKETS buckets of ``width`` values each: how many values fell in
        each, the smallest and the biggest."""
        slot_of = np.full(self.groups, -1, np.int64)  # a collected group's place; -2 - a narrowed one's
        slot_of[collected] = np.arange(collected.size)
        slot_of[narrowed] = -2 - np.arange(narrowed.size)
        cells = narrowed.size * BUCKETS
        counts = np.zeros(cells, np.int64)
        smallest, biggest = np.full(cells, np.iinfo(np.int64).max, np.int64), np.full(cells, np.iinfo(np.int64).min, np.int64)
        kept_slots, kept_values = [], []
        for group, values in self._batches():
            slot = slot_of[group]
            inside = (slot != -1) & (values >= start[group]) & (values < end[group])
            kept = inside & (slot >= 0)
            kept_slots.append(slot[kept])
            kept_values.append(values[kept])
            counted = inside & (slot <= -2)
            if counted.any():
                g, v = group[counted], values[counted]
                cell = (-2 - slot[counted]) * BUCKETS + (v - start[g]) // width[g]
                np.add.at(counts, cell, 1)
                np.minimum.at(smallest, cell, v)
                np.maximum.at(biggest, cell, v)
        values, starts = _sorted_by_group(np.concatenate(kept_slots or [np.empty(0, np.int64)]),
                                          np.concatenate(kept_values or [np.empty(0, np.int64)]), collected.size)
        buckets = (counts.reshape(-1, BUCKETS), smallest.reshape(-1, BUCKETS), biggest.reshape(-1, BUCKETS))
        malloc.trim()
        return values, starts, buckets


def _sorted_by_group(group: np.ndarray, values: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The values sorted by group then value, and where each group's start."""
    order = np.lexsort((values, group))
    starts = np.searchsorted(group[order], np.arange(groups))
    return values[order], starts


def _smallest_within(inside: np.ndarray, open_: np.ndarray, budget: int) -> np.ndarray:
    """The open groups with the fewest values inside their windows, as many as ``budget`` holds."""
    candidates = np.flatnonzero(open_)
    order = np.argsort(inside[candidates], kind="stable")
    fits = np.cumsum(inside[candidates][order]) <= budget
    return np.sort(candidates[order][fits])
