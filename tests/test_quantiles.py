"""Exact quantiles of many groups of integers (RTTs in ns) read again pass after pass, in memory that
follows the number of groups: equal to pandas' figures whether the values fit in one pass or take many."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tcpanalyze import quantiles
from tcpanalyze.quantiles import GroupQuantiles, groups_by_id

QS = (0.0, 0.01, 0.25, 0.5, 0.95, 0.99, 1.0)


def _reader(group: np.ndarray, values: np.ndarray, size: int, reads: list[int] | None = None):
    """A source giving (group, values) batches of ``size`` anew on each call, counting the calls."""
    def read():
        if reads is not None:
            reads.append(1)
        return ((group[at:at + size], values[at:at + size]) for at in range(0, group.size, size))
    return read


def _exact(group: np.ndarray, values: np.ndarray, q: float, groups: int) -> np.ndarray:
    return pd.Series(values).groupby(group).quantile(q).reindex(range(groups)).to_numpy()


def _values(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "lognormal":  # RTTs: a long tail
        return (rng.lognormal(0, 2, n) * 1e6).astype(np.int64)
    if kind == "few":  # many ties: delayed-ACK timer values
        return rng.integers(0, 5, n) * 40_000_000
    # one value and rare outliers 2**45 away: the windows must not shrink by one bucket a pass
    return np.full(n, 7) + (rng.random(n) < 0.001) * (1 << 45)


def test_values_that_fit_one_pass_are_exact_as_pandas_computes_them():
    rng = np.random.default_rng(1)
    group, values = rng.integers(0, 50, 20_000), (rng.lognormal(0, 1, 20_000) * 1e6).astype(np.int64)
    reads = []
    found = GroupQuantiles(_reader(group, values, 3_001, reads), 52)  # two groups without any value
    for q in QS:
        np.testing.assert_array_equal(found.quantile(q), _exact(group, values, q, 52))
    np.testing.assert_array_equal(found.counts, np.bincount(group, minlength=52))
    np.testing.assert_array_equal(found.maxima, pd.Series(values).groupby(group).max().reindex(range(52)).to_numpy())
    assert np.isnan(found.quantile(0.5)[50:]).all() and np.isnan(found.maxima[50:]).all()
    assert len(reads) == 1  # read once, kept


@pytest.mark.parametrize("kind", ["lognormal", "few", "outliers"])
@pytest.mark.parametrize("budget,buckets,per_pass", [(1_000, 8, 1 << 16), (50, 2, 7), (10, 4, 1 << 16)])
def test_values_past_the_budget_are_exact_pass_after_pass(monkeypatch, kind, budget, buckets, per_pass):
    monkeypatch.setattr(quantiles, "COLLECT_BUDGET", budget)
    monkeypatch.setattr(quantiles, "BUCKETS", buckets)
    monkeypatch.setattr(quantiles, "NARROWED_PER_PASS", per_pass)
    held = []
    sort = quantiles._sorted_by_group
    monkeypatch.setattr(quantiles, "_sorted_by_group", lambda g, v, n: held.append(g.size) or sort(g, v, n))
    rng = np.random.default_rng(len(kind) + budget)
    # one server with a third of the samples, the others a few to a few hundred each, two with none
    group = np.concatenate([np.zeros(6_000, np.int64), rng.integers(1, 118, 12_000)])
    values = _values(kind, rng, group.size)
    shuffled = rng.permutation(group.size)
    group, values = group[shuffled], values[shuffled]
    reads = []
    found = GroupQuantiles(_reader(group, values, 777, reads), 120)
    for q in QS:
        np.testing.assert_array_equal(found.quantile(q), _exact(group, values, q, 120))
    np.testing.assert_array_equal(found.counts, np.bincount(group, minlength=120))
    assert max(held) <= budget  # memory follows the groups (and the budget), not the values
    if per_pass > 120:
        assert len(reads) <= 1 + len(QS) * (2 if kind != "lognormal" else 12)  # a few passes per quantile, not one per group


def test_a_big_value_is_exact():
    found = GroupQuantiles(_reader(np.array([5, 5, 5]), np.array([7, 1 << 50, 1 << 62]), 2), 1 << 20)
    assert found.quantile(0.0)[5] == 7 and found.quantile(0.5)[5] == 1 << 50 and found.maxima[5] == 1 << 62


@pytest.mark.parametrize("groups", [1, 2, 3, 4, 8, 20, 64])
def test_the_last_group_has_its_quantiles_whatever_the_number_of_groups(groups):
    group = np.repeat(np.arange(groups), 3)
    values = np.tile([1_000, 2_000, 9_000], groups) + group
    found = GroupQuantiles(_reader(group, values, 5), groups)
    np.testing.assert_array_equal(found.quantile(0.5), _exact(group, values, 0.5, groups))


def test_values_of_no_group_count_for_none():
    group_of = np.array([3, -1, 0, 2])
    ids = np.array([0, 1, 2, 3, 4, 0, 2, 3, 9, 0, 3, 2, 2])
    where = np.arange(ids.size) != 5
    # id 1 has no group, ids 4 and 9 are past the table's end, the sixth value is left out
    np.testing.assert_array_equal(groups_by_id(group_of, ids, where=where),
                                  [3, -1, 0, 2, -1, -1, 0, 2, -1, 3, 2, 0, 0])
    values = np.arange(ids.size) * 10
    found = GroupQuantiles(_reader(groups_by_id(group_of, ids, where=where), values, 4), 4)
    np.testing.assert_array_equal(found.counts, [4, 0, 3, 2])
    np.testing.assert_array_equal(found.quantile(1.0), [120, np.nan, 100, 90])
