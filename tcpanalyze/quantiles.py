"""Quantiles of many groups of integer values (RTTs in ns) given in batches, in bounded memory:
exact while small.

The values are kept exactly, eight bytes each (the group in the high bits of one int64, the
value in the low bits, so one in-place sort orders them by group then value; in one array with
room reserved up front, so that neither adding nor sorting copies them), until the groups
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
# Values looked up (``add_by_id``) or counted (``_shrink``) at a time: small temporaries, whatever the batch.
SLICE = 1 << 18


class GroupQuantiles:
    """Values (integers >= 0) of ``groups`` groups (0..groups-1), added in batches; quantiles,
    counts and maxima per group. A value too big for the bits a group number leaves (2**40 and
    more with a million groups: 18 minutes in ns) counts as the biggest that fits."""

    def __init__(self, groups: int) -> None:
        self.groups = groups
        self.counts = np.zeros(groups, np.int64)
        self._maxima = np.full(groups, -1, np.int64)  # -1: no value
        self._value_bits = 63 - max(groups, 1).bit_length()  # groups << value_bits, the end of the last, fits too
        # group << value_bits | value, the first _exact_values (a digested group's too, until the next
        # shrink), in pieces as they were added (ending at _ends: ``_move_digested`` digests a piece at once)
        self._keys = np.empty(0, np.int64)
        self._ends: list[int] = []
        self._exact_values = 0
        self._limit = EXACT_BUDGET  # exact values that make the biggest groups go into digests
        self._digests: dict[int, TDigest] = {}
        self._digested = np.zeros(groups, np.bool_)

    def add(self, group: np.ndarray, values: np.ndarray) -> None:
        """Values and the group of each (two integer arrays of one length)."""
        self._append(group, values)
        self._end_piece()

    def add_by_id(self, group_of: np.ndarray, ids: np.ndarray, values: np.ndarray,
                  where: np.ndarray | None = None) -> None:
        """Values by id, and the table of each id's group (``group_of[id]``): a value whose id has
        -1 there, or is past the table's end, or that ``where`` leaves out, counts for no group.
        Added as one piece, like one ``add``."""
        for at in range(0, ids.size, SLICE):
            some = ids[at:at + SLICE]
            known = some < group_of.size
            if where is not None:
                known &= where[at:at + SLICE]
            group = np.full(some.size, -1, np.int64)
            group[known] = group_of[some[known]]
            counted = group >= 0
            self._append(group[counted], values[at:at + SLICE][counted])
        self._end_piece()

    def _append(self, group: np.ndarray, values: np.ndarray) -> None:
        """Count values and keep them, as keys after the others."""
        if not group.size:
            return
        group = group.astype(np.int64, copy=False)
        values = np.minimum(values.astype(np.int64, copy=False), (1 << self._value_bits) - 1)
        self.counts += np.bincount(group, minlength=self.groups)
        np.maximum.at(self._maxima, group, values)
        end = self._exact_values + group.size
        if end > self._keys.size:
            # at first, room for twice the budget: pages take memory only once written, and growing
            # copies the keys
            grown = np.empty(max(end, 2 * self._keys.size, 2 * EXACT_BUDGET), np.int64)
            grown[:self._exact_values] = self._keys[:self._exact_values]
            self._keys = grown
        keys = self._keys[self._exact_values:end]
        np.left_shift(group, self._value_bits, out=keys)
        keys |= values
        self._exact_values = end

    def _end_piece(self) -> None:
        """The keys appended since the last piece make one; past the limit, the biggest groups go
        into digests."""
        if self._exact_values > (self._ends[-1] if self._ends else 0):
            self._ends.append(self._exact_values)
        if self._exact_values > self._limit:
            self._shrink()

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
        """The exactly kept values as one sorted array of keys, one piece (sorted in place)."""
        keys = self._keys[:self._exact_values]
        keys.sort()
        self._ends = [keys.size]
        return keys

    def _shrink(self) -> None:
        """Move the biggest groups into digests until half the budget of exact values is left,
        as far as groups of DIGEST_AT values or more allow (small groups stay exact: the next
        shrink waits until the exact values have doubled)."""
        sizes = sum(np.bincount(self._keys[at:min(at + SLICE, self._exact_values)] >> self._value_bits,
                                minlength=self.groups) for at in range(0, self._exact_values, SLICE))
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
        start = kept = 0
        ends = []
        for end in self._ends:
            keys = self._keys[start:end]
            leaving = self._digested[keys >> self._value_bits]
            if leaving.any():
                self._digest(keys[leaving] >> self._value_bits, keys[leaving] & mask)
                keys = keys[~leaving]
            self._keys[kept:kept + keys.size] = keys  # forward: numpy copies a 1-D overlap as memmove does
            start, kept = end, kept + keys.size
            ends.append(kept)
        self._ends, self._exact_values = ends, kept

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
