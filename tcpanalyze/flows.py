"""Sessions: which TCP session each packet belongs to, and which side is the originator.

A bidirectional 4-tuple table (open addressing, in numba) maps each 4-tuple to the *slot*
of its live session. Slots index every per-session state array of the engine; a slot is
freed when its session is emitted, and reused later. Session ids are numbered in order of
first packet, like Wireshark's ``tcp.stream``.

A session's key is its 4-tuple and its tunnel path (the decoder's ``tunnel_key``, 0 when
untunnelled): the same addresses and ports inside two VNIs are two sessions.

Port reuse follows Wireshark 4.0: a pure SYN whose sequence number differs from the base
sequence number already seen from that side starts a new session (flagged ``reused_ports``);
a retransmitted SYN (same ISN) never does. A SYN-ACK with a new ISN is flagged but stays in
its session, as in Wireshark.

Originator: the sender of a pure SYN. A session whose first packet is a SYN-ACK has its
sender as responder; without any SYN, Zeek's port heuristic decides (``likely server
port``); both mark the session partial, and a flipped first packet is Zeek's ``^``.
"""

from __future__ import annotations

import numpy as np

from .jit import kernel
from .state import Rows, StateTable

TH_FIN = 0x01
TH_SYN = 0x02
TH_RST = 0x04
TH_ACK = 0x10

# Per-slot flow state: u64 rows (the oriented 4-tuple, the tunnel key and the outer endpoints
# of a tunnelled session, oriented too), i64 rows, u32 rows (per direction base sequence
# numbers, ports, the tunnel chain and id of the session's first packet), u8 rows.
FLOW_LAYOUT = {
    "u64": Rows(("orig_hi", "orig_lo", "resp_hi", "resp_lo", "tunnel_key",
                 "outer_orig_hi", "outer_orig_lo", "outer_resp_hi", "outer_resp_lo"), np.uint64),
    "i64": Rows(("session_id", "first_ts", "last_ts", "first_frame", "last_frame", "packets"), np.int64, -1),
    "u32": Rows(("orig_base_seq", "resp_base_seq", "ports", "tunnel_chain", "tunnel_id"), np.uint32),
    "u8": Rows(("orig_base_set", "resp_base_set", "flipped", "partial", "close_bits", "ipv6"), np.uint8),
}
ORIG_HI, ORIG_LO, RESP_HI, RESP_LO, TUNNEL_KEY, OUTER_ORIG_HI, OUTER_ORIG_LO, OUTER_RESP_HI, OUTER_RESP_LO = range(9)
SESSION_ID, FIRST_TS, LAST_TS, FIRST_FRAME, LAST_FRAME, PACKETS = range(6)
BASE_SEQ = 0  # + direction
PORTS = 2  # orig_port << 16 | resp_port
TUNNEL_CHAIN, TUNNEL_ID = 3, 4
BASE_SET = 0  # + direction
FLIPPED, PARTIAL, CLOSE_BITS, IPV6 = 2, 3, 4, 5
# CLOSE_BITS: FIN seen from the originator / the responder, RST seen
ORIG_FIN, RESP_FIN, ANY_RST = 1, 2, 4
# out_new marks of a packet that starts a session: the first of its key, a SYN reusing the
# ports, or one after the idle timeout / closed linger
NEW_SESSION = (1, 2, 5)

# Zeek's likely_server_ports come from its analyzers' registered ports; ours: every port
# below 1024 plus common service ports above it (documented in docs/differences.md).
LIKELY_SERVER_HIGH_PORTS = (
    1080, 1194, 1433, 1521, 1723, 1812, 1883, 2049, 2181, 2375, 2376, 3128, 3260, 3306, 3389, 4369, 5060, 5061,
    5222, 5269, 5432, 5671, 5672, 5900, 5984, 6379, 6443, 6667, 6697, 7000, 7001, 8000, 8008, 8080, 8081, 8088,
    8443, 8883, 8888, 9000, 9042, 9092, 9200, 9300, 9418, 11211, 27017,
)
_LIKELY = np.zeros(65536, dtype=np.bool_)
_LIKELY[:1024] = True
_LIKELY[list(LIKELY_SERVER_HIGH_PORTS)] = True


