"""Building blocks for hand-made captures: packets, link framings, pcap and pcapng writers.

Each packet is one line, and each line also records the truth about that record
(class, TCP fields, options) for ``sample_pcaps/expected/<name>.json``::

    conv = Conv(("10.0.0.1", 40000), ("10.0.0.2", 80))
    cap = Capture()
    cap.tcp(conv.c("S"), eth())          # SYN with Linux-like options
    cap.tcp(conv.s("SA"), eth())
    cap.other(arp_request(...), "non_ip")
    write_pcap(path, cap.records, LINKTYPE_ETHERNET)

IPv4, IPv6 and TCP headers are packed here with struct (not dpkt) because the malformed
cases need fields dpkt would correct; checksums are always computed, so tshark's optional
checksum check passes on every well-formed packet. dpkt builds the ARP, UDP and ICMP
filler packets.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Callable

import dpkt

# Link types (https://www.tcpdump.org/linktypes.html).
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_PPP = 9
LINKTYPE_RAW_12 = 12  # DLT_RAW as numbered on OpenBSD; libpcap maps it to raw IP
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

ETH_IPV4, ETH_IPV6, ETH_ARP = 0x0800, 0x86DD, 0x0806
ETH_8021Q, ETH_8021AD, ETH_MPLS, ETH_PPPOE_SESSION = 0x8100, 0x88A8, 0x8847, 0x8864
PPP_IPV4, PPP_IPV6 = 0x0021, 0x0057

MAC_CLIENT = bytes.fromhex("020000000001")
MAC_SERVER = bytes.fromhex("020000000002")

TCP_FLAG_BITS = {"F": 0x001, "S": 0x002, "R": 0x004, "P": 0x008, "A": 0x010, "U": 0x020,
                 "E": 0x040, "C": 0x080, "N": 0x100}  # N = AE/NS, bit 8 of the 9-bit field

T0_NS = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z, start of every synthetic capture


# ----------------------------------------------------------------------------- checksums


def inet_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo_header(src: str, dst: str, proto: int, length: int) -> bytes:
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version == 4:
        return s.packed + d.packed + struct.pack("!BBH", 0, proto, length)
    return s.packed + d.packed + struct.pack("!IxxxB", length, proto)


def is_v6(addr: str) -> bool:
    return ipaddress.ip_address(addr).version == 6


# --------------------------------------------------------------------------- TCP options


@dataclass(frozen=True)
class Opt:
    """One TCP option's bytes plus what a correct parser learns from them."""

    raw: bytes
    truth: dict = field(default_factory=dict)


def MSS(v: int) -> Opt:
    return Opt(struct.pack("!BBH", 2, 4, v), {"mss": v, "kinds": [2]})


def WS(shift: int) -> Opt:
    return Opt(struct.pack("!BBB", 3, 3, shift), {"wscale": shift, "kinds": [3]})


def TS(val: int, ecr: int) -> Opt:
    return Opt(struct.pack("!BBII", 8, 10, val, ecr), {"ts_val": val, "ts_ecr": ecr, "kinds": [8]})


def SACK(*blocks: tuple[int, int]) -> Opt:
    body = b"".join(struct.pack("!II", left, right) for left, right in blocks)
    return Opt(bytes([5, 2 + len(body)]) + body, {"sack": [list(b) for b in blocks], "kinds": [5]})


SACK_PERM = Opt(b"\x04\x02", {"sack_perm": True, "kinds": [4]})
NOP = Opt(b"\x01", {"kinds": [1]})
EOL = Opt(b"\x00", {"kinds": [0]})


def RAW(raw: bytes, **truth) -> Opt:
    """Any other option bytes; ``truth`` says what a parser must report (kinds, malformed)."""
    return Opt(raw, truth)


