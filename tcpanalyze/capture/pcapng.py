"""pcapng files: several sections and interfaces, enhanced/simple/obsolete packet blocks.

The compiled walker handles packet blocks and skips blocks it does not know; Section
Header and Interface Description Blocks (a handful per file) are parsed here in Python.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np

from ..errors import CaptureError
from . import kernels
from .records import CaptureInfo, Interface, RecordBatch
from .sources import Cursor
from .walker import BatchBuffers, stop_warning

SHB_MAGIC = b"\x0a\x0d\x0d\x0a"
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_ENDOFOPT = 0
IF_NAME = 2
IF_TSRESOL = 9
IF_TSOFFSET = 14
INT64_MAX = 2**63 - 1


class BlockError(Exception):
    """A Section Header or Interface Description Block that cannot be parsed."""


def is_pcapng(magic: bytes) -> bool:
    return magic[:4] == SHB_MAGIC


class _Section:
    """The interfaces of the current section, as the arrays the walker reads."""

    def __init__(self, big_endian: bool, index: int) -> None:
        self.big_endian = big_endian
        self.index = index
        self.global_ids: list[int] = []
        self.arrays = self._arrays([])

    def add(self, global_id: int, iface: Interface) -> None:
        self.global_ids.append(global_id)
        self.arrays = self._arrays(self.global_ids, iface)

    def _arrays(self, ids: list[int], new: Interface | None = None) -> tuple[np.ndarray, ...]:
        if new is None:
            return (np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
        g, units, offset, snap = self.arrays
        return (
            np.append(g, np.int32(ids[-1])),
            np.append(units, np.int64(new.units_per_second)),
            np.append(offset, np.int64(new.ts_offset_s * 1_000_000_000)),
            np.append(snap, np.int64(new.snaplen)),
        )


def read_pcapng(cursor: Cursor, info: CaptureInfo, max_records: int) -> Iterator[RecordBatch]:
    """Yield the records of a pcapng file as batches of at most ``max_records``."""
    info.file_format = "pcapng"
    try:
        section = _read_section_header(cursor, info, 0)
    except BlockError as exc:
        raise CaptureError(f"{info.path}: not a readable pcapng file: {exc}") from None
    linktypes = np.empty(0, np.int32)
    last_ts = 0
    buffers = BatchBuffers(max_records)
    while True:
        out = buffers.fresh()
        g, units, offset, snap = section.arrays
        n, pos, status, last_ts = kernels.walk_pcapng(cursor.buf, cursor.pos, section.big_endian, g, units, offset, snap,
                                                      last_ts, max_records, out.rec_off, out.caplen, out.origlen,
                                                      out.ts_ns, out.iface)
        cursor.pos = pos
        if n:
            iface = out.iface[:n]
            out.linktype[:n] = np.where(iface >= 0, linktypes[np.maximum(iface, 0)] if linktypes.size else -1,
                                        kernels.NO_INTERFACE)
            yield buffers.batch(cursor, info, n)
        if status == kernels.FULL:
            continue
        if status == kernels.PYTHON_BLOCK:
            try:
                if cursor.peek(4) == SHB_MAGIC:
                    section = _read_section_header(cursor, info, section.index + 1)
                else:
                    iface = _read_interface(cursor, section)
                    section.add(len(info.interfaces), iface)
                    info.interfaces.append(iface)
                    linktypes = np.append(linktypes, np.int32(iface.linktype))
                continue
            except BlockError as exc:
                info.stop(f"{info.path}: after {info.records} records, at byte {cursor.offset}: {exc}; reading stopped")
                return
        if status == kernels.NEED_MORE and cursor.refill():
            continue
        warning = stop_warning(cursor, info, status, 12, 4, section.big_endian)
        if warning:
            info.stop(warning)
        return


def _whole_block(cursor: Cursor, big_endian: bool, minimum: int) -> bytes:
    """The bytes of the block at the cursor, checked for length, consumed from the cursor."""
    order = ">" if big_endian else "<"
    if not cursor.ensure(8):
        raise BlockError(f"file ends inside a block header ({cursor.remaining} of 8 bytes)")
    length = struct.unpack(order + "I", cursor.peek(8)[4:8])[0]
    if length < minimum or length % 4 or length > kernels.MAX_BLOCK_LEN:
        raise BlockError(f"block length {length} is impossible")
    if not cursor.ensure(length):
        raise BlockError(f"file ends inside a {length}-byte block ({cursor.remaining} bytes present)")
    block = cursor.peek(length)
    if struct.unpack(order + "I", block[-4:])[0] != length:
        raise BlockError("block's trailing length does not match its leading length")
    cursor.pos += length
    return block


def _read_section_header(cursor: Cursor, info: CaptureInfo, index: int) -> _Section:
    if not cursor.ensure(12):
        raise BlockError(f"file ends inside a section header ({cursor.remaining} of 12 bytes)")
    magic = struct.unpack("<I", cursor.peek(12)[8:12])[0]
    if magic == BYTE_ORDER_MAGIC:
        big_endian = False
    elif magic == struct.unpack(">I", struct.pack("<I", BYTE_ORDER_MAGIC))[0]:
        big_endian = True
    else:
        raise BlockError(f"section header has a bad byte-order magic 0x{magic:08x}")
    block = _whole_block(cursor, big_endian, 28)
    order = ">" if big_endian else "<"
    major = struct.unpack(order + "H", block[12:14])[0]
    if major != 1:
        raise BlockError(f"pcapng version {major} is not supported (expected 1)")
    _options(block[24:-4], order)
    return _Section(big_endian, index)


def _read_interface(cursor: Cursor, section: _Section) -> Interface:
    order = ">" if section.big_endian else "<"
    block = _whole_block(cursor, section.big_endian, 20)
    linktype, _reserved, snaplen = struct.unpack(order + "HHI", block[8:16])
    units, offset_s, name = 1_000_000, 0, ""
    for code, value in _options(block[16:-4], order):
        if code == IF_TSRESOL and value:
            exponent = value[0] & 0x7F
            units = 2**exponent if value[0] & 0x80 else 10**exponent
            resolution = f"{2 if value[0] & 0x80 else 10}^-{exponent} s"
        elif code == IF_TSOFFSET and len(value) >= 8:
            offset_s = struct.unpack(order + "q", value[:8])[0]
        elif code == IF_NAME:
            name = value.decode("utf-8", "replace").rstrip("\x00")
    # The walker holds units and the offset in ns as int64 (Wireshark refuses resolutions
    # past 2^63 and 10^19, its units being uint64).
    if units > INT64_MAX:
        raise BlockError(f"interface time stamp resolution {resolution} is not supported")
    if abs(offset_s) > INT64_MAX // 1_000_000_000:
        raise BlockError(f"interface time stamp offset of {offset_s} s is out of range")
    return Interface(linktype=linktype, snaplen=snaplen, name=name, units_per_second=units,
                     ts_offset_s=offset_s, section=section.index)


def _options(body: bytes, order: str) -> list[tuple[int, bytes]]:
    """Parse a block's option list; a length running past the block is a BlockError."""
    options = []
    pos = 0
    while pos + 4 <= len(body):
        code, length = struct.unpack(order + "HH", body[pos : pos + 4])
        if code == OPT_ENDOFOPT:
            break
        if pos + 4 + length > len(body):
            raise BlockError(f"option {code} of length {length} runs past the end of its block")
        options.append((code, body[pos + 4 : pos + 4 + length]))
        pos += 4 + ((length + 3) & ~3)
    return options