@kernel
def _hash(a_hi, a_lo, b_hi, b_lo, ports, tunnel_key):
    h = np.uint64(0x9E3779B97F4A7C15)
    for word in (a_hi, a_lo, b_hi, b_lo, np.uint64(ports) ^ tunnel_key):
        h = (h ^ word) * np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    return h


@kernel
def _canonical(o_hi, o_lo, r_hi, r_lo, o_port, r_port, ipv6):
    """The key of a 4-tuple: the lower (address, port) first, so both directions share one key.
    The IP version is part of it (bit 32 of the ports word): an IPv6 session between
    IPv4-mapped addresses (``::ffff:a.b.c.d``) is not the IPv4 session of the same numbers."""
    version = np.int64(ipv6) << 32
    if (o_hi < r_hi) or (o_hi == r_hi and (o_lo < r_lo or (o_lo == r_lo and o_port <= r_port))):
        return o_hi, o_lo, r_hi, r_lo, (o_port << 16) | r_port | version
    return r_hi, r_lo, o_hi, o_lo, (r_port << 16) | o_port | version


@kernel
def _slot_key(slot, f_u64, f_u32, f_u8):
    """The key of a live slot: its 4-tuple's (``_canonical``) and its tunnel key."""
    ports = np.int64(f_u32[PORTS, slot])
    a_hi, a_lo, b_hi, b_lo, key_ports = _canonical(f_u64[ORIG_HI, slot], f_u64[ORIG_LO, slot], f_u64[RESP_HI, slot],
                                                   f_u64[RESP_LO, slot], ports >> 16, ports & 0xFFFF, f_u8[IPV6, slot])
    return a_hi, a_lo, b_hi, b_lo, key_ports, f_u64[TUNNEL_KEY, slot]


@kernel
def _slot_home(slot, f_u64, f_u32, f_u8, mask):
    a_hi, a_lo, b_hi, b_lo, key_ports, tunnel_key = _slot_key(slot, f_u64, f_u32, f_u8)
    return np.int64(_hash(a_hi, a_lo, b_hi, b_lo, key_ports, tunnel_key) & np.uint64(mask))


@kernel
def _probe(table, f_u64, f_u32, f_u8, mask, a_hi, a_lo, b_hi, b_lo, ports, tunnel_key):
    """Index of the table entry holding this key's slot, or of the empty entry it would take."""
    i = np.int64(_hash(a_hi, a_lo, b_hi, b_lo, ports, tunnel_key) & np.uint64(mask))
    while table[i] >= 0:
        k_hi, k_lo, l_hi, l_lo, k_ports, k_tunnel = _slot_key(table[i], f_u64, f_u32, f_u8)
        if (k_hi == a_hi and k_lo == a_lo and l_hi == b_hi and l_lo == b_lo and k_ports == ports
                and k_tunnel == tunnel_key):
            return i
        i = (i + 1) & mask
    return i


@kernel
def _delete(table, i, f_u64, f_u32, f_u8):
    """Empty entry i, shifting later entries of its probe run back (no tombstones)."""
    mask = table.size - 1
    j = i
    while True:
        j = (j + 1) & mask
        if table[j] < 0:
            break
        home = _slot_home(table[j], f_u64, f_u32, f_u8, mask)
        # Move entry j into the hole at i unless its home lies cyclically in (i, j].
        if (i <= j and (home <= i or home > j)) or (i > j and (home <= i and home > j)):
            table[i] = table[j]
            i = j
    table[i] = -1
    return i


@kernel(nogil=True, signature=(
    "(readonly(uint64[:]), readonly(uint64[:]), readonly(uint64[:]), readonly(uint64[:]), "
    "readonly(uint16[:]), readonly(uint16[:]), readonly(uint16[:]), readonly(uint32[:]), "
    "readonly(uint32[:]), readonly(int64[:]), readonly(int64[:]), readonly(uint8[:]), readonly(uint64[:]), "
    "int64[::1], int64[::1], "
    "int64[::1], readonly(boolean[::1]), int64, int64, uint64[:, ::1], int64[:, ::1], uint32[:, ::1], "
    "uint8[:, ::1], int64[::1], uint8[::1], uint8[::1], uint32[:, ::1])"))