def options_truth(opts: tuple[Opt, ...]) -> dict:
    """What a parser reports for this option list.

    ``kinds`` lists the well-formed options in order, up to and including the first EOL;
    the zero bytes that pad the list to a 32-bit boundary count as that EOL. A malformed
    option ends the list: it is not in ``kinds``, its kind is ``malformed_kind``.
    """
    t = {"mss": None, "wscale": None, "sack_perm": False, "ts_val": None, "ts_ecr": None,
         "sack": [], "kinds": [], "malformed": False, "malformed_kind": None}
    for o in opts:
        if 0 in t["kinds"] or t["malformed"]:
            break  # nothing after EOL or a malformed option is an option
        for key, value in o.truth.items():
            if key in ("kinds", "sack"):
                t[key] = t[key] + value
            else:
                t[key] = value
    padded = len(b"".join(o.raw for o in opts)) % 4
    if padded and not t["malformed"] and 0 not in t["kinds"]:
        t["kinds"].append(0)
    return t


def pack_options(opts: tuple[Opt, ...]) -> bytes:
    raw = b"".join(o.raw for o in opts)
    return raw + b"\0" * (-len(raw) % 4)  # pad with EOL to a 32-bit boundary


# -------------------------------------------------------------------------------- packets


@dataclass
class Seg:
    """One TCP segment and the addresses it travels between."""

    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    win: int
    opts: tuple[Opt, ...] = ()
    data: bytes = b""
    data_offset: int | None = None  # words; None = computed (set it only to break the header)
    from_client: bool = True

    def tcp_bytes(self) -> bytes:
        options = pack_options(self.opts)
        doff = self.data_offset if self.data_offset is not None else (20 + len(options)) // 4
        hdr = struct.pack("!HHIIHHHH", self.sport, self.dport, self.seq, self.ack,
                          (doff << 12) | self.flags, self.win, 0, 0) + options
        segment = hdr + self.data
        csum = inet_checksum(pseudo_header(self.src, self.dst, 6, len(segment)) + segment)
        return segment[:16] + struct.pack("!H", csum) + segment[18:]

    def ip(self, **kw) -> bytes:
        """The segment in an IPv4 or IPv6 packet (by address family); kw go to ip4()/ip6()."""
        build = ip6 if is_v6(self.src) else ip4
        return build(self.src, self.dst, 6, self.tcp_bytes(), **kw)

    def truth(self) -> dict:
        return {"src_addr": self.src, "dst_addr": self.dst, "src_port": self.sport,
                "dst_port": self.dport, "seq_raw": self.seq, "ack_raw": self.ack,
                "tcp_flags": self.flags, "win_raw": self.win, "payload_len": len(self.data),
                "options": options_truth(self.opts)}


def ip4(src: str, dst: str, proto: int, payload: bytes, *, ident: int = 0x1000, ttl: int = 64,
        df: bool = True, mf: bool = False, frag_off: int = 0, options: bytes = b"",
        ihl: int | None = None, total_length: int | None = None) -> bytes:
    """IPv4 header + payload; ``ihl``/``total_length`` override the computed values."""
    options += b"\0" * (-len(options) % 4)
    hl = ihl if ihl is not None else 5 + len(options) // 4
    tl = total_length if total_length is not None else 20 + len(options) + len(payload)
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_off // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | hl, 0, tl, ident, flags, ttl, proto, 0,
                      ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed) + options
    csum = inet_checksum(hdr)
    return hdr[:10] + struct.pack("!H", csum) + hdr[12:] + payload


def ip6(src: str, dst: str, proto: int, payload: bytes, *, ext: tuple[tuple[int, bytes], ...] = (),
        hop_limit: int = 64) -> bytes:
    """IPv6 header, extension headers ``ext`` as (type, body-after-next-header) pairs, payload."""
    chain, types = b"", [t for t, _ in ext] + [proto]
    for (_, body), nxt in zip(ext, types[1:]):
        chain += bytes([nxt]) + body
    first = types[0]
    hdr = struct.pack("!IHBB16s16s", 6 << 28, len(chain) + len(payload), first, hop_limit,
                      ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed)
    return hdr + chain + payload


