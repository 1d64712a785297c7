"""Zeek's conn.log ``conn_state`` and ``history``, rebuilt packet by packet as Zeek's TCP analyzer does.

``zeek_packets`` is a numba kernel over packet columns; its state lives in the matrices of
:data:`ZEEK_LAYOUT` (one column per session slot, reset to zeros = "nothing seen" when a slot
is reused). ``conn_states`` turns the state of emitted sessions into Zeek's strings::

    table = zeek_table(capacity)
    zeek_packets(slot, dirn, flags, seq, ack, payload_len, win, bad_checksum, flipped, *table.m.values())
    conn_state, history, orig_state, resp_state = conn_states(table, slots, flipped[slots])

What follows Zeek (zeek/zeek master, read 2026-08; file and function named at each rule below):

- Endpoint states and every transition: ``TCPSessionAdapter.cc`` ``Process``, ``init_endpoint``,
  ``update_last_seq``, ``Update{Inactive,SYN_Sent,Established,Closed,Reset}State``; a state
  change keeps the previous state as ``TCP_Endpoint::SetState`` does (``prev_state`` decides
  RST-after-FIN handling and whether a gap is reported).
- conn_state: ``scripts/base/protocols/conn/main.zeek`` ``conn_state()``, including the
  ``c$orig$size == 0 && c$resp$size == 0`` test of REJ (``TCP_Endpoint::Size``) and the
  RSTOS0 pattern ``^?S[^HAFGIQ]*R.*`` matched against the whole history.
- history: ``update_history`` (s/h/a/d/f/r/i/q with ``Connection::CheckHistory`` masks, one set per
  endpoint role; S and H share one mask), ``Connection::ScaledHistoryEntry`` for c/t/w/g (the
  1st, 10th, 100th ... occurrence adds the letter), ``update_last_seq`` for t, ``update_window``
  for w, ``TCPAnalyzer::ValidateChecksum`` for c (a bad-checksum packet adds c/C and is not
  analysed further), ``Connection::FlipRoles`` for ``^``.

Where this differs from Zeek, on purpose or by approximation:

- ``^``: the session's orientation is decided by ``flows.py`` before the first packet (Zeek's
  ``TCPAnalyzer::WantConnection`` heuristic), so ``^`` is the first letter when
  ``flipped_per_slot`` says so. Zeek has a second, mid-session flip: a responder's pure SYN
  while the originator is SYN_ACK_SENT ("SYN/SYN-ACK reversal" in ``UpdateInactiveState``)
  swaps the roles and appends ``^``. Here the roles stay as ``flows.py`` chose them (session
  records keep one orientation); both endpoints become ESTABLISHED as in Zeek, and no ``^`` is
  added. With ``flows.py`` flipping every session that starts with a SYN-ACK, the originator
  can only be SYN_ACK_SENT if it sends a SYN-ACK as its first packet after the responder
  spoke first, which real stacks do not do.
- ``g`` (content gap): Zeek's reassembler (``TCP_Reassembler::Undelivered``, ``Gap``) reports a
  gap when the peer acknowledges sequence space it never delivered in order. Per endpoint we
  keep Zeek's ``last_reassem_seq`` (relative, starting at 1) and, instead of the block list, one
  "data above a hole" start: in-order data advances the edge; data above the edge records the
  hole; when the hole is filled or skipped, everything seen above it counts as delivered (up
  to the endpoint's highest sequence number). An ACK beyond the edge reports one gap for the
  hole below the buffered data (if that data starts below the ACK) and one for the space
  still missing up to the ACK, exactly where Zeek calls ``Gap`` -- so captures with a single
  hole at a time match Zeek, several simultaneous holes count as one. As in Zeek a gap adds a
  letter only while both endpoints are ESTABLISHED or closed from ESTABLISHED; ACKs are capped
  below the sender's FIN (``AckReceived``; the FIN's end is taken from its last FIN-only
  packet, as kept for the F letter), the partial-connection first-ACK exception of
  ``Undelivered`` is kept, and RST packets' ACKs are processed. Not modelled: payload cut by
  the snap length (Zeek never reassembles it, so it shows as gaps; the kernel has no caplen
  column), the reassembler giving up (``above_hole_data_without_any_acks``,
  ``excessive_data_without_further_acks``), and Zeek's relative-sequence underflow beyond
  2 GiB when the raw sequence number wrapped. The gap counter stops at 65535 (no letter for
  the 100000th gap).
- ``TCP_Endpoint::Size`` (only read for REJ when both sides sent RST) uses the reassembly edge
  in place of the highest ACK received, which differs only for data acknowledged in RSTs.
- Relative sequence numbers are kept modulo 2**32 (Zeek: 64-bit with wrap counts), so a
  repeated SYN/FIN/RST exactly 4 GiB away from the previous one does not repeat its letter.
- The history holds at most :data:`HISTORY_CAPACITY` letters; later letters are dropped and the
  ``HISTORY_OVERFLOW`` bit of the ``conn`` byte is set (Zeek has no limit; a session needs dozens of retransmission/zero-window decades to get
  there).
"""

