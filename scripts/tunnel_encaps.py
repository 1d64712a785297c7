"""Tunnel headers as Linux and the standards write them, for the userspace tunnel endpoints of
scripts/make_tunnel_captures.py (and its link-layer rewrites, PBB and VN-Tag).

Each encapsulation is a small class with ``wrap(inner) -> bytes`` (what goes on the underlay
socket for a frame read from the TUN/TAP device) and ``unwrap(outer) -> bytes | None`` (the
frame to write back to the device, or None when the packet is not this tunnel's). The class
attributes say which underlay socket carries it: a raw IP socket of ``ip_proto`` (GRE 47,
IPv4-in-IP 4, IPv6-in-IP 41), or UDP from ``local_port`` to ``peer_port``.

Sources: GRE RFC 2784/2890 and Linux net/ipv4/ip_gre.c (key, sequence from 0); ERSPAN
draft-foschiano-erspan and Linux include/net/erspan.h (type I = Linux erspan_ver 0, type II = erspan_ver 1,
type III = erspan_ver 2, timestamp in 100 us units, P bit set); Geneve RFC 8926; GTP-U
3GPP TS 29.281 and TS 38.415 (PDU session container); Teredo RFC 4380; AYIYA
draft-massar-v6ops-ayiya and AICCU's ayiya.h; ip6_tunnel/ip6_gre's default tunnel
encapsulation limit option (RFC 2473, Linux IPV6_DEFAULT_TNL_ENCAP_LIMIT 4); PBB IEEE 802.1ah;
VN-Tag (Cisco, Wireshark's packet-vntag.c).
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import struct
import time

ETH_IPV4, ETH_IPV6, ETH_TEB = 0x0800, 0x86DD, 0x6558
ETH_ERSPAN_II, ETH_ERSPAN_III = 0x88BE, 0x22EB
ETH_8021AD, ETH_PBB_ITAG, ETH_VNTAG = 0x88A8, 0x88E7, 0x8926
IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_GRE = 4, 41, 47
GRE_CSUM, GRE_KEY, GRE_SEQ = 0x8000, 0x2000, 0x1000
VXLAN_PORT, GENEVE_PORT, GTPU_PORT, TEREDO_PORT, AYIYA_PORT = 4789, 6081, 2152, 3544, 5072
# Destination options header Linux's ip6tnl and ip6gre put in front of the inner packet by
# default: Tunnel Encapsulation Limit (type 4, length 1, limit 4) then PadN (type 1, length 1).
# The kernel fills in the next-header byte of a sticky IPV6_DSTOPTS option.
TNL_ENCAP_LIMIT_DSTOPTS = bytes([0, 0, 4, 1, 4, 1, 1, 0])
# A Geneve option: class 0x0101 (Linux), type 1, one 4-byte word of data.
GENEVE_OPTION = struct.pack("!HBB", 0x0101, 0x01, 1) + b"\x00\x00\x00\x2a"
GTPU_FLAGS, GTPU_E = 0x30, 0x04  # version 1, protocol type GTP; E: an extension header follows
GTPU_GPDU = 0xFF
GTPU_PDU_SESSION_CONTAINER = 0x85
AYIYA_SHA1, AYIYA_SHARED_SECRET, AYIYA_FORWARD = 2, 1, 1


def ip_ethertype(packet: bytes) -> int:
    """The ethertype of an IP packet by its version nibble."""
    return ETH_IPV6 if packet[0] >> 4 == 6 else ETH_IPV4


def gre_header(proto: int, key: int | None = None, seq: int | None = None) -> bytes:
    """A GRE header (RFC 2890): flags, protocol, then the key and sequence words that are set."""
    flags = (GRE_KEY if key is not None else 0) | (GRE_SEQ if seq is not None else 0)
    words = [w for w in (key, seq) if w is not None]
    return struct.pack("!HH", flags, proto) + b"".join(struct.pack("!I", w) for w in words)


def gre_split(packet: bytes) -> tuple[int, int | None, bytes] | None:
    """(protocol, key or None, payload) of a GRE packet, or None when it is too short."""
    if len(packet) < 4:
        return None
    flags, proto = struct.unpack_from("!HH", packet)
    offset, key = 4 + (4 if flags & GRE_CSUM else 0), None
    if flags & GRE_KEY:
        key = struct.unpack_from("!I", packet, offset)[0] if len(packet) >= offset + 4 else None
        offset += 4
    offset += 4 if flags & GRE_SEQ else 0
    return (proto, key, packet[offset:]) if len(packet) >= offset else None


class Encap:
    """Base: the underlay transport. Subclasses set the attributes and write wrap/unwrap."""

    ip_proto: int = 0  # raw IP socket of this protocol, or 0 for UDP
    local_port: int = 0
    peer_port: int = 0
    outer_family: int = socket.AF_INET
    dstopts: bytes = b""  # sticky IPv6 destination options on the outer packets

    def wrap(self, inner: bytes) -> bytes:
        raise NotImplementedError

    def unwrap(self, outer: bytes) -> bytes | None:
        raise NotImplementedError


class IpInIp(Encap):
    """ipip (IPv4 in IPv4), sit (IPv6 in IPv4) and ip6tnl (IPv6 in IPv6): the packet as it is."""

    def __init__(self, ip_proto: int, outer_family: int, encap_limit: bool):
        self.ip_proto, self.outer_family = ip_proto, outer_family
        self.dstopts = TNL_ENCAP_LIMIT_DSTOPTS if encap_limit else b""

    def wrap(self, inner: bytes) -> bytes:
        return inner

    def unwrap(self, outer: bytes) -> bytes | None:
        return outer or None


class Gre(Encap):
    """GRE with an optional key and sequence numbers; ``ethertype`` None means the inner IP
    version's (L3 gre/ip6gre), ETH_TEB an Ethernet frame (gretap)."""

    ip_proto = IPPROTO_GRE

    def __init__(self, key: int | None, sequence: bool, ethertype: int | None = None,
                 outer_family: int = socket.AF_INET, encap_limit: bool = False):
        self.key, self.sequence, self.ethertype = key, sequence, ethertype
        self.outer_family = outer_family
        self.dstopts = TNL_ENCAP_LIMIT_DSTOPTS if encap_limit else b""
        self.seq = 0

    def next_seq(self) -> int | None:
        if not self.sequence:
            return None
        self.seq += 1
        return self.seq - 1

    def wrap(self, inner: bytes) -> bytes:
        proto = self.ethertype or ip_ethertype(inner)
        return gre_header(proto, self.key, self.next_seq()) + inner

    def unwrap(self, outer: bytes) -> bytes | None:
        split = gre_split(outer)
        return split[2] if split and split[1] == self.key else None


