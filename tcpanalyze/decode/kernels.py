"""Compiled decoder: link layer, IPv4/IPv6 (tunnels, extension headers), TCP header and options.

``decode_records`` fills one column of each output matrix per record (rows named in
``columns``). Captures are untrusted: every read is preceded by a check against the end of
the record (``end`` = record start + captured length), never against the buffer alone.
"""

from __future__ import annotations

import numpy as np

from ..jit import kernel
from . import status as st
from . import tunnels as tn
from .columns import (
    ACK, DST_HI, DST_LO, DST_PORT, FRAG_OFFSET, IP_ID, IP_PROTO, IP_VERSION, L3_OFF, MARK_BAD_IP_CHECKSUM,
    MARK_BAD_TCP_CHECKSUM, MARK_MORE_FRAGMENTS, MARK_IP_LENGTH_EXCEEDS_FRAME, MARK_REASSEMBLED, MARK_TRUNCATED, MARKS,
    MSS, OPT_MALFORMED, OPT_MSS, OPT_SACK, OPT_SACK_PERM, OPT_TIMESTAMP, OPT_WSCALE, OPTIONS, OUTER_DST_HI,
    OUTER_DST_LO, OUTER_SRC_HI, OUTER_SRC_LO, PAYLOAD_CAPLEN, PAYLOAD_LEN, PAYLOAD_OFF, SACK_COUNT, SACK_LE1, SACK_RE1,
    SEQ, SRC_HI, SRC_LO, SRC_PORT, STATUS, TCP_FLAGS, TCP_HDR_LEN, TS_ECR, TS_VAL, TTL, TUNNEL_CHAIN, TUNNEL_ID,
    TUNNEL_KEY, URG_PTR, WIN, WSCALE,
)

# Link types (https://www.tcpdump.org/linktypes.html)
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_PPP = 9
LINKTYPE_RAW_BSD = 12  # DLT_RAW on BSDs; Wireshark reads it as raw IP
LINKTYPE_RAW_OPENBSD = 14
LINKTYPE_PPP_HDLC = 50
LINKTYPE_RAW = 101
LINKTYPE_C_HDLC = 104
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_FDDI = 10
LINKTYPE_ARCNET_LINUX = 129
LINKTYPE_JUNIPER_ETHER = 178
LINKTYPE_NFLOG = 239  # Linux netfilter log messages (tcpdump -i nflog:N)
LINKTYPE_IPOIB = 242  # IP over InfiniBand
LINKTYPE_LINUX_SLL2 = 276
LINKTYPE_NO_PACKET = -1  # capture layer's mark for records that are not packets

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_VLAN = 0x8100
ETH_QINQ = 0x88A8
ETH_QINQ_OLD1 = 0x9100
ETH_QINQ_OLD2 = 0x9200
ETH_QINQ_OLD3 = 0x9300
ETH_MPLS = 0x8847
ETH_MPLS_MULTICAST = 0x8848
ETH_PPPOE_SESSION = 0x8864
ETH_FABRICPATH = 0x8903  # Cisco FabricPath: a 2-byte FTag/TTL, then the original Ethernet frame
ETH_FCS_LEN = 4
ETH_ETAG = 0x893F  # IEEE 802.1BR E-Tag: 6 bytes of tag after the TPID
ETH_PBB = 0x88E7  # IEEE 802.1ah I-TAG: 4 bytes of tag, then the customer's addresses and ethertype
PBB_HEADER_LEN = 4 + 12 + 2
ETH_VNTAG = 0x8926  # Cisco VN-Tag: 4 bytes of tag, then the ethertype
VNTAG_HEADER_LEN = 4 + 2
ETH_TEB = 0x6558  # transparent Ethernet bridging: an Ethernet frame follows
ETH_ERSPAN = 0x88BE  # ERSPAN type I (GRE without sequence number) or II
ETH_ERSPAN3 = 0x22EB  # ERSPAN type III
ETH_PPP = 0x880B  # PPP, in PPTP's enhanced GRE
ETH_HEADER_LEN = 14
ETH_MAX_LENGTH = 1500  # a type field up to this is an 802.3 length: an LLC header follows
LLC_SNAP = 0xAAAA03  # DSAP, SSAP, control of an LLC header carrying SNAP (OUI, then an ethertype)
PPP_IPV4 = 0x0021
PPP_IPV6 = 0x0057
PPP_MPLS = 0x0281
PPP_MPLS_MULTICAST = 0x0283
NFLOG_AF_INET, NFLOG_AF_INET6 = 2, 10
LLC_FOLLOWS = 0  # for ethertype_chain: an 802.2 LLC header comes next (any 802.3 length does)
FDDI_HEADER_LEN = 13  # frame control, destination, source; an LLC header follows
IPOIB_HEADER_LEN = 44  # destination and source hardware addresses (20 bytes each), ethertype, reserved
ARCNET_IP_RFC1051, ARCNET_IP_RFC1201, ARCNET_IPV6 = 0xF0, 0xD4, 0xC4
ARCNET_EXCEPTION = 0xFF  # RFC 1201 split flag of an exception packet (a different layout)
JUNIPER_MAGIC = 0x4D4743  # "MGC"
JUNIPER_FLAG_NO_L2, JUNIPER_FLAG_EXT = 0x02, 0x80
NFULA_PAYLOAD = 9  # the NFLOG attribute holding the packet
CISCO_HDLC_UNICAST = 0x0F
CISCO_HDLC_MULTICAST = 0x8F

IPPROTO_IPV4 = 4  # IPv4 in IP
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_IPV6 = 41  # IPv6 in IP
IPPROTO_GRE = 47
IPV6_HOP_BY_HOP = 0
IPV6_ROUTING = 43
IPV6_FRAGMENT = 44
IPV6_AH = 51
IPV6_DEST_OPTS = 60
IPV6_MOBILITY = 135
IPV6_HIP = 139
IPV6_SHIM6 = 140
IPV6_EXPERIMENT1 = 253
IPV6_EXPERIMENT2 = 254

# Layers a record may nest before we call it absurd (VLAN tags, MPLS labels, tunnels).
MAX_LINK_LAYERS = 16
MAX_IP_LAYERS = tn.MAX_TUNNEL_LAYERS + 1
MAX_IPV6_EXTENSIONS = 16

