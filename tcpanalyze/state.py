"""State that lives between batches, as dtype matrices with one named row per field.

Like the decoder's output, every group of state is a set of 2-D arrays (one per dtype,
rows named by module constants, one column per index). ``StateTable`` grows the columns
when more are needed and resets freed columns to their initial values, so kernels can
index by session slot (or ``slot * 2 + direction``) without owning any allocation logic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rows:
    """The rows of one matrix: names in order, dtype, initial value."""

    names: tuple[str, ...]
    dtype: type
    initial: int | float = 0

    def index(self, name: str) -> int:
        return self.names.index(name)


class StateTable:
    """Matrices ``{key: ndarray[len(rows), capacity]}`` that grow and reset by column.

    ``record_major=True`` stores them transposed, ``[capacity, len(rows)]``: all fields of one
    entry (a session, a direction) are then adjacent in memory, which is what a kernel that
    jumps from session to session wants. Kernels index such tables ``m[entry, ROW]``.
    """

    def __init__(self, layout: dict[str, Rows], capacity: int, *, record_major: bool = False) -> None:
        self.layout = layout
        self.capacity = capacity
        self.record_major = record_major
        self.m = {k: np.full(self._shape(len(r.names), capacity), r.initial, dtype=r.dtype) for k, r in layout.items()}

    def _shape(self, rows: int, capacity: int) -> tuple[int, int]:
        return (capacity, rows) if self.record_major else (rows, capacity)

    def grow(self, capacity: int) -> None:
        """Make room for ``capacity`` entries, keeping the existing ones."""
        if capacity <= self.capacity:
            return
        for k, rows in self.layout.items():
            if self.record_major:
                self._grow_records(k, rows, capacity)
                continue
            bigger = np.empty(self._shape(len(rows.names), capacity), dtype=rows.dtype)
            bigger[:, : self.capacity] = self.m[k]
            bigger[:, self.capacity :] = rows.initial
            self.m[k] = bigger
        self.capacity = capacity

    def _grow_records(self, key: str, rows: Rows, capacity: int) -> None:
        """Grow a record-major matrix in place (realloc moves pages: no second copy held at
        once) unless something else still holds it (numpy refuses then), else by a copy."""
        matrix = self.m.pop(key)  # the local name is its only holder, unless a caller kept one
        try:
            matrix.resize((capacity, len(rows.names)), refcheck=True)
        except ValueError:
            bigger = np.empty((capacity, len(rows.names)), dtype=rows.dtype)
            bigger[: self.capacity] = matrix
            matrix = bigger
        matrix[self.capacity :] = rows.initial
        self.m[key] = matrix

    def reset(self, columns: np.ndarray) -> None:
        """Put the given entries back to their initial values."""
        for k, rows in self.layout.items():
            if self.record_major:
                self.m[k][columns] = rows.initial
            else:
                self.m[k][:, columns] = rows.initial

    def column(self, key: str, name: str) -> np.ndarray:
        """One field of every entry (a view)."""
        row = self.layout[key].index(name)
        return self.m[key][:, row] if self.record_major else self.m[key][row]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.m.values())


class SlotAllocator:
    """Hands out column indexes of a StateTable and takes them back; grows the table as needed."""

    def __init__(self, table: StateTable) -> None:
        self.table = table
        self.free = np.arange(table.capacity - 1, -1, -1, dtype=np.int64)
        self.top = table.capacity

    def take(self, n: int) -> np.ndarray:
        """``n`` free columns (growing the table by half, or more, when it runs out)."""
        if self.top < n:
            old = self.table.capacity
            capacity = max(old + old // 4, old + n - self.top, 1024)
            self.table.grow(capacity)
            stack = np.empty(capacity, np.int64)
            stack[: self.top] = self.free[: self.top]
            stack[self.top : self.top + capacity - old] = np.arange(capacity - 1, old - 1, -1)
            self.free = stack
            self.top += capacity - old
        self.top -= n
        return self.free[self.top : self.top + n][::-1].copy()

    def give_back(self, columns: np.ndarray) -> None:
        """Reset the columns to their initial values and make them available again."""
        self.table.reset(columns)
        self.free[self.top : self.top + columns.size] = columns
        self.top += columns.size
