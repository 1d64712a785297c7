"""The per-packet TCP state machine: Wireshark's sequence analysis plus per-session statistics.

``analyze_packets`` walks a batch in file order. For each packet it evaluates Wireshark's
``tcp.analysis.*`` conditions in Wireshark's order (reference/tcp-analysis-semantics.md
§1.2), on raw 32-bit numbers and with Wireshark's "0 = not known yet" convention, then
updates the per-direction state and the session statistics (64-bit relative sequence
numbers, so sessions longer than 4 GiB stay right).

Unacknowledged segments (for RTT, bytes in flight and Wireshark's ACK matching) live in a
shared pool of linked entries, at most ``MAX_UNACKED_SEGMENTS`` per direction as in
Wireshark; the caller keeps enough entries free for one batch.
"""

from __future__ import annotations

import numpy as np

from ..decode.columns import OPT_MSS, OPT_SACK, OPT_SACK_PERM, OPT_TIMESTAMP, OPT_WSCALE
from ..decode.columns import SACK_LE1 as SACK_LE1_DECODE
from ..decode.columns import SACK_RE1 as SACK_RE1_DECODE
from ..decode.columns import TS_VAL as TS_VAL_DECODE
from ..jit import kernel
from . import flags as fl
from .flags import (
    RESEND_DUPLICATE, RESEND_LOST_BEFORE_CAPTURE, RESEND_NONE, RESEND_REORDERED, RESEND_RETRANSMISSION,
)
from .layout import (
    BITS, BYTES_AFTER_PEER_FIN, COPY_NEXT, COPY_RING, COPY_RING_LO, DATA_END, DATA_PKTS, DSACKS, DUPLICATES, FIRST_ACK_TS, FIRST_FLAGS, DUPACKNUM, FIN_ACKED, FIN_END, FIN_TS, FIRST_RTT, FLAG_COUNT,
    ANCHOR_ACK, ANCHOR_END, ANCHOR_ID, HANDSHAKE_ACK_TS, HOLE_LO, ID_PAIRS, ID_STEPS, LAST_IP_ID, MAX_PAYLOAD, REFILLED, SENT_TO,
    SINCE_ANCHOR, HOLE_ROWS, IRTT_ORIG, IRTT_RESP, LAST_DATA_TS, LAST_SEQ, LAST_WINDOW, LASTACK, LASTACKTIME, LASTNONDUPACK, LAST_SYNACK_TS, LASTSEGMENTFLAGS, LONGEST_IDLE, LOST_BEFORE_CAPTURE,
    MAX_ACK, MAX_BIF, MAX_DATA_END, MAX_END, MAX_HOLES, MAX_NEXT_SEQ, MAX_UNACKED_SEGMENTS, MAX_WIN, MAXSEQTOBEACKED, MIN_WIN, MRU_SYN_TS, MSS_VALUE, NEXTSEQ,
    NEXTSEQFRAME, NEXTSEQTIME, PAYLOAD_BYTES, PKTS, PREV_TS, REORDERED, RETRANS_BYTES, RETRANS_DATA_PKTS, RETRANS_PKTS, RST_PKTS, RST_TS, RST_UNACKED,
    RTT_AMBIGUOUS, RTT_MAX, RTT_MIN, RTT_N, RTT_SUM, RTT_SUMSQ, SACK_COUNT, SACK_LE1, SACK_PERMITTED, SACK_RE1, SCALE_NONE,
    SCALE_UNKNOWN, IS_FIRST_ACK, SEG_FRAME, SEG_NEXT, SEG_NEXTSEQ, SEG_RETRANSMITTED, SEG_SEQ, SEG_TS, SEGMENT_COUNT,
    SEGMENT_HEAD, SENT_SYN, SENT_SYNACK, SIMULTANEOUS_CLOSE, SYN_PKTS, SYN_TS, SYNACK_PKTS,
    SYNACKS_AFTER_ACK, TIMESTAMPS, UNIQUE_BYTES, VALID_BIF, WIN_SCALE, WINDOW,
    WSCALE_OPTION, ZERO_WIN_PKTS, ZW_COUNT, ZW_LONGEST, ZW_PROBES, ZW_START, ZW_TOTAL,
)

TH_FIN = 0x01
TH_SYN = 0x02
TH_RST = 0x04
TH_ACK = 0x10
SFR = TH_SYN | TH_FIN | TH_RST
U32 = 0xFFFFFFFF

# Wireshark's hard-coded thresholds (packet-tcp.c): a fast retransmission comes within 20 ms
# of the duplicate ACKs; out-of-order within the initial RTT, or 3 ms before it is known.
FAST_RETRANSMISSION_WINDOW_NS = 20_000_000
OUT_OF_ORDER_DEFAULT_NS = 3_000_000
# Wireshark ignores bytes-in-flight values at or above this (a sign of confusion).
MAX_BYTES_IN_FLIGHT = 2_000_000_000
MAX_WINDOW_SHIFT = 14  # RFC 7323
# Wireshark stores at most 3 SACK blocks per segment for its bytes-in-flight estimate.
SACK_BLOCKS_FOR_BIF = 3

# SPAN ports copy within microseconds to a few ms; a real retransmission waits an RTT at least,
# a timeout 200 ms (and many stacks reuse the IP ID on a retransmission, hence a time limit).
DUPLICATE_WITHIN_NS = 5_000_000
# Sent stamps: a packet's TCP timestamp value (bit 32: present) and IPv4 ID (bit 49: present).
STAMP_TS, STAMP_ID, STAMP_ID_SHIFT = 1 << 32, 1 << 49, 33
# IP IDs this close (either way) are read as one counter's values; farther, as random IDs.
IP_ID_COUNTER_SPAN = 4096
# A sender's IPv4 IDs count its packets (one counter per connection, as Linux keeps) when at
# least 9 in 10 of at least this many consecutive packets in order at the frontier took the
# next ID; gaps of this many IDs or more are not read as lost packets.
ID_MIN_PAIRS = 8
ID_GAP_LIMIT = 1024
# No sender's loss probe or retransmission timer fires sooner than this after the session's
# previous packet; a missing ID closer than that is a capture that reordered (loopback, SMP).
TAIL_RESEND_MIN_IDLE_NS = 1_000_000

# per-packet output rows (i64)
OUT_FLAGS, OUT_DUPACK_NUM, OUT_DUPACK_FRAME, OUT_ACKS_FRAME, OUT_ACK_RTT, OUT_BIF, OUT_WIN, OUT_REL_SEQ, \
    OUT_REL_ACK, OUT_RTO, OUT_RTO_FRAME, OUT_IRTT, OUT_DSACK, OUT_RST_IN_WINDOW, OUT_COPY_GAP, OUT_RESEND = range(16)