from __future__ import annotations

import re

import numpy as np

from ..jit import kernel
from ..state import Rows, StateTable

# Endpoint states, numbered as Zeek's EndpointState (TCP_Endpoint.h).
INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)
STATE_NAMES = ("INACTIVE", "SYN_SENT", "SYN_ACK_SENT", "PARTIAL", "ESTABLISHED", "CLOSED", "RESET")

TH_FIN, TH_SYN, TH_RST, TH_ACK = 0x01, 0x02, 0x04, 0x10
M32 = 0xFFFFFFFF
# update_last_seq ignores SYN/RST sequence numbers this far from the last one (TCPSessionAdapter.cc).
TOO_LARGE_SEQ_DELTA = 1048576

# History letters: code k in a 5-bit field; 0 ends the string. Codes 2..13 are the
# originator's letters, + 12 the responder's (lower case).
ALPHABET = "^SHADFRCGTWIQshadfrcgtwiq"
L_FLIP, L_S, L_H, L_A, L_D, L_F, L_R, L_C, L_G, L_T, L_W, L_I, L_Q = range(1, 14)
RESP_LETTER = 12
LETTERS_PER_WORD = 12  # 12 x 5 bits in a uint64
HISTORY_CAPACITY = 2 * LETTERS_PER_WORD

# Per-session state, 106 bytes (STATE_BYTES_PER_SESSION). u32 and u16 rows come in
# (orig, resp) pairs: row = BASE + direction. All zeros = nothing seen.
_U32_FIELDS = (
    "start",           # Zeek's start_seq (raw)
    "last",            # last_seq: one past the highest sequence number sent (raw)
    "hist_syn",        # hist_last_SYN / FIN / RST: relative seq of the last such packet
    "hist_fin",
    "hist_rst",
    "reassem",         # reassembler's last_reassem_seq (relative; 1 = nothing delivered)
    "hole_above",      # relative start of the lowest data buffered above the hole
    "checksum_count",  # ScaledHistoryEntry counters
    "rexmit_count",
    "zero_window_count",
)
ZEEK_LAYOUT: dict[str, Rows] = {
    "u64": Rows(("history_0", "history_1"), np.uint64),
    "u32": Rows(tuple(f"{side}_{name}" for name in _U32_FIELDS for side in ("orig", "resp")), np.uint32),
    "u16": Rows(("orig_gap_count", "resp_gap_count"), np.uint16),
    "u8": Rows(("orig_state", "resp_state", "orig_seen", "resp_seen", "conn", "history_len"), np.uint8),
}
START, LAST, HIST_SYN, HIST_FIN, HIST_RST, REASSEM, HOLE_ABOVE, CHK_COUNT, RXMT_COUNT, WIN0_COUNT = range(0, 20, 2)
GAP_COUNT = 0
STATE, SEEN, CONN, HISTORY_LEN = 0, 2, 4, 5
# STATE byte: state in bits 0-2, previous state in bits 3-5, then two flags.
PREV_SHIFT = 3
FIN_SEEN = 0x40  # FIN_cnt > 0
HOLE = 0x80      # hole_above is valid
# SEEN byte: Zeek's per-endpoint history masks (TCP_Endpoint::HistoryMasks) ...
HIST_SYN_PKT, HIST_FIN_PKT, HIST_RST_PKT, HIST_FIN_RST_PKT, HIST_DATA_PKT, HIST_ACK_PKT, HIST_MULTI_FLAG_PKT = (
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40)
TRIM_AT_2 = 0x80  # ... and the reassembler's trim_seq = 2 while last_reassem_seq = 1 (Undelivered's partial case)
# CONN byte
STARTED, IS_PARTIAL, FIRST_ORIG, FIRST_RESP, HISTORY_OVERFLOW = 0x01, 0x02, 0x04, 0x08, 0x10

