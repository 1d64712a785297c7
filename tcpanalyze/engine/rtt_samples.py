"""Every ACK's RTT sample, kept out of memory: the report and ``check`` read them a batch at a time.

A capture of 20M packets has some 7M samples (120 MB as a frame). ``RttSamples`` holds up to
SPILL_ROWS of them in memory and writes each further SPILL_ROWS to a temporary Arrow file,
deleted when the last ``RttSamples`` reading it is gone. ``batches`` gives them back in the
order they were added, as frames of ``session_id``, ``ack_rtt_ns`` and ``data_direction``
(whose data the ACK acknowledged: ``orig`` times the capture point to the responder and back).

The merge of a capture's parts renumbers their sessions (``renumbered``) and puts them side by
side (``joined``); a selection of sessions reads only theirs (``of_sessions``): all as views,
applied as each batch is read. Sent to another process, samples travel by value, or, to a
process of the same machine, with the names of their files (``by_name``).
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa

from ..spill import remove_file, temporary_files

DIRECTIONS = ["orig", "resp"]
# Samples held in memory before they go to the temporary file, one Arrow batch each time.
SPILL_ROWS = 1 << 18
WHAT = "the RTT samples' temporary file"
SCHEMA = pa.schema([("session_id", pa.int64()), ("ack_rtt_ns", pa.int64()), ("data_direction", pa.int8())])


class _SpillFile:
    """A temporary Arrow IPC file of sample batches, removed when no one reads it any more."""

    def __init__(self, path: str) -> None:
        """A written file (handed over by another process), removed with this object."""
        self.path = path
        self.remove = weakref.finalize(self, remove_file, path)
        self._writer: pa.ipc.RecordBatchFileWriter | None = None

    @classmethod
    def new(cls) -> _SpillFile:
        """A new temporary file, open for writing."""
        with temporary_files(WHAT):
            handle, path = tempfile.mkstemp(prefix="tcpanalyze-rtt-", suffix=".arrow")
            os.close(handle)
            spill = cls(path)
            spill._writer = pa.ipc.new_file(path, SCHEMA)
        return spill

    def write(self, batch: pa.RecordBatch) -> None:
        with temporary_files(WHAT):
            self._writer.write_batch(batch)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        with pa.OSFile(self.path) as source:  # read, not mapped: each batch is freed once used
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)


@dataclass(frozen=True)
class _Source:
    """Batches in memory or in a spill file, with the session renumbering of a merge (None: as they are)."""

    table: pa.Table | None
    spill: _SpillFile | None
    renumber: np.ndarray | None = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self.spill is not None:
            yield from self.spill.batches()
        if self.table is not None:
            yield from self.table.to_batches()


class RttSamples:
    """RTT samples added batch by batch (``add``, then ``close``), read back batch by batch."""

    def __init__(self, sources: tuple[_Source, ...] | None = None, sessions: np.ndarray | None = None, *,
                 by_name: bool = False) -> None:
        self._sources = sources
        self._sessions = sessions  # a selection: True by session id for the sessions kept
        self._by_name = by_name  # pickled with the names of its files (``by_name``)
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._pending_rows = 0
        self._spill: _SpillFile | None = None

    def add(self, session_id: np.ndarray, ack_rtt_ns: np.ndarray, data_direction: np.ndarray) -> None:
        """Samples: the session, the RTT in ns, and 0 for the originator's data, 1 for the responder's."""
        if not session_id.size:
            return
        self._pending.append((session_id, ack_rtt_ns, data_direction))
        self._pending_rows += session_id.size
        if self._pending_rows >= SPILL_ROWS:
            self._spill = self._spill or _SpillFile.new()
            self._spill.write(self._pending_batch())
            self._pending, self._pending_rows = [], 0

    def close(self) -> RttSamples:
        """No more samples: itself, ready to be read."""
        if self._sources is None:
            if self._spill is not None:
                self._spill.close()
            table = pa.Table.from_batches([self._pending_batch()]) if self._pending else None
            self._sources = (_Source(table, self._spill),)
            self._pending, self._pending_rows, self._spill = [], 0, None
        return self

    def _pending_batch(self) -> pa.RecordBatch:
        """The samples added since the last spill, as one Arrow batch."""
        columns = [np.concatenate([piece[k] for piece in self._pending]).astype(field.type.to_pandas_dtype(), copy=False)
                   for k, field in enumerate(SCHEMA)]
        return pa.record_batch(columns, schema=SCHEMA)

    def batches(self) -> Iterator[pd.DataFrame]:
        """The samples, a frame at a time, in the order they were added."""
        for source in self._read():
            for batch in source.batches():
                ids = batch.column(0).to_numpy()
                if source.renumber is not None:
                    ids = source.renumber[ids]
                rtt, side = batch.column(1).to_numpy(), batch.column(2).to_numpy()
                if self._sessions is not None:
                    kept = ids < self._sessions.size
                    kept[kept] = self._sessions[ids[kept]]
                    ids, rtt, side = ids[kept], rtt[kept], side[kept]
                if ids.size:
                    yield pd.DataFrame({"session_id": ids, "ack_rtt_ns": rtt,
                                        "data_direction": pd.Categorical.from_codes(side, DIRECTIONS)}, copy=False)

    def frame(self) -> pd.DataFrame:
        """Every sample in one frame (memory grows with the capture: prefer ``batches``)."""
        frames = list(self.batches())
        return pd.concat(frames, ignore_index=True) if frames else _empty_frame()

    def __len__(self) -> int:
        return sum(len(f) for f in self.batches())

    def renumbered(self, mapping: np.ndarray) -> RttSamples:
        """All the samples (not a selection) with session ids ``mapping[id]``: a merge numbering
        its parts' sessions."""
        return RttSamples(tuple(replace(s, renumber=mapping if s.renumber is None else mapping[s.renumber])
                                for s in self._read()))

    @staticmethod
    def joined(parts: Iterable[RttSamples]) -> RttSamples:
        """The samples of several parts (renumbered alike, none a selection), one after the other."""
        return RttSamples(tuple(s for part in parts for s in part._read()))

    def of_sessions(self, session_ids: np.ndarray) -> RttSamples:
        """The samples of these sessions alone."""
        ids = np.asarray(session_ids, np.int64)
        chosen = np.zeros(int(ids.max()) + 1 if ids.size else 0, np.bool_)
        chosen[ids] = True
        if self._sessions is not None:
            size = min(chosen.size, self._sessions.size)
            chosen = chosen[:size] & self._sessions[:size]
        return RttSamples(self._read(), chosen)

    def _read(self) -> tuple[_Source, ...]:
        if self._sources is None:
            raise RuntimeError("RTT samples are read once closed")
        return self._sources

    def by_name(self) -> RttSamples:
        """These samples to send to another process of this machine (a local worker's result):
        their temporary files go by name, and that process removes them, not this one."""
        return RttSamples(self._read(), self._sessions, by_name=True)

    def __reduce__(self):
        """Sent to another process, the samples go by value (a Dask worker's result may cross
        machines), or ``by_name``."""
        if not self._by_name:
            return _from_frame, (self.frame(),)
        for source in self._read():
            if source.spill is not None:
                source.spill.remove.detach()  # the receiving process removes it
        return _from_names, (tuple((s.table, None if s.spill is None else s.spill.path, s.renumber)
                                   for s in self._read()), self._sessions)


def _from_frame(frame: pd.DataFrame) -> RttSamples:
    samples = RttSamples()
    ids, rtt = frame["session_id"].to_numpy(np.int64), frame["ack_rtt_ns"].to_numpy(np.int64)
    sides = frame["data_direction"].cat.codes.to_numpy(np.int8)
    for at in range(0, len(frame), SPILL_ROWS):
        samples.add(ids[at:at + SPILL_ROWS], rtt[at:at + SPILL_ROWS], sides[at:at + SPILL_ROWS])
    return samples.close()


def _from_names(sources: tuple, sessions: np.ndarray | None) -> RttSamples:
    return RttSamples(tuple(_Source(table, None if path is None else _SpillFile(path), renumber)
                            for table, path, renumber in sources), sessions)


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({"session_id": np.empty(0, np.int64), "ack_rtt_ns": np.empty(0, np.int64),
                         "data_direction": pd.Categorical.from_codes(np.empty(0, np.int8), DIRECTIONS)})