N_OUT = 16
OUT_ROWS = {"analysis_flags": OUT_FLAGS, "dupack_num": OUT_DUPACK_NUM, "dupack_frame": OUT_DUPACK_FRAME,
            "acks_frame": OUT_ACKS_FRAME, "ack_rtt_ns": OUT_ACK_RTT, "bytes_in_flight": OUT_BIF, "window": OUT_WIN,
            "seq_rel": OUT_REL_SEQ, "ack_rel": OUT_REL_ACK, "rto_ns": OUT_RTO, "rto_frame": OUT_RTO_FRAME,
            "irtt_ns": OUT_IRTT, "dsack": OUT_DSACK, "rst_in_window": OUT_RST_IN_WINDOW, "copy_gap_ns": OUT_COPY_GAP,
            "resend": OUT_RESEND}
# The results of a packet left out of the analysis (a wrong IPv4 header or TCP checksum): no flags, no resend, no values.
OUT_NOTHING = np.full(N_OUT, -1, np.int64)
OUT_NOTHING[[OUT_FLAGS, OUT_DUPACK_NUM, OUT_DSACK]] = 0
OUT_NOTHING[OUT_RESEND] = RESEND_NONE


@kernel(inline="always")
def unsigned_less(a, b):
    """a < b with both int64 values read as unsigned, as Wireshark holds its time gaps (guint64):
    a negative gap (the capture's clock stepped back) is huge, so never "within" a window."""
    if (a < 0) == (b < 0):
        return a < b
    return b < 0


@kernel(inline="always")
def seq_diff(a, b):
    """a - b on the 32-bit sequence circle, as a signed number."""
    d = (np.int64(a) - np.int64(b)) & U32
    return d - (1 << 32) if d >= (1 << 31) else d


@kernel(inline="always")
def unwrap(raw_rel, last):
    """The 64-bit value closest to ``last`` whose low 32 bits are ``raw_rel``."""
    if last < 0:
        return raw_rel
    return last + seq_diff(raw_rel, last & U32)


@kernel(inline="always")
def _alloc_segment(pool, seg_i64):
    idx = pool[0]
    pool[0] = seg_i64[idx, SEG_NEXT]
    pool[1] -= 1
    return idx


@kernel(inline="always")
def _free_segment(pool, seg_i64, idx):
    seg_i64[idx, SEG_NEXT] = pool[0]
    pool[0] = idx
    pool[1] += 1


@kernel(signature="(readonly(int64[:]), uint32[:, ::1], int64[:, ::1], int64[:, ::1], int64[::1])")
def release_segments(columns, d_u32, d_i64, seg_i64, pool):
    """Return every unacked segment of the given direction columns to the pool."""
    for c in columns:
        idx = d_i64[c, SEGMENT_HEAD]
        while idx >= 0:
            nxt = seg_i64[idx, SEG_NEXT]
            _free_segment(pool, seg_i64, idx)
            idx = nxt
        d_i64[c, SEGMENT_HEAD] = -1
        d_u32[c, SEGMENT_COUNT] = 0


@kernel(inline="always")
def _take_options(f, r, flags, options, mss, wscale, d_u32, d_i8):
    """Options, after the sequence analysis as in Wireshark: the window scale (clamped to 14,
    stored from any segment carrying it), MSS, SACK-permitted and timestamps from SYNs; then
    Wireshark's check that scaling is off unless both SYNs offered it."""
    bits = d_i8[f, BITS]
    if options & OPT_WSCALE:
        d_i8[f, WIN_SCALE] = min(np.int64(wscale), MAX_WINDOW_SHIFT)
        bits |= WSCALE_OPTION
    if flags & TH_SYN:
        if options & OPT_MSS:
            d_u32[f, MSS_VALUE] = mss
        if options & OPT_SACK_PERM:
            bits |= SACK_PERMITTED
        if options & OPT_TIMESTAMP:
            bits |= TIMESTAMPS
        if d_i8[f, WIN_SCALE] == SCALE_UNKNOWN:
            d_i8[f, WIN_SCALE] = SCALE_NONE
            d_i8[r, WIN_SCALE] = SCALE_NONE
        elif (flags & TH_ACK) and d_i8[r, WIN_SCALE] == SCALE_NONE:
            d_i8[f, WIN_SCALE] = SCALE_NONE
    d_i8[f, BITS] = bits


@kernel(inline="always")
def _scaled_window(win, flags, scale, default_scale):
    """The window in bytes: SYN windows are never scaled; unknown scale uses the default."""
    if flags & TH_SYN:
        return np.int64(win)
    if scale >= 0:
        return np.int64(win) << scale
    if scale == SCALE_UNKNOWN and default_scale >= 0:
        return np.int64(win) << default_scale
    return np.int64(win)


@kernel(nogil=True, signature=(  # runs beside zeek_packets (Engine._run_kernels)
    "(readonly(int64[:]), readonly(uint8[:]), readonly(uint8[:]), readonly(uint16[:]), "
    "readonly(uint32[:]), readonly(uint32[:]), readonly(uint16[:]), readonly(int32[:]), "
    "readonly(int64[:]), readonly(int64[:]), readonly(uint32[:]), readonly(uint8[:]), "
    "readonly(uint16[:]), readonly(uint8[:]), readonly(uint8[:]), readonly(uint32[:, :]), "
    "readonly(uint32[:, :]), uint32[:, ::1], int64[:, ::1], int64[:, ::1], float64[:, ::1], "
    "int8[:, ::1], int64[:, ::1], uint32[:, ::1], int64[:, ::1], int64[::1], int64, int64[:, ::1])"))
