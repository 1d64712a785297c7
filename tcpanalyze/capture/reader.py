"""Open any supported capture and read it as record batches."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from ..errors import CaptureError
from .pcap import read_pcap, is_pcap
from .pcapng import read_pcapng, is_pcapng
from .records import CaptureInfo, RecordBatch
from .sources import GZIP_MAGIC, Source

# Records per batch: large enough that kernel calls amortise, small enough to bound memory
# (the engine's per-batch arrays and its flow table's spare room scale with it). Measured on
# the 2M-packet benchmark capture, peak RSS of session analysis in-process: 1 << 18: 552 MB,
# 1 << 16: 407 MB, 1 << 15: 386 MB; CPU time the same within noise once numba's threads wait
# passively between batches (see ``tcpanalyze/__init__.py``).
BATCH_RECORDS = 1 << 15

# Called after each batch with (records read, bytes read, total bytes or None when unknown).
ProgressCallback = Callable[[int, int, int | None], None]


class CaptureReader:
    """A capture file (pcap, pcapng, gzip of either, or ``-`` for stdin) read in batches.

    >>> with CaptureReader("trace.pcap") as reader:
    ...     for batch in reader.batches():
    ...         ...
    >>> reader.info.records, reader.info.warnings

    ``progress`` is called after each batch (see ``ProgressCallback``); the total is known for
    an uncompressed regular file only.
    """

    def __init__(self, path: str, progress: ProgressCallback | None = None) -> None:
        self._source = Source(path)
        self._progress = progress
        self.info = CaptureInfo(path=self._source.label, compressed=self._source.compressed)
        cursor = self._source.cursor
        cursor.ensure(4)
        self._magic = cursor.peek(4)
        if not self._magic and cursor.stream_error:
            # Not one byte came out (e.g. gzip magic followed by garbage): nothing here is readable.
            self.close()
            raise CaptureError(cursor.stream_error)
        if not self._magic:
            self._reader = None
            self.info.file_format = "empty"
        elif is_pcap(self._magic):
            self._reader = read_pcap
        elif is_pcapng(self._magic):
            self._reader = read_pcapng
        else:
            self.close()
            what = "gzip data that is not" if self.info.compressed else "not"
            raise CaptureError(f"{self.info.path}: {what} a pcap or pcapng capture "
                               f"(starts with {self._magic.hex(' ')}, expected a pcap or pcapng magic number)")

    def batches(self, max_records: int = BATCH_RECORDS) -> Iterator[RecordBatch]:
        """Yield record batches in file order; warnings about the file land in ``info.warnings``."""
        if self._reader is None:
            if self._source.cursor.stream_error:
                self.info.stop(self._source.cursor.stream_error)
            else:
                self.info.warnings.append(f"{self.info.path}: file is empty (0 bytes), no records")
            return
        cursor = self._source.cursor
        total = self.size_bytes if self._progress else None
        for batch in self._reader(cursor, self.info, max_records):
            yield batch
            cursor.release_consumed()  # the consumer is done with the batch's bytes
            if self._progress:
                self._progress(self.info.records, cursor.offset, total)
        if self.info.records == 0 and not self.info.warnings:
            self.info.warnings.append(f"{self.info.path}: capture holds no records (file ends after its header)")

    @staticmethod
    def size_of(path: str) -> int | None:
        """Size of a capture file on disk, or None when it is not known up front (standard
        input, a compressed or an irregular file)."""
        try:
            if path == "-" or not os.path.isfile(path):
                return None
            with open(path, "rb") as handle:
                if handle.read(2) == GZIP_MAGIC:
                    return None
            return os.stat(path).st_size or None
        except OSError:
            return None

    @property
    def size_bytes(self) -> int | None:
        """Size of the capture file (None for stdin and compressed files: not known up front)."""
        if self.info.compressed or self._source.path == "-":
            return None
        return os.stat(self._source.path).st_size or None

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> "CaptureReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