def assign_sessions(src_hi, src_lo, dst_hi, dst_lo, src_port, dst_port, tcp_flags, seq, ack, ts_ns, frame, ip_version,
                    tunnel_key, table, counters, free_slots, likely_server, idle_timeout_ns, closed_linger_ns,
                    f_u64, f_i64, f_u32, f_u8, out_slot, out_dir, out_new, out_base):
    """Give every packet its session slot and direction (0 = from the originator).

    Packet columns: addresses (u64 halves), ports, tcp_flags, seq, ack (raw), ts_ns, frame,
    ip_version (4 or 6), tunnel_key (u64, 0 when untunnelled).
    table: i64[H] of live slots (-1 empty), open addressing keyed by each slot's 4-tuple and tunnel key;
    counters: i64[3] = table entries in use, free-slot stack top, next session id;
    free_slots: i64 stack; likely_server: bool[65536]. A packet coming more than
    idle_timeout_ns after its session's last one, or closed_linger_ns after a session that
    closed (FIN both ways, or RST), starts a new session. Flow state per slot: FLOW_LAYOUT.
    Outputs per packet: out_slot, out_dir, out_new (1 = first packet of a session, 2 = a new
    session on a reused 4-tuple, 3 = SYN-ACK with a new ISN inside its session, 4 = a pure SYN
    repeating the session's ISN, 5 = a new session after the old one expired), and out_base (u32[2, n]): the base sequence numbers of the
    packet's own and of the reverse direction as they stood at that packet (a SYN-ACK with a
    new ISN moves its side's base, but only for the packets after it).
    The caller guarantees free slots >= packets and table load < 1/2.
    """
    mask = table.size - 1
    for i in range(src_hi.size):
        s_hi, s_lo, d_hi, d_lo = src_hi[i], src_lo[i], dst_hi[i], dst_lo[i]
        sp, dp = np.int64(src_port[i]), np.int64(dst_port[i])
        ipv6 = 1 if ip_version[i] == 6 else 0
        a_hi, a_lo, b_hi, b_lo, ports = _canonical(s_hi, s_lo, d_hi, d_lo, sp, dp, ipv6)
        h = _probe(table, f_u64, f_u32, f_u8, mask, a_hi, a_lo, b_hi, b_lo, ports, tunnel_key[i])
        flags = tcp_flags[i]
        pure_syn = (flags & (TH_SYN | TH_ACK)) == TH_SYN
        new = 1
        slot = table[h]
        d = 0
        if slot >= 0:
            idle = ts_ns[i] - f_i64[LAST_TS, slot]
            bits = f_u8[CLOSE_BITS, slot]
            closed = (bits & (ORIG_FIN | RESP_FIN)) == (ORIG_FIN | RESP_FIN) or (bits & ANY_RST) != 0
            new = 5 if idle > idle_timeout_ns or (closed and idle > closed_linger_ns) else 0
        if slot >= 0 and new == 0:
            d = 0 if (f_u64[ORIG_HI, slot] == s_hi and f_u64[ORIG_LO, slot] == s_lo
                      and (f_u32[PORTS, slot] >> 16) == sp) else 1
            if (flags & TH_SYN) and f_u8[BASE_SET + d, slot]:
                if seq[i] != f_u32[BASE_SEQ + d, slot]:
                    new = 2 if pure_syn else 3
                    if not pure_syn:
                        f_u32[BASE_SEQ + d, slot] = seq[i]  # Wireshark moves the base to the new ISN
                elif pure_syn:
                    new = 4
        elif slot < 0:
            counters[0] += 1
        if new == 1 or new == 2 or new == 5:
            counters[1] -= 1
            slot = free_slots[counters[1]]
            table[h] = slot
            flipped = False
            if not pure_syn:
                if flags & TH_SYN:  # a SYN-ACK first: its sender is the responder
                    flipped = True
                elif likely_server[sp]:
                    flipped = (not likely_server[dp]) or sp < dp
            if flipped:
                f_u64[ORIG_HI, slot], f_u64[ORIG_LO, slot], f_u64[RESP_HI, slot], f_u64[RESP_LO, slot] = d_hi, d_lo, s_hi, s_lo
                f_u32[PORTS, slot] = (dp << 16) | sp
            else:
                f_u64[ORIG_HI, slot], f_u64[ORIG_LO, slot], f_u64[RESP_HI, slot], f_u64[RESP_LO, slot] = s_hi, s_lo, d_hi, d_lo
                f_u32[PORTS, slot] = (sp << 16) | dp
            f_u8[FLIPPED, slot] = flipped
            f_u8[PARTIAL, slot] = not pure_syn
            f_u8[IPV6, slot] = ipv6
            f_u64[TUNNEL_KEY, slot] = tunnel_key[i]
            f_i64[SESSION_ID, slot] = counters[2]
            counters[2] += 1
            f_i64[FIRST_TS, slot] = ts_ns[i]
            f_i64[FIRST_FRAME, slot] = frame[i]
            f_i64[PACKETS, slot] = 0
            d = 1 if flipped else 0
        # Wireshark's base sequence numbers: the SYN's ISN, else the first seq - 1; the
        # peer's from the first ACK it receives (ack - 1).
        if not f_u8[BASE_SET + d, slot]:
            f_u8[BASE_SET + d, slot] = 1
            f_u32[BASE_SEQ + d, slot] = seq[i] if flags & TH_SYN else seq[i] - np.uint32(1)
        if (flags & TH_ACK) and not f_u8[BASE_SET + 1 - d, slot]:
            f_u8[BASE_SET + 1 - d, slot] = 1
            f_u32[BASE_SEQ + 1 - d, slot] = ack[i] - np.uint32(1)
        # The earliest and latest times, not the first and last packet's: where the capture's
        # clock steps back a session still spans its packets' times, as Wireshark's
        # conversations do, and never ends before it began.
        f_i64[FIRST_TS, slot] = min(f_i64[FIRST_TS, slot], ts_ns[i])
        f_i64[LAST_TS, slot] = max(f_i64[LAST_TS, slot], ts_ns[i])
        f_i64[LAST_FRAME, slot] = frame[i]
        f_i64[PACKETS, slot] += 1
        if flags & TH_FIN:
            f_u8[CLOSE_BITS, slot] |= ORIG_FIN if d == 0 else RESP_FIN
        if flags & TH_RST:
            f_u8[CLOSE_BITS, slot] |= ANY_RST
        out_base[0, i] = f_u32[BASE_SEQ + d, slot]
        out_base[1, i] = f_u32[BASE_SEQ + 1 - d, slot]
        out_slot[i] = slot
        out_dir[i] = d
        out_new[i] = new