def analyze_packets(state_column, dirn, new, tcp_flags, seq, ack, win, payload_len, ts, frame, ip_id, options, mss,
                    wscale, sack_count, dec_u32, base, d_u32, d_i64, d_sum, d_f64, d_i8, s_i64, seg_u32, seg_i64, pool,
                    default_scale, out):
    """Analyse a batch of TCP packets in file order.

    Packet columns: state_column (column of the session's analysis state; packets with -1
    are skipped and their output left untouched),
    dirn (0 from originator), new (flows' mark), tcp_flags, seq, ack,
    win (raw), payload_len, ts (ns), frame, ip_id, options (decode bits), mss, wscale, sack_count;
    dec_u32: the decoder's u32 matrix (for SACK edges, rows SACK_LE1.. of decode.columns).
    base: u32[2, n], the base sequence numbers of the packet's direction and the reverse one
    at that packet (from the flow table). d_*: per-direction state, column state*2+dir;
    s_i64: per-session state; seg_*: unacked segment pool, pool = [free head, free count].
    default_scale: window shift to assume when no SYN was seen (-1: leave unscaled).
    out: i64[N_OUT, n] per-packet results (rows OUT_*).
    """
    for i in range(state_column.size):
        s = state_column[i]
        if s < 0:
            continue  # a session's lone packet, set aside (see Engine)
        d = np.int64(dirn[i])
        f = s * 2 + d
        r = s * 2 + 1 - d
        flags = np.int64(tcp_flags[i])
        sq = np.int64(seq[i])
        ak = np.int64(ack[i])
        w = np.int64(win[i])
        ln = np.int64(payload_len[i])
        t = ts[i]
        fr = frame[i]
        aflags = 0
        out[OUT_DUPACK_NUM, i] = 0
        out[OUT_DUPACK_FRAME, i] = -1
        out[OUT_ACKS_FRAME, i] = -1
        out[OUT_ACK_RTT, i] = -1
        out[OUT_BIF, i] = -1
        out[OUT_RTO, i] = -1
        out[OUT_RTO_FRAME, i] = -1
        out[OUT_RST_IN_WINDOW, i] = -1
        out[OUT_COPY_GAP, i] = -1

        if new[i] == 1 or new[i] == 2 or new[i] == 5:
            # Wireshark starts each direction's window at G_MAXUINT32 ("not seen").
            d_u32[f, WINDOW] = U32
            d_u32[r, WINDOW] = U32
            d_i8[f, WIN_SCALE] = SCALE_UNKNOWN
            d_i8[r, WIN_SCALE] = SCALE_UNKNOWN
        if new[i] == 2 or new[i] == 3:
            aflags |= fl.REUSED_PORTS
        if new[i] == 3:  # the side's base moved to the new ISN: its relative numbers restart
            d_i64[f, LAST_SEQ] = -1
            d_i64[f, MAX_END] = -1
            d_i64[f, DATA_END] = -1
            for k in range(MAX_HOLES):
                d_i64[f, HOLE_LO + HOLE_ROWS * k] = -1
        elif new[i] == 4:
            d_u32[f, NEXTSEQ] = d_u32[f, MAXSEQTOBEACKED]  # a repeated SYN rewinds nextseq
        if flags & TH_ACK:
            d_i8[r, BITS] |= VALID_BIF

        nextseq = np.int64(d_u32[f, NEXTSEQ])
        lastack = np.int64(d_u32[f, LASTACK])
        window = np.int64(d_u32[f, WINDOW])
        no_sfr = (flags & SFR) == 0
        # data that may start on the byte of a zero-window probe sent before it
        after_probe = ln > 1 and (((nextseq - 1) & U32) == sq or (d_u32[f, LASTSEGMENTFLAGS] & fl.ZERO_WINDOW_PROBE) != 0)
        jump = False
        # 1. zero window probe
        if ln == 1 and sq == nextseq and d_u32[r, WINDOW] == 0:
            aflags |= fl.ZERO_WINDOW_PROBE
            jump = True
        if not jump:
            # 2. zero window
            if w == 0 and no_sfr:
                aflags |= fl.ZERO_WINDOW
            # 3. previous segment not captured
            if nextseq != 0 and seq_diff(sq, nextseq) > 0 and not (flags & TH_RST):
                aflags |= fl.LOST_SEGMENT
                d_i8[f, BITS] &= ~VALID_BIF
            # 4. keep-alive
            if ln <= 1 and sq == ((nextseq - 1) & U32) and no_sfr:
                aflags |= fl.KEEP_ALIVE
            # 5. window update
            if ln == 0 and w != 0 and w != window and sq == nextseq and ak == lastack and no_sfr:
                aflags |= fl.WINDOW_UPDATE
            # 6. window full
            rscale = np.int64(d_i8[r, WIN_SCALE])
            if ln > 0 and rscale != SCALE_UNKNOWN and no_sfr:
                shift = 0 if (rscale == SCALE_NONE or (d_i8[r, BITS] & IS_FIRST_ACK)) else rscale
                edge = (np.int64(d_u32[r, LASTACK]) + ((np.int64(d_u32[r, WINDOW]) << shift) & U32)) & U32
                if ((sq + ln) & U32) == edge:
                    aflags |= fl.WINDOW_FULL
            same = ln == 0 and sq == nextseq and ak == lastack and no_sfr
            # 7. keep-alive ACK
            if same and w != 0 and w == window and (d_u32[r, LASTSEGMENTFLAGS] & fl.KEEP_ALIVE):
                aflags |= fl.KEEP_ALIVE_ACK
                jump = True
            # 8. zero window probe ACK
            elif same and w == 0 and w == window and (d_u32[r, LASTSEGMENTFLAGS] & fl.ZERO_WINDOW_PROBE):
                aflags |= fl.ZERO_WINDOW_PROBE_ACK
                jump = True
            # 9. duplicate ACK
            elif same and w != 0 and w == window:
                # -1 (set by an ACK of unseen data) restarts the count at 1, as in Wireshark
                d_u32[f, DUPACKNUM] = 1 if d_u32[f, DUPACKNUM] == U32 else d_u32[f, DUPACKNUM] + 1
                aflags |= fl.DUPLICATE_ACK
                out[OUT_DUPACK_NUM, i] = d_u32[f, DUPACKNUM]
                out[OUT_DUPACK_FRAME, i] = d_i64[f, LASTNONDUPACK]
        # after the jump target
        if ak != lastack:
            d_i64[f, LASTNONDUPACK] = fr
            d_u32[f, DUPACKNUM] = 0
        # 10. ACKed segment that was not captured
        maxtobeacked_r = np.int64(d_u32[r, MAXSEQTOBEACKED])
        if (flags & TH_ACK) and maxtobeacked_r != 0 and seq_diff(ak, maxtobeacked_r) > 0:
            if seq_diff(maxtobeacked_r, d_u32[r, NEXTSEQ]) < 0:
                d_u32[r, MAXSEQTOBEACKED] = d_u32[r, NEXTSEQ]
                aflags |= fl.ACK_LOST_SEGMENT
            else:
                # The peer is stalled on pure ACKs: flag only once per lost segment. Wireshark
                # marks this by setting the peer's (unsigned) dup-ACK counter to -1, which
                # also satisfies its ">= 2 duplicate ACKs" test for fast retransmissions.
                if d_u32[r, DUPACKNUM] == 0:
                    aflags |= fl.ACK_LOST_SEGMENT
                d_u32[r, DUPACKNUM] = U32
        # 11. retransmission family: spurious, fast retransmission, out-of-order, retransmission
        syn_fin = 1 if flags & (TH_SYN | TH_FIN) else 0
        if (ln > 0 or syn_fin) and not (aflags & fl.KEEP_ALIVE):
            seq_not_advanced = nextseq != 0 and seq_diff(sq, nextseq) < 0
            if ln > 1 and ((nextseq - 1) & U32) == sq:
                seq_not_advanced = False  # new data right after a zero-window probe byte
            lastack_r = np.int64(d_u32[r, LASTACK])
            since_ack = t - d_i64[r, LASTACKTIME]
            since_next = t - d_i64[f, NEXTSEQTIME]
            threshold = s_i64[s, FIRST_RTT] if s_i64[s, FIRST_RTT] != 0 else OUT_OF_ORDER_DEFAULT_NS
            if ln > 0 and lastack_r != 0 and seq_diff((sq + ln) & U32, lastack_r) <= 0:
                aflags |= fl.SPURIOUS_RETRANSMISSION | fl.RETRANSMISSION
            elif (seq_not_advanced and d_u32[r, DUPACKNUM] >= 2 and lastack_r == sq
                    and unsigned_less(since_ack, FAST_RETRANSMISSION_WINDOW_NS)):
                aflags |= fl.FAST_RETRANSMISSION | fl.RETRANSMISSION
            elif (seq_not_advanced and unsigned_less(since_next, threshold)
                    and nextseq != ((sq + ln + syn_fin) & U32)):
                aflags |= fl.OUT_OF_ORDER
            elif seq_not_advanced:
                aflags |= fl.RETRANSMISSION
                # RTO: since the eldest unacked segment (else the one that set nextseq)
                rto_ts = d_i64[f, NEXTSEQTIME]
                rto_frame = d_i64[f, NEXTSEQFRAME]
                idx = d_i64[f, SEGMENT_HEAD]
                while idx >= 0:
                    rto_ts = seg_i64[idx, SEG_TS]
                    rto_frame = seg_i64[idx, SEG_FRAME]
                    idx = seg_i64[idx, SEG_NEXT]
                out[OUT_RTO, i] = t - rto_ts
                out[OUT_RTO_FRAME, i] = rto_frame

        # remember the segment as unacked, and advance nextseq / maxseqtobeacked
        seg_end = (sq + ln) & U32
        stored = -1
        if (ln > 0 or syn_fin) and d_u32[f, SEGMENT_COUNT] < MAX_UNACKED_SEGMENTS:
            seg_end = (seg_end + syn_fin) & U32
            idx = _alloc_segment(pool, seg_i64)
            seg_u32[idx, SEG_SEQ] = sq
            seg_u32[idx, SEG_NEXTSEQ] = seg_end
            seg_i64[idx, SEG_TS] = t
            seg_i64[idx, SEG_FRAME] = fr
            seg_i64[idx, SEG_RETRANSMITTED] = 1 if aflags & fl.ANY_RETRANSMISSION else 0
            seg_i64[idx, SEG_NEXT] = d_i64[f, SEGMENT_HEAD]
            d_i64[f, SEGMENT_HEAD] = idx
            d_u32[f, SEGMENT_COUNT] += 1
            stored = idx
        not_probe = not (aflags & fl.ZERO_WINDOW_PROBE)
        if (seq_diff(seg_end, d_u32[f, NEXTSEQ]) > 0 or d_u32[f, NEXTSEQ] == 0) and not_probe:
            d_u32[f, NEXTSEQ] = seg_end
            d_i64[f, NEXTSEQFRAME] = fr
            d_i64[f, NEXTSEQTIME] = t
        if (sq == d_u32[f, MAXSEQTOBEACKED] or d_u32[f, MAXSEQTOBEACKED] == 0) and not_probe:
            d_u32[f, MAXSEQTOBEACKED] = d_u32[f, NEXTSEQ]
        d_u32[f, WINDOW] = w
        d_u32[f, LASTACK] = ak
        d_i64[f, LASTACKTIME] = t
        d_u32[f, LASTSEGMENTFLAGS] = aflags

        # this ACK removes what it acknowledges from the peer's unacked list
        ambiguous = False
        prev = -1
        idx = d_i64[r, SEGMENT_HEAD]
        while idx >= 0:
            nxt = seg_i64[idx, SEG_NEXT]
            seg_next = np.int64(seg_u32[idx, SEG_NEXTSEQ])
            if ak == seg_next:
                out[OUT_ACKS_FRAME, i] = seg_i64[idx, SEG_FRAME]
                out[OUT_ACK_RTT, i] = t - seg_i64[idx, SEG_TS]
                if seg_i64[idx, SEG_RETRANSMITTED]:
                    ambiguous = True
            elif seq_diff(ak, seg_u32[idx, SEG_SEQ]) > 0 and seq_diff(ak, seg_next) <= 0:
                seg_u32[idx, SEG_SEQ] = ak  # partly acknowledged: keep the rest
                prev = idx
                idx = nxt
                continue
            elif seq_diff(seg_next, ak) > 0:
                prev = idx
                idx = nxt
                continue
            if prev < 0:
                d_i64[r, SEGMENT_HEAD] = nxt
            else:
                seg_i64[prev, SEG_NEXT] = nxt
            _free_segment(pool, seg_i64, idx)
            d_u32[r, SEGMENT_COUNT] -= 1
            idx = nxt

        # bytes in flight after this segment: span of the unacked list, relative to the base
        if ln != 0 and d_i64[f, SEGMENT_HEAD] >= 0 and (d_i8[f, BITS] & VALID_BIF):
            base_f = np.int64(base[0, i])
            idx = d_i64[f, SEGMENT_HEAD]
            first = (np.int64(seg_u32[idx, SEG_SEQ]) - base_f) & U32
            last = (np.int64(seg_u32[idx, SEG_NEXTSEQ]) - base_f) & U32
            while idx >= 0:
                first = min(first, (np.int64(seg_u32[idx, SEG_SEQ]) - base_f) & U32)
                last = max(last, (np.int64(seg_u32[idx, SEG_NEXTSEQ]) - base_f) & U32)
                idx = seg_i64[idx, SEG_NEXT]
            in_flight = (last - first) & U32
            # minus what the peer's latest SACK blocks (Wireshark keeps 3) say was delivered
            for k in range(min(np.int64(d_u32[r, SACK_COUNT]), SACK_BLOCKS_FOR_BIF)):
                in_flight = (in_flight - ((np.int64(d_u32[r, SACK_RE1 + k]) - np.int64(d_u32[r, SACK_LE1 + k])) & U32)) & U32
            if 0 < in_flight < MAX_BYTES_IN_FLIGHT:
                out[OUT_BIF, i] = in_flight - syn_fin

        _take_options(f, r, flags, options[i], mss[i], wscale[i], d_u32, d_i8)
        if flags & TH_SYN:
            d_i8[f, BITS] |= IS_FIRST_ACK
            if not flags & TH_ACK:
                s_i64[s, MRU_SYN_TS] = t
            else:
                if s_i64[s, MRU_SYN_TS] != 0 and s_i64[s, IRTT_RESP] == 0:
                    s_i64[s, IRTT_RESP] = t - s_i64[s, MRU_SYN_TS]
                s_i64[s, LAST_SYNACK_TS] = t
        if (flags & (TH_SYN | TH_ACK)) == TH_ACK:
            # initial RTT: the first ACK without SYN after the most recent SYN
            if s_i64[s, MRU_SYN_TS] != 0 and s_i64[s, FIRST_RTT] == 0:
                s_i64[s, FIRST_RTT] = t - s_i64[s, MRU_SYN_TS]
                if s_i64[s, LAST_SYNACK_TS] != 0:
                    s_i64[s, IRTT_ORIG] = t - s_i64[s, LAST_SYNACK_TS]
            d_i8[f, BITS] &= ~IS_FIRST_ACK
        # SACK blocks of this direction's latest segment
        n_sack = sack_count[i] if options[i] & OPT_SACK else 0
        d_u32[f, SACK_COUNT] = n_sack
        for k in range(n_sack):
            d_u32[f, SACK_LE1 + k] = dec_u32[SACK_LE1_DECODE + k, i]
            d_u32[f, SACK_RE1 + k] = dec_u32[SACK_RE1_DECODE + k, i]
        # D-SACK (RFC 2883): the first block reports data already acknowledged (at or below
        # the ACK) or lies inside the second block
        out[OUT_DSACK, i] = 0
        if n_sack > 0 and (flags & TH_ACK):
            le1 = np.int64(dec_u32[SACK_LE1_DECODE, i])
            re1 = np.int64(dec_u32[SACK_RE1_DECODE, i])
            if seq_diff(re1, ak) <= 0 or (n_sack > 1 and seq_diff(le1, dec_u32[SACK_LE1_DECODE + 1, i]) >= 0
                                          and seq_diff(re1, dec_u32[SACK_RE1_DECODE + 1, i]) <= 0):
                out[OUT_DSACK, i] = 1
                d_u32[f, DSACKS] += 1
        out[OUT_IRTT, i] = s_i64[s, FIRST_RTT] if s_i64[s, FIRST_RTT] > 0 else -1

        out[OUT_FLAGS, i] = aflags
        stamp = np.int64(ip_id[i]) << STAMP_ID_SHIFT | STAMP_ID if 0 < ip_id[i] <= 0xFFFF else np.int64(0)
        if options[i] & OPT_TIMESTAMP:
            stamp |= STAMP_TS | np.int64(dec_u32[TS_VAL_DECODE, i])
        syn_again = (flags & TH_SYN) != 0 and d_i64[f, SYN_TS] >= 0 and new[i] != 3
        resend = _account(i, s, f, r, flags, sq, ak, w, ln, t, np.int64(ip_id[i]), aflags, np.int64(base[0, i]),
                          np.int64(base[1, i]), stamp, syn_again, after_probe, d_u32,
                          d_i64, d_sum, d_f64, d_i8, s_i64, default_scale, ambiguous, out)
        if resend == RESEND_RETRANSMISSION and stored >= 0:
            seg_i64[stored, SEG_RETRANSMITTED] = 1  # Karn: its ACK does not time the path


