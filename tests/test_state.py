"""``StateTable`` growth: entries keep their values, new ones start at the initial value, and a
record-major matrix grows in place unless something else still holds it (then by a copy)."""

from __future__ import annotations

import numpy as np
import pytest

from tcpanalyze.state import Rows, SlotAllocator, StateTable

LAYOUT = {"i64": Rows(("a", "b", "c"), np.int64, -1), "u8": Rows(("x",), np.uint8, 0)}


@pytest.mark.parametrize("record_major", [True, False])
@pytest.mark.parametrize("held", [False, True])
def test_growth_keeps_entries_and_initialises_the_new_ones(record_major, held):
    table = StateTable(LAYOUT, 5, record_major=record_major)
    entries = (np.arange(5), slice(None)) if record_major else (slice(None), np.arange(5))
    table.m["i64"][entries] = 7
    table.m["u8"][entries] = 3
    kept = table.m["i64"][:2] if held else None  # a view still in use: numpy refuses to move the memory
    matrix_id = id(table.m["i64"])  # the id alone: holding the matrix would stop it growing in place
    table.grow(1000)
    if record_major:
        assert (id(table.m["i64"]) == matrix_id) == (not held)  # in place (realloc) unless held
    assert table.capacity == 1000
    i64, u8 = (table.m["i64"], table.m["u8"]) if record_major else (table.m["i64"].T, table.m["u8"].T)
    assert i64.shape == (1000, 3) and u8.shape == (1000, 1)
    assert (i64[:5] == 7).all() and (i64[5:] == -1).all()
    assert (u8[:5] == 3).all() and (u8[5:] == 0).all()
    if held:
        assert (kept == 7).all()  # the old memory is still valid for its holder
    table.grow(10)  # never shrinks
    assert table.capacity == 1000


def test_slot_allocator_grows_by_a_quarter_and_reuses_given_back_columns():
    table = StateTable(LAYOUT, 0, record_major=True)
    slots = SlotAllocator(table)
    first = slots.take(1000)
    assert sorted(first.tolist()) == list(range(1000)) and table.capacity == 1024
    more = slots.take(100)  # 24 left, then a quarter more
    assert table.capacity == 1280 and len(set(more.tolist()) | set(first.tolist())) == 1100
    table.m["i64"][first[:10]] = 5
    slots.give_back(first[:10])
    assert (table.m["i64"][first[:10]] == -1).all()
    assert sorted(slots.take(10).tolist()) == sorted(first[:10].tolist())
