"""Compiled record walkers: they find records in a byte window and fill record columns.

Each walker starts at ``pos`` in ``buf`` and stops at the first of: ``max_records`` records
written (FULL), the end of the complete records in the window (NEED_MORE), a block the
Python layer must parse (PYTHON_BLOCK, pcapng only), or a length that cannot be right
(ABSURD_LENGTH, BAD_BLOCK). It returns ``(records_written, new_pos, status)``; ``new_pos``
is the start of the first record not consumed, so nothing before it is ever lost.
"""

from __future__ import annotations

import numpy as np

from ..jit import kernel
from .records import MAX_RECORD_LEN

FULL = 0
NEED_MORE = 1
ABSURD_LENGTH = 2
PYTHON_BLOCK = 3
BAD_BLOCK = 4
UNKNOWN_INTERFACE = 5

PCAP_RECORD_HEADER = 16
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_IDB = 1
PCAPNG_OPB = 2  # obsolete Packet Block
PCAPNG_SPB = 3
PCAPNG_EPB = 6
# Custom Blocks (copyable, non-copyable): not packets, but Wireshark numbers each as a frame.
PCAPNG_CUSTOM = 0x00000BAD
PCAPNG_CUSTOM_NOCOPY = 0x40000BAD
NO_INTERFACE = -1
# Wireshark refuses pcapng blocks above 16 MiB (MAX_BLOCK_SIZE in wiretap/pcapng.c).
MAX_BLOCK_LEN = 16 << 20
NS_PER_S = 1_000_000_000


@kernel
def read_u16(buf, p, big_endian):
    if big_endian:
        return (np.int64(buf[p]) << 8) | np.int64(buf[p + 1])
    return (np.int64(buf[p + 1]) << 8) | np.int64(buf[p])


@kernel
def read_u32(buf, p, big_endian):
    if big_endian:
        return (np.int64(buf[p]) << 24) | (np.int64(buf[p + 1]) << 16) | (np.int64(buf[p + 2]) << 8) | np.int64(buf[p + 3])
    return (np.int64(buf[p + 3]) << 24) | (np.int64(buf[p + 2]) << 16) | (np.int64(buf[p + 1]) << 8) | np.int64(buf[p])