STATE_BYTES_PER_SESSION = sum(len(r.names) * np.dtype(r.dtype).itemsize for r in ZEEK_LAYOUT.values())


# --- small helpers -------------------------------------------------------

@kernel
def _delta(a, b):
    """Zeek's seq_delta: a - b as a signed 32-bit number."""
    d = (a - b) & M32
    return d - (1 << 32) if d >= (1 << 31) else d


@kernel
def _state(z_u8, d, s):
    return np.int64(z_u8[s, STATE + d]) & 7


@kernel
def _prev(z_u8, d, s):
    return (np.int64(z_u8[s, STATE + d]) >> PREV_SHIFT) & 7


@kernel
def _set_state(z_u8, d, s, new):
    """TCP_Endpoint::SetState: a real change keeps the old state as prev_state."""
    b = np.int64(z_u8[s, STATE + d])
    cur = b & 7
    if new != cur:
        z_u8[s, STATE + d] = (b & (FIN_SEEN | HOLE)) | (cur << PREV_SHIFT) | new


@kernel
def _is_clean(z_u8, d, s):
    """TCP_Reassembler's is_clean: ESTABLISHED, or CLOSED straight from ESTABLISHED."""
    st = _state(z_u8, d, s)
    return st == ESTABLISHED or (st == CLOSED and _prev(z_u8, d, s) == ESTABLISHED)


@kernel
def _add_letter(z_u64, z_u8, s, code):
    """Connection::AddHistory."""
    n = np.int64(z_u8[s, HISTORY_LEN])
    if n >= HISTORY_CAPACITY:
        z_u8[s, CONN] |= HISTORY_OVERFLOW
        return
    word = n // LETTERS_PER_WORD
    z_u64[s, word] |= np.uint64(code) << np.uint64(5 * (n - word * LETTERS_PER_WORD))
    z_u8[s, HISTORY_LEN] = n + 1


@kernel
def _letter(code, d):
    return code + RESP_LETTER * d


@kernel
def _check_history(z_u64, z_u8, d, s, mask, code):
    """Connection::CheckHistory: add the letter the first time; True if it was seen before."""
    seen = np.int64(z_u8[s, SEEN + d])
    if seen & mask:
        return True
    z_u8[s, SEEN + d] = seen | mask
    _add_letter(z_u64, z_u8, s, _letter(code, d))
    return False


@kernel
def _is_power_of_10(n):
    p = 1
    while p < n:
        p *= 10
    return p == n


@kernel
def _scaled_u32(z_u32, z_u64, z_u8, row, d, s, code):
    """Connection::ScaledHistoryEntry: the letter at the 1st, 10th, 100th, ... occurrence."""
    n = (np.int64(z_u32[s, row + d]) + 1) & M32
    z_u32[s, row + d] = n
    if _is_power_of_10(n):
        _add_letter(z_u64, z_u8, s, _letter(code, d))


