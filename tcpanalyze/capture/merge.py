"""Several capture files read as one capture, in time order, as mergecap merges them.

A dumpcap ring buffer, a directory of captures, a glob pattern or a list of files:
``capture_files`` names the files, ``open_reader`` opens them, and ``MergedReader`` hands out
their records as one stream of batches. The next record is always the earliest head among
the files (ties: the file named first), so each file keeps its own order, as in mergecap's
default merge; frames are numbered across the files in that order. A record's stream
position says which file it came from (``RecordBatch.stream_positions``).

A file joins the merge when the merge reaches its first timestamp and leaves when its last
record is handed out: a ring buffer of hundreds of files has one or two open at a time.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence

import numpy as np

from ..errors import CaptureError
from . import kernels
from .reader import BATCH_RECORDS, CaptureReader, ProgressCallback
from .records import FILE_SHIFT, CaptureInfo, RecordBatch

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz")
GLOB_CHARACTERS = "*?["
NEVER = int(np.iinfo(np.int64).max)
COLUMNS = ("rec_off", "caplen", "origlen", "ts_ns", "iface", "linktype", "positions")

CaptureSpec = str | os.PathLike | Sequence[str | os.PathLike]


def capture_files(spec: CaptureSpec) -> list[str]:
    """The files a capture names: one file, ``-`` (stdin), a directory (its captures, by name), a
    glob pattern (``"ring_*.pcapng"``), or a list of any of these."""
    if not isinstance(spec, (str, os.PathLike)):
        files = [path for item in spec for path in capture_files(item)]
        if not files:
            raise CaptureError("no capture files given")
        return files
    text = os.fspath(spec)
    if text == "-" or os.path.isfile(text):
        return [text]
    if os.path.isdir(text):
        files = sorted(os.path.join(text, name) for name in os.listdir(text) if name.endswith(CAPTURE_SUFFIXES))
        if not files:
            raise CaptureError(f"{text}: is a directory without capture files "
                               f"(*{', *'.join(CAPTURE_SUFFIXES)})")
        return files
    if any(c in text for c in GLOB_CHARACTERS):
        files = sorted(path for path in glob.glob(text) if os.path.isfile(path))
        if not files:
            raise CaptureError(f"{text}: no file matches this pattern")
        return files
    return [text]  # the reader says what is wrong with it


def capture_label(spec: CaptureSpec) -> str:
    """How messages name a capture: its path or pattern, or its first file and how many there are."""
    if isinstance(spec, (str, os.PathLike)):
        return os.fspath(spec)
    files = [os.fspath(item) for item in spec]
    more = len(files) - 1
    return files[0] if not more else f"{files[0]} and {more} more file{'s' if more > 1 else ''}"


def open_reader(spec: CaptureSpec, progress: ProgressCallback | None = None) -> CaptureReader | MergedReader:
    """A reader for what ``spec`` names: a ``CaptureReader`` for one file, else a ``MergedReader``."""
    files = capture_files(spec)
    if len(files) == 1:
        return CaptureReader(files[0], progress)
    return MergedReader(files, progress, label=capture_label(spec))


class _Input:
    """One file of the merge, and the records read from it that are not handed out yet (their
    bytes copied out of the reader's window, which moves on)."""

    def __init__(self, index: int, path: str, first_ts: int) -> None:
        self.index, self.path, self.first_ts = index, path, first_ts
        self.reader: CaptureReader | None = None
        self.batches: Iterator[RecordBatch] | None = None
        self.finished = False  # no record will come from the file after the pending ones
        self.buf = np.empty(0, np.uint8)
        self.columns = {name: np.empty(0, np.int64) for name in COLUMNS}

    @property
    def pending(self) -> int:
        return int(self.columns["ts_ns"].size)

    def open(self, max_records: int) -> None:
        self.reader = CaptureReader(self.path)
        self.batches = self.reader.batches(max_records)

    def read_more(self) -> None:
        """Add the file's next batch to the pending records, or mark the file finished."""
        batch = next(self.batches, None)
        if batch is None:
            self.finished = True
            return
        lengths = batch.caplen
        dst = np.cumsum(lengths) - lengths + self.buf.size
        buf = np.empty(self.buf.size + int(lengths.sum()), np.uint8)
        buf[: self.buf.size] = self.buf
        kernels.gather(batch.buf, batch.rec_off, lengths, buf, dst)
        new = {"rec_off": dst, "caplen": batch.caplen, "origlen": batch.origlen, "ts_ns": batch.ts_ns,
               "iface": batch.iface.astype(np.int64), "linktype": batch.linktype.astype(np.int64),
               "positions": batch.stream_positions() | np.int64(self.index << FILE_SHIFT)}
        self.columns = {name: np.concatenate([self.columns[name], new[name]]) for name in COLUMNS}
        self.buf = buf

    def take(self, count: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Hand out the first ``count`` pending records: their columns (offsets into the bytes
        returned) and their bytes."""
        taken = {name: values[:count] for name, values in self.columns.items()}
        end = int(taken["rec_off"][-1] + taken["caplen"][-1]) if count else 0
        data = self.buf[:end]
        self.buf = self.buf[end:].copy()
        self.columns = {name: values[count:] for name, values in self.columns.items()}
        self.columns["rec_off"] = self.columns["rec_off"] - end
        return taken, data


class MergedReader:
    """Several capture files read as one, in time order (see the module docstring).

    The same interface as ``CaptureReader``: ``batches()``, ``info`` (records, interfaces and
    warnings of all the files), ``size_bytes``, and use as a context manager.
    """

    def __init__(self, paths: Sequence[str], progress: ProgressCallback | None = None, *, label: str = "") -> None:
        self._progress = progress
        self._paths = list(paths)
        self.info = CaptureInfo(path=label or capture_label(self._paths), file_format="merged")
        self._done_bytes = 0
        # Each file is opened once up front for its first timestamp (so a bad file fails now).
        self._waiting = sorted((_Input(i, path, _first_ts(path)) for i, path in enumerate(self._paths)),
                               key=lambda item: (item.first_ts, item.index))
        self._active: list[_Input] = []

    @property
    def size_bytes(self) -> int | None:
        """The files' total size (None if one of them is compressed or not a regular file)."""
        sizes = [CaptureReader.size_of(path) for path in self._paths]
        return None if None in sizes else sum(sizes)

    def batches(self, max_records: int = BATCH_RECORDS) -> Iterator[RecordBatch]:
        """Yield merged record batches of at most ``max_records`` records, in time order."""
        order = np.empty(max_records, np.int64)
        total = self.size_bytes if self._progress else None
        while self._active or self._waiting:
            for item in self._active:
                if not item.pending and not item.finished:
                    item.read_more()
            for item in [item for item in self._active if item.finished and not item.pending]:
                self._finish(item)
            if not self._active:
                if self._waiting:
                    self._join(max_records)
                continue
            pending = [item.pending for item in self._active]
            starts = np.concatenate([[0], np.cumsum(pending[:-1])]).astype(np.int64)
            heads = starts.copy()
            limit = self._waiting[0].first_ts if self._waiting else NEVER
            n = kernels.merge_heads(np.concatenate([item.columns["ts_ns"] for item in self._active]), heads,
                                    starts + np.array(pending, np.int64),
                                    np.array([item.finished for item in self._active]), limit, order)
            if n:
                yield self._batch(order[:n], starts, heads - starts)
                if self._progress:
                    self._progress(self.info.records, self._done_bytes, total)
            elif self._waiting and all(item.pending or item.finished for item in self._active):
                self._join(max_records)  # the next file starts before any pending record
            # else: a file ran out of pending records; it is read on at the top

    def _batch(self, order: np.ndarray, starts: np.ndarray, taken: np.ndarray) -> RecordBatch:
        """The records ``order`` picked (indices into the active files' pending records, file after
        file), as one batch over one buffer; each file gives them up (per file, a prefix)."""
        pieces, datas, base = [], [], 0
        for item, count in zip(self._active, taken.tolist()):
            columns, data = item.take(count)
            columns["rec_off"] = columns["rec_off"] + base
            pieces.append(columns)
            datas.append(data)
            base += data.size
        merged = {name: np.concatenate([piece[name] for piece in pieces]) for name in COLUMNS}
        # order indexes the pending records as they were, file after file; the taken ones of file
        # f now sit at offsets[f] onwards in the merged columns
        offsets = np.concatenate([[0], np.cumsum(taken[:-1])])
        owner = np.searchsorted(starts, order, side="right") - 1
        pick = offsets[owner] + (order - starts[owner])
        first = self.info.records + 1
        self.info.records += int(order.size)
        return RecordBatch(
            buf=np.concatenate(datas), stream_offset=0, rec_off=merged["rec_off"][pick],
            caplen=merged["caplen"][pick], origlen=merged["origlen"][pick], ts_ns=merged["ts_ns"][pick],
            iface=merged["iface"][pick].astype(np.int32), linktype=merged["linktype"][pick].astype(np.int32),
            frame=np.arange(first, first + order.size, dtype=np.int64), positions=merged["positions"][pick],
        )

    def _join(self, max_records: int) -> None:
        """The next waiting file joins the merge."""
        item = self._waiting.pop(0)
        item.open(max_records)
        self._active.append(item)
        self._active.sort(key=lambda other: other.index)  # ties between heads go to the file named first

    def _finish(self, item: _Input) -> None:
        """A file gave all its records: close it, keeping what its reader learned."""
        found = item.reader.info
        self.info.interfaces.extend(found.interfaces)
        self.info.warnings.extend(found.warnings)
        self.info.stopped_early |= found.stopped_early
        self._done_bytes += CaptureReader.size_of(item.path) or 0
        item.reader.close()
        self._active.remove(item)

    def close(self) -> None:
        for item in self._active:
            item.reader.close()
        self._active = []

    def __enter__(self) -> MergedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_ts(path: str) -> int:
    """The timestamp of a file's first record (``NEVER`` for a file without records)."""
    with CaptureReader(path) as reader:
        first = next(reader.batches(1), None)
        return NEVER if first is None else int(first.ts_ns[0])
