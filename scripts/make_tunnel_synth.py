#!/usr/bin/env python3
"""Hand-build the tunnelled captures: sample_pcaps/synth-tunnel-*.pcap.

    python scripts/make_tunnel_synth.py          # writes every file; byte-for-byte reproducible

``tenants()`` (the same 4-tuple in VNI 100 and VNI 200 at once) is built by the tests, not
written here: see ``main``.

Every file carries the same small TCP session (handshake, data both ways, one retransmission,
a duplicate ACK, FIN close: tshark's analysis flags to compare) inside one kind of tunnel,
one packet per line: the inner IP packets come from ``session``, a wrapper puts each in its
tunnel and link layer. Inner and outer IP, UDP and TCP headers are built by dpkt with valid
checksums (except in synth-tunnel-bad-checksums). Tunnel headers are packed with struct as
their specifications lay them out. Addresses come from the documentation ranges.
"""

from __future__ import annotations

import ipaddress
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import dpkt

OUT = Path(__file__).resolve().parent.parent / "sample_pcaps"
T0_S = 1_700_000_000  # 2023-11-14T22:13:20Z
STEP_US = 1000
SNAPLEN = 65535

MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
ETH_IPV4, ETH_IPV6, ETH_MPLS, ETH_TEB = 0x0800, 0x86DD, 0x8847, 0x6558
ETH_ERSPAN, ETH_ERSPAN3, ETH_PPP, ETH_PBB, ETH_VNTAG = 0x88BE, 0x22EB, 0x880B, 0x88E7, 0x8926
PROTO_IPIP, PROTO_TCP, PROTO_UDP, PROTO_IPV6, PROTO_GRE = 4, 6, 17, 41, 47
GRE_C, GRE_K, GRE_S, GRE_A = 0x8000, 0x2000, 0x1000, 0x0080
PORT_VXLAN, PORT_GPE, PORT_GENEVE, PORT_GTP, PORT_TEREDO, PORT_AYIYA, PORT_MPLS = 4789, 4790, 6081, 2152, 3544, 5072, 6635

OUTER4 = ("192.0.2.1", "192.0.2.2")
OUTER6 = ("2001:db8::1", "2001:db8::2")
INNER4 = ("10.0.0.1", "10.0.0.2")
INNER6 = ("fd00::1", "fd00::2")

# A wrapper: (inner IP packet, direction 0 = client to server, packet index) -> link-layer frame.
Wrapper = Callable[[bytes, int, int], bytes]


# ---------------------------------------------------------------------------------- packets

def ip(src: str, dst: str, proto: int, payload, *, ident: int = 1) -> bytes:
    """An IPv4 or IPv6 header (by the addresses) around ``payload`` (bytes or a dpkt TCP/UDP)."""
    if ipaddress.ip_address(src).version == 4:
        packet = dpkt.ip.IP(src=ipaddress.IPv4Address(src).packed, dst=ipaddress.IPv4Address(dst).packed, p=proto,
                            id=ident, ttl=64, data=payload)
    else:
        packet = dpkt.ip6.IP6(src=ipaddress.IPv6Address(src).packed, dst=ipaddress.IPv6Address(dst).packed,
                              nxt=proto, hlim=64, data=payload)
        packet.plen = len(bytes(payload))
    return bytes(packet)


def tcp(sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"") -> dpkt.tcp.TCP:
    return dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, win=64240, data=payload)


def udp(sport: int, dport: int, payload: bytes) -> dpkt.udp.UDP:
    return dpkt.udp.UDP(sport=sport, dport=dport, ulen=8 + len(payload), data=payload)


def eth(payload: bytes, ethertype: int | None = None, direction: int = 0) -> bytes:
    etype = ethertype if ethertype is not None else (ETH_IPV6 if payload[0] >> 4 == 6 else ETH_IPV4)
    src, dst = (MAC_A, MAC_B) if direction == 0 else (MAC_B, MAC_A)
    return dst + src + struct.pack("!H", etype) + payload


def ip_ethertype(packet: bytes) -> int:
    return ETH_IPV6 if packet[0] >> 4 == 6 else ETH_IPV4


