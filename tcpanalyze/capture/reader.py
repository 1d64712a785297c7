"""Open any supported capture and read it as record batches."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import CaptureError
from .pcap import read_pcap, is_pcap
from .pcapng import read_pcapng, is_pcapng
from .records import CaptureInfo, RecordBatch
from .sources import Source

# Records per batch: large enough that kernel calls amortise, small enough to bound memory.
BATCH_RECORDS = 1 << 18


class CaptureReader:
    """A capture file (pcap, pcapng, gzip of either, or ``-`` for stdin) read in batches.

    >>> with CaptureReader("trace.pcap") as reader:
    ...     for batch in reader.batches():
    ...         ...
    >>> reader.info.records, reader.info.warnings
    """

    def __init__(self, path: str) -> None:
        self._source = Source(path)
        self.info = CaptureInfo(path=self._source.label, compressed=self._source.compressed)
        cursor = self._source.cursor
        cursor.ensure(4)
        self._magic = cursor.peek(4)
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
            self.info.warnings.append(self._source.cursor.stream_error
                                      or f"{self.info.path}: file is empty (0 bytes), no records")
            return
        yield from self._reader(self._source.cursor, self.info, max_records)
        if self.info.records == 0 and not self.info.warnings:
            self.info.warnings.append(f"{self.info.path}: capture holds no records (file ends after its header)")

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> "CaptureReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
