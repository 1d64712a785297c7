"""Quantiles of many groups of integer values (RTTs in ns) given in batches, in bounded memory:
exact while small.

The values are kept exactly, eight bytes each (the group in the high bits of one int64, the
value in the low bits, so one in-place sort orders them by group then value), until the groups
together hold more than EXACT_BUDGET; then the groups holding DIGEST_AT values or more move into
t-digests (``fastdigest``, mergeable), largest first, until half the budget is left, and take
their later values there at the next shrink. A digested group's quantiles are within a percent
of the exact ones (the median within a few tenths: ``tests/test_quantiles.py``). Memory follows
the number of groups, not the number of values. Exact quantiles interpolate linearly between
order statistics, as numpy and pandas do.

>>> q = GroupQuantiles(2)
>>> q.add(np.array([0, 0, 1]), np.array([1000, 3000, 5000]))
>>> q.quantile(0.5), q.counts, q.maxima
"""

from __future__ import annotations

import numpy as np
from fastdigest import TDigest

# Values kept exactly, all groups together, before the biggest groups go into digests.
EXACT_BUDGET = 1 << 21
# A group holding fewer values than this stays exact (its values take less than a digest).
DIGEST_AT = 1 << 11


class GroupQuantiles:
    """Values (integers >= 0) of ``groups`` groups (0..groups-1), added in batches; quantiles,
    counts and maxima per group. A value too big for the bits a group number leaves (2**40 and
    more with a million groups: 18 minutes in ns) counts as the biggest that fits."""

    def __init__(self, groups: int) -> None:
        self.groups = groups
        self.counts = np.zeros(groups, np.int64)
        self._maxima = np.full(groups, -1, np.int64)  # -1: no value
        self._value_bits = 63 - max(groups - 1, 1).bit_length()
        self._keys: list[np.ndarray] = []  # group << value_bits | value; digested groups left out
        self._exact_values = 0
        self._limit = EXACT_BUDGET  # exact values that make the biggest groups go into digests
        self._digests: dict[int, TDigest] = {}
        self._digested = np.zeros(groups, np.bool_)

    def add(self, group: np.ndarray, values: np.ndarray) -> None:
        """Values and the group of each (two integer arrays of one length)."""
        if not group.size:
            return
        group = group.astype(np.int64, copy=False)
        values = np.minimum(values.astype(np.int64, copy=False), (1 << self._value_bits) - 1)
        self.counts += np.bincount(group, minlength=self.groups)
        np.maximum.at(self._maxima, group, values)
        self._keys.append((group << self._value_bits) | values)  # a digested group's too, until the next shrink
        self._exact_values += group.size
        if self._exact_values > self._limit:
            self._shrink()

    def add_by_id(self, group_of: np.ndarray, ids: np.ndarray, values: np.ndarray) -> None:
        """Values by id, and the table of each id's group (``group_of[id]``): a value whose id has
        -1 there, or is past the table's end, counts for no group."""
        group = np.full(ids.size, -1, np.int64)
        known = ids < group_of.size
        group[known] = group_of[ids[known]]
        counted = group >= 0
        self.add(group[counted], values[counted])

    @property
    def maxima(self) -> np.ndarray:
        """Each group's biggest value; NaN for a group without any."""
        return np.where(self._maxima >= 0, self._maxima, np.nan)

    def quantile(self, q: float) -> np.ndarray:
        """The ``q`` quantile (0..1) of each group's values; NaN for a group without any."""
        self._move_digested()
        keys = self._sorted_keys()
        bounds = np.searchsorted(keys, np.arange(self.groups + 1, dtype=np.int64) << self._value_bits)
        starts, counts = bounds[:-1], np.diff(bounds)
        has = counts > 0
        position = q * (counts[has] - 1)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, counts[has] - 1)
        mask = (1 << self._value_bits) - 1
        a, b = keys[starts[has] + low] & mask, keys[starts[has] + high] & mask
        result = np.full(self.groups, np.nan)
        result[has] = a + (position - low) * (b - a)
        for g, digest in self._digests.items():
            result[g] = digest.quantile(q)
        return result

    def _sorted_keys(self) -> np.ndarray:
        """The exactly kept values as one sorted array of keys (sorted in place)."""
        keys = self._keys[0] if len(self._keys) == 1 else np.concatenate([np.empty(0, np.int64), *self._keys])
        keys.sort()
        self._keys = [keys]
        return keys

    def _shrink(self) -> None:
        """Move the biggest groups into digests until half the budget of exact values is left,
        as far as groups of DIGEST_AT values or more allow (small groups stay exact: the next
        shrink waits until the exact values have doubled)."""
        sizes = sum(np.bincount(keys >> self._value_bits, minlength=self.groups) for keys in self._keys)
        biggest = np.argsort(sizes, kind="stable")[::-1]
        excess = self._exact_values - EXACT_BUDGET // 2
        moved = biggest[: int(np.searchsorted(np.cumsum(sizes[biggest]), excess)) + 1]
        self._digested[moved[sizes[moved] >= DIGEST_AT]] = True
        self._move_digested()
        self._limit = max(EXACT_BUDGET, 2 * self._exact_values)

    def _move_digested(self) -> None:
        """The values of digested groups, into their digests (piece by piece: no second copy;
        many values at once: a digest merged from a few big pieces stays close to exact)."""
        if not self._digests and not self._digested.any():
            return
        mask = (1 << self._value_bits) - 1
        for i, keys in enumerate(self._keys):
            leaving = self._digested[keys >> self._value_bits]
            if leaving.any():
                self._digest(keys[leaving] >> self._value_bits, keys[leaving] & mask)
                self._keys[i] = keys[~leaving]
        self._exact_values = sum(keys.size for keys in self._keys)

    def _digest(self, group: np.ndarray, values: np.ndarray) -> None:
        """Add grouped values to their groups' digests (made as needed)."""
        order = np.argsort(group, kind="stable")
        group, values = group[order], values[order].astype(np.float64)
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        for start, end in zip(starts, [*starts[1:], group.size]):
            g, piece = int(group[start]), TDigest.from_values(values[start:end])
            if g in self._digests:
                self._digests[g].merge_inplace(piece)
            else:
                self._digests[g] = piece