def session(addrs: tuple[str, str] = INNER4, ports: tuple[int, int] = (40000, 80), isn: tuple[int, int] = (1000, 5000)
            ) -> list[tuple[int, bytes]]:
    """The inner session: (direction, IP packet). Handshake, 100 bytes up, 300 down (the second
    segment retransmitted), a duplicate ACK, FIN both ways."""
    (c, s), (cp, sp), (ci, si) = addrs, ports, isn
    A, PA, FA, S, SA = 0x10, 0x18, 0x11, 0x02, 0x12
    steps = [(0, ci, 0, S, b""), (1, si, ci + 1, SA, b""), (0, ci + 1, si + 1, A, b""),
             (0, ci + 1, si + 1, PA, b"q" * 100), (1, si + 1, ci + 101, PA, b"r" * 150),
             (1, si + 151, ci + 101, PA, b"s" * 150), (1, si + 151, ci + 101, PA, b"s" * 150),
             (0, ci + 101, si + 301, A, b""), (0, ci + 101, si + 301, A, b""),
             (0, ci + 101, si + 301, FA, b""), (1, si + 301, ci + 102, FA, b""), (0, ci + 102, si + 302, A, b"")]
    out = []
    for k, (d, seq, ack, flags, data) in enumerate(steps):
        src, dst, sport, dport = (c, s, cp, sp) if d == 0 else (s, c, sp, cp)
        out.append((d, ip(src, dst, PROTO_TCP, tcp(sport, dport, seq, ack, flags, data), ident=k + 1)))
    return out


def outer(direction: int, addrs: tuple[str, str]) -> tuple[str, str]:
    return addrs if direction == 0 else (addrs[1], addrs[0])


def over_ip(proto: int, addrs: tuple[str, str] = OUTER4) -> Callable[[bytes, int], bytes]:
    """Outer Ethernet and IP (of the addresses' version) carrying ``proto``."""
    return lambda payload, d: eth(ip(*outer(d, addrs), proto, payload))


def over_udp(port: int, addrs: tuple[str, str] = OUTER4, source_port: int = 49152) -> Callable[[bytes, int], bytes]:
    """Outer Ethernet, IP and UDP to the tunnel ``port`` (the reverse direction from it)."""
    def wrap(payload: bytes, d: int) -> bytes:
        ports = (source_port, port) if d == 0 else (port, source_port)
        return eth(ip(*outer(d, addrs), PROTO_UDP, udp(*ports, payload)))
    return wrap


# ---------------------------------------------------------------------------------- tunnels

def gre(proto: int, payload: bytes, *, key: int | None = None, seq: int | None = None, checksum: bool = False) -> bytes:
    """GRE version 0 (RFC 2784/2890) with the optional fields asked for."""
    flags = (GRE_C if checksum else 0) | (GRE_K if key is not None else 0) | (GRE_S if seq is not None else 0)
    header = struct.pack("!HH", flags, proto)
    if checksum:
        header += b"\x00\x00\x00\x00"
    if key is not None:
        header += struct.pack("!I", key)
    if seq is not None:
        header += struct.pack("!I", seq)
    if checksum:
        total = dpkt.in_cksum(header + payload)
        header = header[:4] + struct.pack("!H", total) + header[6:]
    return header + payload


def pptp_gre(ppp: bytes, call_id: int, seq: int, ack: int | None = None) -> bytes:
    """PPTP's enhanced GRE (version 1): key = payload length and call id, a sequence number, an ack."""
    flags = GRE_K | (GRE_S if ppp else 0) | (GRE_A if ack is not None else 0) | 1
    header = struct.pack("!HHHH", flags, ETH_PPP, len(ppp), call_id)
    if ppp:
        header += struct.pack("!I", seq)
    if ack is not None:
        header += struct.pack("!I", ack)
    return header + ppp


def erspan2(frame: bytes, session_id: int) -> bytes:
    return struct.pack("!HHI", (1 << 12) | 10, session_id, 7) + frame