@kernel(nogil=True, signature=(
    "(int64[::1], readonly(int64[:]), readonly(uint64[:, ::1]), readonly(uint32[:, ::1]), readonly(uint8[:, ::1]))"))
def release_slots(table, slots, f_u64, f_u32, f_u8):
    """Remove emitted sessions from the table (unless a newer session took their key)."""
    mask = table.size - 1
    removed = 0
    for slot in slots:
        a_hi, a_lo, b_hi, b_lo, ports, tunnel_key = _slot_key(slot, f_u64, f_u32, f_u8)
        h = _probe(table, f_u64, f_u32, f_u8, mask, a_hi, a_lo, b_hi, b_lo, ports, tunnel_key)
        if table[h] == slot:
            _delete(table, h, f_u64, f_u32, f_u8)
            removed += 1
    return removed


@kernel(nogil=True, signature=(
    "(readonly(int64[::1]), int64[::1], readonly(uint64[:, ::1]), readonly(uint32[:, ::1]), readonly(uint8[:, ::1]))"))
def rehash(table, new_table, f_u64, f_u32, f_u8):
    """Insert every live slot of ``table`` into the empty ``new_table``."""
    mask = new_table.size - 1
    for h in range(table.size):
        slot = table[h]
        if slot >= 0:
            j = _slot_home(slot, f_u64, f_u32, f_u8, mask)
            while new_table[j] >= 0:
                j = (j + 1) & mask
            new_table[j] = slot