# IPv6 extension header bodies (everything after the Next Header byte).
IP6_HOPOPTS, IP6_ROUTING, IP6_FRAGMENT, IP6_DSTOPTS = 0, 43, 44, 60


def ext_hop_by_hop_router_alert() -> tuple[int, bytes]:
    # Hdr Ext Len 0, Router Alert (type 5, len 2, value 0 = MLD), PadN(0) to 8 bytes.
    return IP6_HOPOPTS, bytes([0, 5, 2, 0, 0, 1, 0])


def ext_routing_srh(final_dst: str) -> tuple[int, bytes]:
    # RFC 8754 Segment Routing Header, one segment (the final destination), Segments Left 0:
    # the TCP pseudo-header uses the IPv6 destination as is.
    return IP6_ROUTING, bytes([2, 4, 0, 0, 0, 0, 0]) + ipaddress.ip_address(final_dst).packed


def ext_dest_opts_padn() -> tuple[int, bytes]:
    return IP6_DSTOPTS, bytes([0, 1, 4, 0, 0, 0, 0])  # PadN covering the 6 option bytes


def ext_fragment(offset: int, more: bool, ident: int) -> tuple[int, bytes]:
    return IP6_FRAGMENT, struct.pack("!BHI", 0, offset | int(more), ident)


def ip4_fragments(src: str, dst: str, proto: int, payload: bytes, cuts: list[tuple[int, int]],
                  ident: int) -> list[bytes]:
    """IPv4 fragments of one datagram: each (start, end) slice of ``payload`` becomes one."""
    return [ip4(src, dst, proto, payload[a:b], ident=ident, df=False, mf=b < len(payload), frag_off=a)
            for a, b in cuts]


def ip6_fragments(src: str, dst: str, proto: int, payload: bytes, cuts: list[tuple[int, int]],
                  ident: int) -> list[bytes]:
    return [ip6(src, dst, proto, payload[a:b], ext=(ext_fragment(a, b < len(payload), ident),))
            for a, b in cuts]


def udp(src: str, dst: str, sport: int, dport: int, data: bytes) -> bytes:
    u = dpkt.udp.UDP(sport=sport, dport=dport, data=data, ulen=8 + len(data))
    u.sum = inet_checksum(pseudo_header(src, dst, 17, len(bytes(u))) + bytes(u)) or 0xFFFF
    return (ip6 if is_v6(src) else ip4)(src, dst, 17, bytes(u))


def icmp4(src: str, dst: str, icmp_type: int, code: int, body: bytes) -> bytes:
    msg = dpkt.icmp.ICMP(type=icmp_type, code=code, data=body)
    return ip4(src, dst, 1, bytes(msg), df=False)  # dpkt fills in the ICMP checksum


def icmp6(src: str, dst: str, icmp_type: int, code: int, body: bytes) -> bytes:
    msg = struct.pack("!BBH", icmp_type, code, 0) + body
    csum = inet_checksum(pseudo_header(src, dst, 58, len(msg)) + msg)
    return ip6(src, dst, 58, msg[:2] + struct.pack("!H", csum) + msg[4:])


def arp(op: int, sha: bytes, spa: str, tha: bytes, tpa: str) -> bytes:
    return bytes(dpkt.arp.ARP(op=op, sha=sha, spa=ipaddress.ip_address(spa).packed,
                              tha=tha, tpa=ipaddress.ip_address(tpa).packed))


# --------------------------------------------------------------------------- conversation


@dataclass
class _Side:
    addr: str
    port: int
    nxt: int  # next sequence number this side sends
    tsval: int
    win: int
    peer_tsval: int = 0


