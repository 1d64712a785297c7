"""Rows of the engine's state matrices: per direction (column ``slot * 2 + dir``) and per session.

The constants are read by the numba kernels as compile-time row numbers; ``check_layout``
(run by the tests) keeps them in step with the row names.
"""

from __future__ import annotations

import numpy as np

from ..state import Rows
from .flags import N_FLAGS

# ---- per direction -------------------------------------------------------------------
DIR_U32 = Rows((
    # Wireshark's sequence analysis state, on raw 32-bit numbers (0 = not known yet)
    "nextseq", "maxseqtobeacked", "lastack", "window", "lastsegmentflags", "dupacknum",
    "sack_le1", "sack_le2", "sack_le3", "sack_le4", "sack_re1", "sack_re2", "sack_re3", "sack_re4",
    "sack_count", "segment_count", "mss",
    # counters
    "pkts", "data_pkts", "retrans_pkts", "zw_count", "zw_probes", "rtt_n", "rtt_ambiguous", "dsacks",
    "retrans_data_pkts",  # retransmissions that carry payload: the numerator of a data retransmission rate
    "syn_pkts", "synack_pkts", "rst_pkts",  # SYNs without ACK, SYN-ACKs, RSTs
    "synacks_after_ack",  # SYN-ACKs sent after the peer's first ACK without SYN (the peer's ACK was dropped)
    "zero_win_pkts",  # packets advertising a window of 0 (SYN and RST aside)
    # segments filling a hole in the captured sequence space, by what the evidence says they are
    # (see resend_kind): the retransmission of a segment lost before the capture point, or the
    # original arriving late (reordering)
    "lost_before_capture", "reordered",
    "duplicates",  # data packets the network or the capture copied (RESEND_DUPLICATE)
    "copy_next",  # where the next data packet goes in the copy ring below
    # the sender's IPv4 IDs (see _frontier_resend): packets captured since the anchor (the
    # latest packet that carried new sequence space), the largest payload, and of the
    # consecutive packets in order at the frontier, how many and how many had the next ID
    "since_anchor", "max_payload", "id_pairs", "id_steps", "refilled",
    "bad_checksum_pkts",  # packets with a wrong IPv4 header or TCP checksum, left out of the analysis (Engine.process)
    *[f"count_{k}" for k in range(N_FLAGS)],
), np.uint32)
(NEXTSEQ, MAXSEQTOBEACKED, LASTACK, WINDOW, LASTSEGMENTFLAGS, DUPACKNUM,
 SACK_LE1, SACK_LE2, SACK_LE3, SACK_LE4, SACK_RE1, SACK_RE2, SACK_RE3, SACK_RE4,
 SACK_COUNT, SEGMENT_COUNT, MSS_VALUE,
 PKTS, DATA_PKTS, RETRANS_PKTS, ZW_COUNT, ZW_PROBES, RTT_N, RTT_AMBIGUOUS, DSACKS,
 RETRANS_DATA_PKTS, SYN_PKTS, SYNACK_PKTS, RST_PKTS, SYNACKS_AFTER_ACK, ZERO_WIN_PKTS, LOST_BEFORE_CAPTURE, REORDERED,
 DUPLICATES, COPY_NEXT, SINCE_ANCHOR, MAX_PAYLOAD, ID_PAIRS, ID_STEPS, REFILLED, BAD_CHECKSUM_PKTS) = range(41)
FLAG_COUNT = 41  # + flag bit index

# times, frames and values that start as -1 ("not seen")
DIR_I64 = Rows((
    "nextseqtime", "nextseqframe", "lastacktime", "lastnondupack", "segment_head",
    "last_seq", "max_end", "syn_ts", "fin_ts", "fin_end", "rst_ts", "last_data_ts",
    "max_bif", "min_win", "max_win", "zw_start", "rtt_min", "rtt_max",
    "first_flags", "max_ack", "first_ack_ts",  # first packet's TCP flags; highest relative ACK; first ACK without SYN
    # highest relative end of data sent; of sequence space (a SYN or FIN counts 1); scaled window of the last packet
    "max_data_end", "max_next_seq", "last_window",
    # the anchor's IPv4 ID, sequence end and relative ACK, the sequence space the sender is
    # known to have sent before (resent frontier segments), the last packet's IPv4 ID
    "anchor_id", "anchor_end", "anchor_ack", "sent_to", "last_ip_id",
    # the sequence space (payload and FIN) captured so far: everything below data_end except
    # the holes; each hole with when it opened and the sent stamp (TSval, IP ID) of the packet
    # that opened it (the first one captured beyond it)
    "data_end", *[f"hole_{part}{k}" for k in range(1, 9) for part in ("lo", "hi", "ts", "sent")],
    # last, as only data packets touch it: the last COPY_RING data packets sent, each as
    # (31-bit hash of IP ID and TCP header) << 32 | low 32 bits of the time in ns
    *[f"copy{k}" for k in range(1, 17)],
), np.int64, -1)
(NEXTSEQTIME, NEXTSEQFRAME, LASTACKTIME, LASTNONDUPACK, SEGMENT_HEAD,
 LAST_SEQ, MAX_END, SYN_TS, FIN_TS, FIN_END, RST_TS, LAST_DATA_TS,
 MAX_BIF, MIN_WIN, MAX_WIN, ZW_START, RTT_MIN, RTT_MAX, FIRST_FLAGS, MAX_ACK, FIRST_ACK_TS,
 MAX_DATA_END, MAX_NEXT_SEQ, LAST_WINDOW, ANCHOR_ID, ANCHOR_END, ANCHOR_ACK, SENT_TO, LAST_IP_ID, DATA_END) = range(30)