class FlowTable:
    """The session table across batches: slots, session ids and the 4-tuple index."""

    def __init__(self, capacity: int = 1024, idle_timeout_ns: int = 2**62, closed_linger_ns: int = 2**62) -> None:
        self.idle_timeout_ns = idle_timeout_ns
        self.closed_linger_ns = closed_linger_ns
        self.state = StateTable(FLOW_LAYOUT, capacity)
        self.table = np.full(4 * capacity, -1, np.int64)
        self.free_slots = np.arange(capacity - 1, -1, -1, dtype=np.int64)
        # table entries in use, free-slot stack top, next session id
        self.counters = np.array([0, capacity, 0], np.int64)

    @property
    def live(self) -> int:
        """Sessions holding a slot."""
        return self.state.capacity - int(self.counters[1])

    def reserve(self, n: int) -> None:
        """Make sure ``n`` more sessions fit in the slots and the table."""
        free = int(self.counters[1])
        if free < n:
            old = self.state.capacity
            capacity = max(old + old // 2, old + n - free)
            self.state.grow(capacity)
            stack = np.empty(capacity, np.int64)
            stack[:free] = self.free_slots[:free]
            added = np.arange(capacity - 1, old - 1, -1, dtype=np.int64)
            stack[free : free + added.size] = added
            self.free_slots = stack
            self.counters[1] = free + added.size
        if 2 * (int(self.counters[0]) + n) > self.table.size:
            size = 1 << int(np.ceil(np.log2(4 * (int(self.counters[0]) + n))))
            table = np.full(size, -1, np.int64)
            rehash(self.table, table, self.state.m["u64"], self.state.m["u32"], self.state.m["u8"])
            self.table = table

    def assign(self, packets, out_slot: np.ndarray, out_dir: np.ndarray, out_new: np.ndarray,
               out_base: np.ndarray) -> None:
        """Fill slot, direction, new-session marks and base sequence numbers for a batch of TCP packets."""
        self.reserve(len(packets))
        m = self.state.m
        assign_sessions(packets["src_hi"], packets["src_lo"], packets["dst_hi"], packets["dst_lo"],
                        packets["src_port"], packets["dst_port"], packets["tcp_flags"], packets["seq_raw"],
                        packets["ack_raw"], packets["ts_ns"], packets["frame"], packets["ip_version"],
                        packets["tunnel_key"], self.table,
                        self.counters, self.free_slots, _LIKELY, self.idle_timeout_ns, self.closed_linger_ns,
                        m["u64"], m["i64"], m["u32"], m["u8"], out_slot, out_dir, out_new, out_base)
        if packets.tunnelled:
            self._note_tunnels(packets, out_slot, out_dir, out_new)

    def _note_tunnels(self, packets, out_slot: np.ndarray, out_dir: np.ndarray, out_new: np.ndarray) -> None:
        """Keep the tunnel path of each new tunnelled session (from its first packet: the
        chain, the id and the outer endpoints, oriented like the session)."""
        first = np.isin(out_new, NEW_SESSION) & (packets["tunnel_key"] != 0)
        if not first.any():
            return
        slots, from_orig = out_slot[first], out_dir[first] == 0
        m = self.state.m
        m["u32"][TUNNEL_CHAIN, slots] = packets["tunnel_chain"][first]
        m["u32"][TUNNEL_ID, slots] = packets["tunnel_id"][first]
        src = (packets["outer_src_hi"][first], packets["outer_src_lo"][first])
        dst = (packets["outer_dst_hi"][first], packets["outer_dst_lo"][first])
        for k, (a, b) in enumerate(zip(src, dst)):
            m["u64"][OUTER_ORIG_HI + k, slots] = np.where(from_orig, a, b)
            m["u64"][OUTER_RESP_HI + k, slots] = np.where(from_orig, b, a)

    def release(self, slots: np.ndarray) -> None:
        """Forget emitted sessions: free their slots and their 4-tuples' table entries."""
        if slots.size == 0:
            return
        self.counters[0] -= release_slots(self.table, slots, self.state.m["u64"], self.state.m["u32"],
                                          self.state.m["u8"])
        self.state.reset(slots)
        top = int(self.counters[1])
        self.free_slots[top : top + slots.size] = slots
        self.counters[1] = top + slots.size
