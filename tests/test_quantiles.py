"""Quantiles of many groups of integers (RTTs in ns) in bounded memory: exact while small, within a fraction of a percent
of the exact figure once the biggest groups go into digests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tcpanalyze import quantiles
from tcpanalyze.quantiles import GroupQuantiles


def _batches(group: np.ndarray, values: np.ndarray, size: int):
    for at in range(0, group.size, size):
        yield group[at:at + size], values[at:at + size]


def _exact(group: np.ndarray, values: np.ndarray, q: float, groups: int) -> np.ndarray:
    return pd.Series(values).groupby(group).quantile(q).reindex(range(groups)).to_numpy()


def test_small_groups_are_exact_as_pandas_computes_them():
    rng = np.random.default_rng(1)
    group, values = rng.integers(0, 50, 20_000), (rng.lognormal(0, 1, 20_000) * 1e6).astype(np.int64)
    found = GroupQuantiles(52)  # two groups without any value
    for g, v in _batches(group, values, 3_001):
        found.add(g, v)
    for q in (0.0, 0.5, 0.95, 0.99, 1.0):
        np.testing.assert_array_equal(found.quantile(q), _exact(group, values, q, 52))
    np.testing.assert_array_equal(found.counts, np.bincount(group, minlength=52))
    np.testing.assert_array_equal(found.maxima, pd.Series(values).groupby(group).max().reindex(range(52)).to_numpy())
    assert np.isnan(found.quantile(0.5)[50:]).all() and np.isnan(found.maxima[50:]).all()


def test_big_groups_go_into_digests_and_stay_within_a_percent(monkeypatch):
    monkeypatch.setattr(quantiles, "EXACT_BUDGET", 20_000)
    monkeypatch.setattr(quantiles, "DIGEST_AT", 1_000)
    rng = np.random.default_rng(2)
    # one server with most of the samples, a few middling ones, many with a handful
    group = np.concatenate([np.zeros(300_000, np.int64), rng.integers(1, 5, 40_000), rng.integers(5, 400, 4_000)])
    values = (rng.lognormal(-1, 1.2, group.size) * 1e6).astype(np.int64)
    shuffled = rng.permutation(group.size)
    group, values = group[shuffled], values[shuffled]
    found = GroupQuantiles(400)
    for g, v in _batches(group, values, 5_000):
        found.add(g, v)
        assert found._exact_values <= quantiles.EXACT_BUDGET  # memory follows the groups, not the values
        assert found._ends[-1] == found._exact_values <= found._keys.size  # the pieces cover the kept values
    assert 0 in found._digests and not set(found._digests) & set(range(5, 400))  # small groups stay exact
    for q, within in ((0.5, 5e-3), (0.95, 1e-2), (0.99, 1e-2)):
        exact = _exact(group, values, q, 400)
        got = found.quantile(q)
        np.testing.assert_allclose(got[:5], exact[:5], rtol=within)
        np.testing.assert_array_equal(got[5:], exact[5:])
    np.testing.assert_array_equal(found.counts, np.bincount(group, minlength=400))
    assert found.maxima[0] == values[group == 0].max()


def test_a_value_too_big_for_its_bits_counts_as_the_biggest_that_fits():
    found = GroupQuantiles(1 << 20)  # 21 bits for the group numbers and the end of the last: 42 bits of value
    found.add(np.array([5, 5]), np.array([7, 1 << 50]))
    assert found.quantile(1.0)[5] == (1 << 42) - 1 == found.maxima[5] and found.quantile(0.0)[5] == 7


@pytest.mark.parametrize("groups", [1, 2, 3, 4, 8, 20, 64])
def test_the_last_group_has_its_quantiles_whatever_the_number_of_groups(groups):
    group = np.repeat(np.arange(groups), 3)
    values = np.tile([1_000, 2_000, 9_000], groups) + group
    found = GroupQuantiles(groups)
    found.add(group, values)
    np.testing.assert_array_equal(found.quantile(0.5), _exact(group, values, 0.5, groups))


def test_values_by_id_count_for_their_ids_group_as_one_piece(monkeypatch):
    monkeypatch.setattr(quantiles, "SLICE", 4)  # several slices to a call
    group_of = np.array([3, -1, 0, 2])
    ids = np.array([0, 1, 2, 3, 4, 0, 2, 3, 9, 0, 3, 2, 2])
    values = np.arange(ids.size) * 10
    where = np.arange(ids.size) != 5
    # id 1 has no group, ids 4 and 9 are past the table's end, the sixth value is left out
    counted = np.array([0, 2, 3, 6, 7, 9, 10, 11, 12])
    found, expected = GroupQuantiles(4), GroupQuantiles(4)
    found.add_by_id(group_of, ids, values, where=where)
    expected.add(group_of[ids[counted]], values[counted])
    assert found._ends == [counted.size]
    for q in (0.0, 0.5, 1.0):
        np.testing.assert_array_equal(found.quantile(q), expected.quantile(q))
    np.testing.assert_array_equal(found.counts, [4, 0, 3, 2])