# GRE (RFC 2784, RFC 2890 key and sequence number, RFC 2637 enhanced GRE version 1).
GRE_CHECKSUM, GRE_ROUTING, GRE_KEY, GRE_SEQUENCE, GRE_ACK, GRE_VERSION = 0x8000, 0x4000, 0x2000, 0x1000, 0x0080, 0x0007
GRE_PPTP_VERSION = 1
# ERSPAN (draft-foschiano-erspan): the version field of types II and III, and III's platform subheader bit.
ERSPAN_II, ERSPAN_III = 1, 2
ERSPAN_II_LEN, ERSPAN_III_LEN, ERSPAN_PLATFORM_LEN = 8, 12, 8
UDP_HEADER_LEN = 8
VXLAN_HEADER_LEN = 8  # also VXLAN-GPE's and Geneve's fixed part
# VXLAN-GPE and NSH next protocols (IANA "VXLAN-GPE Next Protocol", shared by NSH).
NEXT_IPV4, NEXT_IPV6, NEXT_ETHERNET, NEXT_NSH, NEXT_MPLS = 1, 2, 3, 4, 5
NSH_MIN_LEN = 8  # base header and service path header
GENEVE_VERSION = 0
GTP_VERSION_1, GTP_PT = 1, 0x10
GTP_OPTIONAL_FIELDS, GTP_EXTENSION = 0x07, 0x04  # E, S, PN flags; E alone
GTP_HEADER_LEN, GTP_OPTIONAL_LEN = 8, 4
GTP_T_PDU = 0xFF
TEREDO_ORIGIN, TEREDO_AUTH = 0x0000, 0x0001
TEREDO_ORIGIN_LEN = 8
TEREDO_AUTH_FIXED_LEN = 4 + 8 + 1  # indicator, two lengths; nonce; confirmation byte
AYIYA_HEADER_LEN = 8
AYIYA_FORWARD = 1  # the opcode of a packet carrying a payload
NO_TUNNEL_ID = -1
TUNNEL_KEY_SEED = np.uint64(0x9E3779B97F4A7C15)

# IPv4 options (RFC 791). Wireshark's option dissectors read their fixed fields whatever the
# option's length says, so an option shorter than those makes the frame a [Malformed Packet]
# whose TCP is never dissected: the shortest length each option type needs, measured with
# tshark 4.0.17 over every type and length 2..15 (0: any length will do). A length below 2, or
# one running past the header, only ends the option list there (an expert note).
_IPV4_OPTION_MIN = {7: 3, 11: 4, 12: 4, 25: 8, 68: 4, 82: 12, 130: 3, 131: 3, 133: 3, 134: 6, 136: 4, 137: 3,
                    148: 4}
IPV4_OPTION_MIN_LEN = np.zeros(256, np.int64)
IPV4_OPTION_MIN_LEN[list(_IPV4_OPTION_MIN)] = list(_IPV4_OPTION_MIN.values())
IPV4_OPT_EOL, IPV4_OPT_NOP, IPV4_OPT_LSRR, IPV4_OPT_SSRR = 0, 1, 131, 137

# decode_records' argument types, shared with the parallel decoder (``decode.parallel``).
DECODE_RECORDS_SIGNATURE = (
    "(readonly(uint8[::1]), readonly(int64[::1]), readonly(int64[::1]), readonly(int64[::1]), "
    "readonly(int32[::1]), uint64[:, ::1], uint32[:, ::1], int32[:, ::1], uint16[:, ::1], uint8[:, ::1], "
    "readonly(uint8[::1]))")

# What the link layer handed to IP: the layer-3 protocol, or a decode status if none.
L3_IPV4 = 4
L3_IPV6 = 6
L3_EITHER = 46  # raw IP link types: the version nibble decides

IPV4_MAPPED_PREFIX = np.uint64(0x0000FFFF00000000)


@kernel(inline="always")
def u16be(buf, p):
    return (np.int64(buf[p]) << 8) | np.int64(buf[p + 1])


@kernel(inline="always")
def u16le(buf, p):
    return (np.int64(buf[p + 1]) << 8) | np.int64(buf[p])


@kernel(inline="always")
def u32be(buf, p):
    return (np.int64(buf[p]) << 24) | (np.int64(buf[p + 1]) << 16) | (np.int64(buf[p + 2]) << 8) | np.int64(buf[p + 3])


@kernel(inline="always")
def u64be(buf, p):
    value = np.uint64(0)
    for k in range(8):
        value = (value << np.uint64(8)) | np.uint64(buf[p + k])
    return value


@kernel(inline="always")
def bswap32(v):
    return ((v & 0xFF) << 24) | ((v & 0xFF00) << 8) | ((v >> 8) & 0xFF00) | ((v >> 24) & 0xFF)


@kernel
def ethertype_chain(buf, p, end, etype, wire_end):
    """Follow an ethertype through VLAN tags, MPLS labels and PPPoE to IP.

    ``p`` is where the payload of ``etype`` starts; ``wire_end`` is where the packet ends
    on the wire (record start + original length). Returns (l3 protocol or -status, l3
    offset, wire end), the wire end lowered by a PPPoE payload length.
    """
    for _ in range(MAX_LINK_LAYERS):
        if etype == ETH_IPV4:
            return L3_IPV4, p, wire_end
        if etype == ETH_IPV6:
            return L3_IPV6, p, wire_end
        if etype == ETH_VLAN or etype == ETH_QINQ or etype == ETH_QINQ_OLD1 or etype == ETH_QINQ_OLD2 or etype == ETH_QINQ_OLD3:
            if p + 4 > end:
                return -st.LINK_HEADER_TRUNCATED, p, wire_end
            etype = u16be(buf, p + 2)
            p += 4
        elif etype <= ETH_MAX_LENGTH:  # 802.3: an LLC header; SNAP carries an ethertype after its OUI
            if p + 3 > end:
                return -st.LINK_HEADER_TRUNCATED, p, wire_end
            if (u16be(buf, p) << 8 | np.int64(buf[p + 2])) != LLC_SNAP:
                return -st.NON_IP, p, wire_end
            if p + 8 > end:
                return -st.LINK_HEADER_TRUNCATED, p, wire_end
            etype = u16be(buf, p + 6)
            p += 8
        elif etype == ETH_ETAG:
            if p + 8 > end:
                return -st.LINK_HEADER_TRUNCATED, p, wire_end
            etype = u16be(buf, p + 6)
            p += 8
        elif etype == ETH_PBB:
            if p + PBB_HEADER_LEN > end:
                return -st.LINK_HEADER_TRUNCATED, p, wire_end
            etype = u16be(buf, p + PBB_HEADER_LEN - 2)
            p += PBB_HEADER_LEN
        elif etype == ETH_VNTAG:
            if p + VNTAG_HEADER_LEN > end:
                return -st.LINK_HEADER_TRUNCATED, p, wire_end
            etype = u16be(buf, p + VNTAG_HEADER_LEN - 2)
            p += VNTAG_HEADER_LEN
        elif etype == ETH_FABRICPATH:
            if p + 2 + 14 > end:
                return -st.LINK_HEADER_TRUNCATED, p, wire_end
            etype = u16be(buf, p + 2 + 12)
            p += 2 + 14
            wire_end -= ETH_FCS_LEN  # Wireshark takes the frame's last 4 bytes for the inner frame's FCS
        elif etype == ETH_MPLS or etype == ETH_MPLS_MULTICAST:
            bottom = False
            for _label in range(MAX_LINK_LAYERS):
                if p + 4 > end:
                    return -st.LINK_HEADER_TRUNCATED, p, wire_end
                bottom = (buf[p + 2] & 1) == 1
                p += 4
                if bottom:
                    break
            if not bottom or p >= end:
                return -st.LINK_HEADER_TRUNCATED, p, wire_end
            nibble = buf[p] >> 4
            if nibble == 4:
                return L3_IPV4, p, wire_end
            if nibble == 6:
                return L3_IPV6, p, wire_end
            if nibble == 0:
                # Pseudowire control word, then an Ethernet frame (RFC 4448).
                if p + 4 + 14 > end:
                    return -st.LINK_HEADER_TRUNCATED, p, wire_end
                etype = u16be(buf, p + 4 + 12)
                p += 4 + 14
            else:
                return -st.NON_IP, p, wire_end
        elif etype == ETH_PPPOE_SESSION:
            if p + 7 > end:
                return -st.LINK_HEADER_TRUNCATED, p, wire_end
            wire_end = min(wire_end, p + 6 + u16be(buf, p + 4))
            proto, p = ppp_protocol(buf, p + 6, end)
            if proto < 0:
                return -st.LINK_HEADER_TRUNCATED, p, wire_end
            if proto == PPP_IPV4:
                return L3_IPV4, p, wire_end
            if proto == PPP_IPV6:
                return L3_IPV6, p, wire_end
            if proto == PPP_MPLS or proto == PPP_MPLS_MULTICAST:
                etype = ETH_MPLS
                continue
            return -st.NON_IP, p, wire_end
        else:
            return -st.NON_IP, p, wire_end
    return -st.NON_IP, p, wire_end


