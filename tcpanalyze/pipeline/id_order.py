"""Session records, which come as sessions end, put back in session_id order in bounded memory.

Ids count from 0 in order of first packet, so a session can go out once every lower id has.
Sessions that end while an earlier one is still open wait. Past ``SPILL_ROWS`` waiting
sessions, they go to a temporary file (Arrow IPC, sorted by id, in blocks of ``BLOCK_ROWS``)
and come back a block at a time as they are released; releases go out ``WINDOW_IDS`` ids at a
time. Memory then holds at most ``SPILL_ROWS`` waiting sessions, one block per file and one
window, whatever the capture's length: behind a session open from the first packet to the last,
every other session waits on disk.

>>> for chunk in InIdOrder().reordered(iter_sessions("big.pcap", Accounting())): ...
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

SPILL_ROWS = 1 << 15
BLOCK_ROWS = 1 << 10
WINDOW_IDS = 1 << 13


def _split(frame: pd.DataFrame, bound: int) -> tuple[list[pd.DataFrame], pd.DataFrame | None]:
    """A frame ordered by session_id cut at ``bound``: the part below (a list of none or one)
    and the rest (None if nothing is left); views, not copies."""
    k = int(np.searchsorted(frame["session_id"].to_numpy(np.int64), bound))
    return ([frame.iloc[:k]] if k else []), (None if k == len(frame) else frame.iloc[k:] if k else frame)


class _SpilledRun:
    """Waiting sessions written to one file, sorted by id, read back a block at a time."""

    def __init__(self, frame: pd.DataFrame, path: Path) -> None:
        import pyarrow as pa

        table = pa.Table.from_pandas(frame, preserve_index=False)
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=BLOCK_ROWS)
        self._file = pa.OSFile(str(path), "rb")
        self._reader = pa.ipc.open_file(self._file)
        self._next_block = 0
        self._head: pd.DataFrame | None = None  # what is left of the block read last

    def take(self, bound: int) -> list[pd.DataFrame]:
        """The run's sessions with ids below ``bound`` (in order), reading only the blocks needed."""
        pieces = []
        while True:
            if self._head is None:
                if self._next_block == self._reader.num_record_batches:
                    return pieces
                self._head = self._reader.get_batch(self._next_block).to_pandas()
                self._next_block += 1
            below, self._head = _split(self._head, bound)
            pieces += below
            if self._head is not None:
                return pieces

    def close(self) -> None:
        self._file.close()


class InIdOrder:
    """Chunks of session records (each ordered by session_id, as the engine emits them) in
    session_id order; see the module docstring. ``spill_rows`` waiting sessions go to files in
    a temporary directory (``directory``: where it is made; the system's by default)."""

    def __init__(self, spill_rows: int = SPILL_ROWS, directory: str | None = None) -> None:
        self._released = 0  # ids below this went out
        self._next = 0  # the lowest id that has not ended
        self._ended = np.zeros(0, np.bool_)  # by session id: emitted by the engine
        self._held: list[pd.DataFrame] = []  # waiting chunks in memory
        self._held_rows = 0
        self._runs: list[_SpilledRun] = []
        self._spill_rows, self._directory = spill_rows, directory
        self._tmp: tempfile.TemporaryDirectory | None = None

    def reordered(self, chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """The sessions of ``chunks`` in session_id order, in chunks of at most ``WINDOW_IDS`` ids."""
        try:
            for chunk in chunks:
                ids = chunk["session_id"].to_numpy(np.int64)
                if not ids.size:
                    continue
                self._mark_ended(ids)
                self._held.append(chunk)
                self._held_rows += len(chunk)
                gaps = np.flatnonzero(~self._ended[self._next:])
                self._next += int(gaps[0]) if gaps.size else self._ended.size - self._next
                yield from self._release()
                if self._held_rows > self._spill_rows:
                    self._spill()
            self._next = int(self._ended.size)  # (ids are contiguous: nothing waits here unless one was skipped)
            yield from self._release()
        finally:
            self._close()

    def _mark_ended(self, ids: np.ndarray) -> None:
        if ids.max() >= self._ended.size:
            grown = np.zeros(max(int(ids.max()) + 1, 2 * self._ended.size), np.bool_)
            grown[: self._ended.size] = self._ended
            self._ended = grown
        self._ended[ids] = True

    def _release(self) -> Iterator[pd.DataFrame]:
        """The waiting sessions below ``_next``, a window of ids at a time, in id order."""
        while self._released < self._next:
            bound = min(self._released + WINDOW_IDS, self._next)
            pieces = self._take_held(bound) + [p for run in self._runs for p in run.take(bound)]
            self._released = bound
            if pieces:
                frame = pieces[0] if len(pieces) == 1 else pd.concat(pieces, ignore_index=True)
                yield frame.sort_values("session_id", kind="stable", ignore_index=True)

    def _take_held(self, bound: int) -> list[pd.DataFrame]:
        """The held sessions below ``bound``; the rest stay held (each chunk is split, not copied)."""
        out, kept = [], []
        for chunk in self._held:
            below, rest = _split(chunk, bound)
            out += below
            kept += [rest] if rest is not None else []
        self._held = kept
        self._held_rows -= sum(map(len, out))
        return out

    def _spill(self) -> None:
        """Every held session to a new file, sorted by id."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tcpanalyze-order-", dir=self._directory)
        frame = pd.concat(self._held, ignore_index=True).sort_values("session_id", kind="stable", ignore_index=True)
        self._held, self._held_rows = [], 0
        self._runs.append(_SpilledRun(frame, Path(self._tmp.name) / f"run-{len(self._runs)}.arrow"))

    def _close(self) -> None:
        for run in self._runs:
            run.close()
        self._runs = []
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
