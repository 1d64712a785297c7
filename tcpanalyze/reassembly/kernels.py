"""Compiled kernels of stream reassembly: sequence numbers to stream offsets, bytes into place.

A *direction group* is the packets of one direction of one session, in capture order.
Offsets are 64-bit and relative to the first data byte of the direction, so wraparound of
the 32-bit sequence space and streams past 4 GiB need no special case after
:func:`stream_offsets`.
"""

from __future__ import annotations

import numpy as np

from ..jit import kernel

U32 = (1 << 32) - 1
HALF = 1 << 31
TH_FIN, TH_SYN, TH_RST = 0x1, 0x2, 0x4
# Offset of packets sent before a SYN that restarted the stream: far before any stream start.
ABANDONED = -(1 << 62)


@kernel(signature="(readonly(int64[:]), readonly(uint32[:]), readonly(uint16[:]), int64[::1])")
def stream_offsets(starts, seq_raw, tcp_flags, out_off):
    """The stream offset of every packet's first payload byte, per direction group.

    starts: i64[g + 1], group k is rows ``starts[k]:starts[k + 1]`` (capture order);
    seq_raw: u32, tcp_flags: u16 per row. Fills out_off (i64 per row).

    Each sequence number is unwrapped to the 64-bit value nearest the previous packet's
    (as the engine does), so a stream may wrap the 32-bit space any number of times. A SYN
    takes one sequence number: its payload and the stream start at ISN + 1. Without a SYN
    the stream starts at the lowest sequence number any non-RST packet carried, which is the
    first one seen in a capture that starts mid-stream (Wireshark's relative sequence 1).
    Packets before the stream start get negative offsets. A SYN with a new ISN restarts the
    stream (Wireshark moves its base there too): packets before it get ``ABANDONED``.
    """
    for g in range(starts.size - 1):
        a, b = starts[g], starts[g + 1]
        if a == b:
            continue
        seq0 = np.int64(seq_raw[a])
        last = np.int64(0)
        origin = np.int64(0)
        have_syn = False
        syn_seq = np.uint32(0)
        restart = a
        low = np.int64(0)
        have_low = False
        for i in range(a, b):
            step = ((np.int64(seq_raw[i]) - seq0) - last) & U32
            if step >= HALF:
                step -= 1 << 32
            last = last + step
            rel = last
            if tcp_flags[i] & TH_SYN:
                rel += 1
                if not have_syn or seq_raw[i] != syn_seq:
                    if have_syn:
                        restart = i
                    origin = rel
                    syn_seq = seq_raw[i]
                    have_syn = True
            out_off[i] = rel
            if not (tcp_flags[i] & TH_RST) and (not have_low or rel < low):
                low = rel
                have_low = True
        if not have_syn:
            origin = low if have_low else out_off[a]
        for i in range(a, b):
            out_off[i] = out_off[i] - origin if i >= restart else ABANDONED


@kernel
def _push(table, n, a, b, c, d):
    """Append a row to a growable i64[cap, 4] table holding n rows; returns the table."""
    if n == table.shape[0]:
        bigger = np.empty((2 * table.shape[0] + 8, 4), np.int64)
        bigger[:n] = table[:n]
        table = bigger
    table[n, 0] = a
    table[n, 1] = b
    table[n, 2] = c
    table[n, 3] = d
    return table


@kernel
def _union(start, end):
    """Sorted, merged intervals of [start[i], end[i]) (empty ones ignored): (starts, ends)."""
    keep = np.flatnonzero(end > start)
    order = keep[np.argsort(start[keep], kind="mergesort")]
    out_s = np.empty(order.size, np.int64)
    out_e = np.empty(order.size, np.int64)
    m = 0
    for i in order:
        if m > 0 and start[i] <= out_e[m - 1]:
            out_e[m - 1] = max(out_e[m - 1], end[i])
        else:
            out_s[m] = start[i]
            out_e[m] = end[i]
            m += 1
    return out_s[:m], out_e[:m]


@kernel
def _first_writers(pieces, conflicts):
    """Fill each conflict's first row: the row whose piece first delivered the conflict's offset.

    Pieces never overlap (each byte is delivered once), so sorted by offset they are searchable.
    """
    order = np.argsort(pieces[:, 1])
    starts = pieces[order, 1]
    for c in range(conflicts.shape[0]):
        k = np.searchsorted(starts, conflicts[c, 0], side="right") - 1
        conflicts[c, 2] = pieces[order[k], 0] if k >= 0 else -1


@kernel(signature=(
    "(readonly(int64[:]), readonly(int32[:]), readonly(int32[:]), readonly(int64[:]), "
    "readonly(uint16[:]), readonly(uint8[::1]), boolean)"))