class Conv:
    """Sequence/ack/timestamp bookkeeping for one TCP connection, so each line is one packet.

    ``conv.c("PA", data)`` is a segment from the client, ``conv.s(...)`` from the server;
    ack is the peer's next sequence number whenever the A flag is set; SYN and FIN use one
    sequence number. With ``ts=True`` every segment carries timestamps like Linux does.
    """

    def __init__(self, client: tuple[str, int], server: tuple[str, int], *, isn_c: int = 0x1A2B3C4D,
                 isn_s: int = 0x5E6F7081, ts: bool = True, wscale: int = 7):
        self.client = _Side(*client, nxt=isn_c, tsval=1_000_000, win=502)
        self.server = _Side(*server, nxt=isn_s, tsval=7_000_000, win=509)
        self.ts, self.wscale = ts, wscale

    def c(self, flags: str, data: bytes = b"", **kw) -> Seg:
        return self._seg(self.client, self.server, flags, data, from_client=True, **kw)

    def s(self, flags: str, data: bytes = b"", **kw) -> Seg:
        return self._seg(self.server, self.client, flags, data, from_client=False, **kw)

    def _default_opts(self, me: _Side, syn: bool) -> tuple[Opt, ...]:
        if syn and self.ts:  # Linux order: MSS, SACK_PERM, TS, NOP, WS
            return (MSS(1460), SACK_PERM, TS(me.tsval, me.peer_tsval), NOP, WS(self.wscale))
        if syn:  # Windows order, no timestamps
            return (MSS(1460), NOP, WS(self.wscale), NOP, NOP, SACK_PERM)
        return (NOP, NOP, TS(me.tsval, me.peer_tsval)) if self.ts else ()

    def _seg(self, me: _Side, peer: _Side, flags: str, data: bytes, *, from_client: bool,
             opts: tuple[Opt, ...] | None = None, seq: int | None = None, ack: int | None = None,
             win: int | None = None, advance: bool = True, extra_opts: tuple[Opt, ...] = (),
             data_offset: int | None = None) -> Seg:
        bits = sum(TCP_FLAG_BITS[f] for f in flags)
        syn = bool(bits & TCP_FLAG_BITS["S"])
        if opts is None:
            opts = self._default_opts(me, syn) + extra_opts
        if win is None:
            win = (64240 if from_client else 65160) if syn else me.win
        if ack is None:
            ack = peer.nxt if bits & TCP_FLAG_BITS["A"] else 0
        start = me.nxt if seq is None else seq
        seg = Seg(me.addr, peer.addr, me.port, peer.port, start & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                  bits, win, tuple(opts), data, data_offset, from_client)
        if advance and seq is None:
            me.nxt = (start + len(data) + syn + bool(bits & TCP_FLAG_BITS["F"])) & 0xFFFFFFFF
        # The peer echoes the newest TSval it has seen.
        peer.peer_tsval = me.tsval
        me.tsval += 1
        return seg


# --------------------------------------------------------------------------- link framing
#
# A link framing is a function (l3 bytes, from_client) -> frame bytes.

Link = Callable[[bytes, bool], bytes]


def _ethertype(l3: bytes) -> int:
    return ETH_IPV6 if l3[0] >> 4 == 6 else ETH_IPV4


def eth(tags: tuple[tuple[int, int], ...] = (), ethertype: int | None = None) -> Link:
    """Ethernet II, with VLAN tags as (TPID, VID) pairs outermost first."""
    def frame(l3: bytes, from_client: bool = True) -> bytes:
        src, dst = (MAC_CLIENT, MAC_SERVER) if from_client else (MAC_SERVER, MAC_CLIENT)
        tag_bytes = b"".join(struct.pack("!HH", tpid, vid) for tpid, vid in tags)
        return dst + src + tag_bytes + struct.pack("!H", ethertype or _ethertype(l3)) + l3
    return frame


def mpls(labels: tuple[int, ...]) -> Link:
    """Ethernet + MPLS label stack (outermost first), bottom-of-stack bit on the last label."""
    def frame(l3: bytes, from_client: bool = True) -> bytes:
        stack = b"".join(struct.pack("!I", (label << 12) | (int(i == len(labels) - 1) << 8) | 64)
                         for i, label in enumerate(labels))
        return eth(ethertype=ETH_MPLS)(stack + l3, from_client)
    return frame


