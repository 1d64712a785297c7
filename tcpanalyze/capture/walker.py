"""What the pcap and pcapng drivers share: batch buffers and the words for where a file stops."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from . import kernels
from .records import MAX_RECORD_LEN, CaptureInfo, RecordBatch
from .sources import Cursor


@dataclass
class RecordColumns:
    rec_off: np.ndarray
    caplen: np.ndarray
    origlen: np.ndarray
    ts_ns: np.ndarray
    iface: np.ndarray
    linktype: np.ndarray


class BatchBuffers:
    """Allocates the record columns a walker fills, and wraps what it filled as a batch."""

    def __init__(self, max_records: int) -> None:
        self.max_records = max_records
        self._out: RecordColumns | None = None

    def fresh(self) -> RecordColumns:
        n = self.max_records
        self._out = RecordColumns(
            rec_off=np.empty(n, np.int64), caplen=np.empty(n, np.int64), origlen=np.empty(n, np.int64),
            ts_ns=np.empty(n, np.int64), iface=np.empty(n, np.int32), linktype=np.empty(n, np.int32),
        )
        return self._out

    def batch(self, cursor: Cursor, info: CaptureInfo, n: int) -> RecordBatch:
        out = self._out
        assert out is not None
        first = info.records + 1
        info.records += n
        return RecordBatch(
            buf=cursor.buf, stream_offset=cursor.stream_offset,
            rec_off=out.rec_off[:n], caplen=out.caplen[:n], origlen=out.origlen[:n], ts_ns=out.ts_ns[:n],
            iface=out.iface[:n], linktype=out.linktype[:n],
            frame=np.arange(first, first + n, dtype=np.int64),
        )


def stop_warning(cursor: Cursor, info: CaptureInfo, status: int, header_len: int, length_at: int,
                 big_endian: bool) -> str | None:
    """The warning for a walker that stopped before the end of the input, or None at a clean end.

    ``header_len`` is the size of a record (block) header, ``length_at`` the offset of its length field.
    """
    if cursor.stream_error:
        return cursor.stream_error
    left = cursor.remaining
    where = f"{info.path}: after {info.records} records, at byte {cursor.offset}"
    if status == kernels.NEED_MORE:
        if left == 0:
            return None
        if left < header_len:
            return f"{where}: file ends inside a record header ({left} of {header_len} bytes); the rest is lost"
        declared = _declared_length(cursor, header_len, length_at, big_endian)
        return f"{where}: file ends inside a record ({declared} bytes declared, {left} present); the rest is lost"
    if status == kernels.ABSURD_LENGTH:
        declared = _declared_length(cursor, header_len, length_at, big_endian)
        return (f"{where}: record declares {declared} bytes, more than the {MAX_RECORD_LEN}-byte maximum; "
                f"the file is corrupt from here and reading stopped")
    if status == kernels.BAD_BLOCK:
        return f"{where}: malformed pcapng block (bad block length); reading stopped"
    if status == kernels.UNKNOWN_INTERFACE:
        return f"{where}: packet block names an interface that was never described; reading stopped"
    return f"{where}: reading stopped (walker status {status})"


def _declared_length(cursor: Cursor, header_len: int, length_at: int, big_endian: bool) -> int:
    """The length field of the record or block header at the cursor."""
    head = cursor.peek(header_len)
    return struct.unpack((">" if big_endian else "<") + "I", head[length_at : length_at + 4])[0]