@kernel(inline="always")
def _rst_facts(i, s, f, r, rel, d_u32, d_i64, s_i64, out):
    """For a RST from ``f`` (before it counts): whether its sequence number falls in the window
    its receiver would accept (1/0; -1 when a side has sent nothing yet), and, at the session's
    first RST, the bytes each side had sent and the other had not acknowledged."""
    if d_u32[f, PKTS] > 1 and d_u32[r, PKTS] > 0:
        next_seq = d_i64[f, MAX_NEXT_SEQ]
        out[OUT_RST_IN_WINDOW, i] = 1 if next_seq - 1 <= rel <= next_seq + max(d_i64[r, LAST_WINDOW], 0) else 0
    if d_u32[f, RST_PKTS] == 0 and d_u32[r, RST_PKTS] == 0:
        unacked = 0
        for sender, peer in ((f, r), (r, f)):
            top = d_i64[sender, MAX_DATA_END]
            if top > 0:
                unacked += max(top - max(d_i64[peer, MAX_ACK], 1), 0)
        s_i64[s, RST_UNACKED] = unacked


@kernel(inline="always")
def _copy_check(i, f, sq, ak, w, flags, ln, t, ipid, d_u32, d_i64, out):
    """A data packet identical (IP ID and TCP header) to one of the last COPY_RING data packets
    ``f`` sent: the time since the latest such one (a capture that saw a packet twice); then
    this packet takes the oldest place in the ring. Packets are compared by a 31-bit hash (no
    product overflows 63 bits, so compiled and plain Python agree); a false match needs the
    same hash within the detector's few milliseconds, and only matters on a retransmission."""
    h = np.int64(0)
    for value, weight in ((ipid & U32, 0x5BD1E995), (sq, 0x1B873593), (ak, 0x68E31DA4), (w, 0x4CF5AD43),
                          (flags & 0x1FF, 0x27D4EB2F), (ln & U32, 0x165667B1)):
        h = (h * 31 + value * weight) & 0x7FFFFFFF
    now = t & U32
    best = np.int64(-1)
    for k in range(COPY_RING):
        entry = d_i64[f, COPY_RING_LO + k]
        if entry >= 0 and (entry >> 32) == h:
            gap = (now - (entry & U32)) & U32
            gap = 0 if gap >= (1 << 31) else gap  # a copy stamped before its original
            if best < 0 or gap < best:
                best = gap
    out[OUT_COPY_GAP, i] = best
    d_i64[f, COPY_RING_LO + np.int64(d_u32[f, COPY_NEXT])] = (h << 32) | now
    d_u32[f, COPY_NEXT] = (d_u32[f, COPY_NEXT] + 1) % COPY_RING