@kernel(inline="always")
def ppp_protocol(buf, p, end):
    """A PPP protocol field at ``p``: (protocol, where its payload starts), protocol -1 if cut
    off. One byte when compressed (RFC 1661 protocol-field compression: an odd first byte)."""
    if p < end and buf[p] & 1:
        return np.int64(buf[p]), p + 1
    if p + 2 > end:
        return np.int64(-1), p
    return u16be(buf, p), p + 2


@kernel
def ppp_payload(buf, p, end, wire_end):
    """PPP (optionally with HDLC address/control, or Cisco HDLC framing) to IP, also over MPLS."""
    if p + 2 <= end and buf[p] == 0xFF and buf[p + 1] == 0x03:
        p += 2
    if p + 4 <= end and (buf[p] == CISCO_HDLC_UNICAST or buf[p] == CISCO_HDLC_MULTICAST):
        return ethertype_chain(buf, p + 4, end, u16be(buf, p + 2), wire_end)
    proto, p = ppp_protocol(buf, p, end)
    if proto < 0:
        return -st.LINK_HEADER_TRUNCATED, p, wire_end
    if proto == PPP_IPV4:
        return L3_IPV4, p, wire_end
    if proto == PPP_IPV6:
        return L3_IPV6, p, wire_end
    if proto == PPP_MPLS or proto == PPP_MPLS_MULTICAST:
        return ethertype_chain(buf, p, end, ETH_MPLS, wire_end)
    return -st.NON_IP, p, wire_end


@kernel
def arcnet_payload(buf, p, end, wire_end):
    """Linux ARCnet: source, destination, a 2-byte offset and the protocol; RFC 1051 IP follows
    at once, RFC 1201 IP and IPv6 after a split flag and a 2-byte sequence number."""
    if p + 5 > end:
        return -st.LINK_HEADER_TRUNCATED, p, wire_end
    proto = np.int64(buf[p + 4])
    if proto == ARCNET_IP_RFC1051:
        return L3_IPV4, p + 5, wire_end
    if proto == ARCNET_IP_RFC1201 or proto == ARCNET_IPV6:
        if p + 8 > end:
            return -st.LINK_HEADER_TRUNCATED, p, wire_end
        if buf[p + 5] == ARCNET_EXCEPTION:
            return -st.NON_IP, p, wire_end  # nor does Wireshark find the IP header in these
        return (L3_IPV4 if proto == ARCNET_IP_RFC1201 else L3_IPV6), p + 8, wire_end
    return -st.NON_IP, p, wire_end


@kernel
def juniper_ether_payload(buf, p, end, wire_end):
    """Juniper Ethernet: "MGC", a flags byte, extension TLVs if flagged (a 2-byte length first),
    then the Ethernet frame (none when the flags say there is no layer 2: Wireshark then reads
    no IP either)."""
    if p + 4 > end:
        return -st.LINK_HEADER_TRUNCATED, p, wire_end
    if (u16be(buf, p) << 8 | np.int64(buf[p + 2])) != JUNIPER_MAGIC:
        return -st.NON_IP, p, wire_end
    flags = buf[p + 3]
    q = p + 4
    if flags & JUNIPER_FLAG_EXT:
        if q + 2 > end:
            return -st.LINK_HEADER_TRUNCATED, q, wire_end
        q += 2 + u16be(buf, q)
    if flags & JUNIPER_FLAG_NO_L2:
        return -st.NON_IP, q, wire_end
    if q + 14 > end:
        return -st.LINK_HEADER_TRUNCATED, q, wire_end
    return ethertype_chain(buf, q + 14, end, u16be(buf, q + 12), wire_end)


@kernel
def nflog_payload(buf, p, end, wire_end):
    """Linux NFLOG: an address-family byte, a version byte and a 2-byte resource id, then
    attributes (length, type, value, padded to 4 bytes) whose length and type are in the
    capturing host's byte order, read little-endian as Wireshark reads them (libpcap swaps them
    when it writes a file elsewhere); the packet is the NFULA_PAYLOAD attribute's value."""
    if p + 4 > end:
        return -st.LINK_HEADER_TRUNCATED, p, wire_end
    family = np.int64(buf[p])
    q = p + 4
    while q + 4 <= end:
        length, kind = u16le(buf, q), u16le(buf, q + 2)
        if length < 4 or q + length > wire_end:
            return -st.LINK_HEADER_TRUNCATED, q, wire_end
        if (kind & 0x7FFF) == NFULA_PAYLOAD:
            wire_end = min(wire_end, q + length)
            if family == NFLOG_AF_INET:
                return L3_IPV4, q + 4, wire_end
            if family == NFLOG_AF_INET6:
                return L3_IPV6, q + 4, wire_end
            return -st.NON_IP, q + 4, wire_end
        q += (length + 3) & ~3
    return -st.NON_IP, q, wire_end  # a log message without the packet


@kernel
def address_family(af):
    """BSD loopback address family to layer 3 (values of the BSDs, macOS, Linux, Windows)."""
    if af == 2:
        return L3_IPV4
    if af == 10 or af == 23 or af == 24 or af == 28 or af == 30:
        return L3_IPV6
    return -st.NON_IP