@kernel
def _gap(z_u16, z_u64, z_u8, e, s):
    """TCP_Reassembler::Gap for endpoint e: a g/G letter only when both sides are clean."""
    if _is_clean(z_u8, e, s) and _is_clean(z_u8, 1 - e, s):
        n = np.int64(z_u16[s, GAP_COUNT + e])
        if n < 0xFFFF:  # saturates: the 100000th gap adds no letter
            n += 1
            z_u16[s, GAP_COUNT + e] = n
            if _is_power_of_10(n):
                _add_letter(z_u64, z_u8, s, _letter(L_G, e))


@kernel
def _deliver_above_hole(z_u32, z_u8, e, s, edge):
    """The hole below the buffered data is gone: count everything seen above it as delivered."""
    top = (np.int64(z_u32[s, LAST + e]) - np.int64(z_u32[s, START + e])) & M32
    z_u8[s, STATE + e] &= ~HOLE & 0xFF
    return top if _delta(top, edge) > 0 else edge


@kernel
def _ack_received(z_u32, z_u16, z_u64, z_u8, e, s, rel_ack):
    """TCP_Reassembler::AckReceived + Trim + Undelivered for the data of endpoint e."""
    if np.int64(z_u8[s, STATE + e]) & FIN_SEEN:
        # Zeek caps the ACK at FIN_seq - 1; hist_last_FIN (seq + len of the FIN) is that value
        # for every FIN that is not also SYN or RST.
        fin_end = np.int64(z_u32[s, HIST_FIN + e])
        if _delta(rel_ack, fin_end) > 0:
            rel_ack = fin_end
    edge = np.int64(z_u32[s, REASSEM + e])
    if _delta(rel_ack, edge) <= 0:
        return
    seen = np.int64(z_u8[s, SEEN + e])
    if seen & TRIM_AT_2:
        if _delta(rel_ack, 2) <= 0:
            return
        z_u8[s, SEEN + e] = seen & ~TRIM_AT_2
    if (np.int64(z_u8[s, CONN]) & IS_PARTIAL) and rel_ack <= 2:
        # Undelivered: the faked-up initial sequence of a partial connection; trim_seq moves,
        # last_reassem_seq does not.
        if rel_ack == 2:
            z_u8[s, SEEN + e] |= TRIM_AT_2
        return
    if np.int64(z_u8[s, STATE + e]) & HOLE:
        above = np.int64(z_u32[s, HOLE_ABOVE + e])
        if _delta(above, rel_ack) < 0:
            _gap(z_u16, z_u64, z_u8, e, s)
            edge = _deliver_above_hole(z_u32, z_u8, e, s, above)
            if _delta(rel_ack, edge) > 0:
                _gap(z_u16, z_u64, z_u8, e, s)
                edge = rel_ack
        else:
            _gap(z_u16, z_u64, z_u8, e, s)
            edge = rel_ack
            if above == edge:  # Trim hands the now-adjacent block to BlockInserted
                edge = _deliver_above_hole(z_u32, z_u8, e, s, edge)
    else:
        _gap(z_u16, z_u64, z_u8, e, s)
        edge = rel_ack
    z_u32[s, REASSEM + e] = edge


@kernel
def _data_sent(z_u32, z_u8, e, s, data_rel, n):
    """TCP_Reassembler::DataSent + NewBlock + BlockInserted, as far as the delivery edge goes."""
    upper = (data_rel + n) & M32
    if np.int64(z_u8[s, SEEN + e]) & TRIM_AT_2:
        if _delta(upper, 2) <= 0:
            return
        if _delta(data_rel, 2) < 0:
            data_rel = 2
    edge = np.int64(z_u32[s, REASSEM + e])
    if _delta(upper, edge) <= 0:
        return  # already delivered
    b = np.int64(z_u8[s, STATE + e])
    if _delta(data_rel, edge) <= 0:
        edge = upper
        if b & HOLE and _delta(np.int64(z_u32[s, HOLE_ABOVE + e]), edge) <= 0:
            edge = _deliver_above_hole(z_u32, z_u8, e, s, edge)
        z_u32[s, REASSEM + e] = edge
    elif not (b & HOLE) or _delta(data_rel, np.int64(z_u32[s, HOLE_ABOVE + e])) < 0:
        z_u32[s, HOLE_ABOVE + e] = data_rel
        z_u8[s, STATE + e] = b | HOLE


