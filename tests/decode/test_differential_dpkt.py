"""Our decoder against an independent dpkt decoder, on every real capture we have.

For each capture in the corpus (``tests/corpus/``) and in ``sample_pcaps/``, records are read with dpkt's
pcap/pcapng structures and decoded with dpkt's link, IP and TCP classes. For every TCP
segment dpkt parses cleanly (not an IP fragment, no exception), every header field, the
payload length and the options must equal ours, and the frames dpkt finds TCP in must be a
subset of ours.

Where dpkt stops short, the reference goes on by hand, and says so:

- dpkt's Ethernet follows at most two VLAN tags; further tags are stripped by hand.
- dpkt has no Cisco HDLC; its 4-byte header (address, control, ethertype) is skipped by hand.
- dpkt's pcapng.Reader knows one interface and drops which interface a packet came from; the
  reference walks the blocks with dpkt's block classes instead (and checks its packets equal
  dpkt.pcapng.Reader's where that reader applies).
- dpkt's ``parse_opts`` reads on past an end-of-list option and hides a length byte below 2;
  the reference stops at end-of-list, and compares options only where they are well formed.
- dpkt stops at tunnels other than IP-in-IP and GRE carrying IP: VXLAN(-GPE), Geneve, GTP-U,
  Teredo, AYIYA, MPLS in UDP (by their standard ports), ERSPAN, Ethernet, PPP or MPLS in GRE,
  and the PBB and VN-Tag link headers. The reference strips those headers by hand (``_tunnel_payload``)
  and hands dpkt what they carry.
- Payload length: dpkt takes the IP length as is; ours (as Wireshark) caps it at what the
  frame carried on the wire (``ip_length_exceeds_frame``). The reference applies the same cap,
  computed from the record's original length and where dpkt found the IP header.

Deliberate differences of ours (checked, not skipped):

- Timestamps are int64 nanoseconds (years 1678-2262). A pcapng timestamp beyond that (one
  corpus interface stamps packets in year 586524, as tshark shows them) cannot be represented:
  its ticks are read as a signed 64-bit count. Those records' timestamps are not compared.
- A Simple Packet Block carries no timestamp; ours gives it the previous packet's, so the
  column stays a plain int64 in file order. Not compared.
- An IPv4-mapped IPv6 address is written ``::ffff:a.b.c.d``, as Wireshark writes it (Python's
  ``ipaddress`` writes ``::ffff:c000:201`` before Python 3.13).
"""

from __future__ import annotations

import gzip
import io
import ipaddress
import struct
from dataclasses import dataclass, field
from pathlib import Path

import dpkt
import pandas as pd
import pytest

from helpers import corpus_files, sample_files
from tcpanalyze.capture import CaptureReader
from tcpanalyze.frames import packets_frame
from tcpanalyze.packets import decode_capture

VLAN_TPIDS = {0x8100, 0x88A8, 0x9100, 0x9200, 0x9300}
ETH_PBB, ETH_VNTAG, ETH_TEB, ETH_ERSPAN, ETH_ERSPAN3, ETH_PPP, ETH_MPLS = (0x88E7, 0x8926, 0x6558, 0x88BE, 0x22EB,
                                                                          0x880B, 0x8847)