class ErspanI(Gre):
    """ERSPAN type I (Linux ``erspan_ver 0``): GRE protocol 0x88BE without a sequence number and
    no ERSPAN header; the mirrored Ethernet frame follows the GRE header."""

    def __init__(self):
        super().__init__(None, False, ETH_ERSPAN_II)


class ErspanII(Gre):
    """ERSPAN type II (Linux ``erspan_ver 1``): GRE with a sequence number, protocol 0x88BE,
    then version 1, VLAN 0, CoS, encapsulation type 0 (no VLAN), session id, index."""

    def __init__(self, session: int, index: int):
        super().__init__(None, True, ETH_ERSPAN_II)
        self.session, self.index = session, index

    def erspan_header(self) -> bytes:
        return struct.pack("!HHI", (1 << 12), self.session & 0x3FF, self.index & 0xFFFFF)

    def wrap(self, inner: bytes) -> bytes:
        return gre_header(self.ethertype, None, self.next_seq()) + self.erspan_header() + inner

    def unwrap(self, outer: bytes) -> bytes | None:
        split = gre_split(outer)
        if not split or split[0] != self.ethertype:
            return None
        return split[2][len(self.erspan_header()):]


class ErspanIII(ErspanII):
    """ERSPAN type III (Linux ``erspan_ver 2``): protocol 0x22EB, version 2, a timestamp in
    100 us units (granularity 0), SGT 0, P set, frame type 0 (Ethernet), hardware id,
    direction; no platform-specific subheader (O clear)."""

    def __init__(self, session: int, hwid: int, direction: int):
        Gre.__init__(self, None, True, ETH_ERSPAN_III)
        self.session, self.hwid, self.direction = session, hwid, direction

    def erspan_header(self) -> bytes:
        ticks = (time.time_ns() // 100_000) & 0xFFFFFFFF
        low = (1 << 15) | ((self.hwid & 0x3F) << 4) | (self.direction << 3)
        return struct.pack("!HHIHH", (2 << 12), self.session & 0x3FF, ticks, 0, low)


class Udp(Encap):
    """Base of the UDP tunnels: the standard port on both sides unless told otherwise."""

    def __init__(self, local_port: int, peer_port: int):
        self.local_port, self.peer_port = local_port, peer_port


class Vxlan(Udp):
    """VXLAN (RFC 7348, UDP 4789): flags with the I bit, the VNI, then Ethernet."""

    def __init__(self, vni: int):
        super().__init__(VXLAN_PORT, VXLAN_PORT)
        self.vni = vni

    def wrap(self, inner: bytes) -> bytes:
        return struct.pack("!II", 0x08000000, self.vni << 8) + inner

    def unwrap(self, outer: bytes) -> bytes | None:
        if len(outer) < 8 or struct.unpack_from("!I", outer, 4)[0] >> 8 != self.vni:
            return None
        return outer[8:]


class Geneve(Udp):
    """Geneve (UDP 6081) carrying Ethernet, with one option (GENEVE_OPTION)."""

    def __init__(self, vni: int):
        super().__init__(GENEVE_PORT, GENEVE_PORT)
        self.vni = vni

    def wrap(self, inner: bytes) -> bytes:
        return struct.pack("!BBHI", len(GENEVE_OPTION) // 4, 0, ETH_TEB, self.vni << 8) + GENEVE_OPTION + inner

    def unwrap(self, outer: bytes) -> bytes | None:
        if len(outer) < 8 or struct.unpack_from("!I", outer, 4)[0] >> 8 != self.vni:
            return None
        return outer[8 + (outer[0] & 0x3F) * 4:]


class GtpU(Udp):
    """GTP-U G-PDUs (UDP 2152 both ways) to the peer's TEID, each with a PDU session container
    extension header (5G N3: uplink PDU type 1, downlink 0; QFI 9)."""

    def __init__(self, teid_out: int, teid_in: int, uplink: bool):
        super().__init__(GTPU_PORT, GTPU_PORT)
        self.teid_out, self.teid_in, self.uplink = teid_out, teid_in, uplink

    def wrap(self, inner: bytes) -> bytes:
        container = bytes([1, (1 if self.uplink else 0) << 4, 9, 0])  # length 1 word, type, QFI, next: none
        optional = struct.pack("!HBB", 0, 0, GTPU_PDU_SESSION_CONTAINER)  # sequence, N-PDU, next extension
        body = optional + container + inner
        return struct.pack("!BBHI", GTPU_FLAGS | GTPU_E, GTPU_GPDU, len(body), self.teid_out) + body

    def unwrap(self, outer: bytes) -> bytes | None:
        if len(outer) < 8 or struct.unpack_from("!I", outer, 4)[0] != self.teid_in:
            return None
        offset = 8
        if outer[0] & 0x07:
            next_type, offset = outer[11], 12
            while next_type and offset < len(outer):
                size = outer[offset] * 4
                next_type, offset = outer[offset + size - 1], offset + size
        return outer[offset:]


def teredo_origin(addr: str, port: int) -> bytes:
    """RFC 4380 origin indication: 0x0000, then the port and IPv4 address, each bit inverted."""
    packed = int(ipaddress.IPv4Address(addr))
    return struct.pack("!HHI", 0, port ^ 0xFFFF, packed ^ 0xFFFFFFFF)


def teredo_address(server: str, client: str, port: int) -> str:
    """The Teredo IPv6 address (2001::/32, server, flags 0, inverted port and client address)."""
    words = (0x2001 << 112) | (int(ipaddress.IPv4Address(server)) << 64)
    words |= ((port ^ 0xFFFF) << 32) | (int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF)
    return str(ipaddress.IPv6Address(words))


class Teredo(Udp):
    """Teredo (RFC 4380): IPv6 straight in UDP; packets carrying a TCP SYN get an origin
    indication in front (``origin`` = the sender's mapped address and port), as the first
    packets a Teredo server relays do."""

    def __init__(self, local_port: int, peer_port: int, origin: tuple[str, int] | None):
        super().__init__(local_port, peer_port)
        self.origin = teredo_origin(*origin) if origin else b""

    def wrap(self, inner: bytes) -> bytes:
        tcp_syn = len(inner) > 53 and inner[6] == 6 and inner[40 + 13] & 0x02
        return (self.origin if tcp_syn else b"") + inner

    def unwrap(self, outer: bytes) -> bytes | None:
        while len(outer) >= 2 and outer[0] == 0:
            if outer[1] == 0:  # origin indication
                outer = outer[8:]
            elif outer[1] == 1 and len(outer) >= 4:  # authentication: id and auth value lengths, nonce, confirmation
                outer = outer[4 + outer[2] + outer[3] + 9:]
            else:
                return None
        return outer or None


class Ayiya(Udp):
    """AYIYA (UDP 5072, AICCU's format): 16-byte identity (the sender's tunnel IPv6 address),
    SHA-1 signature over the packet with the shared secret's SHA-1 in the signature field."""

    def __init__(self, identity: str, secret: bytes):
        super().__init__(AYIYA_PORT, AYIYA_PORT)
        self.identity = ipaddress.IPv6Address(identity).packed
        self.secret_hash = hashlib.sha1(secret).digest()

    def header(self, next_header: int, epoch: int, signature: bytes) -> bytes:
        # identity length 2^4 = 16 bytes, identity type 1 (integer); signature length 5 words (SHA-1)
        return bytes([(4 << 4) | 1, (5 << 4) | AYIYA_SHA1, (AYIYA_SHARED_SECRET << 4) | AYIYA_FORWARD,
                      next_header]) + struct.pack("!I", epoch) + self.identity + signature

    def wrap(self, inner: bytes) -> bytes:
        next_header = IPPROTO_IPV6 if inner[0] >> 4 == 6 else IPPROTO_IPIP
        epoch = int(time.time())
        signature = hashlib.sha1(self.header(next_header, epoch, self.secret_hash) + inner).digest()
        return self.header(next_header, epoch, signature) + inner

    def unwrap(self, outer: bytes) -> bytes | None:
        if len(outer) < 8:
            return None
        id_len, sig_len = 1 << (outer[0] >> 4), (outer[1] >> 4) * 4
        return outer[8 + id_len + sig_len:]


def pbb_frame(frame: bytes, b_da: bytes, b_sa: bytes, b_vid: int, isid: int) -> bytes:
    """802.1ah: backbone addresses, a B-TAG (0x88A8), an I-TAG (0x88E7, PCP 0, I-SID), then the
    customer frame (its addresses, tags and ethertype) unchanged."""
    return b_da + b_sa + struct.pack("!HHHI", ETH_8021AD, b_vid, ETH_PBB_ITAG, isid & 0xFFFFFF) + frame


def vntag_frame(frame: bytes, to_host: bool, vif: int) -> bytes:
    """VN-Tag after the source address: direction bit, pointer 0, destination VIF (toward the
    host) or source VIF (from it), looped 0, version 0; then the frame's own ethertype."""
    tag = (1 << 31) | (vif << 16) if to_host else vif
    return frame[:12] + struct.pack("!HI", ETH_VNTAG, tag) + frame[12:]