# --- the kernel --------------------------------------------------------------------------------

@kernel(nogil=True, signature=(  # runs beside analyze_packets (Engine._run_kernels)
    "(readonly(int64[:]), readonly(uint8[:]), readonly(uint16[:]), readonly(uint32[:]), "
    "readonly(uint32[:]), readonly(int32[:]), readonly(uint16[:]), readonly(boolean[:]), "
    "readonly(uint8[:]), uint64[:, ::1], uint32[:, ::1], uint16[:, ::1], uint8[:, ::1])"))
def zeek_packets(slot, dirn, tcp_flags, seq, ack, payload_len, win, bad_checksum, flipped_per_slot,
                 z_u64, z_u32, z_u16, z_u8):
    """Advance Zeek's connection state and history by a batch of packets, in capture order.

    slot: int64 session slot of each packet (from ``FlowTable.assign``); dirn: uint8, 0 = sent
    by the originator, 1 = by the responder; tcp_flags: uint16 (FIN 0x01, SYN 0x02, RST 0x04,
    ACK 0x10); seq, ack: uint32 raw; payload_len: int32 TCP payload length from the IP length;
    win: uint16 raw window; bad_checksum: bool, packets Zeek would drop after noting c/C;
    flipped_per_slot: uint8 by slot, 1 = the originator was chosen by the port heuristic (or
    the session began with a SYN-ACK): the history starts with ``^``.
    z_u64, z_u32, z_u16, z_u8: the ZEEK_LAYOUT matrices, one column per slot. A packet whose
    slot is negative is skipped (its session is not being analysed yet). Returns nothing.
    """
    for i in range(slot.size):
        s = slot[i]
        if s < 0:
            continue
        d = np.int64(dirn[i])
        p = 1 - d
        if not (np.int64(z_u8[s, CONN]) & STARTED):
            z_u8[s, CONN] |= STARTED
            if flipped_per_slot[s]:  # Connection::FlipRoles at creation
                _add_letter(z_u64, z_u8, s, L_FLIP)
        if bad_checksum[i]:  # TCPAnalyzer::ValidateChecksum -> TCP_Endpoint::ChecksumError, packet dropped
            _scaled_u32(z_u32, z_u64, z_u8, CHK_COUNT, d, s, L_C)
            continue

        f = np.int64(tcp_flags[i])
        syn = (f & TH_SYN) != 0
        fin = (f & TH_FIN) != 0
        rst = (f & TH_RST) != 0
        ackf = (f & TH_ACK) != 0
        n = np.int64(payload_len[i])
        x = np.int64(seq[i])

        # SetPartialStatus
        conn = np.int64(z_u8[s, CONN])
        if d == 0:
            if not (conn & FIRST_ORIG):
                conn = (conn | IS_PARTIAL) if ((not syn) or ackf) else (conn & ~IS_PARTIAL)
        elif not (conn & FIRST_RESP) and not (conn & IS_PARTIAL) and not syn:
            conn |= IS_PARTIAL
        z_u8[s, CONN] = conn

        seg_len = n + (1 if syn else 0) + (1 if fin else 0)
        if rst:
            seg_len -= n
        end = (x + seg_len) & M32

        # init_endpoint
        st = _state(z_u8, d, s)
        prev = _prev(z_u8, d, s)
        start = np.int64(z_u32[s, START + d])
        last = np.int64(z_u32[s, LAST + d])
        if st == INACTIVE:
            if syn:
                start = x
                last = end
            else:  # partial: numbered as though a SYN came just before
                start = (x - 1) & M32
                last = x
            z_u32[s, REASSEM + d] = 1  # the reassembler starts at relative 1
        elif st == SYN_SENT or st == SYN_ACK_SENT:
            if syn and x != start:
                start = x
                last = end
        elif st == ESTABLISHED or st == PARTIAL:
            if syn:
                start = x
                last = end
        elif st == RESET:
            if syn and prev == INACTIVE:
                start = x
                last = end
        rel = (x - start) & M32
        seq_underflow = _delta(x, start) < 0

        # update_history
        bits = (1 if syn else 0) + (1 if fin else 0) + (1 if rst else 0)
        if bits > 1:
            if fin and rst:
                _check_history(z_u64, z_u8, d, s, HIST_FIN_RST_PKT, L_I)
            else:
                _check_history(z_u64, z_u8, d, s, HIST_MULTI_FLAG_PKT, L_Q)
        elif bits == 1:
            if syn:
                code = L_H if ackf else L_S
                if _check_history(z_u64, z_u8, d, s, HIST_SYN_PKT, code) and rel != np.int64(z_u32[s, HIST_SYN + d]):
                    _add_letter(z_u64, z_u8, s, _letter(code, d))
                z_u32[s, HIST_SYN + d] = rel
            if fin:  # a FIN's number is the end of its data
                fin_rel = (rel + n) & M32
                if _check_history(z_u64, z_u8, d, s, HIST_FIN_PKT, L_F) and fin_rel != np.int64(z_u32[s, HIST_FIN + d]):
                    _add_letter(z_u64, z_u8, s, _letter(L_F, d))
                z_u32[s, HIST_FIN + d] = fin_rel
            if rst:
                if _check_history(z_u64, z_u8, d, s, HIST_RST_PKT, L_R) and rel != np.int64(z_u32[s, HIST_RST + d]):
                    _add_letter(z_u64, z_u8, s, _letter(L_R, d))
                z_u32[s, HIST_RST + d] = rel
        elif n:
            _check_history(z_u64, z_u8, d, s, HIST_DATA_PKT, L_D)
        elif ackf:
            _check_history(z_u64, z_u8, d, s, HIST_ACK_PKT, L_A)

        # update_window: zero windows not with/after our RST, nor after the peer's FIN
        ps = _state(z_u8, p, s)
        if win[i] == 0 and not rst and ps != CLOSED and st != RESET:
            _scaled_u32(z_u32, z_u64, z_u8, WIN0_COUNT, d, s, L_W)

        if fin:
            z_u8[s, STATE + d] |= FIN_SEEN

        # the ACK's position in the peer's relative sequence space (underflow: not used)
        have_ack = False
        rel_ack = np.int64(0)
        if ackf and ps != INACTIVE:
            peer_start = np.int64(z_u32[s, START + p])
            a = np.int64(ack[i])
            if _delta(a, peer_start) >= 0:
                have_ack = True
                rel_ack = (a - peer_start) & M32

        # update_last_seq (t = payload that does not advance the highest sequence seen)
        delta_last = _delta(end, last)
        if (syn or rst) and (delta_last > TOO_LARGE_SEQ_DELTA or delta_last < -TOO_LARGE_SEQ_DELTA):
            pass
        elif fin and last == ((start + 1) & M32):
            last = end
        elif st == RESET:
            pass
        elif delta_last > 0:
            last = end
        elif n > 0:
            _scaled_u32(z_u32, z_u64, z_u8, RXMT_COUNT, d, s, L_T)
        z_u32[s, START + d] = start
        z_u32[s, LAST + d] = last

        # UpdateStateMachine
        if st == INACTIVE:
            if syn:
                if d == 0:
                    _set_state(z_u8, d, s, SYN_ACK_SENT if ackf else SYN_SENT)
                else:
                    if not ackf and ps == SYN_ACK_SENT:
                        # Zeek's SYN/SYN-ACK reversal: it flips the roles here; we keep them.
                        z_u8[s, CONN] &= ~IS_PARTIAL & 0xFF
                        _set_state(z_u8, p, s, ESTABLISHED)
                    if _state(z_u8, p, s) == SYN_SENT:
                        _set_state(z_u8, p, s, ESTABLISHED)
                    _set_state(z_u8, d, s, ESTABLISHED)
            if fin:
                _set_state(z_u8, d, s, CLOSED)
            if rst:
                _set_state(z_u8, d, s, RESET)
            if _state(z_u8, d, s) == INACTIVE:
                if d == 1 and n == 0 and ps == SYN_SENT:
                    pass  # an ACK of the SYN before the SYN-ACK does not make the responder partial
                elif ackf and ps == ESTABLISHED:  # the SYN was missed, the SYN-ACK was not
                    _set_state(z_u8, d, s, ESTABLISHED)
                    z_u8[s, CONN] &= ~IS_PARTIAL & 0xFF
                else:
                    _set_state(z_u8, d, s, PARTIAL)
        elif st == SYN_SENT or st == SYN_ACK_SENT:
            if fin:
                _set_state(z_u8, d, s, CLOSED)
            if rst:
                _set_state(z_u8, d, s, RESET)
        elif st == ESTABLISHED or st == PARTIAL:
            if syn and st == PARTIAL and ps == INACTIVE and not ackf:
                _set_state(z_u8, d, s, SYN_SENT)
            if fin and not rst:
                _set_state(z_u8, d, s, CLOSED)
                if ps == RESET and _prev(z_u8, p, s) == CLOSED:  # the peer's FIN then RST was a normal close
                    _set_state(z_u8, p, s, CLOSED)
            if rst:
                _set_state(z_u8, d, s, RESET)
        elif st == CLOSED:
            if rst and ps != CLOSED:
                _set_state(z_u8, d, s, RESET)

        z_u8[s, CONN] |= FIRST_ORIG if d == 0 else FIRST_RESP

        # the peer's reassembler sees the ACK, then ours the data (Process order)
        if have_ack:
            _ack_received(z_u32, z_u16, z_u64, z_u8, p, s, rel_ack)
        if n > 0 and not rst and not seq_underflow:
            _data_sent(z_u32, z_u8, d, s, (rel + (1 if syn else 0)) & M32, n)