def assemble(off, payload_len, payload_caplen, pay_start, tcp_flags, payload, last_wins):
    """Reassemble one direction group: bytes in stream order, gaps, overlaps, conflicts.

    off: i64 stream offset of each row's first payload byte (from :func:`stream_offsets`);
    payload_len / payload_caplen: i32 true and captured payload lengths; pay_start: i64
    where the row's captured bytes start in ``payload`` (u8); rows in capture order.
    last_wins: later copies of a byte replace earlier ones (the default keeps the first).

    Returns (data, gaps, gap_row, pieces, conflicts, length, seen_bytes, overlap_bytes):
    data u8, the captured bytes in stream order with gaps left out; gaps i64[k, 2]
    (offset, length) of stream ranges never captured, and gap_row i64[k], the first row in
    capture order touching each; pieces i64[p, 4] (row, offset, length, 0), the bytes each
    row delivered first, in capture order; conflicts i64[c, 4] (offset, length, first
    row, later row), where a later row's bytes differ from the first-seen ones (one per
    overlapping run of the later row, from its first differing byte to its last); length,
    the stream's extent (end of the furthest payload or sequence number seen); seen_bytes,
    stream bytes some packet carried (captured or cut by the snaplen); overlap_bytes,
    captured bytes that arrived again.
    """
    n = off.size
    fin_at = np.int64(-1)  # where the first FIN sits: packets after it are one sequence number further
    for i in range(n):
        if tcp_flags[i] & TH_FIN and (fin_at < 0 or off[i] + payload_len[i] < fin_at):
            fin_at = off[i] + payload_len[i]
    length = np.int64(0)
    cap_s = np.empty(n, np.int64)
    cap_e = np.empty(n, np.int64)
    seen_e = np.empty(n, np.int64)
    for i in range(n):
        cap_s[i] = max(off[i], 0)  # bytes before the stream start (before ISN + 1) are dropped
        cap_e[i] = max(off[i] + payload_caplen[i], cap_s[i])
        seen_e[i] = max(off[i] + payload_len[i], cap_s[i])
        end = off[i] + payload_len[i]
        if payload_len[i] == 0 and not (tcp_flags[i] & TH_FIN):
            if tcp_flags[i] & TH_RST:
                continue  # a bare RST's sequence number proves nothing about the data sent
            if fin_at >= 0 and end > fin_at:
                end -= 1  # an ACK sent after the FIN
        length = max(length, end)

    iv_s, iv_e = _union(cap_s, cap_e)
    iv_pos = np.empty(iv_s.size, np.int64)
    total = np.int64(0)
    for k in range(iv_s.size):
        iv_pos[k] = total
        total += iv_e[k] - iv_s[k]
    sv_s, sv_e = _union(cap_s, seen_e)
    seen_bytes = np.int64(0)
    for k in range(sv_s.size):
        seen_bytes += sv_e[k] - sv_s[k]

    gaps = np.empty((iv_s.size + 1, 2), np.int64)
    n_gaps = 0
    edge = np.int64(0)
    for k in range(iv_s.size):
        if iv_s[k] > edge:
            gaps[n_gaps, 0] = edge
            gaps[n_gaps, 1] = iv_s[k] - edge
            n_gaps += 1
        edge = iv_e[k]
    if length > edge:
        gaps[n_gaps, 0] = edge
        gaps[n_gaps, 1] = length - edge
        n_gaps += 1
    gaps = gaps[:n_gaps]

    data = np.empty(total, np.uint8)
    first = np.empty(total, np.uint8) if last_wins else data
    written = np.zeros(total, np.uint8)
    pieces = np.empty((n + 8, 4), np.int64)
    n_pieces = 0
    conflicts = np.empty((8, 4), np.int64)
    n_conflicts = 0
    overlap = np.int64(0)
    for i in range(n):
        count = cap_e[i] - cap_s[i]
        if count <= 0:
            continue
        k = np.searchsorted(iv_s, cap_s[i], side="right") - 1
        pos = iv_pos[k] + cap_s[i] - iv_s[k]
        src = pay_start[i] + cap_s[i] - off[i]
        j = 0
        while j < count:  # alternate runs of bytes not yet written and bytes already written
            k = j
            if written[pos + j] == 0:
                while k < count and written[pos + k] == 0:
                    k += 1
                data[pos + j : pos + k] = payload[src + j : src + k]
                if last_wins:
                    first[pos + j : pos + k] = payload[src + j : src + k]
                written[pos + j : pos + k] = 1
                pieces = _push(pieces, n_pieces, i, cap_s[i] + j, k - j, 0)
                n_pieces += 1
            else:
                while k < count and written[pos + k] != 0:
                    k += 1
                overlap += k - j
                # one conflict per overlapping run: from its first differing byte to its last
                c, e = j, k
                while c < k and first[pos + c] == payload[src + c]:
                    c += 1
                while e > c and first[pos + e - 1] == payload[src + e - 1]:
                    e -= 1
                if c < e:
                    conflicts = _push(conflicts, n_conflicts, cap_s[i] + c, e - c, -1, i)
                    n_conflicts += 1
                if last_wins:
                    data[pos + j : pos + k] = payload[src + j : src + k]
            j = k

    conflicts = conflicts[:n_conflicts]
    pieces = pieces[:n_pieces]
    _first_writers(pieces, conflicts)

    # each gap is shown where the capture first touched it: the first row whose sequence
    # range reaches into it or starts right after it
    gap_row = np.full(n_gaps, -1, np.int64)
    gap_end = gaps[:, 0] + gaps[:, 1]
    for i in range(n):
        k = np.searchsorted(gap_end, cap_s[i], side="left")
        while k < n_gaps and gaps[k, 0] <= seen_e[i]:
            if gap_row[k] < 0:
                gap_row[k] = i
            k += 1
    return (data, gaps, gap_row, pieces, conflicts, length, seen_bytes, overlap)