@kernel(inline="always")
def _account(i, s, f, r, flags, sq, ak, w, ln, t, ipid, aflags, base_f, base_r, stamp, syn_again, after_probe, d_u32,
             d_i64, d_sum, d_f64, d_i8, s_i64, default_scale, ambiguous, out):
    """Session statistics for one packet: bytes, counts, RTT, windows, stalls, close. Returns
    the packet's RESEND_* kind."""
    d_u32[f, PKTS] += 1
    if d_i64[f, FIRST_FLAGS] < 0:
        d_i64[f, FIRST_FLAGS] = flags
    for k in range(fl.N_FLAGS):
        if aflags >> k & 1:
            d_u32[f, FLAG_COUNT + k] += 1
    d_sum[f, PAYLOAD_BYTES] += ln

    # 64-bit sequence numbers relative to each side's base
    rel = unwrap((sq - base_f) & U32, d_i64[f, LAST_SEQ])
    d_i64[f, LAST_SEQ] = rel
    if flags & TH_SYN and d_i64[f, DATA_END] < 0:
        d_i64[f, DATA_END] = rel + 1  # data starts after the SYN: bytes missing before the first data count
    if ln > 0:
        _copy_check(i, f, sq, ak, w, flags, ln, t, ipid, d_u32, d_i64, out)
        d_u32[f, MAX_PAYLOAD] = max(d_u32[f, MAX_PAYLOAD], ln)
    rel_ack = -1
    if flags & TH_ACK:
        rel_ack = unwrap((ak - base_r) & U32, d_i64[r, LAST_SEQ])
    end_before = d_i64[f, DATA_END]
    resend = _resend(f, flags, rel, rel_ack, ln, t, stamp, ipid, syn_again, after_probe, aflags, s_i64[s, FIRST_RTT],
                     t - s_i64[s, PREV_TS], d_u32, d_i64, d_sum)
    _note_sender_id(f, ipid, flags, rel, rel_ack, ln, end_before, resend, d_u32, d_i64)
    if resend == RESEND_RETRANSMISSION and (stamp & STAMP_ID) and 0 <= out[OUT_COPY_GAP, i] <= DUPLICATE_WITHIN_NS:
        resend = RESEND_DUPLICATE
    out[OUT_RESEND, i] = resend
    if ln > 0:
        d_u32[f, DATA_PKTS] += 1
        d_i64[f, LAST_DATA_TS] = t
        if d_i64[r, FIN_TS] >= 0 and resend == RESEND_NONE:
            d_sum[f, BYTES_AFTER_PEER_FIN] += ln
    if resend == RESEND_RETRANSMISSION or resend == RESEND_LOST_BEFORE_CAPTURE:
        d_u32[f, RETRANS_PKTS] += 1
        d_sum[f, RETRANS_BYTES] += ln
        if ln > 0:
            d_u32[f, RETRANS_DATA_PKTS] += 1
        if resend == RESEND_LOST_BEFORE_CAPTURE:
            d_u32[f, LOST_BEFORE_CAPTURE] += 1
    elif resend == RESEND_REORDERED:
        d_u32[f, REORDERED] += 1
    elif resend == RESEND_DUPLICATE:
        d_u32[f, DUPLICATES] += 1
    end = rel + ln + (1 if flags & TH_SYN else 0) + (1 if flags & TH_FIN else 0)
    d_i64[f, MAX_END] = max(d_i64[f, MAX_END], end)
    out[OUT_REL_SEQ, i] = rel
    out[OUT_REL_ACK, i] = rel_ack
    if flags & TH_RST:
        _rst_facts(i, s, f, r, rel, d_u32, d_i64, s_i64, out)
    if ln > 0:
        d_i64[f, MAX_DATA_END] = max(d_i64[f, MAX_DATA_END], rel + ln)
    d_i64[f, MAX_NEXT_SEQ] = max(d_i64[f, MAX_NEXT_SEQ], rel + ln + (1 if flags & (TH_SYN | TH_FIN) else 0))
    d_i64[f, MAX_ACK] = max(d_i64[f, MAX_ACK], rel_ack)

    if flags & TH_SYN:
        d_i8[f, BITS] |= SENT_SYNACK if flags & TH_ACK else SENT_SYN
        if d_i64[f, SYN_TS] < 0:
            d_i64[f, SYN_TS] = t
        if flags & TH_ACK:
            d_u32[f, SYNACK_PKTS] += 1
            if 0 <= d_i64[r, FIRST_ACK_TS] < t:  # the peer had completed the handshake from its side
                d_u32[f, SYNACKS_AFTER_ACK] += 1
        else:
            d_u32[f, SYN_PKTS] += 1
    elif flags & TH_ACK:
        if d_i64[f, FIRST_ACK_TS] < 0 or t < d_i64[f, FIRST_ACK_TS]:
            d_i64[f, FIRST_ACK_TS] = t
        if s_i64[s, HANDSHAKE_ACK_TS] == 0 and (d_i8[r, BITS] & SENT_SYNACK):
            s_i64[s, HANDSHAKE_ACK_TS] = t
    if flags & TH_FIN and d_i64[f, FIN_TS] < 0:
        d_i64[f, FIN_TS] = t
        d_i64[f, FIN_END] = rel + ln + 1
        # the second FIN of a session that does not acknowledge the first: a simultaneous close
        if d_i64[r, FIN_END] >= 0 and rel_ack < d_i64[r, FIN_END]:
            s_i64[s, SIMULTANEOUS_CLOSE] = 1
    if rel_ack >= 0 and d_i64[r, FIN_END] >= 0 and rel_ack >= d_i64[r, FIN_END]:
        d_i8[r, BITS] |= FIN_ACKED
    if flags & TH_RST:
        d_u32[f, RST_PKTS] += 1
        if d_i64[f, RST_TS] < 0:
            d_i64[f, RST_TS] = t

    scaled = _scaled_window(w, flags, d_i8[f, WIN_SCALE], default_scale)
    out[OUT_WIN, i] = scaled
    d_i64[f, LAST_WINDOW] = scaled
    if w == 0 and not (flags & (TH_SYN | TH_RST)):
        d_u32[f, ZERO_WIN_PKTS] += 1
    if not (flags & TH_RST):
        if d_i64[f, MIN_WIN] < 0 or scaled < d_i64[f, MIN_WIN]:
            d_i64[f, MIN_WIN] = scaled
        d_i64[f, MAX_WIN] = max(d_i64[f, MAX_WIN], scaled)
    d_i64[f, MAX_BIF] = max(d_i64[f, MAX_BIF], out[OUT_BIF, i])

    # zero-window episodes of the advertiser, and the probes the peer sent into them
    if aflags & fl.ZERO_WINDOW:
        if d_i64[f, ZW_START] < 0:
            d_i64[f, ZW_START] = t
            d_u32[f, ZW_COUNT] += 1
    elif w > 0 and not (flags & TH_RST) and d_i64[f, ZW_START] >= 0:
        close_zero_window(f, t, d_i64, d_sum)
    if (aflags & (fl.ZERO_WINDOW_PROBE | fl.KEEP_ALIVE)) and d_i64[r, ZW_START] >= 0:
        d_u32[r, ZW_PROBES] += 1

    # RTT of the peer's data this packet acknowledges (Karn: not if it was retransmitted)
    rtt = out[OUT_ACK_RTT, i]
    if rtt >= 0:
        if ambiguous:
            d_u32[r, RTT_AMBIGUOUS] += 1
        else:
            d_u32[r, RTT_N] += 1
            d_f64[r, RTT_SUM] += rtt
            d_f64[r, RTT_SUMSQ] += float(rtt) * float(rtt)
            if d_i64[r, RTT_MIN] < 0 or rtt < d_i64[r, RTT_MIN]:
                d_i64[r, RTT_MIN] = rtt
            d_i64[r, RTT_MAX] = max(d_i64[r, RTT_MAX], rtt)

    prev = s_i64[s, PREV_TS]
    if prev != 0 and t - prev > s_i64[s, LONGEST_IDLE]:
        s_i64[s, LONGEST_IDLE] = t - prev
    s_i64[s, PREV_TS] = t
    return resend


