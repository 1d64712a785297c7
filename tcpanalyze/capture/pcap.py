"""Classic pcap (libpcap) files: both byte orders, micro- and nanosecond timestamps."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from ..errors import CaptureError
from . import kernels
from .records import CaptureInfo, Interface, RecordBatch
from .sources import Cursor
from .walker import BatchBuffers, stop_warning

FILE_HEADER_LEN = 24
# magic as read little-endian -> (big_endian, ns per fraction unit, record header length)
MAGICS = {
    0xA1B2C3D4: (False, 1000, 16),
    0xD4C3B2A1: (True, 1000, 16),
    0xA1B23C4D: (False, 1, 16),
    0x4D3CB2A1: (True, 1, 16),
    # Alexey Kuznetsov's "modified" pcap adds ifindex, protocol and pkt_type to each record.
    0xA1B2CD34: (False, 1000, 24),
    0x34CDB2A1: (True, 1000, 24),
}
# The link-type field's upper 6 bits carry FCS information (pcap-savefile(5)); libpcap's
# LT_LINKTYPE keeps the low 26 bits.
LINKTYPE_MASK = 0x03FFFFFF


def is_pcap(magic: bytes) -> bool:
    return len(magic) >= 4 and struct.unpack("<I", magic[:4])[0] in MAGICS


def read_pcap(cursor: Cursor, info: CaptureInfo, max_records: int) -> Iterator[RecordBatch]:
    """Yield the records of a classic pcap file as batches of at most ``max_records``."""
    if not cursor.ensure(FILE_HEADER_LEN):
        raise CaptureError(f"{info.path}: pcap file header is cut off ({cursor.remaining} of {FILE_HEADER_LEN} bytes)")
    header = cursor.peek(FILE_HEADER_LEN)
    big_endian, ns_per_fraction, record_header_len = MAGICS[struct.unpack("<I", header[:4])[0]]
    order = ">" if big_endian else "<"
    major, minor, _zone, _sigfigs, snaplen, network = struct.unpack(order + "HHiIII", header[4:])
    if major != 2:
        raise CaptureError(f"{info.path}: pcap major version {major} is not supported (expected 2)")
    info.file_format = "pcap-ns" if ns_per_fraction == 1 else "pcap"
    linktype = network & LINKTYPE_MASK
    info.interfaces.append(Interface(linktype=linktype, snaplen=snaplen,
                                     units_per_second=10**9 if ns_per_fraction == 1 else 10**6))
    cursor.pos += FILE_HEADER_LEN

    buffers = BatchBuffers(max_records)
    while True:
        out = buffers.fresh()
        n, pos, status = kernels.walk_pcap(cursor.buf, cursor.pos, big_endian, ns_per_fraction, record_header_len,
                                           max_records, out.rec_off, out.caplen, out.origlen, out.ts_ns)
        cursor.pos = pos
        if n:
            out.iface[:n] = 0
            out.linktype[:n] = linktype
            yield buffers.batch(cursor, info, n)
        if status == kernels.FULL:
            continue
        if status == kernels.NEED_MORE and cursor.refill():
            continue
        warning = stop_warning(cursor, info, status, record_header_len, 8, big_endian)
        if warning:
            info.stop(warning)
        return