def pppoe(session_id: int = 0x1234) -> Link:
    def frame(l3: bytes, from_client: bool = True) -> bytes:
        proto = PPP_IPV6 if l3[0] >> 4 == 6 else PPP_IPV4
        body = struct.pack("!H", proto) + l3
        hdr = struct.pack("!BBHH", 0x11, 0x00, session_id, len(body))
        return eth(ethertype=ETH_PPPOE_SESSION)(hdr + body, from_client)
    return frame


def sll() -> Link:
    """Linux cooked v1, captured on the client: its packets OUTGOING (4), the rest HOST (0)."""
    def frame(l3: bytes, from_client: bool = True) -> bytes:
        src = MAC_CLIENT if from_client else MAC_SERVER
        return struct.pack("!HHH8sH", 4 if from_client else 0, 1, 6, src, _ethertype(l3)) + l3
    return frame


def sll2(ifindex: int = 2) -> Link:
    def frame(l3: bytes, from_client: bool = True) -> bytes:
        src = MAC_CLIENT if from_client else MAC_SERVER
        return struct.pack("!HHIHBB8s", _ethertype(l3), 0, ifindex, 1, 4 if from_client else 0, 6,
                           src) + l3
    return frame


def null(af6: int = 30, endian: str = "<") -> Link:
    """BSD loopback: 4-byte address family in the writer's byte order."""
    def frame(l3: bytes, from_client: bool = True) -> bytes:
        return struct.pack(endian + "I", af6 if l3[0] >> 4 == 6 else 2) + l3
    return frame


def loop(af6: int = 24) -> Link:
    """OpenBSD loopback (linktype 108): the address family in network byte order."""
    return null(af6, endian="!")


def ppp(address_control: bool = True) -> Link:
    def frame(l3: bytes, from_client: bool = True) -> bytes:
        proto = PPP_IPV6 if l3[0] >> 4 == 6 else PPP_IPV4
        return (b"\xff\x03" if address_control else b"") + struct.pack("!H", proto) + l3
    return frame


def chdlc() -> Link:
    """Cisco HDLC inside a PPP (9) capture: address 0x0f, control 0, then an Ethertype."""
    def frame(l3: bytes, from_client: bool = True) -> bytes:
        return struct.pack("!BBH", 0x0F, 0x00, _ethertype(l3)) + l3
    return frame


def raw() -> Link:
    def frame(l3: bytes, from_client: bool = True) -> bytes:
        return l3
    return frame


# -------------------------------------------------------------------------------- records


@dataclass
class Record:
    """One capture record: its bytes, capture length and what it is."""

    ts_ns: int | None
    data: bytes
    caplen: int
    truth: dict
    iface: int = 0

    @property
    def orig_len(self) -> int:
        return len(self.data)

    @property
    def captured(self) -> bytes:
        return self.data[: self.caplen]