@kernel(inline="always")
def _resend(f, flags, rel, rel_ack, ln, t, stamp, ipid, syn_again, after_probe, aflags, first_rtt, idle, d_u32, d_i64,
            d_sum):
    """The RESEND_* kind of a packet from direction column f whose sequence number is ``rel``,
    after marking its payload and FIN seen (and counting its new payload bytes as unique).

    A SYN the side had sent before, or payload or FIN the capture already carried, is a
    retransmission, whatever its timing. Space of a hole (never captured, below space that
    was) is the retransmission of a segment lost before the capture point when the packet was
    sent after the one that opened the hole, and the original reordered when sent before: by
    TCP timestamps, else IPv4 IDs from one counter, else by arrival (within half the initial
    RTT, or 3 ms without one, is reordering). New space at the frontier is the retransmission
    of a segment lost before the capture point when the sender's IPv4 IDs say it was sent
    before (``_frontier_resend``). Keep-alives, zero-window probes and RSTs are none.
    """
    fin = 1 if flags & TH_FIN else 0
    lo = rel + (1 if flags & TH_SYN else 0)
    hi = lo + ln + fin
    if hi == lo:
        return RESEND_RETRANSMISSION if syn_again and not (aflags & fl.KEEP_ALIVE) else RESEND_NONE
    end_before = d_i64[f, DATA_END]
    fin_new = fin == 1 and _unseen(f, hi - 1, d_i64)
    new, filled, hole_ts, hole_sent = _new_bytes(f, lo, hi, t, stamp, d_i64)
    d_sum[f, UNIQUE_BYTES] += new - (1 if fin_new else 0)
    if (flags & TH_RST) or (aflags & (fl.KEEP_ALIVE | fl.ZERO_WINDOW_PROBE)):
        return RESEND_NONE
    seen = (hi - lo) - new
    if syn_again or (seen > 0 and not (seen == 1 and after_probe)):
        return RESEND_RETRANSMISSION
    if filled == 0:
        frontier = new == hi - lo and 0 <= end_before <= lo
        if frontier and _frontier_resend(f, ipid, lo, hi, ln, rel_ack, end_before, idle, d_u32, d_i64):
            return RESEND_LOST_BEFORE_CAPTURE
        return RESEND_NONE
    later = _sent_later(stamp, hole_sent)
    if later == 0:
        window = first_rtt // 2 if first_rtt > 0 else OUT_OF_ORDER_DEFAULT_NS
        later = -1 if t - hole_ts < window else 1
    return RESEND_LOST_BEFORE_CAPTURE if later > 0 else RESEND_REORDERED