@kernel
def units_to_ns(ts, units_per_second):
    """Timestamp ``ts`` counted in 1/units_per_second seconds, as int64 nanoseconds."""
    if units_per_second == NS_PER_S:
        return ts
    if units_per_second < NS_PER_S and NS_PER_S % units_per_second == 0:
        return ts * (NS_PER_S // units_per_second)
    if units_per_second > NS_PER_S and units_per_second % NS_PER_S == 0:
        return ts // (units_per_second // NS_PER_S)
    seconds = ts // units_per_second
    fraction = ts - seconds * units_per_second
    if units_per_second <= (1 << 33):
        return seconds * NS_PER_S + (fraction * NS_PER_S) // units_per_second
    if units_per_second & (units_per_second - 1) == 0:
        # 2^k ticks per second, k > 33: fraction * 10^9 would overflow int64 and a float
        # loses the low bits, so divide the fraction's two 32-bit halves in turn (exact floor).
        shift = 0
        while (np.int64(1) << (shift + 32)) < units_per_second:
            shift += 1
        high = fraction >> 32
        low = fraction & 0xFFFFFFFF
        return seconds * NS_PER_S + ((high * NS_PER_S + ((low * NS_PER_S) >> 32)) >> shift)
    return seconds * NS_PER_S + np.int64(fraction * (NS_PER_S / units_per_second))


@kernel(nogil=True, signature=(
    "(readonly(uint8[::1]), int64, boolean, int64, int64, int64, int64[::1], int64[::1], int64[::1], "
    "int64[::1])"))
def walk_pcap(buf, pos, big_endian, ns_per_fraction, record_header_len, max_records, rec_off, caplen, origlen, ts_ns):
    """Walk classic pcap records.

    buf: uint8 window; pos: offset of the next record header; big_endian: file byte order;
    ns_per_fraction: 1000 for microsecond files, 1 for nanosecond files;
    record_header_len: 16, or 24 for Kuznetsov's modified pcap.
    Fills rec_off (int64, start of packet data), caplen, origlen (int64) and ts_ns (int64).
    """
    end = buf.size
    n = 0
    while n < max_records:
        if end - pos < record_header_len:
            return n, pos, NEED_MORE
        incl = read_u32(buf, pos + 8, big_endian)
        if incl > MAX_RECORD_LEN:
            return n, pos, ABSURD_LENGTH
        if end - pos - record_header_len < incl:
            return n, pos, NEED_MORE
        seconds = read_u32(buf, pos, big_endian)
        fraction = read_u32(buf, pos + 4, big_endian)
        ts_ns[n] = seconds * NS_PER_S + fraction * ns_per_fraction
        rec_off[n] = pos + record_header_len
        caplen[n] = incl
        origlen[n] = read_u32(buf, pos + 12, big_endian)
        pos += record_header_len + incl
        n += 1
    return n, pos, FULL


@kernel(nogil=True, signature=(
    "(readonly(uint8[::1]), int64, boolean, readonly(int32[::1]), readonly(int64[::1]), "
    "readonly(int64[::1]), readonly(int64[::1]), int64, int64, int64[::1], int64[::1], int64[::1], "
    "int64[::1], int32[::1])"))
def walk_pcapng(buf, pos, big_endian, if_global, if_units, if_offset_ns, if_snaplen, last_ts_ns,
                max_records, rec_off, caplen, origlen, ts_ns, iface):
    """Walk pcapng blocks of one section whose interfaces are already known.

    if_*: per section-local interface id: global interface index, timestamp units per
    second, if_tsoffset in ns, snaplen (0 = none). last_ts_ns stamps Simple Packet Blocks,
    which carry no timestamp. Stops with PYTHON_BLOCK at a Section Header or Interface
    Description Block (the Python layer parses those). Custom Blocks become empty records on
    no interface (-1), because Wireshark counts them as frames; other blocks are skipped.
    Returns (records_written, new_pos, status, last_ts_ns).
    """
    end = buf.size
    n = 0
    n_if = if_global.size
    while n < max_records:
        if end - pos < 12:
            return n, pos, NEED_MORE, last_ts_ns
        btype = read_u32(buf, pos, big_endian)
        if btype == PCAPNG_SHB:
            return n, pos, PYTHON_BLOCK, last_ts_ns
        blen = read_u32(buf, pos + 4, big_endian)
        if blen < 12 or blen % 4 != 0:
            return n, pos, BAD_BLOCK, last_ts_ns
        if blen > MAX_BLOCK_LEN:
            return n, pos, ABSURD_LENGTH, last_ts_ns
        if end - pos < blen:
            return n, pos, NEED_MORE, last_ts_ns
        if read_u32(buf, pos + blen - 4, big_endian) != blen:
            return n, pos, BAD_BLOCK, last_ts_ns
        if btype == PCAPNG_IDB:
            return n, pos, PYTHON_BLOCK, last_ts_ns
        if btype == PCAPNG_EPB or btype == PCAPNG_OPB:
            if blen < 32:
                return n, pos, BAD_BLOCK, last_ts_ns
            if btype == PCAPNG_EPB:
                local_if = read_u32(buf, pos + 8, big_endian)
            else:
                local_if = read_u16(buf, pos + 8, big_endian)
            incl = read_u32(buf, pos + 20, big_endian)
            if incl > MAX_RECORD_LEN:
                return n, pos, ABSURD_LENGTH, last_ts_ns
            if incl > blen - 32:
                return n, pos, BAD_BLOCK, last_ts_ns
            if local_if >= n_if:
                return n, pos, UNKNOWN_INTERFACE, last_ts_ns
            raw_ts = (read_u32(buf, pos + 12, big_endian) << 32) | read_u32(buf, pos + 16, big_endian)
            last_ts_ns = units_to_ns(raw_ts, if_units[local_if]) + if_offset_ns[local_if]
            ts_ns[n] = last_ts_ns
            rec_off[n] = pos + 28
            caplen[n] = incl
            origlen[n] = read_u32(buf, pos + 24, big_endian)
            iface[n] = if_global[local_if]
            n += 1
        elif btype == PCAPNG_SPB:
            if blen < 16:
                return n, pos, BAD_BLOCK, last_ts_ns
            if n_if == 0:
                return n, pos, UNKNOWN_INTERFACE, last_ts_ns
            wire_len = read_u32(buf, pos + 8, big_endian)
            incl = min(wire_len, blen - 16)
            if if_snaplen[0] > 0:
                incl = min(incl, if_snaplen[0])
            ts_ns[n] = last_ts_ns
            rec_off[n] = pos + 12
            caplen[n] = incl
            origlen[n] = wire_len
            iface[n] = if_global[0]
            n += 1
        elif btype == PCAPNG_CUSTOM or btype == PCAPNG_CUSTOM_NOCOPY:
            ts_ns[n] = last_ts_ns
            rec_off[n] = pos + 8
            caplen[n] = 0
            origlen[n] = 0
            iface[n] = NO_INTERFACE
            n += 1
        pos += blen
    return n, pos, FULL, last_ts_ns


@kernel(nogil=True, signature="(readonly(uint8[::1]), readonly(int64[:]), readonly(int64[:]), uint8[::1], readonly(int64[:]))")
def gather(buf, src, length, out, dst):
    """Copy ``length[i]`` bytes from ``buf[src[i]:]`` to ``out[dst[i]:]`` for every row i.

    Every range is checked against both buffers first; a bad one raises ValueError.
    """
    for i in range(src.size):
        n = length[i]
        if n <= 0:
            continue
        if src[i] < 0 or src[i] + n > buf.size or dst[i] < 0 or dst[i] + n > out.size:
            raise ValueError("payload range outside the buffer")
        out[dst[i] : dst[i] + n] = buf[src[i] : src[i] + n]


@kernel(nogil=True, signature="(readonly(int64[::1]), int64[::1], readonly(int64[::1]), readonly(boolean[::1]), int64, int64[::1])")
def merge_heads(ts, heads, ends, finished, limit, order):
    """Merge the pending records of several files by timestamp, as mergecap does.

    ts: the pending records' timestamps, file after file; heads[f]: the index in ts of file
    f's next record (advanced in place); ends[f]: one past its last pending record;
    finished[f]: no record will come from file f after those. Writes record indices into
    ``order``, always the earliest head (ties: the lowest file), so each file keeps its own
    order. Stops when ``order`` is full, when a file that is not finished has no pending record
    (it must be read further first), or when the earliest head is at or after ``limit`` (where
    a file not opened yet starts). Returns how many indices were written.
    """
    n = 0
    while n < order.size:
        best = -1
        for f in range(heads.size):
            if heads[f] < ends[f]:
                if best < 0 or ts[heads[f]] < ts[heads[best]]:
                    best = f
            elif not finished[f]:
                return n
        if best < 0 or ts[heads[best]] >= limit:
            return n
        order[n] = heads[best]
        heads[best] += 1
        n += 1
    return n