class Capture:
    """Records in file order, each with its truth; timestamps advance ``step_ns`` unless given."""

    def __init__(self, t0_ns: int = T0_NS, step_ns: int = 1_000_000):
        self.records: list[Record] = []
        self.t, self.step = t0_ns, step_ns

    def _ts(self, ts_ns: int | None) -> int:
        self.t = ts_ns if ts_ns is not None else self.t + self.step
        return self.t

    def add(self, frame: bytes, truth: dict, *, caplen: int | None = None, ts_ns: int | None = None,
            iface: int = 0) -> Record:
        caplen = len(frame) if caplen is None else caplen
        rec = Record(self._ts(ts_ns), frame, caplen, truth, iface)
        self.records.append(rec)
        return rec

    def tcp(self, seg: Seg, link: Link, *, caplen: int | None = None, ts_ns: int | None = None,
            iface: int = 0, l3: bytes | None = None, **extra) -> Record:
        """A record that decodes to this TCP segment (``l3`` overrides the IP packing)."""
        frame = link(seg.ip() if l3 is None else l3, seg.from_client)
        truth = {"class": "tcp", **seg.truth(), **extra}
        return self.add(frame, truth, caplen=caplen, ts_ns=ts_ns, iface=iface)

    def other(self, l3_or_frame: bytes, cls: str, link: Link | None = None, *, what: str,
              ts_ns: int | None = None, iface: int = 0, from_client: bool = True) -> Record:
        """A non-TCP record: ``cls`` is other_ip or non_ip; ``what`` says what it is."""
        frame = link(l3_or_frame, from_client) if link else l3_or_frame
        return self.add(frame, {"class": cls, "what": what}, ts_ns=ts_ns, iface=iface)

    def malformed(self, frame: bytes, reason: str, *, what: str, caplen: int | None = None,
                  ts_ns: int | None = None, iface: int = 0, **extra) -> Record:
        truth = {"class": "malformed", "reason": reason, "what": what, **extra}
        return self.add(frame, truth, caplen=caplen, ts_ns=ts_ns, iface=iface)


# -------------------------------------------------------------------------------- writers

PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_MAGIC_NSEC = 0xA1B23C4D


def pcap_bytes(records: list[Record], linktype: int, *, endian: str = "<", nano: bool = False,
               snaplen: int = 262144) -> bytes:
    """A classic pcap file; ``endian`` '<' or '>' is the byte order of every header field."""
    out = [struct.pack(endian + "IHHiIII", PCAP_MAGIC_NSEC if nano else PCAP_MAGIC_USEC, 2, 4, 0, 0,
                       snaplen, linktype)]
    for r in records:
        sec, ns = divmod(r.ts_ns, 1_000_000_000)
        if not nano:
            assert ns % 1000 == 0, "a microsecond file cannot hold this timestamp exactly"
        frac = ns if nano else ns // 1000
        out.append(struct.pack(endian + "IIII", sec, frac, r.caplen, r.orig_len) + r.captured)
    return b"".join(out)


def write_pcap(path, records: list[Record], linktype: int, **kw) -> None:
    with open(path, "wb") as f:
        f.write(pcap_bytes(records, linktype, **kw))


# pcapng (draft-ietf-opsawg-pcapng): block types and option codes.
BT_SHB, BT_IDB, BT_PB_OBSOLETE, BT_SPB, BT_NRB, BT_ISB, BT_EPB = (
    0x0A0D0D0A, 1, 2, 3, 4, 5, 6)
BT_CUSTOM_COPY = 0x00000BAD
OPT_ENDOFOPT, OPT_COMMENT = 0, 1
SHB_HARDWARE, SHB_OS, SHB_USERAPPL = 2, 3, 4
IF_NAME, IF_DESCRIPTION, IF_TSRESOL, IF_TSOFFSET = 2, 3, 9, 14
PEN_WIRESHARK_TEST = 32473  # IANA's example enterprise number (RFC 5612)


def tsresol_units(tsresol: int) -> int:
    """Ticks per second for an if_tsresol byte: 10^n, or 2^n when the high bit is set."""
    return 2 ** (tsresol & 0x7F) if tsresol & 0x80 else 10 ** tsresol


def ns_to_ticks(ts_ns: int, tsresol: int = 6, tsoffset_s: int = 0) -> int:
    """The 64-bit timestamp field for ``ts_ns``; must be exact so the truth stays an int."""
    num = (ts_ns - tsoffset_s * 1_000_000_000) * tsresol_units(tsresol)
    ticks, rem = divmod(num, 1_000_000_000)
    assert rem == 0, f"{ts_ns} is not a whole number of ticks at resolution {tsresol:#x}"
    return ticks