def process(table: StateTable, packets, slot: np.ndarray, dirn: np.ndarray, flipped_per_slot: np.ndarray,
            bad_checksum: np.ndarray | None = None) -> None:
    """Run :func:`zeek_packets` over a decoded batch (``packets[name]`` columns)."""
    if bad_checksum is None:
        bad_checksum = np.zeros(len(slot), np.bool_)
    zeek_packets(slot, dirn, packets["tcp_flags"], packets["seq_raw"], packets["ack_raw"], packets["payload_len"],
                 packets["win_raw"], bad_checksum, flipped_per_slot, *(table.m[k] for k in ZEEK_LAYOUT))


# --- strings for emitted sessions ------------------------------------------------------------

# main.zeek conn_state(): RSTOS0 when the whole history matches this
RSTOS0_HISTORY = re.compile(r"\^?S[^HAFGIQ]*R.*", re.DOTALL)
_ASCII = np.frombuffer(b"\0" + ALPHABET.encode(), np.uint8)
_SHIFTS = np.arange(LETTERS_PER_WORD, dtype=np.uint64) * np.uint64(5)


def _histories(words: np.ndarray) -> list[str]:
    """Decode the 5-bit letter codes of each column (code 0 ends a history)."""
    codes = np.concatenate([(words[0][:, None] >> _SHIFTS) & np.uint64(31),
                            (words[1][:, None] >> _SHIFTS) & np.uint64(31)], axis=1)
    chars = np.ascontiguousarray(_ASCII[codes])  # NUL-padded: the 'S' dtype drops trailing NULs
    return chars.view(f"S{HISTORY_CAPACITY}").ravel().astype(f"U{HISTORY_CAPACITY}").tolist()