def erspan3(frame: bytes, session_id: int, platform: bool) -> bytes:
    header = struct.pack("!HHIHH", (2 << 12) | 10, session_id, 123456, 0, 1 if platform else 0)
    return header + (struct.pack("!II", 3 << 26, 654321) if platform else b"") + frame


def mpls(payload: bytes, labels: tuple[int, ...]) -> bytes:
    words = [(label << 12) | (0x100 if k == len(labels) - 1 else 0) | 64 for k, label in enumerate(labels)]
    return b"".join(struct.pack("!I", w) for w in words) + payload


def vxlan(frame: bytes, vni: int) -> bytes:
    return struct.pack("!II", 0x08000000, vni << 8) + frame


def vxlan_gpe(payload: bytes, vni: int, next_protocol: int) -> bytes:
    return struct.pack("!BHBI", 0x0C, 0, next_protocol, vni << 8) + payload


def nsh(payload: bytes, next_protocol: int) -> bytes:
    """NSH with MD type 2 and no metadata: base and service path headers, length 2 words."""
    return struct.pack("!BBBBI", 0x0F, 0xC2, 0x02, next_protocol, (42 << 8) | 255) + payload


def geneve(payload: bytes, vni: int, proto: int, options: bytes = b"") -> bytes:
    return struct.pack("!BBHI", len(options) // 4, 0, proto, vni << 8) + options + payload


GENEVE_OPTION = struct.pack("!HBB", 0x0101, 0x01, 1) + b"\x00\x00\x00\x2a"  # class, type, length 1 word


def gtp_u(packet: bytes, teid: int, index: int) -> bytes:
    """GTP-U v1 T-PDU; every other packet with a sequence number, every third with an extension
    header chain (PDU session container, then a 2-word one), the rest bare."""
    if index % 3 == 0:
        options = struct.pack("!HBB", index, 0, 0x85) + bytes([1, 0x00, 0x09, 0x40]) + bytes([2, 1, 2, 3, 4, 5, 6, 0])
        flags = 0x36
    elif index % 2 == 0:
        options, flags = struct.pack("!HBB", index, 0, 0), 0x32
    else:
        options, flags = b"", 0x30
    body = options + packet
    return struct.pack("!BBHI", flags, 0xFF, len(body), teid) + body


def teredo(packet: bytes, index: int) -> bytes:
    """Teredo: an origin indication on every other packet, authentication too on every third."""
    head = b""
    if index % 3 == 0:
        head += struct.pack("!HBB", 1, 4, 2) + b"idid" + b"au" + b"\x11" * 8 + b"\x00"
    if index % 2 == 0:
        head += struct.pack("!HH4s", 0, 40000 ^ 0xFFFF, bytes(b ^ 0xFF for b in bytes([198, 51, 100, 7])))
    return head + packet


def ayiya(packet: bytes) -> bytes:
    """AYIYA forward: a 16-byte identity (2^4), a 20-byte signature (5 words), next header by the packet."""
    nxt = PROTO_IPV6 if packet[0] >> 4 == 6 else PROTO_IPIP
    return struct.pack("!BBBBI", 0x41, 0x52, 0x11, nxt, T0_S) + b"\x20" * 16 + b"\x5a" * 20 + packet


def pbb(frame: bytes) -> bytes:
    """802.1ah: the I-TAG (I-SID 0x010203), then the customer's addresses and ethertype."""
    return struct.pack("!I", 0x00010203) + frame


def vn_tag(payload: bytes) -> bytes:
    return struct.pack("!IH", 0x00050007, ip_ethertype(payload)) + payload


# ---------------------------------------------------------------------------------- wrappers

def gre_options(packet: bytes, d: int, k: int) -> bytes:
    return over_ip(PROTO_GRE)(gre(ip_ethertype(packet), packet, key=0x1234, seq=k, checksum=True), d)


def pptp(packet: bytes, d: int, k: int) -> bytes:
    return over_ip(PROTO_GRE)(pptp_gre(b"\xff\x03\x00\x21" + packet, 0x4000 + d, k, ack=k - 1 if k else None), d)


def pptp_with_bare_ack() -> list[tuple[bytes, int]]:
    """The PPTP session with a GRE acknowledgement carrying no payload after the handshake."""
    frames = wrapped(pptp, INNER4)
    bare = over_ip(PROTO_GRE)(pptp_gre(b"", 0x4001, 0, ack=2), 1)
    return frames[:3] + [(bare, len(bare))] + frames[3:]


def erspan_type(kind: int) -> Wrapper:
    def wrap(packet: bytes, d: int, k: int) -> bytes:
        frame = eth(packet, direction=d)
        if kind == 1:
            return over_ip(PROTO_GRE)(gre(ETH_ERSPAN, frame), d)
        if kind == 2:
            return over_ip(PROTO_GRE)(gre(ETH_ERSPAN, erspan2(frame, 42), seq=k), d)
        return over_ip(PROTO_GRE)(gre(ETH_ERSPAN3, erspan3(frame, 42, platform=k % 2 == 1), seq=k), d)
    return wrap


def gpe(packet: bytes, d: int, k: int) -> bytes:
    """VXLAN-GPE: IPv6 as next protocol 2; IPv4 in turn as 1, Ethernet (3) and NSH then IPv4 (4)."""
    if packet[0] >> 4 == 6:
        body = vxlan_gpe(packet, 300, 2)
    else:
        body = [vxlan_gpe(packet, 300, 1), vxlan_gpe(eth(packet, direction=d), 300, 3),
                vxlan_gpe(nsh(packet, 1), 300, 4)][k % 3]
    return over_udp(PORT_GPE)(body, d)


def geneve_wrap(packet: bytes, d: int, k: int) -> bytes:
    """Geneve with one option: Ethernet (0x6558) on odd packets, bare IP on even ones."""
    body = eth(packet, direction=d) if k % 2 else packet
    return over_udp(PORT_GENEVE)(geneve(body, 500, ETH_TEB if k % 2 else ip_ethertype(packet), GENEVE_OPTION), d)


def nested(packet: bytes, d: int, k: int) -> bytes:
    """VXLAN (VNI 100, between 198.51.100.1/.2) inside GRE (key 7, between 192.0.2.1/.2)."""
    inner_vxlan = ip(*outer(d, ("198.51.100.1", "198.51.100.2")), PROTO_UDP,
                     udp(*((49153, PORT_VXLAN) if d == 0 else (PORT_VXLAN, 49153)), vxlan(eth(packet, direction=d), 100)))
    return over_ip(PROTO_GRE)(gre(ETH_IPV4, inner_vxlan, key=7), d)


WRAPPERS: dict[str, tuple[Wrapper, tuple[str, str], str]] = {
    # name: (wrapper, inner addresses, what the README says)
    "ipip": (lambda p, d, k: over_ip(PROTO_IPIP)(p, d), INNER4, "IPv4 in IPv4 (protocol 4)"),
    "6in4": (lambda p, d, k: over_ip(PROTO_IPV6)(p, d), INNER6, "IPv6 in IPv4 (protocol 41, sit)"),
    "4in6": (lambda p, d, k: over_ip(PROTO_IPIP, OUTER6)(p, d), INNER4, "IPv4 in IPv6 (ip6tnl)"),
    "6in6": (lambda p, d, k: over_ip(PROTO_IPV6, OUTER6)(p, d), INNER6, "IPv6 in IPv6 (ip6tnl)"),
    "gre": (gre_options, INNER4, "GRE with checksum, key 0x1234 and sequence numbers, IPv4 inside"),
    "gre6": (lambda p, d, k: over_ip(PROTO_GRE, OUTER6)(gre(ETH_IPV6, p), d), INNER6, "IPv6 in GRE over IPv6 (ip6gre)"),
    "gretap": (lambda p, d, k: over_ip(PROTO_GRE)(gre(ETH_TEB, eth(p, direction=d), key=9), d), INNER4,
               "transparent Ethernet bridging (0x6558, gretap), key 9"),
    "pptp": (pptp, INNER4, "PPTP enhanced GRE (version 1): PPP with address/control, call ids 0x4000/0x4001, "
                           "sequence and acknowledgement numbers"),
    "erspan1": (erspan_type(1), INNER4, "ERSPAN type I: GRE 0x88BE without a sequence number, the mirrored frame"),
    "erspan2": (erspan_type(2), INNER4, "ERSPAN type II: GRE 0x88BE with sequence numbers, 8-byte header, session 42"),
    "erspan3": (erspan_type(3), INNER4, "ERSPAN type III: GRE 0x22EB, 12-byte header, the 8-byte platform "
                                        "subheader (O bit) on every other packet, session 42"),
    "mpls-gre": (lambda p, d, k: over_ip(PROTO_GRE)(gre(ETH_MPLS, mpls(p, (100, 200))), d), INNER4,
                 "MPLS over GRE (0x8847), two labels"),
    "mpls-udp": (lambda p, d, k: over_udp(PORT_MPLS)(mpls(p, (300,)), d), INNER4, "MPLS in UDP (port 6635), one label"),
    "vxlan": (lambda p, d, k: over_udp(PORT_VXLAN)(vxlan(eth(p, direction=d), 100), d), INNER4, "VXLAN, VNI 100"),
    "vxlan-gpe": (gpe, INNER4, "VXLAN-GPE (port 4790), VNI 300: next protocol IPv4, Ethernet and NSH (then IPv4) "
                               "in turn"),
    "geneve": (geneve_wrap, INNER4, "Geneve, VNI 500, one 8-byte option: Ethernet (0x6558) and bare IPv4 in turn"),
    "gtp-u": (lambda p, d, k: over_udp(PORT_GTP, source_port=PORT_GTP)(gtp_u(p, 0x1000 + d, k), d), INNER4,
              "GTP-U T-PDUs, TEID 0x1000 up and 0x1001 down; sequence numbers and an extension header chain on "
              "some"),
    "teredo": (lambda p, d, k: over_udp(PORT_TEREDO)(teredo(p, k), d), INNER6,
               "Teredo (port 3544): IPv6 after origin indications and authentication headers on some packets"),
    "ayiya": (lambda p, d, k: over_udp(PORT_AYIYA)(ayiya(p), d), INNER6,
              "AYIYA (port 5072), 16-byte identity, 20-byte signature, IPv6 inside"),
    "pbb": (lambda p, d, k: eth(pbb(eth(p, direction=d)), ETH_PBB, d), INNER4, "PBB 802.1ah I-TAG (0x88E7), IPv4 inside"),
    "vntag": (lambda p, d, k: eth(vn_tag(p), ETH_VNTAG, d), INNER4, "VN-Tag (0x8926), IPv4 inside"),
    "nested": (nested, INNER4, "a tunnel in a tunnel: VXLAN (VNI 100) inside GRE (key 7)"),
}


# ---------------------------------------------------------------------------------- files

def write_pcap(path: Path, frames: list[tuple[bytes, int]]) -> Path:
    """Write (frame, original length) records one STEP_US apart: classic pcap, microseconds, Ethernet.
    An original length above the frame's is a record cut by the snapshot length."""
    records = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, dpkt.pcap.DLT_EN10MB)]
    for k, (frame, length) in enumerate(frames):
        usec = k * STEP_US
        records.append(struct.pack("<IIII", T0_S + usec // 1_000_000, usec % 1_000_000, len(frame), length) + frame)
    path.write_bytes(b"".join(records))
    print(f"{path.name}: {len(frames)} records")
    return path


def wrapped(wrap: Wrapper, addrs: tuple[str, str]) -> list[tuple[bytes, int]]:
    frames = [wrap(packet, d, k) for k, (d, packet) in enumerate(session(addrs))]
    return [(f, len(f)) for f in frames]


def tenants() -> list[tuple[bytes, int]]:
    """The same inner 4-tuple in VNI 100 and VNI 200 (other ISNs), interleaved packet by packet."""
    first = session(isn=(1000, 5000))
    second = session(isn=(70000, 90000))
    frames = []
    for (d1, p1), (d2, p2) in zip(first, second):
        frames.append(over_udp(PORT_VXLAN)(vxlan(eth(p1, direction=d1), 100), d1))
        frames.append(over_udp(PORT_VXLAN)(vxlan(eth(p2, direction=d2), 200), d2))
    return [(f, len(f)) for f in frames]


def malformed() -> list[tuple[bytes, int]]:
    """A good VXLAN session, then one broken tunnel header per record (expected status after it)."""
    frames = wrapped(WRAPPERS["vxlan"][0], INNER4)
    packet = session()[3][1]
    frame = eth(packet)
    good_vxlan = over_udp(PORT_VXLAN)(vxlan(frame, 100), 0)
    cut = 14 + 20 + 8 + 4
    frames.append((good_vxlan[:cut], len(good_vxlan)))  # tunnel_header_truncated: VXLAN cut by the snaplen
    gre_past_end = struct.pack("!HH", GRE_C | GRE_K | GRE_S, ETH_IPV4) + b"\x00" * 6
    frames.append((over_ip(PROTO_GRE)(gre_past_end, 0), 0))  # malformed: optional fields past the datagram
    long_options = struct.pack("!BBHI", 63, 0, ETH_IPV4, 500 << 8) + packet[:40]
    frames.append((over_udp(PORT_GENEVE)(long_options, 0), 0))  # malformed: options past the datagram
    short_udp = bytearray(good_vxlan)
    short_udp[14 + 20 + 4 : 14 + 20 + 6] = struct.pack("!H", 4)
    frames.append((bytes(short_udp), 0))  # malformed: UDP length 4
    bad_ext = struct.pack("!BBHIHBB", 0x34, 0xFF, 8 + len(packet), 0x1000, 0, 0, 0x85) + b"\x00\x00\x00\x00" + packet
    frames.append((over_udp(PORT_GTP, source_port=PORT_GTP)(bad_ext, 0), 0))  # malformed: extension length 0
    bad_erspan = gre(ETH_ERSPAN, struct.pack("!HHI", (5 << 12), 42, 0) + frame, seq=1)
    frames.append((over_ip(PROTO_GRE)(bad_erspan, 0), 0))  # malformed: ERSPAN version 5
    gre_frame = over_ip(PROTO_GRE)(gre(ETH_IPV4, packet, key=1, seq=2), 0)
    frames.append((gre_frame[: 14 + 20 + 6], len(gre_frame)))  # truncated: GRE key cut off
    return [(f, n or len(f)) for f, n in frames]


def bad_checksums() -> list[tuple[bytes, int]]:
    """A plain IPv4 session, then the same in IPv6, in VXLAN: frame 4's IPv4 header checksum and
    frame 5's TCP checksum broken; in the IPv6 session frame 17's TCP checksum."""
    frames = [eth(p, direction=d) for d, p in session()]
    frames += [over_udp(PORT_VXLAN)(vxlan(eth(p, direction=d), 100), d) for d, p in session(INNER6, (40001, 80))]
    frames[3] = _flip(frames[3], 14 + 10)
    frames[4] = _flip(frames[4], 14 + 20 + 16)
    ipv6_tcp_checksum = 14 + 20 + 8 + 8 + 14 + 40 + 16
    frames[16] = _flip(frames[16], ipv6_tcp_checksum)
    return [(f, len(f)) for f in frames]


def _flip(frame: bytes, offset: int) -> bytes:
    out = bytearray(frame)
    out[offset] ^= 0x5A
    return bytes(out)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, (wrap, addrs, _) in WRAPPERS.items():
        write_pcap(OUT / f"synth-tunnel-{name}.pcap", pptp_with_bare_ack() if name == "pptp" else wrapped(wrap, addrs))
    write_pcap(OUT / "synth-tunnel-malformed.pcap", malformed())
    write_pcap(OUT / "synth-tunnel-bad-checksums.pcap", bad_checksums())
    # Not written here: tenants(), the same 4-tuple in two VNIs at once. Wireshark 4.0 merges the
    # two into one stream and flags most packets, which no sample may do (every sample's flags
    # are compared with tshark's); tests/decode/test_tunnels.py writes it where it needs it.


if __name__ == "__main__":
    sys.exit(main())