@kernel
def link_layer(buf, p, end, wire_end, linktype):
    """Returns (l3 protocol or -status, offset of the layer-3 header, wire end of the layer-3 packet)."""
    if linktype == LINKTYPE_ETHERNET:
        if p + 14 > end:
            return -st.LINK_HEADER_TRUNCATED, p, wire_end
        return ethertype_chain(buf, p + 14, end, u16be(buf, p + 12), wire_end)
    if linktype == LINKTYPE_RAW or linktype == LINKTYPE_RAW_BSD or linktype == LINKTYPE_RAW_OPENBSD:
        return L3_EITHER, p, wire_end
    if linktype == LINKTYPE_IPV4:
        return L3_IPV4, p, wire_end
    if linktype == LINKTYPE_IPV6:
        return L3_IPV6, p, wire_end
    if linktype == LINKTYPE_LINUX_SLL:
        if p + 16 > end:
            return -st.LINK_HEADER_TRUNCATED, p, wire_end
        return ethertype_chain(buf, p + 16, end, u16be(buf, p + 14), wire_end)
    if linktype == LINKTYPE_LINUX_SLL2:
        if p + 20 > end:
            return -st.LINK_HEADER_TRUNCATED, p, wire_end
        return ethertype_chain(buf, p + 20, end, u16be(buf, p), wire_end)
    if linktype == LINKTYPE_NULL:
        if p + 4 > end:
            return -st.LINK_HEADER_TRUNCATED, p, wire_end
        # Host byte order of the capturing machine: a value above 0xFFFF was written big-endian.
        af = (np.int64(buf[p + 3]) << 24) | (np.int64(buf[p + 2]) << 16) | (np.int64(buf[p + 1]) << 8) | np.int64(buf[p])
        if af > 0xFFFF:
            af = bswap32(af)
        return address_family(af), p + 4, wire_end
    if linktype == LINKTYPE_LOOP:
        if p + 4 > end:
            return -st.LINK_HEADER_TRUNCATED, p, wire_end
        return address_family(u32be(buf, p)), p + 4, wire_end
    if linktype == LINKTYPE_PPP or linktype == LINKTYPE_PPP_HDLC:
        return ppp_payload(buf, p, end, wire_end)
    if linktype == LINKTYPE_NFLOG:
        return nflog_payload(buf, p, end, wire_end)
    if linktype == LINKTYPE_FDDI:
        if p + FDDI_HEADER_LEN > end:
            return -st.LINK_HEADER_TRUNCATED, p, wire_end
        return ethertype_chain(buf, p + FDDI_HEADER_LEN, end, LLC_FOLLOWS, wire_end)
    if linktype == LINKTYPE_IPOIB:
        if p + IPOIB_HEADER_LEN > end:
            return -st.LINK_HEADER_TRUNCATED, p, wire_end
        return ethertype_chain(buf, p + IPOIB_HEADER_LEN, end, u16be(buf, p + IPOIB_HEADER_LEN - 4), wire_end)
    if linktype == LINKTYPE_ARCNET_LINUX:
        return arcnet_payload(buf, p, end, wire_end)
    if linktype == LINKTYPE_JUNIPER_ETHER:
        return juniper_ether_payload(buf, p, end, wire_end)
    if linktype == LINKTYPE_C_HDLC:
        if p + 4 > end:
            return -st.LINK_HEADER_TRUNCATED, p, wire_end
        return ethertype_chain(buf, p + 4, end, u16be(buf, p + 2), wire_end)
    if linktype == LINKTYPE_NO_PACKET:
        return -st.NON_PACKET_RECORD, p, wire_end
    return -st.UNSUPPORTED_LINKTYPE, p, wire_end


# --- tunnels ---------------------------------------------------------------------------------
# Each takes the tunnel header's offset, the captured end and the wire end of its payload, and
# returns (kind, l3 protocol or -status, offset of what follows, its wire end, tunnel id, id
# that names the tunnel both ways): kind 0 when the packet is no tunnel after all (-status is
# then NOT_TCP); an id of NO_TUNNEL_ID when there is none.


@kernel
def ethernet(buf, p, end, wire_end):
    """An Ethernet frame without FCS at ``p`` (inside a tunnel), to IP."""
    if p + ETH_HEADER_LEN > end:
        return -st.LINK_HEADER_TRUNCATED, p, wire_end
    return ethertype_chain(buf, p + ETH_HEADER_LEN, end, u16be(buf, p + ETH_HEADER_LEN - 2), wire_end)


@kernel
def tunnel_ethertype(buf, p, end, etype, wire_end):
    """What an ethertype-typed tunnel (GRE, Geneve) carries: Ethernet for 0x6558, else the ethertype."""
    if etype == ETH_TEB:
        return ethernet(buf, p, end, wire_end)
    if etype <= ETH_MAX_LENGTH:
        return -st.NON_IP, p, wire_end
    return ethertype_chain(buf, p, end, etype, wire_end)


@kernel
def next_protocol(buf, p, end, proto, wire_end):
    """VXLAN-GPE's next protocol at ``p``, through NSH headers (which share the registry)."""
    for _ in range(MAX_LINK_LAYERS):
        if proto == NEXT_IPV4:
            return L3_IPV4, p, wire_end
        if proto == NEXT_IPV6:
            return L3_IPV6, p, wire_end
        if proto == NEXT_ETHERNET:
            return ethernet(buf, p, end, wire_end)
        if proto == NEXT_MPLS:
            return ethertype_chain(buf, p, end, ETH_MPLS, wire_end)
        if proto != NEXT_NSH:
            return -st.NON_IP, p, wire_end
        if p + NSH_MIN_LEN > end:
            return -st.TUNNEL_HEADER_TRUNCATED, p, wire_end
        length = np.int64(buf[p + 1] & 0x3F) * 4
        if length < NSH_MIN_LEN:
            return -st.TUNNEL_HEADER_MALFORMED, p, wire_end
        proto = np.int64(buf[p + 3])
        p += length
    return -st.NON_IP, p, wire_end


@kernel
def erspan(buf, p, end, wire_end, gre_flags, gre_proto, gre_key):
    """ERSPAN in GRE: type I (0x88BE without a GRE sequence number) is the bare mirrored frame;
    types II and III (0x22EB) have a header whose version field says its length (Wireshark's
    reading), III with an 8-byte platform subheader when its O bit is set."""
    if gre_proto == ETH_ERSPAN and not gre_flags & GRE_SEQUENCE:
        l3, q, wire = ethernet(buf, p, end, wire_end)
        return tn.ERSPAN, l3, q, wire, gre_key, gre_key
    if p + ERSPAN_II_LEN > end:
        return tn.ERSPAN, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    version = np.int64(buf[p] >> 4)
    session = u16be(buf, p + 2) & 0x3FF
    if version == ERSPAN_II:
        length = ERSPAN_II_LEN
    elif version == ERSPAN_III:
        if p + ERSPAN_III_LEN > end:
            return tn.ERSPAN, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, session, session
        length = ERSPAN_III_LEN + (ERSPAN_PLATFORM_LEN if buf[p + ERSPAN_III_LEN - 1] & 1 else 0)
    else:
        return tn.ERSPAN, -st.TUNNEL_HEADER_MALFORMED, p, wire_end, session, session
    l3, q, wire = ethernet(buf, p + length, end, wire_end)
    return tn.ERSPAN, l3, q, wire, session, session


@kernel
def gre_header_len(buf, p, end, flags):
    """The length of the GRE header at ``p`` (optional fields and routing entries), -1 if routing
    entries are cut off (the fixed fields may run past ``end``: the caller checks)."""
    q = p + 4
    if flags & (GRE_CHECKSUM | GRE_ROUTING):
        q += 4
    if flags & GRE_KEY:
        q += 4
    if flags & GRE_SEQUENCE:
        q += 4
    if (flags & GRE_VERSION) == GRE_PPTP_VERSION and flags & GRE_ACK:
        q += 4
    if flags & GRE_ROUTING:  # source route entries up to a null one (RFC 1701)
        for _ in range(MAX_LINK_LAYERS):
            if q + 4 > end:
                return np.int64(-1)
            family, length = u16be(buf, q), np.int64(buf[q + 3])
            q += 4 + length
            if family == 0 and length == 0:
                break
    return q - p