GRE_SEQUENCE = 0x1000
PCAP_LE_MAGICS = {b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"}
PCAP_NS_MAGICS = {b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1"}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# pcapng Custom Blocks (copyable, non-copyable): tshark shows each as a frame of its own.
PCAPNG_CUSTOM_BLOCKS = (0x00000BAD, 0x40000BAD)


@dataclass
class RefRecord:
    frame: int
    linktype: int
    data: bytes
    caplen: int
    origlen: int
    ts_ns: int | None  # None: a Simple Packet Block, which carries no timestamp
    packet: bool = True  # False: a pcapng Custom Block, which Wireshark numbers as a frame


@dataclass
class RefCapture:
    records: list[RefRecord]
    cut_off: bool = False  # the file ends inside a record (dpkt sees a partial last record)


def read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def dpkt_pcap_records(data: bytes) -> RefCapture:
    """Records of a classic pcap file, by dpkt's file and record header classes."""
    reader = dpkt.pcap.Reader(io.BytesIO(data))  # validates the file header the dpkt way
    little = data[:4] in PCAP_LE_MAGICS
    header_cls = dpkt.pcap.LEPktHdr if little else dpkt.pcap.PktHdr
    frac_ns = 1 if data[:4] in PCAP_NS_MAGICS else 1000
    records, pos, cut = [], 24, False
    while pos < len(data):
        if len(data) - pos < header_cls.__hdr_len__:
            cut = True
            break
        hdr = header_cls(data[pos : pos + header_cls.__hdr_len__])
        body = data[pos + header_cls.__hdr_len__ : pos + header_cls.__hdr_len__ + hdr.caplen]
        if len(body) < hdr.caplen:
            cut = True
            break
        records.append(RefRecord(len(records) + 1, reader.datalink() & 0x0FFFFFFF, body, hdr.caplen, hdr.len,
                                 hdr.tv_sec * 10**9 + hdr.tv_usec * frac_ns))
        pos += header_cls.__hdr_len__ + hdr.caplen
    # dpkt's own iterator must see the same packets (it yields a partial last one as well).
    dpkt_packets = []
    try:
        for _ts, buf in reader:
            dpkt_packets.append(buf)
    except dpkt.NeedData:
        pass
    assert [r.data for r in records] == dpkt_packets[: len(records)]
    return RefCapture(records, cut)


def dpkt_pcapng_records(data: bytes) -> RefCapture:
    """Records of a pcapng file, walking blocks with dpkt's block classes (every interface)."""
    records: list[RefRecord] = []
    pos, little, interfaces, sections = 0, True, [], 0
    while pos + 12 <= len(data):
        if data[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":
            little = data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a"
            interfaces = []
            sections += 1
        btype, blen = struct.unpack(("<" if little else ">") + "II", data[pos : pos + 8])
        if blen < 12 or pos + blen > len(data):
            return RefCapture(records, True)
        block = data[pos : pos + blen]
        order = "<" if little else ">"
        if btype == dpkt.pcapng.PCAPNG_BT_IDB:
            idb = (dpkt.pcapng.InterfaceDescriptionBlockLE if little else dpkt.pcapng.InterfaceDescriptionBlock)(block)
            units, offset = 10**6, 0
            for opt in idb.opts:
                if opt.code == dpkt.pcapng.PCAPNG_OPT_IF_TSRESOL:
                    value = opt.data[0]
                    units = 2 ** (value & 0x7F) if value & 0x80 else 10 ** (value & 0x7F)
                elif opt.code == dpkt.pcapng.PCAPNG_OPT_IF_TSOFFSET:
                    offset = struct.unpack(order + "q", opt.data[:8])[0]
            interfaces.append((idb.linktype, units, offset, idb.snaplen))
        elif btype in (dpkt.pcapng.PCAPNG_BT_EPB, dpkt.pcapng.PCAPNG_BT_PB):
            if btype == dpkt.pcapng.PCAPNG_BT_EPB:
                epb = (dpkt.pcapng.EnhancedPacketBlockLE if little else dpkt.pcapng.EnhancedPacketBlock)(block)
            else:
                epb = (dpkt.pcapng.PacketBlockLE if little else dpkt.pcapng.PacketBlock)(block)
            linktype, units, offset, _snaplen = interfaces[epb.iface_id]
            ticks = (epb.ts_high << 32) | epb.ts_low
            records.append(RefRecord(len(records) + 1, linktype, bytes(epb.pkt_data), epb.caplen, epb.pkt_len,
                                     ticks * 10**9 // units + offset * 10**9))
        elif btype == dpkt.pcapng.PCAPNG_BT_SPB:
            # dpkt has no Simple Packet Block class: original length, then data (interface 0).
            linktype, _units, _offset, snaplen = interfaces[0]
            wire_len = struct.unpack(order + "I", block[8:12])[0]
            caplen = min(wire_len, blen - 16, snaplen or wire_len)
            records.append(RefRecord(len(records) + 1, linktype, block[12 : 12 + caplen], caplen, wire_len, None))
        elif btype in PCAPNG_CUSTOM_BLOCKS:
            records.append(RefRecord(len(records) + 1, -1, b"", 0, 0, None, packet=False))
        pos += blen
    if len(interfaces) == 1 and sections == 1 and not any(r.ts_ns is None for r in records):
        assert [bytes(buf) for _ts, buf in dpkt.pcapng.Reader(io.BytesIO(data))] == [r.data for r in records]
    return RefCapture(records, pos != len(data))


def dpkt_records(path: Path) -> RefCapture:
    data = read_bytes(path)
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return dpkt_pcapng_records(data)
    return dpkt_pcap_records(data)


# --- reference decoder ---------------------------------------------------------------------

class Skip(Exception):
    """dpkt does not give a clean TCP segment for this record; the reason says why."""


@dataclass
class RefTCP:
    fields: dict
    options: dict | None  # None: options not well formed, not compared
    notes: list[str] = field(default_factory=list)


def _ethernet_payload(data: bytes):
    """dpkt's Ethernet, with VLAN tags beyond dpkt's two, and PBB and VN-Tag headers, stripped by hand."""
    frame = dpkt.ethernet.Ethernet(data)
    payload = frame.data
    etype = getattr(frame, "_next_type", frame.type)  # the type after the VLAN tags dpkt strips
    if isinstance(payload, bytes) and etype == ETH_PBB:
        return _ethernet_payload(payload[4:])
    if isinstance(payload, bytes) and etype == ETH_VNTAG:
        return _ethertype_payload(struct.unpack("!H", payload[4:6])[0], payload[6:])
    if isinstance(payload, bytes) and getattr(frame, "_next_type", None) in VLAN_TPIDS:
        rest = payload
        etype = frame._next_type
        while etype in VLAN_TPIDS and len(rest) >= 4:
            etype = struct.unpack("!H", rest[2:4])[0]
            rest = rest[4:]
        cls = dpkt.ethernet.Ethernet._typesw.get(etype)
        if cls is None:
            raise Skip("not IP")
        payload = cls(rest)
    return payload


def _ethertype_payload(etype: int, data: bytes):
    cls = dpkt.ethernet.Ethernet._typesw.get(etype)
    if cls is None:
        raise Skip("not IP")
    return cls(data)


def _ip_by_version(data: bytes):
    if not data or data[0] >> 4 not in (4, 6):
        raise Skip("not IP")
    return (dpkt.ip6.IP6 if data[0] >> 4 == 6 else dpkt.ip.IP)(data)


def _mpls_payload(data: bytes):
    """An MPLS label stack, then IP (by its version nibble)."""
    while len(data) >= 4 and not data[2] & 1:
        data = data[4:]
    return _ip_by_version(data[4:])


def _gre_payload(gre: dpkt.gre.GRE):
    """What dpkt's GRE carries, where dpkt leaves it as bytes."""
    if isinstance(gre.data, dpkt.ethernet.Ethernet):
        return _ethernet_payload(bytes(gre.data))
    if isinstance(gre.data, dpkt.ppp.PPP):
        return gre.data.data
    if not isinstance(gre.data, bytes):
        return gre.data
    data = gre.data
    if gre.p == ETH_TEB or (gre.p == ETH_ERSPAN and not gre.flags & GRE_SEQUENCE):
        return _ethernet_payload(data)
    if gre.p in (ETH_ERSPAN, ETH_ERSPAN3):  # the header's version says its length: 8 (II) or 12 (III)
        version = data[0] >> 4 if data else 0
        if version not in (1, 2):
            raise Skip("ERSPAN version unknown (Wireshark reads no further)")
        return _ethernet_payload(data[8:] if version == 1 else data[12 + (8 if data[11] & 1 else 0):])
    if gre.p == ETH_PPP:
        return _ip_by_version(data[4:] if data[:2] == b"\xff\x03" else data[2:])
    if gre.p == ETH_MPLS:
        return _mpls_payload(data)
    raise Skip("not IP")


def _gtp_payload(data: bytes):
    flags, following, pos = data[0], 0, 8
    if flags & 0x07:
        following, pos = data[11], 12
    while flags & 0x04 and following:
        length = data[pos] * 4
        if not length:
            raise Skip("GTP-U extension header of length 0")
        following, pos = data[pos + length - 1], pos + length
    return _ip_by_version(data[pos:])


def _teredo_payload(data: bytes):
    if data[:2] == b"\x00\x01":
        data = data[4 + data[2] + data[3] + 9:]
    if data[:2] == b"\x00\x00":
        data = data[8:]
    return _ip_by_version(data)


def _gpe_payload(next_protocol: int, data: bytes):
    """VXLAN-GPE's (and NSH's) next protocol."""
    if next_protocol == 4:  # NSH
        return _gpe_payload(data[3], data[(data[1] & 0x3F) * 4:])
    if next_protocol == 3:
        return _ethernet_payload(data)
    if next_protocol == 5:
        return _mpls_payload(data)
    return _ip_by_version(data)


UDP_TUNNEL_PAYLOADS = {
    4789: lambda d: _ethernet_payload(d[8:]),
    4790: lambda d: _gpe_payload(d[3], d[8:]),
    6081: lambda d: (_ethernet_payload if d[2:4] == b"\x65\x58" else _ip_by_version)(d[8 + (d[0] & 0x3F) * 4:]),
    2152: _gtp_payload,
    3544: _teredo_payload,
    5072: lambda d: _ip_by_version(d[8 + (1 << (d[0] >> 4)) + (d[1] >> 4) * 4:]),
    6635: _mpls_payload,
}


def _tunnel_payload(obj, proto: int) -> tuple[object, int]:
    """(what a GRE or UDP tunnel payload carries, how long the tunnel's datagram says it is or -1)."""
    if proto == 47 and isinstance(obj.data, dpkt.gre.GRE):
        return _gre_payload(obj.data), -1
    if proto == 17 and isinstance(obj.data, dpkt.udp.UDP):
        udp = obj.data
        if udp.ulen < 8:
            raise Skip("UDP length below its header (Wireshark reads no further)")
        for port in sorted((udp.sport, udp.dport)):
            if port in UDP_TUNNEL_PAYLOADS:
                try:
                    return UDP_TUNNEL_PAYLOADS[port](bytes(udp.data)), udp.ulen
                except (IndexError, dpkt.UnpackError, dpkt.NeedData, struct.error):
                    raise Skip("tunnel header cut off") from None
    raise Skip("not TCP")


def _cisco_hdlc(data: bytes):
    etype = struct.unpack("!H", data[2:4])[0]
    cls = dpkt.ethernet.Ethernet._typesw.get(etype)
    if cls is None:
        raise Skip("not IP")
    return cls(data[4:])


def _nflog(data: bytes):
    """NFLOG: family, version, resource id, then little-endian attributes; the packet is attribute 9."""
    family, pos = data[0], 4
    while pos + 4 <= len(data):
        length, kind = struct.unpack_from("<HH", data, pos)
        if length < 4:
            raise Skip("NFLOG attribute length")
        if kind & 0x7FFF == 9:
            return (dpkt.ip6.IP6 if family == 10 else dpkt.ip.IP)(data[pos + 4 : pos + length])
        pos += (length + 3) & ~3
    raise Skip("NFLOG message without a packet")


def link_payload(linktype: int, data: bytes):
    """The object dpkt decodes the record's link layer to (an IP/IP6, or what it stops at)."""
    if linktype == 1:
        return _ethernet_payload(data)
    if linktype == 113:
        return dpkt.sll.SLL(data).data
    if linktype == 276:
        return dpkt.sll2.SLL2(data).data
    if linktype in (0, 108):
        return dpkt.loopback.Loopback(data).data
    if linktype in (101, 12, 14):
        return (dpkt.ip6.IP6 if data and data[0] >> 4 == 6 else dpkt.ip.IP)(data)
    if linktype == 228:
        return dpkt.ip.IP(data)
    if linktype == 229:
        return dpkt.ip6.IP6(data)
    if linktype in (9, 50):
        if data[:1] in (b"\x0f", b"\x8f"):
            return _cisco_hdlc(data)
        if data[:2] == b"\xff\x03":
            return dpkt.ppp.PPP(data).data
        return dpkt.pppoe.PPP(data).data
    if linktype == 104:
        return _cisco_hdlc(data)
    if linktype == 239:
        return _nflog(data)
    raise Skip(f"link type {linktype} not in the reference")


def _address(raw: bytes) -> str:
    address = ipaddress.ip_address(raw)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"  # Wireshark's form: see the module docstring
    return str(address)


def reference_tcp(rec: RefRecord) -> RefTCP:
    """Decode one record with dpkt down to TCP; raise Skip when dpkt gives no clean segment."""
    if not rec.packet:
        raise Skip("not a packet")
    data = rec.data
    try:
        obj = link_payload(rec.linktype, data)
    except (dpkt.NeedData, dpkt.UnpackError, struct.error, IndexError) as exc:
        raise Skip(f"dpkt link layer: {type(exc).__name__}") from None
    # Where the packet ends on the wire, relative to the record start.
    wire_end = max(rec.origlen, rec.caplen)
    if isinstance(obj, dpkt.pppoe.PPPoE):
        start = data.find(obj.pack_hdr())
        wire_end = min(wire_end, start + 6 + obj.len)
        obj = obj.data.data if isinstance(obj.data, dpkt.pppoe.PPP) else obj.data
    notes = []
    search_from = 0
    for _layer in range(4):
        if isinstance(obj, dpkt.ip.IP):
            header = obj.pack_hdr() + bytes(obj.opts)
            l3 = data.find(header, search_from)
            assert l3 >= 0, "the reference cannot place dpkt's IP header in the record"
            ihl = obj.hl * 4
            if obj.mf or obj.offset:
                raise Skip("IPv4 fragment")
            total = obj.len or (wire_end - l3)
            if total > wire_end - l3:
                total = max(wire_end - l3, ihl)
                notes.append("ip_length_exceeds_frame")
            payload_len, proto, version = total - ihl, obj.p, 4
            payload_start = l3 + ihl
        elif isinstance(obj, dpkt.ip6.IP6):
            l3 = data.find(obj.pack_hdr(), search_from)
            assert l3 >= 0, "the reference cannot place dpkt's IPv6 header in the record"
            plen = obj.plen or (wire_end - l3 - 40)
            if plen > wire_end - l3 - 40:
                plen = max(wire_end - l3 - 40, 0)
                notes.append("ip_length_exceeds_frame")
            ext_len = 0
            for ext in obj.all_extension_headers:
                if isinstance(ext, dpkt.ip6.IP6FragmentHeader) and (ext.frag_off or ext.m_flag):
                    raise Skip("IPv6 fragment")
                ext_len += ext.length
            payload_len, proto, version = plen - ext_len, obj.p, 6
            payload_start = l3 + 40 + ext_len
        else:
            raise Skip("not IP")
        if proto in (4, 41, 17, 47):  # a tunnel: the inner packet ends where the outer payload does
            inner, datagram_len = (obj.data, -1) if proto in (4, 41) else _tunnel_payload(obj, proto)
            wire_end = payload_start + (payload_len if datagram_len < 0 else datagram_len)
            search_from = payload_start
            obj = inner
            continue
        if proto != 6:
            raise Skip("not TCP")
        segment = obj.data
        if not isinstance(segment, dpkt.tcp.TCP):
            raise Skip("dpkt did not parse the TCP header")
        break
    else:
        raise Skip("too many IP layers")
    hdr_len = segment.off * 4
    if hdr_len > payload_len:
        notes.append("tcp_header_past_ip_payload")
    fields = {
        "ip_version": version, "src_addr": _address(obj.src), "dst_addr": _address(obj.dst),
        "src_port": segment.sport, "dst_port": segment.dport, "seq_raw": segment.seq, "ack_raw": segment.ack,
        "tcp_flags": segment.flags & 0x1FF, "win_raw": segment.win, "tcp_hdr_len": hdr_len,
        "payload_len": payload_len - hdr_len, "ttl": obj.ttl if version == 4 else obj.hlim,
        "ip_length_exceeds_frame": "ip_length_exceeds_frame" in notes,
        "payload_caplen": min(max(len(data) - (payload_start + hdr_len), 0), payload_len - hdr_len),
    }
    if version == 4:
        fields["ip_id"] = obj.id
    fields["truncated"] = fields["payload_caplen"] < fields["payload_len"] or len(segment.opts) < hdr_len - 20
    return RefTCP(fields, reference_options(bytes(segment.opts), hdr_len - 20), notes)


def reference_options(opts: bytes, declared: int) -> dict | None:
    """Option values from dpkt's parse_opts; None if the options are not well formed.

    ``opts`` is what was captured of the ``declared`` option bytes: an option cut off by the
    snapshot length ends the list without making it malformed (Wireshark: "Packet size
    limited during capture"), one running past the header does.
    """
    # parse_opts reads past end-of-list and treats a length byte below 2 as 2: stop / refuse first.
    pos = 0
    while pos < len(opts) and opts[pos] != 0:
        if opts[pos] == 1:
            pos += 1
            continue
        if pos + 1 >= len(opts):
            if len(opts) < declared:
                break
            return None
        if opts[pos + 1] < 2 or pos + opts[pos + 1] > declared:
            return None
        if pos + opts[pos + 1] > len(opts):
            break
        pos += opts[pos + 1]
    values = {"mss": None, "wscale": None, "sack_perm": False, "ts_val": None, "ts_ecr": None, "sack": []}
    for entry in dpkt.tcp.parse_opts(opts[:pos]):
        if entry is None:
            return None
        kind, value = entry
        expected = {2: 2, 3: 1, 4: 0, 8: 8}.get(kind)
        if expected is not None and len(value) != expected:
            return None
        if kind == 5 and len(value) % 8:
            return None
        if kind == 2:
            values["mss"] = struct.unpack("!H", value)[0]
        elif kind == 3:
            values["wscale"] = value[0]
        elif kind == 4:
            values["sack_perm"] = True
        elif kind == 8:
            values["ts_val"], values["ts_ecr"] = struct.unpack("!II", value)
        elif kind == 5:
            values["sack"] = [struct.unpack("!II", value[k : k + 8]) for k in range(0, len(value), 8)][:4]
    return values


def our_options(row: dict) -> dict:
    def opt(value):
        return None if value is pd.NA else int(value)

    blocks = [(int(row[f"sack_le{k}"]), int(row[f"sack_re{k}"])) for k in range(1, int(row["sack_count"]) + 1)]
    return {"mss": opt(row["mss"]), "wscale": opt(row["wscale"]), "sack_perm": bool(row["sack_perm"]),
            "ts_val": opt(row["ts_val"]), "ts_ecr": opt(row["ts_ecr"]), "sack": blocks}


# --- the tests ---------------------------------------------------------------------------

# Files whose header we refuse, as Wireshark does (pinned in test_accounting): dpkt reads the
# pcap with major version 1 without checking the version, and fails on the pcapng.
UNREADABLE = {"malformed-pcap-invalid-version.pcap", "malformed-pcapng-shb-option-too-long.pcapng"}
CAPTURES = [pytest.param(p, id=f"corpus/{p.name}") for p in corpus_files() if p.name not in UNREADABLE] + \
           [pytest.param(p, id=f"sample_pcaps/{p.name}") for p in sample_files()]
# dpkt decodes TCP in frames we classify otherwise only for these reasons (our status -> why).
JUSTIFIED_NOT_TCP = {
    "tcp_header_past_ip_payload": "dpkt slices the options from what follows the IP payload (padding, "
    "trailer); Wireshark reports such a segment as Malformed ('Short segment'), and so do we",
}


def compare(path: Path) -> dict:
    """Decode with both; return the agreement report, and assert on every disagreement."""
    ref = dpkt_records(path)
    decoded = decode_capture(str(path), tcp_only=False)
    info = decoded.info
    frame = packets_frame(decoded.packets, with_status=True)
    columns = {name: frame[name].to_numpy(dtype=object) for name in frame.columns}
    row_of = {int(f): k for k, f in enumerate(columns["frame"])}

    # Records: the same count (bar a cut-off last record, which we drop with a warning), and
    # the same lengths, timestamps and link types.
    if ref.cut_off:
        assert decoded.accounting.warnings, "a cut-off file must produce a warning"
    assert info.records == len(ref.records) or (ref.cut_off and info.records <= len(ref.records))
    with CaptureReader(str(path)) as reader:
        got = {}
        for batch in reader.batches():
            for k in range(len(batch)):
                got[int(batch.frame[k])] = (int(batch.caplen[k]), int(batch.origlen[k]), int(batch.ts_ns[k]),
                                            int(batch.linktype[k]))
    for rec in ref.records[: info.records]:
        ts = rec.ts_ns
        if ts is None or not INT64_MIN <= ts <= INT64_MAX:
            ts = got[rec.frame][2]  # a Simple Packet Block has no timestamp; or not representable
        linktype = rec.linktype if rec.packet else got[rec.frame][3]
        assert got[rec.frame] == (rec.caplen, rec.origlen, ts, linktype), f"frame {rec.frame}"
        if not rec.packet:
            assert columns["status"][row_of[rec.frame]] == "non_packet_record"

    report = {"dpkt_tcp": 0, "compared": 0, "options_compared": 0, "ours_tcp": decoded.accounting.by_class["tcp"],
              "skipped": {}, "justified": {}}
    mismatches, extra = [], []
    for rec in ref.records[: info.records]:
        try:
            ref_tcp = reference_tcp(rec)
        except Skip as why:
            report["skipped"][str(why)] = report["skipped"].get(str(why), 0) + 1
            continue
        report["dpkt_tcp"] += 1
        k = row_of[rec.frame]
        ours_status = columns["status"][k]
        if ours_status != "tcp":
            reason = JUSTIFIED_NOT_TCP.get(ours_status)
            if reason is None or not ref_tcp.notes.count(ours_status):
                extra.append((rec.frame, ours_status))
            else:
                report["justified"][ours_status] = report["justified"].get(ours_status, 0) + 1
            continue
        report["compared"] += 1
        for name, expected in ref_tcp.fields.items():
            if columns[name][k] != expected:
                mismatches.append((rec.frame, name, expected, columns[name][k]))
        row = {name: columns[name][k] for name in columns}
        if ref_tcp.options is None:
            if not row["options_malformed"]:
                mismatches.append((rec.frame, "options_malformed", True, False))
        else:
            report["options_compared"] += 1
            if row["options_malformed"]:
                mismatches.append((rec.frame, "options_malformed", False, True))
            elif our_options(row) != ref_tcp.options:
                mismatches.append((rec.frame, "options", ref_tcp.options, our_options(row)))
    assert not extra, f"{path.name}: dpkt decodes TCP in frames we do not (frame, our status): {extra[:20]}"
    assert not mismatches, f"{path.name}: {len(mismatches)} disagreements, first: {mismatches[:10]}"
    return report


# Summed over the files compared in this session; conftest prints it after the run.
AGREEMENT = {"files": 0, "dpkt_tcp": 0, "compared": 0, "options_compared": 0, "ours_tcp": 0, "justified": 0}


def agreement_summary() -> str:
    a = AGREEMENT
    return (f"dpkt differential: {a['files']} captures, {a['ours_tcp']} TCP rows ours, {a['dpkt_tcp']} TCP segments "
            f"dpkt parses cleanly, {a['compared']} compared field by field (100% agreement), options compared on "
            f"{a['options_compared']}, {a['justified']} justified differences in class")


@pytest.mark.parametrize("path", CAPTURES)
def test_every_tcp_segment_dpkt_parses_decodes_identically_here(path):
    report = compare(path)
    AGREEMENT["files"] += 1
    for key in ("dpkt_tcp", "compared", "options_compared", "ours_tcp"):
        AGREEMENT[key] += report[key]
    AGREEMENT["justified"] += sum(report["justified"].values())
    # Not vacuous: where both see TCP, most of it must have been compared field by field.
    if report["ours_tcp"]:
        assert report["compared"] > 0, report


def test_corpus_is_found_so_the_differential_covers_it():
    assert len(corpus_files()) >= 50
