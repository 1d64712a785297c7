"""Quantiles of many groups of values given in batches, in bounded memory: exact while small.

Each group keeps its values exactly until the groups together hold more than EXACT_BUDGET
values; then the groups holding more than DIGEST_AT values each move into a t-digest
(``fastdigest``: mergeable; its quantiles are within half a percent of the exact ones, the
median closer), largest first, until half the budget is left. A group with a digest adds
its later values to it. Memory follows the number of groups, never the number of values.
Exact quantiles interpolate linearly between order statistics, as numpy and pandas do.

>>> q = GroupQuantiles(2)
>>> q.add(np.array([0, 0, 1]), np.array([1.0, 3.0, 5.0]))
>>> q.quantile(0.5), q.counts, q.maxima
"""

from __future__ import annotations

import numpy as np
from fastdigest import TDigest

# Values kept exactly, all groups together, before the biggest groups go into digests.
EXACT_BUDGET = 1 << 20
# A group holding fewer values than this stays exact (its values take less than a digest).
DIGEST_AT = 1 << 11


class GroupQuantiles:
    """Values of ``groups`` groups (0..groups-1), added in batches; quantiles, counts and maxima per group."""

    def __init__(self, groups: int) -> None:
        self.groups = groups
        self.counts = np.zeros(groups, np.int64)
        self.maxima = np.full(groups, np.nan)
        self._exact: list[tuple[np.ndarray, np.ndarray]] = []  # (group, value) batches, digested groups left out
        self._exact_values = 0
        self._sorted = True  # _exact is one batch sorted by group then value
        self._limit = EXACT_BUDGET  # exact values that make the biggest groups go into digests
        self._digests: dict[int, TDigest] = {}
        self._digested = np.zeros(groups, np.bool_)

    def add(self, group: np.ndarray, values: np.ndarray) -> None:
        """Values and the group of each (two arrays of one length)."""
        if not group.size:
            return
        values = values.astype(np.float64, copy=False)
        self.counts += np.bincount(group, minlength=self.groups)
        top = np.full(self.groups, -np.inf)
        np.maximum.at(top, group, values)
        self.maxima = np.fmax(self.maxima, np.where(np.isneginf(top), np.nan, top))
        if self._digests:
            digested = self._digested[group]
            if digested.any():
                self._digest(group[digested], values[digested])
                group, values = group[~digested], values[~digested]
        self._exact.append((group, values))
        self._exact_values += group.size
        self._sorted = False
        if self._exact_values > self._limit:
            self._shrink()

    def quantile(self, q: float) -> np.ndarray:
        """The ``q`` quantile (0..1) of each group's values; NaN for a group without any."""
        group, values = self._sorted_exact()
        counts = np.bincount(group, minlength=self.groups)
        result = _sorted_quantile(values, counts, q)
        for g, digest in self._digests.items():
            result[g] = digest.quantile(q)
        return result

    def _sorted_exact(self) -> tuple[np.ndarray, np.ndarray]:
        """The exactly kept values in one batch, sorted by group then value."""
        if self._sorted:
            return self._exact[0] if self._exact else (np.empty(0, np.int64), np.empty(0))
        group = np.concatenate([g for g, _ in self._exact]) if self._exact else np.empty(0, np.int64)
        values = np.concatenate([v for _, v in self._exact]) if self._exact else np.empty(0)
        order = np.argsort(values)
        order = order[np.argsort(group[order], kind="stable")]  # by group, then value (np.lexsort is slower)
        group, values = group[order], values[order]
        self._exact, self._sorted = [(group, values)], True
        return group, values

    def _shrink(self) -> None:
        """Move the biggest groups into digests until half the budget of exact values is left,
        as far as groups of DIGEST_AT values or more allow (small groups stay exact: the next
        shrink waits until their values have doubled)."""
        group = np.concatenate([g for g, _ in self._exact])
        values = np.concatenate([v for _, v in self._exact])
        sizes = np.bincount(group, minlength=self.groups)
        biggest = np.argsort(sizes, kind="stable")[::-1]
        excess = self._exact_values - EXACT_BUDGET // 2
        moved = biggest[: int(np.searchsorted(np.cumsum(sizes[biggest]), excess)) + 1]
        moved = moved[sizes[moved] >= DIGEST_AT]
        self._digested[moved] = True
        leaving = self._digested[group]
        if leaving.any():
            self._digest(group[leaving], values[leaving])
        self._exact, self._sorted = [(group[~leaving], values[~leaving])], False
        self._exact_values = int((~leaving).sum())
        self._limit = max(EXACT_BUDGET, 2 * self._exact_values)

    def _digest(self, group: np.ndarray, values: np.ndarray) -> None:
        """Add grouped values to their groups' digests (made as needed)."""
        order = np.argsort(group, kind="stable")
        group, values = group[order], values[order]
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        for start, end in zip(starts, [*starts[1:], group.size]):
            g, piece = int(group[start]), TDigest.from_values(values[start:end])
            if g in self._digests:
                self._digests[g].merge_inplace(piece)
            else:
                self._digests[g] = piece


def _sorted_quantile(values: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    """Per group, the ``q`` quantile of ``values`` (grouped, each group sorted; ``counts``: each
    group's size) by linear interpolation; NaN for an empty group."""
    starts = np.cumsum(counts) - counts
    has = counts > 0
    position = q * (counts[has] - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, counts[has] - 1)
    a, b = values[starts[has] + low], values[starts[has] + high]
    result = np.full(counts.size, np.nan)
    result[has] = a + (position - low) * (b - a)
    return result