@kernel
def gre(buf, p, end, wire_end):
    """GRE version 0 (IP, Ethernet, ERSPAN, MPLS, ...) and PPTP's version 1 (PPP); other versions
    are read as version 0, as Wireshark reads them."""
    if p + 4 > end:
        return tn.GRE, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    flags, proto = u16be(buf, p), u16be(buf, p + 2)
    length = gre_header_len(buf, p, end, flags)
    if length < 0:
        return tn.GRE, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    if p + length > wire_end:
        return tn.GRE, -st.TUNNEL_HEADER_MALFORMED, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    if p + length > end:
        return tn.GRE, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    key = NO_TUNNEL_ID
    if flags & GRE_KEY:
        key = u32be(buf, p + (8 if flags & (GRE_CHECKSUM | GRE_ROUTING) else 4))
    q = p + length
    if (flags & GRE_VERSION) == GRE_PPTP_VERSION:
        # The key holds the payload length and the peer's call id: one per direction, so it
        # names no tunnel both ways. An acknowledgement may carry no payload at all.
        call = key & 0xFFFF if key >= 0 else NO_TUNNEL_ID
        if proto != ETH_PPP or q >= wire_end:
            return tn.GRE, -st.NON_IP, q, wire_end, call, NO_TUNNEL_ID
        l3, q, wire = ppp_payload(buf, q, end, wire_end)
        return tn.GRE, l3, q, wire, call, NO_TUNNEL_ID
    if proto == ETH_ERSPAN or proto == ETH_ERSPAN3:
        return erspan(buf, q, end, wire_end, flags, proto, key)
    if q >= wire_end:
        return tn.GRE, -st.NON_IP, q, wire_end, key, key
    l3, q, wire = tunnel_ethertype(buf, q, end, proto, wire_end)
    return tn.GRE, l3, q, wire, key, key


@kernel
def vxlan(buf, p, end, wire_end, kind):
    """VXLAN (Ethernet inside) or VXLAN-GPE (its next protocol field says what is inside)."""
    if p + VXLAN_HEADER_LEN > end:
        return kind, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    vni = u32be(buf, p + 4) >> 8
    q = p + VXLAN_HEADER_LEN
    if kind == tn.VXLAN:
        l3, q, wire = ethernet(buf, q, end, wire_end)
    else:
        l3, q, wire = next_protocol(buf, q, end, np.int64(buf[p + 3]), wire_end)
    return kind, l3, q, wire, vni, vni


@kernel
def geneve(buf, p, end, wire_end):
    """Geneve: 8 bytes, options (length in 4-byte words), an ethertype for what follows."""
    if p + VXLAN_HEADER_LEN > end:
        return tn.GENEVE, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    vni = u32be(buf, p + 4) >> 8
    length = VXLAN_HEADER_LEN + np.int64(buf[p] & 0x3F) * 4
    if buf[p] >> 6 != GENEVE_VERSION or p + length > wire_end:
        return tn.GENEVE, -st.TUNNEL_HEADER_MALFORMED, p, wire_end, vni, vni
    if p + length > end:
        return tn.GENEVE, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, vni, vni
    l3, q, wire = tunnel_ethertype(buf, p + length, end, u16be(buf, p + 2), wire_end)
    return tn.GENEVE, l3, q, wire, vni, vni


@kernel
def gtp_u(buf, p, end, wire_end):
    """GTP-U version 1: flags, message type, length, TEID, optional fields and the extension
    header chain; a T-PDU carries IP. The TEID is the receiver's, one per direction."""
    if p + GTP_HEADER_LEN > end:
        return tn.GTP_U, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    flags = buf[p]
    if flags >> 5 != GTP_VERSION_1 or not flags & GTP_PT:
        return 0, -st.NOT_TCP, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID  # GTP' or another version
    teid = u32be(buf, p + 4)
    q = p + GTP_HEADER_LEN
    if flags & GTP_OPTIONAL_FIELDS:
        q += GTP_OPTIONAL_LEN
        if q > end:
            return tn.GTP_U, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, teid, NO_TUNNEL_ID
        following = buf[q - 1]
        while flags & GTP_EXTENSION and following != 0:
            if q >= end:
                return tn.GTP_U, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, teid, NO_TUNNEL_ID
            length = np.int64(buf[q]) * 4
            if length == 0:
                return tn.GTP_U, -st.TUNNEL_HEADER_MALFORMED, p, wire_end, teid, NO_TUNNEL_ID
            if q + length > end:
                return tn.GTP_U, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, teid, NO_TUNNEL_ID
            following = buf[q + length - 1]
            q += length
    if buf[p + 1] != GTP_T_PDU or q >= end:
        return tn.GTP_U, -st.NON_IP, q, wire_end, teid, NO_TUNNEL_ID
    version = buf[q] >> 4
    l3 = L3_IPV4 if version == 4 else (L3_IPV6 if version == 6 else -st.NON_IP)
    return tn.GTP_U, l3, q, wire_end, teid, NO_TUNNEL_ID


@kernel
def teredo(buf, p, end, wire_end):
    """Teredo: an authentication and an origin indication may come before the IPv6 packet;
    without an IPv6 header after them the datagram is not read as Teredo."""
    if p + 2 <= end and u16be(buf, p) == TEREDO_AUTH:
        if p + 4 > end:
            return tn.TEREDO, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
        p += TEREDO_AUTH_FIXED_LEN + np.int64(buf[p + 2]) + np.int64(buf[p + 3])
    if p + 2 <= end and u16be(buf, p) == TEREDO_ORIGIN:
        p += TEREDO_ORIGIN_LEN
    if p > wire_end:
        return tn.TEREDO, -st.TUNNEL_HEADER_MALFORMED, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    if p > end:
        return tn.TEREDO, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    if p >= end or buf[p] >> 4 != 6:
        return 0, -st.NOT_TCP, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    return tn.TEREDO, L3_IPV6, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID


@kernel
def ayiya(buf, p, end, wire_end):
    """AYIYA: identity (2^n bytes) and signature (4n bytes) lengths, opcode, next header (4/41)."""
    if p + AYIYA_HEADER_LEN > end:
        return tn.AYIYA, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    q = p + AYIYA_HEADER_LEN + (np.int64(1) << (buf[p] >> 4)) + np.int64(buf[p + 1] >> 4) * 4
    following = buf[p + 3]
    if (buf[p + 2] & 0x0F) != AYIYA_FORWARD or q >= wire_end:
        return tn.AYIYA, -st.NON_IP, q, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    if q > end:
        return tn.AYIYA, -st.TUNNEL_HEADER_TRUNCATED, p, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID
    l3 = L3_IPV4 if following == IPPROTO_IPV4 else (L3_IPV6 if following == IPPROTO_IPV6 else -st.NON_IP)
    return tn.AYIYA, l3, q, wire_end, NO_TUNNEL_ID, NO_TUNNEL_ID