def _size_is_zero(u8: np.ndarray, u32: np.ndarray, d: int) -> np.ndarray:
    """TCP_Endpoint::Size() == 0, with the reassembly edge standing in for the highest ACK."""
    state = u8[STATE + d] & 7
    prev = (u8[STATE + d] >> PREV_SHIFT) & 7
    peer = u8[STATE + 1 - d] & 7
    start = u32[START + d].astype(np.int64)
    last_rel = (u32[LAST + d].astype(np.int64) - start) & M32
    top = np.maximum(last_rel, u32[REASSEM + d].astype(np.int64))
    fin = (u8[STATE + d] & FIN_SEEN) != 0
    aborted_half_open = (prev == SYN_SENT) & (state == RESET) & (peer == INACTIVE) & (u32[REASSEM + d] > 1)
    return aborted_half_open | (top <= 1) | (fin & (top == 2))


def zeek_table(capacity: int) -> StateTable:
    """Zeek state for ``capacity`` sessions, record-major (``zeek_packets`` indexes ``[slot, ROW]``)."""
    return StateTable(ZEEK_LAYOUT, capacity, record_major=True)


def conn_states(table: StateTable, slots: np.ndarray,
                flipped: np.ndarray | None = None) -> tuple[list[str], list[str], list[str], list[str]]:
    """Zeek's conn_state, history and orig/resp endpoint state names of the given slots.

    ``flipped`` (per slot given) only matters for a slot the kernel never saw a packet of:
    its history is then ``^`` if flipped. Call before the slots are reset.
    """
    slots = np.asarray(slots, dtype=np.int64)
    m = table.m
    u8 = m["u8"][slots].T  # record-major table: rows of the emitted sessions, fields first
    u32 = m["u32"][slots].T
    histories = _histories(m["u64"][slots].T)
    if flipped is not None:
        never_seen = np.flatnonzero(((u8[CONN] & STARTED) == 0) & (np.asarray(flipped) != 0))
        for k in never_seen:
            histories[k] = "^"

    os_ = (u8[STATE] & 7).astype(np.int64)
    rs = (u8[STATE + 1] & 7).astype(np.int64)
    o_inactive = (os_ == INACTIVE) | (os_ == PARTIAL)
    r_inactive = (rs == INACTIVE) | (rs == PARTIAL)
    r_reset = rs == RESET
    o_reset = os_ == RESET
    rej = r_reset & ((os_ == SYN_SENT) | (os_ == SYN_ACK_SENT) |
                     (o_reset & _size_is_zero(u8, u32, 0) & _size_is_zero(u8, u32, 1)))
    rstos0 = np.zeros(slots.size, np.bool_)
    for k in np.flatnonzero(~r_reset & o_reset & r_inactive):
        rstos0[k] = RSTOS0_HISTORY.fullmatch(histories[k]) is not None
    conditions = [
        rej, r_reset & o_inactive, r_reset,
        o_reset & rstos0, o_reset & r_inactive, o_reset,
        (rs == CLOSED) & (os_ == CLOSED),
        (os_ == CLOSED) & r_inactive, os_ == CLOSED,
        (rs == CLOSED) & o_inactive, rs == CLOSED,
        (os_ == SYN_SENT) & (rs == INACTIVE),
        (os_ == ESTABLISHED) & (rs == ESTABLISHED),
    ]
    choices = ["REJ", "RSTRH", "RSTR", "RSTOS0", "OTH", "RSTO", "SF", "SH", "S2", "SHR", "S3", "S0", "S1"]
    conn_state = np.select(conditions, choices, default="OTH").tolist() if slots.size else []
    names = np.array(STATE_NAMES)
    return conn_state, histories, names[os_].tolist(), names[rs].tolist()