HOLE_LO = DATA_END + 1  # hole k (0-7) is rows HOLE_LO + HOLE_ROWS * k + (0, 1, 2, 3): lo, hi (-1: no hole), ts, sent
HOLE_ROWS = 4
MAX_HOLES = 8
COPY_RING_LO = HOLE_LO + HOLE_ROWS * MAX_HOLES  # copy ring entry k is row COPY_RING_LO + k
COPY_RING = 16

# sums that start at 0
DIR_SUM = Rows(("payload_bytes", "retrans_bytes", "unique_bytes", "bytes_after_peer_fin", "zw_total", "zw_longest"),
               np.int64, 0)
PAYLOAD_BYTES, RETRANS_BYTES, UNIQUE_BYTES, BYTES_AFTER_PEER_FIN, ZW_TOTAL, ZW_LONGEST = range(6)

DIR_F64 = Rows(("rtt_sum", "rtt_sumsq"), np.float64, 0.0)
RTT_SUM, RTT_SUMSQ = range(2)

DIR_I8 = Rows(("win_scale", "bits"), np.int8, 0)
WIN_SCALE, BITS = range(2)
# BITS
VALID_BIF = 1
IS_FIRST_ACK = 2  # Wireshark's is_first_ack: sent a SYN, no ACK without SYN since
SENT_SYN = 4
SENT_SYNACK = 8
SACK_PERMITTED = 16
TIMESTAMPS = 32
FIN_ACKED = 64
WSCALE_OPTION = -128  # int8 top bit

# win_scale values besides 0..14
SCALE_UNKNOWN = -1
SCALE_NONE = -2

# ---- per session ---------------------------------------------------------------------
SESSION_I64 = Rows(("mru_syn_ts", "first_rtt", "handshake_ack_ts", "longest_idle", "prev_ts", "simultaneous_close",
                    "rst_unacked",  # bytes sent and not yet acknowledged (both ways) at the first RST
                    # the initial RTT's two sides of the capture point: the most recent SYN to the
                    # first SYN-ACK (responder's side); the latest SYN-ACK to the ACK (originator's)
                    "irtt_resp", "irtt_orig", "last_synack_ts"),
                   np.int64, 0)
MRU_SYN_TS, FIRST_RTT, HANDSHAKE_ACK_TS, LONGEST_IDLE, PREV_TS, SIMULTANEOUS_CLOSE, RST_UNACKED, IRTT_RESP, IRTT_ORIG, \
    LAST_SYNACK_TS = range(10)

DIRECTION_LAYOUT = {"u32": DIR_U32, "i64": DIR_I64, "sum": DIR_SUM, "f64": DIR_F64, "i8": DIR_I8}
SESSION_LAYOUT = {"i64": SESSION_I64}

# ---- unacked segment pool ------------------------------------------------------------
# Wireshark keeps at most this many unacknowledged segments per direction.
MAX_UNACKED_SEGMENTS = 1000
SEGMENT_LAYOUT = {
    "u32": Rows(("seq", "nextseq"), np.uint32),
    "i64": Rows(("ts", "frame", "next", "retransmitted"), np.int64, -1),
}
SEG_SEQ, SEG_NEXTSEQ = range(2)
SEG_TS, SEG_FRAME, SEG_NEXT, SEG_RETRANSMITTED = range(4)


def check_layout() -> None:
    """Assert the row constants match the row names (a test calls this)."""
    expected = {
        "nextseq": NEXTSEQ, "mss": MSS_VALUE, "rtt_ambiguous": RTT_AMBIGUOUS,
        "retrans_data_pkts": RETRANS_DATA_PKTS, "synacks_after_ack": SYNACKS_AFTER_ACK, "count_0": FLAG_COUNT,
    }
    for name, row in expected.items():
        assert DIR_U32.index(name) == row, name
    assert DIR_I64.index("rtt_max") == RTT_MAX and DIR_I64.index("segment_head") == SEGMENT_HEAD
    assert DIR_I64.index("first_ack_ts") == FIRST_ACK_TS and DIR_I64.index("data_end") == DATA_END
    assert DIR_I64.index("last_window") == LAST_WINDOW and DIR_I64.index("copy1") == COPY_RING_LO
    assert DIR_I64.index(f"copy{COPY_RING}") == COPY_RING_LO + COPY_RING - 1 == len(DIR_I64.names) - 1
    assert DIR_U32.index("copy_next") == COPY_NEXT and DIR_U32.index("refilled") == REFILLED
    assert DIR_I64.index("anchor_id") == ANCHOR_ID and DIR_I64.index("last_ip_id") == LAST_IP_ID
    assert SESSION_I64.index("rst_unacked") == RST_UNACKED and DIR_I64.index("hole_lo1") == HOLE_LO
    assert SESSION_I64.index("last_synack_ts") == LAST_SYNACK_TS == len(SESSION_I64.names) - 1
    assert DIR_I64.index(f"hole_sent{MAX_HOLES}") == HOLE_LO + HOLE_ROWS * MAX_HOLES - 1 == COPY_RING_LO - 1
    assert DIR_I64.index("hole_ts1") == HOLE_LO + 2 and DIR_U32.index("reordered") == REORDERED
    assert DIR_SUM.index("zw_longest") == ZW_LONGEST
    assert DIR_I8.index("bits") == BITS and SESSION_I64.index("prev_ts") == PREV_TS