@kernel
def udp_tunnel(buf, p, end, payload_len, udp_ports):
    """A UDP datagram at ``p`` to a tunnel port (either port, the lower first, as Wireshark tries them)."""
    if p + UDP_HEADER_LEN > end:
        return 0, -st.NOT_TCP, p, end, NO_TUNNEL_ID, NO_TUNNEL_ID
    sport, dport = u16be(buf, p), u16be(buf, p + 2)
    kind = np.int64(udp_ports[min(sport, dport)])
    if kind == 0:
        kind = np.int64(udp_ports[max(sport, dport)])
    if kind == 0:
        return 0, -st.NOT_TCP, p, end, NO_TUNNEL_ID, NO_TUNNEL_ID
    length = u16be(buf, p + 4)
    if length < UDP_HEADER_LEN or length > payload_len:
        return kind, -st.TUNNEL_HEADER_MALFORMED, p, end, NO_TUNNEL_ID, NO_TUNNEL_ID
    q, wire_end = p + UDP_HEADER_LEN, p + length
    if kind == tn.VXLAN or kind == tn.VXLAN_GPE:
        return vxlan(buf, q, end, wire_end, kind)
    if kind == tn.GENEVE:
        return geneve(buf, q, end, wire_end)
    if kind == tn.GTP_U:
        return gtp_u(buf, q, end, wire_end)
    if kind == tn.TEREDO:
        return teredo(buf, q, end, wire_end)
    if kind == tn.AYIYA:
        return ayiya(buf, q, end, wire_end)
    l3, q, wire = ethertype_chain(buf, q, end, ETH_MPLS, wire_end)
    return tn.MPLS_UDP, l3, q, wire, NO_TUNNEL_ID, NO_TUNNEL_ID


@kernel
def ip_in_ip_kind(outer_version, proto):
    if outer_version == 4:
        return tn.IPIP if proto == IPPROTO_IPV4 else tn.SIX_IN_FOUR
    return tn.FOUR_IN_SIX if proto == IPPROTO_IPV4 else tn.SIX_IN_SIX


@kernel
def tunnel(buf, p, end, payload_len, proto, outer_version, udp_ports):
    """The tunnel an IP payload of protocol ``proto`` at ``p`` is (as the functions above return)."""
    wire_end = p + payload_len
    if proto == IPPROTO_IPV4 or proto == IPPROTO_IPV6:
        return (ip_in_ip_kind(outer_version, proto), L3_IPV4 if proto == IPPROTO_IPV4 else L3_IPV6, p, wire_end,
                NO_TUNNEL_ID, NO_TUNNEL_ID)
    if proto == IPPROTO_GRE:
        return gre(buf, p, end, wire_end)
    return udp_tunnel(buf, p, end, payload_len, udp_ports)


@kernel(inline="always")
def mix(h, word):
    h = (h ^ np.uint64(word)) * np.uint64(0xBF58476D1CE4E5B9)
    return h ^ (h >> np.uint64(31))


@kernel
def add_tunnel_layer(kind, tunnel_id, key_id, i, u64, u32):
    """Record a tunnel layer of row i: its kind in the chain, its id, the endpoints of the IP
    header carrying it (still in the address rows) and the path hash (endpoints in either order)."""
    u32[TUNNEL_CHAIN, i] = (np.int64(u32[TUNNEL_CHAIN, i]) << tn.CHAIN_BITS) | kind
    if tunnel_id != NO_TUNNEL_ID:
        u32[TUNNEL_ID, i] = tunnel_id
    s_hi, s_lo, d_hi, d_lo = u64[SRC_HI, i], u64[SRC_LO, i], u64[DST_HI, i], u64[DST_LO, i]
    u64[OUTER_SRC_HI, i], u64[OUTER_SRC_LO, i], u64[OUTER_DST_HI, i], u64[OUTER_DST_LO, i] = s_hi, s_lo, d_hi, d_lo
    if s_hi > d_hi or (s_hi == d_hi and s_lo > d_lo):
        s_hi, s_lo, d_hi, d_lo = d_hi, d_lo, s_hi, s_lo
    h = u64[TUNNEL_KEY, i]
    h = mix(TUNNEL_KEY_SEED if h == 0 else h, kind | ((key_id + 1) << 8))
    for word in (s_hi, s_lo, d_hi, d_lo):
        h = mix(h, word)
    u64[TUNNEL_KEY, i] = h if h != 0 else np.uint64(1)