class Pcapng:
    """A pcapng file assembled block by block, in one byte order per section."""

    def __init__(self, endian: str = "<"):
        self.endian = endian
        self.blocks: list[bytes] = []

    def _options(self, opts: list[tuple[int, bytes]]) -> bytes:
        if not opts:
            return b""
        out = b""
        for code, value in opts:
            out += struct.pack(self.endian + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)
        return out + struct.pack(self.endian + "HH", OPT_ENDOFOPT, 0)

    def block(self, btype: int, body: bytes) -> None:
        body += b"\0" * (-len(body) % 4)
        total = 12 + len(body)
        self.blocks.append(struct.pack(self.endian + "II", btype, total) + body
                           + struct.pack(self.endian + "I", total))

    def shb(self, endian: str = "<", opts: list[tuple[int, bytes]] | None = None) -> None:
        """Start a section; it may switch the byte order of every block that follows."""
        self.endian = endian
        body = struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1) + self._options(opts or [])
        self.block(BT_SHB, body)

    def idb(self, linktype: int, snaplen: int = 262144, *, name: str = "", tsresol: int | None = None,
            tsoffset_s: int | None = None, description: str = "") -> None:
        opts = []
        if name:
            opts.append((IF_NAME, name.encode()))
        if description:
            opts.append((IF_DESCRIPTION, description.encode()))
        if tsresol is not None:
            opts.append((IF_TSRESOL, bytes([tsresol])))
        if tsoffset_s is not None:
            opts.append((IF_TSOFFSET, struct.pack(self.endian + "q", tsoffset_s)))
        self.block(BT_IDB, struct.pack(self.endian + "HHI", linktype, 0, snaplen) + self._options(opts))

    def epb(self, rec: Record, tsresol: int = 6, tsoffset_s: int = 0, comment: str = "") -> None:
        ticks = ns_to_ticks(rec.ts_ns, tsresol, tsoffset_s)
        body = struct.pack(self.endian + "IIIII", rec.iface, ticks >> 32, ticks & 0xFFFFFFFF,
                           rec.caplen, rec.orig_len) + rec.captured
        body += b"\0" * (-len(body) % 4)
        self.block(BT_EPB, body + self._options([(OPT_COMMENT, comment.encode())] if comment else []))

    def spb(self, rec: Record) -> None:
        """Simple Packet Block: no interface id (always 0), no timestamp, no caplen field."""
        self.block(BT_SPB, struct.pack(self.endian + "I", rec.orig_len) + rec.captured)

    def pb_obsolete(self, rec: Record, tsresol: int = 6, tsoffset_s: int = 0) -> None:
        """The obsolete Packet Block (type 2): 16-bit interface id and drops count."""
        ticks = ns_to_ticks(rec.ts_ns, tsresol, tsoffset_s)
        self.block(BT_PB_OBSOLETE, struct.pack(self.endian + "HHIIII", rec.iface, 0, ticks >> 32,
                                               ticks & 0xFFFFFFFF, rec.caplen, rec.orig_len) + rec.captured)

    def nrb(self, entries: list[tuple[str, str]]) -> None:
        body = b""
        for addr, name in entries:
            ip = ipaddress.ip_address(addr)
            value = ip.packed + name.encode() + b"\0"
            body += struct.pack(self.endian + "HH", 1 if ip.version == 4 else 2, len(value))
            body += value + b"\0" * (-len(value) % 4)
        self.block(BT_NRB, body + struct.pack(self.endian + "HH", 0, 0))

    def isb(self, iface: int, ts_ns: int, tsresol: int = 6, tsoffset_s: int = 0) -> None:
        ticks = ns_to_ticks(ts_ns, tsresol, tsoffset_s)
        self.block(BT_ISB, struct.pack(self.endian + "III", iface, ticks >> 32, ticks & 0xFFFFFFFF))

    def custom(self, btype: int, pen: int, data: bytes) -> None:
        self.block(btype, struct.pack(self.endian + "I", pen) + data)

    def bytes(self) -> bytes:
        return b"".join(self.blocks)