@kernel(inline="always")
def _frontier_resend(f, ipid, lo, hi, ln, rel_ack, end_before, idle, d_u32, d_i64):
    """Whether new space [lo, hi) at or beyond the frontier of direction column f re-sends
    space its sender had sent before in packets lost before the capture point (a tail loss
    resent by a loss probe or timeout, or the last segments of a burst resent in recovery: no
    later data overtook them, so they left no hole).

    The evidence is the sender's IPv4 ID counter, used only where the IDs count this
    connection's packets (``ID_MIN_PAIRS``): the IDs between the anchor (the latest packet that
    carried new space) and this packet that the capture lacks are packets sent and lost. Those
    that carried the space between the anchor and ``lo`` (at least one per largest payload) are
    originals, and as many as the holes still open could be lost re-sends of those; any beyond
    them is counted as this packet's original, when the sender was re-sending since the anchor,
    or the ID just before this one is missing too and the session was idle for a timer's
    shortest wait (``idle``: since the session's previous packet). Only while the sender
    acknowledges nothing new since the anchor: with new data from the peer to acknowledge, a
    missing ID may be a lost pure ACK. The lost packets beyond this one's original mark the space that follows
    as sent before (``SENT_TO``, full-sized segments only): the rest of the burst.
    """
    if ipid <= 0 or ipid > 0xFFFF or d_i64[f, ANCHOR_ID] < 0:
        return False
    if lo < d_i64[f, SENT_TO]:
        return True
    if rel_ack != d_i64[f, ANCHOR_ACK]:
        return False
    pairs = np.int64(d_u32[f, ID_PAIRS])
    if pairs < ID_MIN_PAIRS or np.int64(d_u32[f, ID_STEPS]) * 10 < pairs * 9:
        return False
    unseen = ((ipid - d_i64[f, ANCHOR_ID] - 1) & 0xFFFF) - np.int64(d_u32[f, SINCE_ANCHOR])
    seg = max(np.int64(d_u32[f, MAX_PAYLOAD]), 1)
    gap = lo - d_i64[f, ANCHOR_END]
    open_bytes = -(lo - end_before)  # the hole this packet opened is part of the gap
    for k in range(MAX_HOLES):
        h = HOLE_LO + HOLE_ROWS * k
        if d_i64[f, h] >= 0:
            open_bytes += d_i64[f, h + 1] - d_i64[f, h]
    leftover = unseen - ((gap + seg - 1) // seg if gap > 0 else 0) - (open_bytes + seg - 1) // seg
    missing_before = ((ipid - d_i64[f, LAST_IP_ID] - 1) & 0xFFFF) > 0
    timer = missing_before and idle >= TAIL_RESEND_MIN_IDLE_NS
    if leftover <= 0 or unseen >= ID_GAP_LIMIT or not (timer or d_u32[f, REFILLED]):
        return False
    d_i64[f, SENT_TO] = lo + leftover * seg if ln >= seg else hi
    return True


@kernel(inline="always")
def _note_sender_id(f, ipid, flags, rel, rel_ack, ln, end_before, resend, d_u32, d_i64):
    """After a packet from direction column f: the state ``_frontier_resend`` reads. A packet
    carrying new space becomes the anchor; others count as captured since it; re-sent space
    (or an anchor that was itself a re-send) marks the sender re-sending; pure ACKs and originals in order at the frontier count the
    pairs whose IDs tell whether they count this connection's packets."""
    if ipid <= 0 or ipid > 0xFFFF:
        return
    last = d_i64[f, LAST_IP_ID]
    d_i64[f, LAST_IP_ID] = ipid
    lo = rel + (1 if flags & TH_SYN else 0)
    hi = lo + ln + (1 if flags & TH_FIN else 0)
    if flags & TH_SYN or (hi > lo and (end_before < 0 or hi > end_before)):
        d_i64[f, ANCHOR_ID] = ipid
        d_i64[f, ANCHOR_END] = hi
        d_i64[f, ANCHOR_ACK] = rel_ack
        d_i64[f, SENT_TO] = max(d_i64[f, SENT_TO], hi)
        d_u32[f, SINCE_ANCHOR] = 0
        d_u32[f, REFILLED] = 1 if resend == RESEND_LOST_BEFORE_CAPTURE else 0
    else:
        d_u32[f, SINCE_ANCHOR] += 1
        if hi > lo:
            d_u32[f, REFILLED] = 1
    in_order = hi == lo or (lo == end_before and resend == RESEND_NONE)
    if in_order and last >= 0 and not flags & TH_SYN:
        d_u32[f, ID_PAIRS] += 1
        if ((ipid - last) & 0xFFFF) == 1:
            d_u32[f, ID_STEPS] += 1


@kernel(inline="always")
def _sent_later(stamp, opener):
    """1 if the packet stamped ``stamp`` was sent after the one stamped ``opener``, -1 if
    before, 0 if the stamps cannot tell (equal timestamps, no timestamps or unrelated IDs)."""
    if (stamp & STAMP_TS) and (opener & STAMP_TS):
        d = seq_diff(stamp & U32, opener & U32)
        if d != 0:
            return 1 if d > 0 else -1
    if (stamp & STAMP_ID) and (opener & STAMP_ID):
        d = ((stamp >> STAMP_ID_SHIFT) - (opener >> STAMP_ID_SHIFT)) & 0xFFFF
        if 0 < d < IP_ID_COUNTER_SPAN:
            return 1
        if d > 0x10000 - IP_ID_COUNTER_SPAN:
            return -1
    return 0


@kernel(inline="always")
def _unseen(f, pos, d_i64):
    """Whether byte ``pos`` of direction column f was never captured: nothing was yet, or it is
    at or above the end of the captured space, or in a hole."""
    if d_i64[f, DATA_END] < 0 or pos >= d_i64[f, DATA_END]:
        return True
    for k in range(MAX_HOLES):
        h = HOLE_LO + HOLE_ROWS * k
        if d_i64[f, h] >= 0 and d_i64[f, h] <= pos < d_i64[f, h + 1]:
            return True
    return False


@kernel(inline="always")
def _new_bytes(f, lo, hi, t, stamp, d_i64):
    """Marks [lo, hi) of direction column f seen; returns how many of its bytes had not been
    (new), how many of those filled holes, and the opening time and sent stamp of the earliest
    opened hole it touched (-1, -1 for none). A packet starting beyond the captured space opens
    a hole, stamped with ``t`` and ``stamp``.

    The seen sequence space is everything below DATA_END except up to MAX_HOLES holes. With
    more holes open at once, the smallest is forgotten: bytes that fill it later are not
    counted as new (they count as missed, as if never captured).
    """
    new = 0
    hole_ts = np.int64(-1)
    hole_sent = np.int64(-1)
    for k in range(MAX_HOLES):
        h = HOLE_LO + HOLE_ROWS * k
        a = d_i64[f, h]
        b = d_i64[f, h + 1]
        x = max(a, lo)
        y = min(b, hi)
        if a < 0 or x >= y:
            continue
        new += y - x
        if hole_ts < 0 or d_i64[f, h + 2] < hole_ts:
            hole_ts = d_i64[f, h + 2]
            hole_sent = d_i64[f, h + 3]
        if x == a and y == b:
            d_i64[f, h] = -1
            d_i64[f, h + 1] = -1
        elif x == a:
            d_i64[f, h] = y
        elif y == b:
            d_i64[f, h + 1] = x
        else:  # the segment lands inside the hole: [a, x) stays, [y, b) becomes a hole of its own
            d_i64[f, h + 1] = x
            _add_hole(f, y, b, d_i64[f, h + 2], d_i64[f, h + 3], d_i64)
    filled = new
    end = d_i64[f, DATA_END]
    if end < 0:
        end = lo
    if hi > end:
        if lo > end:
            _add_hole(f, end, lo, t, stamp, d_i64)
        new += hi - max(lo, end)
        d_i64[f, DATA_END] = hi
    return new, filled, hole_ts, hole_sent


@kernel(inline="always")
def _add_hole(f, lo, hi, ts, stamp, d_i64):
    """Record [lo, hi) as never seen, opened at ``ts`` by a packet stamped ``stamp``, in a free
    hole slot or in place of a smaller hole."""
    smallest = -1
    for k in range(MAX_HOLES):
        h = HOLE_LO + HOLE_ROWS * k
        if d_i64[f, h] < 0:
            smallest = h
            break
        if smallest < 0 or d_i64[f, h + 1] - d_i64[f, h] < d_i64[f, smallest + 1] - d_i64[f, smallest]:
            smallest = h
    if d_i64[f, smallest] < 0 or d_i64[f, smallest + 1] - d_i64[f, smallest] < hi - lo:
        d_i64[f, smallest] = lo
        d_i64[f, smallest + 1] = hi
        d_i64[f, smallest + 2] = ts
        d_i64[f, smallest + 3] = stamp


@kernel(inline="always")
def close_zero_window(f, t, d_i64, d_sum):
    """End the open zero-window episode of direction column f at time t."""
    length = max(t - d_i64[f, ZW_START], 0)
    d_sum[f, ZW_TOTAL] += length
    d_sum[f, ZW_LONGEST] = max(d_sum[f, ZW_LONGEST], length)
    d_i64[f, ZW_START] = -1