@kernel(inline="always")
def tcp_options(buf, p, opt_end, hdr_end, i, u32, u16, u8):
    """Parse options in [p, opt_end): MSS, window scale, SACK-permitted, SACK blocks, timestamps.

    ``hdr_end`` is where the TCP header ends; ``opt_end`` is lower when the capture cut the
    header. An option running past the header is malformed; one running past only the
    captured bytes is cut off (the row is already marked truncated), as Wireshark sees it.
    """
    present = 0
    while p < opt_end:
        kind = buf[p]
        if kind == 0:  # end of option list
            break
        if kind == 1:  # no-operation
            p += 1
            continue
        if p + 1 >= opt_end:
            if opt_end == hdr_end:
                present |= OPT_MALFORMED
            break
        length = np.int64(buf[p + 1])
        if length < 2 or p + length > hdr_end:
            present |= OPT_MALFORMED
            break
        if p + length > opt_end:
            break
        if kind == 2:
            if length == 4:
                u16[MSS, i] = u16be(buf, p + 2)
                present |= OPT_MSS
            else:
                present |= OPT_MALFORMED
        elif kind == 3:
            if length == 3:
                u8[WSCALE, i] = buf[p + 2]
                present |= OPT_WSCALE
            else:
                present |= OPT_MALFORMED
        elif kind == 4:
            if length == 2:
                present |= OPT_SACK_PERM
            else:
                present |= OPT_MALFORMED
        elif kind == 5:
            if (length - 2) % 8 == 0:
                present |= OPT_SACK
                blocks = min((length - 2) // 8, 4)
                u8[SACK_COUNT, i] = blocks
                for b in range(blocks):
                    u32[SACK_LE1 + b, i] = u32be(buf, p + 2 + 8 * b)
                    u32[SACK_RE1 + b, i] = u32be(buf, p + 6 + 8 * b)
            else:
                present |= OPT_MALFORMED
        elif kind == 8:
            if length == 10:
                u32[TS_VAL, i] = u32be(buf, p + 2)
                u32[TS_ECR, i] = u32be(buf, p + 6)
                present |= OPT_TIMESTAMP
            else:
                present |= OPT_MALFORMED
        p += length
    return present


@kernel(inline="always")
def decode_tcp(buf, t, end, ip_payload, start, i, u32, i32, u16, u8):
    """Decode the TCP header at ``t``; ``ip_payload`` is the TCP length the IP header claims."""
    if ip_payload < 20:
        return st.TCP_HEADER_PAST_IP_PAYLOAD
    if t + 20 > end:
        return st.TCP_HEADER_TRUNCATED
    hdr_len = np.int64(buf[t + 12] >> 4) * 4
    if hdr_len < 20:
        return st.TCP_DATA_OFFSET
    if hdr_len > ip_payload:
        return st.TCP_HEADER_PAST_IP_PAYLOAD
    u16[SRC_PORT, i] = u16be(buf, t)
    u16[DST_PORT, i] = u16be(buf, t + 2)
    u32[SEQ, i] = u32be(buf, t + 4)
    u32[ACK, i] = u32be(buf, t + 8)
    u16[TCP_FLAGS, i] = u16be(buf, t + 12) & 0x1FF
    u16[WIN, i] = u16be(buf, t + 14)
    u16[URG_PTR, i] = u16be(buf, t + 18)
    u8[TCP_HDR_LEN, i] = hdr_len
    opt_end = t + hdr_len
    if opt_end > end:
        u8[MARKS, i] |= MARK_TRUNCATED
        opt_end = end  # options cut by the snapshot length: parse what was captured
    u8[OPTIONS, i] = tcp_options(buf, t + 20, opt_end, t + hdr_len, i, u32, u16, u8)
    payload = ip_payload - hdr_len
    i32[PAYLOAD_LEN, i] = payload
    i32[PAYLOAD_OFF, i] = t + hdr_len - start
    captured = min(max(end - (t + hdr_len), 0), payload)
    i32[PAYLOAD_CAPLEN, i] = captured
    if captured < payload:
        u8[MARKS, i] |= MARK_TRUNCATED
    return st.TCP


@kernel
def mark_fragment(p_data, end, data_len, frag_offset, more, start, i, i32, u8):
    i32[PAYLOAD_LEN, i] = data_len
    i32[PAYLOAD_OFF, i] = p_data - start
    i32[PAYLOAD_CAPLEN, i] = min(max(end - p_data, 0), data_len)
    i32[FRAG_OFFSET, i] = frag_offset
    if more:
        u8[MARKS, i] |= MARK_MORE_FRAGMENTS
    if i32[PAYLOAD_CAPLEN, i] < data_len:
        u8[MARKS, i] |= MARK_TRUNCATED
    return st.IP_FRAGMENT


@kernel(inline="always")
def ipv4_options(buf, p, end):
    """Walk IPv4 options in ``buf[p:end]``: (malformed, destination), malformed True for an
    option too short for its fields; destination the final address of a loose or strict source
    route still under way (-1 if none): where the packet is going (RFC 791: the header's
    destination is only the next hop), read as Wireshark reads it."""
    destination = np.int64(-1)
    while p < end:
        kind = np.int64(buf[p])
        if kind == IPV4_OPT_EOL:
            break
        if kind == IPV4_OPT_NOP:
            p += 1
            continue
        if p + 1 >= end:
            break
        length = np.int64(buf[p + 1])
        if length < 2 or p + length > end:
            break
        if length < IPV4_OPTION_MIN_LEN[kind]:
            return True, destination
        if (kind == IPV4_OPT_LSRR or kind == IPV4_OPT_SSRR) and destination < 0:
            pointer = np.int64(buf[p + 2])
            # Under way while the pointer (4, 8, ...) is inside the option; the destination is
            # the option's last four bytes. Wireshark reads them so whatever the length, and
            # takes the first source route option of several.
            if pointer >= 4 and pointer % 4 == 0 and pointer <= length:
                destination = np.int64(u32be(buf, p + length - 4))
        p += length
    return False, destination


@kernel(inline="always")
def decode_ip(buf, p, end, l3, wire_end, start, i, u64, u32, i32, u16, u8, udp_ports):
    """Decode IP, through tunnels (``tunnel``; UDP ones by ``udp_ports``), down to TCP; returns
    the record's status. A tunnel carrying something other than IP leaves it ``not_tcp``."""
    for _layer in range(MAX_IP_LAYERS):
        if p >= end:
            return st.IP_HEADER_TRUNCATED
        version = buf[p] >> 4
        if l3 == L3_EITHER:
            l3 = version
        if version != l3 or (version != 4 and version != 6):
            return st.IP_VERSION
        i32[L3_OFF, i] = p - start
        u8[IP_VERSION, i] = version
        if version == 4:
            if p + 20 > end:
                return st.IP_HEADER_TRUNCATED
            ihl = np.int64(buf[p] & 15) * 4
            if ihl < 20:
                return st.IP_HEADER_LENGTH
            total = u16be(buf, p + 2)
            if total == 0:
                total = wire_end - p  # TSO: length left 0 by the NIC, as Wireshark assumes
            if total < ihl:
                return st.IP_TOTAL_LENGTH
            if total > wire_end - p:
                # IP claims more than the frame carried: use what the frame carried, as Wireshark does.
                total = max(wire_end - p, ihl)
                u8[MARKS, i] |= MARK_IP_LENGTH_EXCEEDS_FRAME
            if p + ihl > end:
                return st.IP_HEADER_TRUNCATED
            u32[IP_ID, i] = u16be(buf, p + 4)
            frag = u16be(buf, p + 6)
            u8[TTL, i] = buf[p + 8]
            proto = np.int64(buf[p + 9])
            u8[IP_PROTO, i] = proto
            u64[SRC_HI, i] = 0
            u64[SRC_LO, i] = IPV4_MAPPED_PREFIX | np.uint64(u32be(buf, p + 12))
            u64[DST_HI, i] = 0
            u64[DST_LO, i] = IPV4_MAPPED_PREFIX | np.uint64(u32be(buf, p + 16))
            if ihl > 20:
                malformed, destination = ipv4_options(buf, p + 20, p + ihl)
                if malformed:
                    return st.IPV4_OPTION
                if destination >= 0:
                    u64[DST_LO, i] = IPV4_MAPPED_PREFIX | np.uint64(destination)
            more = (frag & 0x2000) != 0
            offset = (frag & 0x1FFF) * 8
            if more or offset:
                return mark_fragment(p + ihl, end, total - ihl, offset, more, start, i, i32, u8)
            payload_start = p + ihl
            payload_len = total - ihl
        else:
            if p + 40 > end:
                return st.IP_HEADER_TRUNCATED
            payload_len = u16be(buf, p + 4)
            if payload_len == 0:
                payload_len = wire_end - p - 40  # jumbogram or TSO
            if payload_len > wire_end - p - 40:
                payload_len = max(wire_end - p - 40, 0)
                u8[MARKS, i] |= MARK_IP_LENGTH_EXCEEDS_FRAME
            proto = np.int64(buf[p + 6])
            u8[TTL, i] = buf[p + 7]
            u64[SRC_HI, i] = u64be(buf, p + 8)
            u64[SRC_LO, i] = u64be(buf, p + 16)
            u64[DST_HI, i] = u64be(buf, p + 24)
            u64[DST_LO, i] = u64be(buf, p + 32)
            q = p + 40
            for _ext in range(MAX_IPV6_EXTENSIONS):
                if proto == IPV6_FRAGMENT:
                    if q + 8 > end or payload_len < 8:
                        return st.IPV6_EXTENSION_HEADER
                    next_header = np.int64(buf[q])
                    fword = u16be(buf, q + 2)
                    u32[IP_ID, i] = u32be(buf, q + 4)
                    q += 8
                    payload_len -= 8
                    proto = next_header
                    if (fword & 0xFFF8) or (fword & 1):
                        u8[IP_PROTO, i] = proto
                        return mark_fragment(q, end, payload_len, fword & 0xFFF8, (fword & 1) == 1, start, i, i32, u8)
                    # atomic fragment (RFC 6946): a whole datagram, keep going
                elif (proto == IPV6_HOP_BY_HOP or proto == IPV6_ROUTING or proto == IPV6_DEST_OPTS
                      or proto == IPV6_MOBILITY or proto == IPV6_HIP or proto == IPV6_SHIM6
                      or proto == IPV6_EXPERIMENT1 or proto == IPV6_EXPERIMENT2 or proto == IPV6_AH):
                    if q + 2 > end:
                        return st.IPV6_EXTENSION_HEADER
                    if proto == IPV6_AH:
                        ext_len = (np.int64(buf[q + 1]) + 2) * 4
                    else:
                        ext_len = (np.int64(buf[q + 1]) + 1) * 8
                    if ext_len > payload_len:
                        return st.IPV6_EXTENSION_HEADER
                    proto = np.int64(buf[q])
                    q += ext_len
                    payload_len -= ext_len
                else:
                    break
            u8[IP_PROTO, i] = proto
            payload_start = q
        if proto == IPPROTO_TCP:
            return decode_tcp(buf, payload_start, end, payload_len, start, i, u32, i32, u16, u8)
        if proto != IPPROTO_IPV4 and proto != IPPROTO_IPV6 and proto != IPPROTO_GRE and proto != IPPROTO_UDP:
            return st.NOT_TCP
        kind, l3, p, wire_end, tunnel_id, key_id = tunnel(buf, payload_start, end, payload_len, proto, version,
                                                          udp_ports)
        if kind == 0:
            return -l3
        add_tunnel_layer(kind, tunnel_id, key_id, i, u64, u32)
        if l3 < 0:
            return st.NOT_TCP if l3 == -st.NON_IP else -l3
        end = min(end, wire_end)
    return st.NOT_TCP


@kernel(inline="always")
def decode_record(i, buf, rec_off, caplen, origlen, linktype, u64, u32, i32, u16, u8, udp_ports):
    """Decode record i of a batch (arguments as for ``decode_records``)."""
    start = rec_off[i]
    end = min(start + caplen[i], buf.size)
    wire_end = start + max(origlen[i], caplen[i])
    l3, p, wire_end = link_layer(buf, start, end, wire_end, linktype[i])
    if l3 < 0:
        u8[STATUS, i] = -l3
    else:
        u8[STATUS, i] = decode_ip(buf, p, end, l3, wire_end, start, i, u64, u32, i32, u16, u8, udp_ports)


@kernel(nogil=True, signature=DECODE_RECORDS_SIGNATURE)
def decode_records(buf, rec_off, caplen, origlen, linktype, u64, u32, i32, u16, u8, udp_ports):
    """Decode every record of a batch, one after another (``parallel.decode_records`` for big batches).

    buf: uint8 bytes holding the records; rec_off, caplen, origlen: int64 per record (offset
    of the packet data in buf, captured and original length); linktype: int32 per record.
    u64/u32/i32/u16/u8: zeroed output matrices (rows per ``columns``), one column per record.
    udp_ports: uint8[65536], the tunnel kind of each UDP port (``tunnels.udp_ports``).
    Every record gets a status in u8[STATUS]. Records are independent of each other.
    """
    for i in range(rec_off.size):
        decode_record(i, buf, rec_off, caplen, origlen, linktype, u64, u32, i32, u16, u8, udp_ports)


@kernel(nogil=True, signature=(
    "(readonly(uint8[::1]), int64, int64, uint64[:, ::1], uint32[:, ::1], int32[:, ::1], uint16[:, ::1], "
    "uint8[:, ::1], readonly(uint8[::1]))"))
def decode_one_packet(buf, linktype, origlen, u64, u32, i32, u16, u8, udp_ports):
    """Decode a single packet held alone in ``buf`` into column 0 (used for rebuilt datagrams).
    Tunnel layers are added to the chain and key already in column 0 (those outside the packet)."""
    rec_off = np.zeros(1, np.int64)
    caplen = np.full(1, buf.size, np.int64)
    orig = np.full(1, origlen, np.int64)
    lt = np.full(1, linktype, np.int32)
    decode_records(buf, rec_off, caplen, orig, lt, u64, u32, i32, u16, u8, udp_ports)


# --- checksums (only when asked: offloading leaves many captures with wrong ones) ------------

@kernel(inline="always")
def ones_complement_sum(buf, p, q, acc):
    """Add the bytes in [p, q) to ``acc`` as big-endian 16-bit words (an odd last byte padded)."""
    last = p + ((q - p) & ~1)
    for k in range(p, last, 2):
        acc += (np.int64(buf[k]) << 8) | np.int64(buf[k + 1])
    if last < q:
        acc += np.int64(buf[last]) << 8
    return acc


@kernel(inline="always")
def checksum_ok(acc):
    """Whether a one's complement sum over data and its checksum folds to all ones."""
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return acc == 0xFFFF


@kernel(inline="always")
def address_sum(hi, lo, ipv4):
    """The pseudo-header sum of one address (the low 32 bits of an IPv4-mapped one)."""
    acc = np.int64(0)
    words = 2 if ipv4 else 8
    for k in range(words):
        half = lo if k < 4 else hi
        acc += np.int64((half >> np.uint64(16 * (k % 4))) & np.uint64(0xFFFF))
    return acc


@kernel(inline="always")
def tcp_checksum_ok(buf, t, t_end, i, u64, ipv4):
    """The TCP checksum of the segment in [t, t_end), with the pseudo-header of row i's addresses."""
    acc = address_sum(u64[SRC_HI, i], u64[SRC_LO, i], ipv4) + address_sum(u64[DST_HI, i], u64[DST_LO, i], ipv4)
    acc += IPPROTO_TCP + (t_end - t)
    return checksum_ok(ones_complement_sum(buf, t, t_end, acc))


@kernel(nogil=True, signature=(
    "(readonly(uint8[::1]), readonly(int64[::1]), readonly(int64[::1]), readonly(uint64[:, ::1]), "
    "readonly(int32[:, ::1]), uint8[:, ::1])"))
def verify_checksums(buf, rec_off, caplen, u64, i32, u8):
    """Mark TCP rows whose innermost IPv4 header checksum (MARK_BAD_IP_CHECKSUM) or TCP checksum
    (MARK_BAD_TCP_CHECKSUM) is wrong; a segment not captured whole (or rebuilt from fragments)
    has its TCP checksum left unchecked, as Wireshark leaves it.

    buf, rec_off, caplen: the records as ``decode_records`` took them; u64, i32, u8: its output.
    """
    for i in range(rec_off.size):
        if u8[STATUS, i] != st.TCP:
            continue
        start = rec_off[i]
        end = min(start + caplen[i], buf.size)
        ipv4 = u8[IP_VERSION, i] == 4
        l3 = start + i32[L3_OFF, i]
        if ipv4:
            ihl = np.int64(buf[l3] & 15) * 4
            if l3 + ihl <= end and not checksum_ok(ones_complement_sum(buf, l3, l3 + ihl, np.int64(0))):
                u8[MARKS, i] |= MARK_BAD_IP_CHECKSUM
        payload_off, payload_len = np.int64(i32[PAYLOAD_OFF, i]), np.int64(i32[PAYLOAD_LEN, i])
        if payload_off < 0 or i32[PAYLOAD_CAPLEN, i] < payload_len or u8[MARKS, i] & (MARK_TRUNCATED | MARK_REASSEMBLED):
            continue
        t = start + payload_off - np.int64(u8[TCP_HDR_LEN, i])
        t_end = start + payload_off + payload_len
        if t_end <= end and not tcp_checksum_ok(buf, t, t_end, i, u64, ipv4):
            u8[MARKS, i] |= MARK_BAD_TCP_CHECKSUM
