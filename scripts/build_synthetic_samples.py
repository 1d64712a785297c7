#!/usr/bin/env python3
"""Build the hand-made captures in sample_pcaps/synth-* and their truth in expected/*.json.

    python scripts/build_synthetic_samples.py            # build all, then check with tshark
    python scripts/build_synthetic_samples.py --no-verify

These cover decoder cases no stack produces on demand: link layers (VLAN stacks, MPLS,
PPPoE, SLL/SLL2, BSD loopback, PPP, Cisco HDLC, raw IP), IPv4 options, IPv6 extension
headers, TCP options good and bad, IP fragments, malformed and truncated headers, non-TCP
traffic, and the container formats (pcap in both byte orders and resolutions, pcapng in
both byte orders, several sections, interfaces, timestamp resolutions and block types,
gzip). Every file is a small, plausible TCP exchange (handshake, data, FIN) so later
layers can use it too.

The truth written to ``expected/<name>.json`` is what the builder put in each record,
not what a decoder read back. Afterwards every file is read with tshark and each TCP
record is compared field by field with that truth; a difference fails the build.
Output is byte-for-byte reproducible.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _pcapwriter import (  # noqa: E402
    EOL, ETH_8021AD, ETH_8021Q, LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP, LINKTYPE_NULL, LINKTYPE_PPP, LINKTYPE_RAW,
    LINKTYPE_RAW_12, MAC_CLIENT, MAC_SERVER, MSS, NOP, PEN_WIRESHARK_TEST, RAW, SACK,
    SHB_HARDWARE, SHB_OS, SHB_USERAPPL, T0_NS, TS, BT_CUSTOM_COPY, Capture, Conv, Pcapng,
    Record, arp, chdlc, eth, ext_dest_opts_padn, ext_hop_by_hop_router_alert, ext_routing_srh,
    icmp4, icmp6, ip4, ip4_fragments, ip6_fragments, loop, mpls, null, pcap_bytes, ppp,
    pppoe, raw, sll, sll2, udp,
)

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "sample_pcaps"
EXPECTED_DIR = OUT_DIR / "expected"

C4, S4 = "192.0.2.10", "198.51.100.20"  # RFC 5737 documentation addresses
C6, S6 = "2001:db8::10", "2001:db8::20"  # RFC 3849
REQUEST = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: tcpanalyze-sample\r\n\r\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n\r\n"
            b"hello from tcpanalyze!!\n")

LINKTYPE_NAMES = {
    LINKTYPE_NULL: "NULL (0)", LINKTYPE_ETHERNET: "EN10MB (1)", LINKTYPE_PPP: "PPP (9)",
    LINKTYPE_RAW_12: "RAW (12)", LINKTYPE_RAW: "RAW (101)", LINKTYPE_LOOP: "LOOP (108)",
    LINKTYPE_LINUX_SLL: "LINUX_SLL (113)", LINKTYPE_IPV4: "IPV4 (228)", LINKTYPE_IPV6: "IPV6 (229)",
    LINKTYPE_LINUX_SLL2: "LINUX_SLL2 (276)",
}


@dataclass
class Sample:
    """One file to write: its bytes, the records in it (with truth) and how it is described."""

    file: str
    description: str
    data: bytes
    records: list[Record]
    fmt: dict
    notes: list[str] = field(default_factory=list)
    # Records tshark shows that are not packets (pcapng Custom Blocks): position -> what.
    tshark_extra_frames: dict[int, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.file.split(".")[0]


def pcap_sample(file: str, description: str, cap: Capture, linktype: int, *, endian: str = "<",
                nano: bool = False, snaplen: int = 262144, notes: list[str] | None = None) -> Sample:
    fmt = {"container": "pcap", "endian": "little" if endian == "<" else "big",
           "ts_resolution": "ns" if nano else "us", "snaplen": snaplen,
           "link_types": [LINKTYPE_NAMES[linktype]]}
    data = pcap_bytes(cap.records, linktype, endian=endian, nano=nano, snaplen=snaplen)
    return Sample(file, description, data, cap.records, fmt, notes or [])


def session(conv: Conv) -> list:
    """The small exchange most files carry: handshake, request, response, FIN both ways."""
    return [conv.c("S"), conv.s("SA"), conv.c("A"), conv.c("PA", REQUEST), conv.s("PA", RESPONSE),
            conv.c("FA"), conv.s("FA"), conv.c("A")]


def sessions_capture(link, *convs: Conv, cap: Capture | None = None) -> Capture:
    cap = cap or Capture()
    for conv in convs:
        for seg in session(conv):
            cap.tcp(seg, link)
    return cap


def conv4(port: int = 49152, **kw) -> Conv:
    return Conv((C4, port), (S4, 80), **kw)


def conv6(port: int = 49153, **kw) -> Conv:
    return Conv((C6, port), (S6, 80), isn_c=0x01020304, isn_s=0xFFFFFF00, **kw)


# ----------------------------------------------------------------------------- link layers


def case_vlan_8021q() -> Sample:
    cap = sessions_capture(eth(((ETH_8021Q, 100),)), conv4())
    return pcap_sample("synth-vlan-8021q.pcap", "Ethernet + one 802.1Q tag (VID 100), IPv4 session",
                       cap, LINKTYPE_ETHERNET)


def case_vlan_qinq() -> Sample:
    cap = sessions_capture(eth(((ETH_8021AD, 200), (ETH_8021Q, 100))), conv4())
    return pcap_sample("synth-vlan-qinq.pcap",
                       "QinQ: 802.1ad S-tag (0x88a8, VID 200) + 802.1Q C-tag (VID 100), IPv4 session",
                       cap, LINKTYPE_ETHERNET)


def case_vlan_3_deep() -> Sample:
    cap = sessions_capture(eth(((ETH_8021AD, 300), (ETH_8021Q, 200), (ETH_8021Q, 100))), conv4(), conv6())
    return pcap_sample("synth-vlan-3-deep.pcap",
                       "three stacked VLAN tags (0x88a8/300, 0x8100/200, 0x8100/100); IPv4 and IPv6 sessions",
                       cap, LINKTYPE_ETHERNET)


def case_mpls() -> Sample:
    cap = sessions_capture(mpls((1001, 2002)), conv4())
    sessions_capture(mpls((1001, 3003)), conv6(), cap=cap)
    return pcap_sample("synth-mpls-2-labels.pcap",
                       "Ethernet + MPLS (0x8847), two labels; bottom-of-stack label 2002 carries IPv4, "
                       "label 3003 carries IPv6 (the payload is told apart by its version nibble)",
                       cap, LINKTYPE_ETHERNET)


def case_pppoe() -> Sample:
    cap = sessions_capture(pppoe(0x1234), conv4(), conv6())
    return pcap_sample("synth-pppoe-session.pcap",
                       "PPPoE session stage (0x8864, session 0x1234): PPP 0x0021 IPv4 and 0x0057 IPv6 sessions",
                       cap, LINKTYPE_ETHERNET)


def case_sll() -> Sample:
    cap = sessions_capture(sll(), conv4(), conv6())
    return pcap_sample("synth-linux-sll.pcap",
                       "Linux cooked v1 (113), captured on the client: outgoing (4) and host (0) packet types; "
                       "IPv4 and IPv6 sessions", cap, LINKTYPE_LINUX_SLL)


def case_sll2() -> Sample:
    cap = sessions_capture(sll2(ifindex=2), conv4(), conv6())
    return pcap_sample("synth-linux-sll2.pcap", "Linux cooked v2 (276), ifindex 2; IPv4 and IPv6 sessions",
                       cap, LINKTYPE_LINUX_SLL2)


def case_null_le() -> Sample:
    cap = sessions_capture(null(), conv4())
    for port, af6 in ((49160, 24), (49161, 28), (49162, 30)):
        sessions_capture(null(af6), conv6(port), cap=cap)
    return pcap_sample("synth-null-le.pcap",
                       "BSD loopback NULL (0), little-endian AF: IPv4 (AF 2) and three IPv6 sessions with "
                       "AF_INET6 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS)", cap, LINKTYPE_NULL,
                       notes=["AF values are little-endian, as written by a little-endian host"])


def case_loop() -> Sample:
    cap = sessions_capture(loop(24), conv4(), conv6())
    return pcap_sample("synth-openbsd-loop.pcap",
                       "OpenBSD LOOP (108): address family in network byte order (AF_INET 2, AF_INET6 24)",
                       cap, LINKTYPE_LOOP)


def case_ppp() -> Sample:
    cap = sessions_capture(ppp(address_control=True), conv4(49152))
    sessions_capture(ppp(address_control=False), conv4(49154), cap=cap)
    sessions_capture(ppp(address_control=True), conv6(), cap=cap)
    return pcap_sample("synth-ppp.pcap",
                       "PPP (9): IPv4 session with FF 03 address/control, IPv4 session without them "
                       "(protocol field first), IPv6 (0x0057) session with FF 03", cap, LINKTYPE_PPP)


def case_ppp_chdlc() -> Sample:
    cap = sessions_capture(chdlc(), conv4(), conv6())
    return pcap_sample("synth-ppp-chdlc.pcap",
                       "Cisco HDLC framing inside a PPP (9) capture (address 0x0f, control 0, Ethertype), "
                       "as in the corpus's ppp-chdlc-bgp-session.pcap; IPv4 and IPv6 sessions",
                       cap, LINKTYPE_PPP)


def case_raw_101() -> Sample:
    cap = sessions_capture(raw(), conv4(), conv6())
    return pcap_sample("synth-raw-lt101.pcap", "raw IP, link type 101: IPv4 and IPv6 sessions", cap, LINKTYPE_RAW)


def case_raw_12() -> Sample:
    cap = sessions_capture(raw(), conv4(), conv6())
    return pcap_sample("synth-raw-lt12.pcap", "raw IP, link type 12 (DLT_RAW as OpenBSD numbers it): "
                       "IPv4 and IPv6 sessions", cap, LINKTYPE_RAW_12)


def case_raw_228() -> Sample:
    cap = sessions_capture(raw(), conv4())
    return pcap_sample("synth-raw-lt228-ipv4.pcap", "raw IPv4, link type 228", cap, LINKTYPE_IPV4)


def case_raw_229() -> Sample:
    cap = sessions_capture(raw(), conv6())
    return pcap_sample("synth-raw-lt229-ipv6.pcap", "raw IPv6, link type 229", cap, LINKTYPE_IPV6)


# ------------------------------------------------------------------------------- IP layer

# IPv4 options (RFC 791), each padded by ip4() to a 32-bit boundary.
IPOPT_NOP = b"\x01"
IPOPT_RR_2 = bytes([7, 11, 4]) + bytes(8)  # record route, room for 2 addresses, none recorded yet
IPOPT_TS_2 = bytes([68, 12, 5, 0]) + bytes(8)  # timestamps only (flag 0), room for 2
IPOPT_ROUTER_ALERT = bytes([148, 4, 0, 0])


def case_ipv4_options() -> Sample:
    conv, link, cap = conv4(), eth(), Capture()
    plan = [(IPOPT_NOP + IPOPT_RR_2, "NOP + record route"), (IPOPT_NOP + IPOPT_RR_2, "NOP + record route"),
            (b"", "none"), (IPOPT_TS_2, "timestamp"), (IPOPT_ROUTER_ALERT, "router alert"),
            (IPOPT_NOP * 3 + IPOPT_TS_2 + IPOPT_NOP * 4 + IPOPT_RR_2, "NOPs + timestamp + record route (40 bytes)"),
            (b"", "none"), (IPOPT_TS_2, "timestamp")]
    for seg, (opts, what) in zip(session(conv), plan):
        hdr_len = 20 + len(opts) + (-len(opts) % 4)
        cap.tcp(seg, link, l3=seg.ip(options=opts), ip_header_len=hdr_len, ip_options=what)
    return pcap_sample("synth-ipv4-options.pcap",
                       "IPv4 headers with options (NOP, record route, timestamp, router alert; up to IHL 15) "
                       "before TCP", cap, LINKTYPE_ETHERNET)


def case_ipv6_ext_headers() -> Sample:
    conv, link, cap = conv6(), eth(), Capture()
    hbh, srh, dst = ext_hop_by_hop_router_alert(), ext_routing_srh(S6), ext_dest_opts_padn()
    srh_back = ext_routing_srh(C6)
    plan = [(hbh,), (dst,), (), (hbh, srh, dst), (hbh, srh_back, dst), (srh,), (dst,), ()]
    for seg, ext in zip(session(conv), plan):
        cap.tcp(seg, link, l3=seg.ip(ext=ext), ip6_ext_headers=[t for t, _ in ext])
    return pcap_sample("synth-ipv6-ext-headers.pcap",
                       "IPv6 extension headers before TCP: hop-by-hop (router alert), routing (RFC 8754 SRH, "
                       "segments left 0), destination options (PadN), alone and chained", cap, LINKTYPE_ETHERNET)


# ----------------------------------------------------------------------------- TCP options


def case_tcp_options() -> Sample:
    link, cap = eth(), Capture()
    # 1. Linux-style session with timestamps; B, D, F are lost before the capture point
    #    (the receiver), so its duplicate ACKs carry 1, 2 and 3 SACK blocks (3 is the most
    #    that fits beside timestamps).
    c = Conv((C4, 49200), (S4, 80))
    for seg in (c.c("S"), c.s("SA"), c.c("A")):
        cap.tcp(seg, link)
    a, b, cc, d, e, f, g = (c.c("A" if i < 6 else "PA", bytes([65 + i]) * 100) for i in range(7))
    cap.tcp(a, link)
    ack_a = a.seq + 100
    cap.tcp(c.s("A", ack=ack_a), link)
    cap.tcp(cc, link)
    cap.tcp(c.s("A", ack=ack_a, extra_opts=(NOP, NOP, SACK((cc.seq, cc.seq + 100)))), link)
    cap.tcp(e, link)
    cap.tcp(c.s("A", ack=ack_a, extra_opts=(NOP, NOP, SACK((e.seq, e.seq + 100), (cc.seq, cc.seq + 100)))), link)
    cap.tcp(g, link)
    blocks3 = ((g.seq, g.seq + 100), (e.seq, e.seq + 100), (cc.seq, cc.seq + 100))
    cap.tcp(c.s("A", ack=ack_a, extra_opts=(NOP, NOP, SACK(*blocks3))), link)
    cap.tcp(c.c("A", b.data, seq=b.seq), link)  # retransmissions fill the holes
    cap.tcp(c.s("A", ack=cc.seq + 100, extra_opts=(NOP, NOP, SACK(blocks3[0], blocks3[1]))), link)
    cap.tcp(c.c("A", d.data, seq=d.seq), link)
    cap.tcp(c.s("A", ack=e.seq + 100, extra_opts=(NOP, NOP, SACK(blocks3[0]))), link)
    cap.tcp(c.c("PA", f.data, seq=f.seq), link)
    cap.tcp(c.s("A", ack=g.seq + 100), link)
    for seg in (c.c("FA"), c.s("FA"), c.c("A")):
        cap.tcp(seg, link)

    # 2. A stack without timestamps (Windows option order): 4 SACK blocks fit.
    w = Conv((C4, 49201), (S4, 80), ts=False, wscale=8, isn_c=0x80000000, isn_s=0x00000001)
    for seg in (w.c("S"), w.s("SA"), w.c("A")):
        cap.tcp(seg, link)
    segs = [w.c("A" if i < 8 else "PA", bytes([97 + i]) * 200) for i in range(9)]
    first_hole = segs[0].seq + 200
    cap.tcp(segs[0], link)
    cap.tcp(w.s("A", ack=first_hole), link)
    received = []
    for s in segs[2::2]:  # segments 1, 3, 5, 7 are lost
        cap.tcp(s, link)
        received.insert(0, (s.seq, s.seq + 200))
        cap.tcp(w.s("A", ack=first_hole, opts=(NOP, NOP, SACK(*received))), link)
    for lost in segs[1:8:2]:
        cap.tcp(w.c("A", lost.data, seq=lost.seq), link)
    cap.tcp(w.s("A", ack=segs[-1].seq + 200), link)
    for seg in (w.c("FA"), w.s("FA"), w.c("A")):
        cap.tcp(seg, link)

    # 3. Options a decoder must skip or stop at: MPTCP (30), TFO (34), experimental (254),
    #    EOL followed by padding.
    m = Conv((C4, 49202), (S4, 80), isn_c=0x0000FFFF, isn_s=0xFFFFFFF0)
    mp_capable = RAW(bytes([30, 12, 0x00, 0x81]) + bytes.fromhex("0102030405060708"), kinds=[30])
    tfo_request = RAW(bytes([34, 2]), kinds=[34])
    tfo_cookie = RAW(bytes([34, 10]) + bytes.fromhex("c0ffee00deadbeef"), kinds=[34])
    exp_254 = RAW(bytes([254, 6, 0xF9, 0x89, 0x00, 0x01]), kinds=[254])  # RFC 6994 ExID
    cap.tcp(m.c("S", extra_opts=(tfo_request, mp_capable)), link)
    cap.tcp(m.s("SA", extra_opts=(tfo_cookie,)), link)
    cap.tcp(m.c("A"), link)
    ts_eol = m.c("PA", REQUEST)
    ts_eol.opts = (TS(*_ts_of(ts_eol)), EOL)  # 10 + 1 bytes, then one byte of zero padding
    cap.tcp(ts_eol, link)
    cap.tcp(m.s("PA", RESPONSE, extra_opts=(exp_254,)), link)
    for seg in (m.c("FA"), m.s("FA"), m.c("A")):
        cap.tcp(seg, link)
    return pcap_sample("synth-tcp-options.pcap",
                       "TCP options: MSS, window scale, SACK permitted, timestamps, SACK with 1, 2, 3 "
                       "(beside timestamps) and 4 blocks, EOL + padding, MPTCP (30), TFO cookie request "
                       "and cookie (34), experimental 254 with an RFC 6994 ExID", cap, LINKTYPE_ETHERNET)


def _ts_of(seg) -> tuple[int, int]:
    for o in seg.opts:
        if "ts_val" in o.truth:
            return o.truth["ts_val"], o.truth["ts_ecr"]
    raise ValueError("segment has no timestamp option")


def case_tcp_options_malformed() -> Sample:
    link, cap = eth(), Capture()
    c = Conv((C4, 49210), (S4, 80))
    # SYN: MSS, then a timestamp option claiming 10 bytes where 4 remain in the header.
    ts_cut = RAW(bytes([8, 10, 0, 0]), malformed=True, malformed_kind=8)
    cap.tcp(c.c("S", opts=(MSS(1460), ts_cut)), link, what="option length runs past the header end")
    cap.tcp(c.s("SA"), link)
    cap.tcp(c.c("A"), link)
    # An MD5 signature option (19) with length 0: a parser must not loop on it.
    request = c.c("PA", REQUEST)
    request.opts = request.opts + (RAW(bytes([19, 0]), malformed=True, malformed_kind=19),)
    cap.tcp(request, link, what="option length 0 after valid timestamps")
    # Window scale with length 1: shorter than its own kind and length bytes.
    response = c.s("PA", RESPONSE)
    response.opts = response.opts + (RAW(bytes([3, 1]), malformed=True, malformed_kind=3),)
    cap.tcp(response, link, what="option length 1 after valid timestamps")
    # EOL, then bytes that would read as SACK permitted: everything after EOL is ignored.
    fin = c.c("FA")
    fin.opts = fin.opts + (EOL, RAW(bytes([4, 2, 4, 2])))
    cap.tcp(fin, link, what="EOL followed by non-zero padding: RFC 9293 says padding must be zero "
            "(Wireshark: 'Non-zero header padding'); the bytes after EOL are not options")
    cap.tcp(c.s("FA"), link)
    cap.tcp(c.c("A"), link)
    return pcap_sample("synth-tcp-options-malformed.pcap",
                       "malformed TCP options inside otherwise valid segments: length past the header end, "
                       "length 0, length 1, and non-zero bytes after EOL", cap, LINKTYPE_ETHERNET,
                       notes=["records stay class tcp; options.malformed says the option list is bad and "
                              "the fields before the bad option are still reported"])


# ------------------------------------------------------------------------------ fragments

def http_message(start: bytes, total: int) -> bytes:
    """An HTTP message of exactly ``total`` bytes: start line, Content-Length, binary body."""
    head = start + b"\r\nHost: example.test\r\nContent-Length: %04d\r\n\r\n"
    body_len = total - len(head % 0)
    return head % body_len + (bytes(range(256)) * 16)[:body_len]


BIG_REQUEST = http_message(b"POST /upload HTTP/1.1", 3000)  # 3 IPv4 fragments at MTU 1500
IPV4_CUTS = [(0, 1480), (1480, 2960), (2960, 3032)]  # TCP header (32) + 3000 bytes


def _fragmented(cap: Capture, seg, link, frags: list[bytes], order: list[int], datagram: str,
                completes: bool = True) -> None:
    """Write fragments in ``order``; the last one written completes the datagram (if complete)."""
    first = len(cap.records) + 1
    frames = list(range(first, first + len(order)))
    for n, i in enumerate(order):
        last = n == len(order) - 1 and completes
        if last:
            cap.tcp(seg, link, l3=frags[i], reassembled_from=frames, datagram=datagram)
        else:
            cap.add(link(frags[i], seg.from_client),
                    {"class": "other_ip", "reason": "ip_fragment", "what": f"fragment {i + 1} of {len(frags)}",
                     "datagram": datagram, "completed_in_frame": frames[-1] if completes else None})


def _frag_session(order: list[int], cuts: list[tuple[int, int]], name: str, description: str) -> Sample:
    conv, link, cap = conv4(), eth(), Capture()
    for seg in (conv.c("S"), conv.s("SA"), conv.c("A")):
        cap.tcp(seg, link)
    req = conv.c("PA", BIG_REQUEST)
    frags = ip4_fragments(req.src, req.dst, 6, req.tcp_bytes(), cuts, ident=0x4242)
    _fragmented(cap, req, link, frags, order, "ipv4 id 0x4242")
    for seg in (conv.s("PA", RESPONSE), conv.c("FA"), conv.s("FA"), conv.c("A")):
        cap.tcp(seg, link)
    return pcap_sample(name, description, cap, LINKTYPE_ETHERNET,
                       notes=["the frame that completes a datagram carries the TCP segment (as Wireshark "
                              "shows it); the other fragments are class other_ip, reason ip_fragment"])


def case_ipv4_frag_in_order() -> Sample:
    return _frag_session([0, 1, 2], IPV4_CUTS, "synth-ipv4-frag-in-order.pcap",
                         "a 3032-byte TCP segment (3000 bytes of request) in 3 IPv4 fragments, in order")


def case_ipv4_frag_out_of_order() -> Sample:
    return _frag_session([2, 0, 1], IPV4_CUTS, "synth-ipv4-frag-out-of-order.pcap",
                         "the same 3 IPv4 fragments, last fragment first (order 3, 1, 2)")


def case_ipv4_frag_overlap() -> Sample:
    cuts = [(0, 1480), (1400, 2960), (2960, 3032)]  # fragment 2 repeats 80 bytes of fragment 1
    return _frag_session([0, 1, 2], cuts, "synth-ipv4-frag-overlap.pcap",
                         "3 IPv4 fragments where the second overlaps the first by 80 bytes (same bytes in "
                         "the overlap, so reassembly is unambiguous)")


def case_ipv4_frag_incomplete() -> Sample:
    conv, link, cap = conv4(), eth(), Capture()
    for seg in (conv.c("S"), conv.s("SA"), conv.c("A")):
        cap.tcp(seg, link)
    req = conv.c("PA", BIG_REQUEST)
    frags = ip4_fragments(req.src, req.dst, 6, req.tcp_bytes(), IPV4_CUTS, ident=0x4242)
    _fragmented(cap, req, link, [frags[0], frags[2]], [0, 1], "ipv4 id 0x4242 (fragment 2 never arrives)",
                completes=False)
    # The client's retransmission (new IP id) gets through.
    retx = conv.c("PA", BIG_REQUEST, seq=req.seq)
    cap.t += 200_000_000  # after a 200 ms retransmission timeout
    frags = ip4_fragments(retx.src, retx.dst, 6, retx.tcp_bytes(), IPV4_CUTS, ident=0x4243)
    _fragmented(cap, retx, link, frags, [0, 1, 2], "ipv4 id 0x4243")
    for seg in (conv.s("PA", RESPONSE), conv.c("FA"), conv.s("FA"), conv.c("A")):
        cap.tcp(seg, link)
    return pcap_sample("synth-ipv4-frag-incomplete.pcap",
                       "an IPv4 datagram whose middle fragment never arrives (never completed), then its "
                       "TCP retransmission as a complete fragmented datagram", cap, LINKTYPE_ETHERNET,
                       notes=["records 4 and 5 never complete: a decoder must count them as ip_fragment "
                              "and not invent a TCP segment from the first fragment"])


def case_ipv6_frag() -> Sample:
    conv, link, cap = conv6(), eth(), Capture()
    for seg in (conv.c("S"), conv.s("SA"), conv.c("A")):
        cap.tcp(seg, link)
    req = conv.c("PA", BIG_REQUEST)
    cuts = [(0, 1448), (1448, 2896), (2896, 3032)]
    frags = ip6_fragments(req.src, req.dst, 6, req.tcp_bytes(), cuts, ident=0xA1)
    _fragmented(cap, req, link, frags, [0, 1, 2], "ipv6 id 0xa1")
    big_response = http_message(b"HTTP/1.1 200 OK", 2960)
    resp = conv.s("PA", big_response)
    rcuts = [(0, 1448), (1448, 2896), (2896, 32 + len(big_response))]
    frags = ip6_fragments(resp.src, resp.dst, 6, resp.tcp_bytes(), rcuts, ident=0xB2)
    _fragmented(cap, resp, link, frags, [1, 2, 0], "ipv6 id 0xb2")
    for seg in (conv.c("FA"), conv.s("FA"), conv.c("A")):
        cap.tcp(seg, link)
    return pcap_sample("synth-ipv6-frag.pcap",
                       "IPv6 Fragment extension header: the request in 3 fragments in order, the response "
                       "in 3 fragments out of order (2, 3, 1)", cap, LINKTYPE_ETHERNET,
                       notes=["the frame that completes a datagram carries the TCP segment; the other "
                              "fragments are class other_ip, reason ip_fragment"])


# ---------------------------------------------------------------------- malformed / truncated


def case_malformed() -> Sample:
    conv, link, cap = conv4(ts=False), eth(), Capture()  # no timestamps: a bare ACK is 54 bytes
    bad = conv4(40666)  # a separate 4-tuple for the broken packets
    segs = session(conv)
    for seg in segs[:3]:
        cap.tcp(seg, link)

    s = bad.c("S")
    cap.malformed(link(s.ip(ihl=4)), "ip_header_length", what="IPv4 IHL 4 (< 5)")
    s = bad.c("S")
    cap.malformed(link(s.ip(total_length=16)), "ip_total_length", what="IPv4 total length 16 < IHL*4 = 20")
    s = bad.c("S")
    s.data_offset = 4
    cap.malformed(link(s.ip()), "tcp_data_offset", what="TCP data offset 4 (< 5)")
    s = bad.c("A")
    s.opts, s.data_offset = (), 15
    cap.malformed(link(s.ip()), "tcp_header_past_ip_payload",
                  what="TCP data offset 15 (60 bytes) but only 20 bytes of IP payload")
    s = bad.c("A")
    frame = link(s.ip())
    cap.malformed(frame, "ip_header_truncated", what="caplen ends 12 bytes into the IPv4 header",
                  caplen=14 + 12)
    s = bad.c("A")
    cap.malformed(link(s.ip()), "tcp_header_truncated", what="caplen ends 10 bytes into the TCP header",
                  caplen=14 + 20 + 10, **_tcp_fixed_fields(s))

    cap.tcp(segs[3], link)
    # Snaplen-cut: the TCP header is whole, the payload is cut (caplen < len).
    resp = segs[4]
    cap.tcp(resp, link, caplen=14 + 20 + 20 + 10)
    # Ethernet minimum-size padding after a bare ACK: payload_len comes from the IP length.
    fin = segs[5]
    cap.tcp(fin, lambda l3, fc: link(l3, fc) + bytes(60 - 14 - len(l3)) if 14 + len(l3) < 60 else link(l3, fc),
            what="Ethernet frame padded to 60 bytes: the trailer is not TCP payload")
    for seg in segs[6:]:
        cap.tcp(seg, link)
    return pcap_sample("synth-malformed.pcap",
                       "a valid IPv4 session with broken records in between: IHL < 5, total length < IHL*4, "
                       "TCP data offset < 5, TCP header past the IP payload, IP and TCP headers cut by "
                       "caplen, a payload cut by caplen, and an Ethernet-padded frame", cap, LINKTYPE_ETHERNET)


def _tcp_fixed_fields(seg) -> dict:
    """What the first 10 bytes of a TCP header still tell: ports and sequence number."""
    return {"tcp_partial": {"src_port": seg.sport, "dst_port": seg.dport, "seq_raw": seg.seq}}


def case_snaplen_70() -> Sample:
    conv, link, cap = conv4(), eth(), Capture()
    snaplen = 70
    for seg in session(conv):
        frame_len = 14 + len(seg.ip())
        tcp_hdr_end = 14 + 20 + len(seg.tcp_bytes()) - len(seg.data)
        if frame_len <= snaplen:
            cap.tcp(seg, link)
        elif tcp_hdr_end <= snaplen:
            cap.tcp(seg, link, caplen=snaplen, truncated=True)
        else:
            # The 20-byte TCP header is captured, only options are cut: still a TCP record (as
            # Wireshark counts it), marked truncated; the options that were captured are parsed.
            truth = {k: v for k, v in seg.truth().items() if k != "options"}
            cap.add(link(seg.ip(), seg.from_client),
                    {"class": "tcp", **truth, "options_cut": True, "what": "snaplen 70 ends inside the TCP options"},
                    caplen=snaplen)
    return pcap_sample("synth-snaplen-70.pcap",
                       "snaplen 70 in the file header: SYN and SYN-ACK (74 bytes) lose the end of their "
                       "options; data segments keep their headers (66 bytes) but lose payload",
                       cap, LINKTYPE_ETHERNET, snaplen=snaplen)


# --------------------------------------------------------------------------- mixed traffic


def case_mixed_non_tcp() -> Sample:
    conv, link, cap = conv4(), eth(), Capture()
    arp_link = eth(ethertype=0x0806)
    cap.add(b"\xff" * 6 + MAC_CLIENT + b"\x08\x06" + arp(1, MAC_CLIENT, C4, bytes(6), S4),
            {"class": "non_ip", "what": "ARP request (broadcast)"})
    cap.other(arp(2, MAC_SERVER, S4, MAC_CLIENT, C4), "non_ip", arp_link, what="ARP reply", from_client=False)
    dns_q = bytes.fromhex("abcd01000001000000000000") + b"\x07example\x04test\x00\x00\x01\x00\x01"
    cap.other(udp(C4, "198.51.100.53", 53000, 53, dns_q), "other_ip", link, what="UDP DNS query")
    cap.other(udp("198.51.100.53", C4, 53, 53000, dns_q[:2] + b"\x81\x80" + dns_q[4:]), "other_ip", link,
              what="UDP DNS response", from_client=False)
    segs = session(conv)
    for seg in segs[:3]:
        cap.tcp(seg, link)
    cap.other(icmp4(C4, S4, 8, 0, b"\x12\x34\x00\x01" + b"ping" * 8), "other_ip", link, what="ICMP echo request")
    cap.other(icmp4(S4, C4, 0, 0, b"\x12\x34\x00\x01" + b"ping" * 8), "other_ip", link, what="ICMP echo reply",
              from_client=False)
    cap.tcp(segs[3], link)
    # An ICMP port unreachable quoting a TCP header: it must not count as a TCP packet.
    probe = conv4(49999).c("S")
    quoted = probe.ip()[:20 + 8]
    cap.other(icmp4(S4, C4, 3, 3, b"\x00\x00\x00\x00" + quoted), "other_ip", link,
              what="ICMP destination unreachable quoting an IPv4+TCP header", from_client=False)
    ns_target = bytes.fromhex("20010db8000000000000000000000020")
    cap.other(icmp6(C6, "ff02::1:ff00:20", 135, 0, b"\x00" * 4 + ns_target + b"\x01\x01" + MAC_CLIENT),
              "other_ip", link, what="ICMPv6 neighbour solicitation")
    cap.other(icmp6(C6, S6, 128, 0, b"\x00\x07\x00\x01" + b"v6ping" * 4), "other_ip", link,
              what="ICMPv6 echo request")
    cap.tcp(segs[4], link)
    # 802.3 frame with LLC (a spanning tree BPDU): the type field is a length.
    bpdu = bytes.fromhex("000000000080000200000000010000000080000200000000018001000014000200000f00")
    llc = b"\x42\x42\x03" + bpdu
    cap.add(bytes.fromhex("0180c2000000") + MAC_CLIENT + len(llc).to_bytes(2, "big") + llc,
            {"class": "non_ip", "what": "IEEE 802.3 + LLC spanning-tree BPDU (length field, not Ethertype)"})
    cap.other(ip4(C4, S4, 47, b"\x00\x00\x08\x00" + ip4("10.0.0.1", "10.0.0.2", 17, b"\x00" * 8)), "other_ip",
              link, what="GRE (IP protocol 47) carrying an IPv4/UDP packet")
    for seg in segs[5:]:
        cap.tcp(seg, link)
    return pcap_sample("synth-mixed-non-tcp.pcap",
                       "one TCP session mixed with ARP, 802.3/LLC (non-IP) and UDP, ICMP, ICMPv6, GRE "
                       "(other IP), including an ICMP error that quotes a TCP header", cap, LINKTYPE_ETHERNET)


# ------------------------------------------------------------------------ container formats


def container_capture(sub_us_ns: int = 0) -> Capture:
    """The container files' shared session; ``sub_us_ns`` adds nanoseconds to every timestamp."""
    cap = Capture(step_ns=1_000_000)
    for i, seg in enumerate(session(conv4())):
        cap.tcp(seg, eth(), ts_ns=T0_NS + 250_000 * i * (i + 1) + (sub_us_ns * (i + 1) if sub_us_ns else 0))
    return cap


def case_container_pcaps() -> list[Sample]:
    out = []
    for endian, word in (("<", "le"), (">", "be")):
        out.append(pcap_sample(f"synth-container-{word}-usec.pcap",
                               f"classic pcap, {'little' if endian == '<' else 'big'}-endian, microsecond "
                               "magic 0xa1b2c3d4", container_capture(), LINKTYPE_ETHERNET, endian=endian))
        out.append(pcap_sample(f"synth-container-{word}-nsec.pcap",
                               f"classic pcap, {'little' if endian == '<' else 'big'}-endian, nanosecond "
                               "magic 0xa1b23c4d (timestamps with sub-microsecond parts)",
                               container_capture(sub_us_ns=123), LINKTYPE_ETHERNET, endian=endian, nano=True))
    return out


SHB_OPTIONS = [(SHB_HARDWARE, b"synthetic"), (SHB_OS, b"none"),
               (SHB_USERAPPL, b"tcpanalyze scripts/build_synthetic_samples.py")]


def _iface(linktype: int, tsresol: int | None = None, tsoffset_s: int | None = None, name: str = "") -> dict:
    return {"link_type": LINKTYPE_NAMES[linktype], "tsresol": 6 if tsresol is None else tsresol,
            "tsresol_option": tsresol, "tsoffset_s": tsoffset_s or 0, "name": name}


def case_container_pcapng() -> list[Sample]:
    out = []
    for endian, word in (("<", "le"), (">", "be")):
        cap = container_capture()
        ng = Pcapng(endian)
        ng.shb(endian, SHB_OPTIONS)
        ng.idb(LINKTYPE_ETHERNET, name="eth0")
        for i, rec in enumerate(cap.records):
            ng.epb(rec, comment="the request" if i == 3 else "")
        out.append(Sample(f"synth-container-{word}.pcapng",
                          f"pcapng, {'little' if endian == '<' else 'big'}-endian: SHB with options, one "
                          "Ethernet IDB (default microsecond resolution), EPBs (one with a comment)",
                          ng.bytes(), cap.records,
                          {"container": "pcapng", "endian": "little" if endian == "<" else "big",
                           "sections": 1, "interfaces": [[_iface(LINKTYPE_ETHERNET, name="eth0")]]}))
    return out


def case_pcapng_two_sections() -> Sample:
    first = sessions_capture(eth(), conv4())
    second = Capture(t0_ns=T0_NS + 60_000_000_000)
    sessions_capture(raw(), conv6(), cap=second)
    for rec in second.records[-3:]:
        rec.iface = 1  # the close of the IPv6 session is seen on the section's second interface
        rec.data = eth()(rec.data, rec.truth["src_addr"] == C6)
        rec.caplen = len(rec.data)
    ng = Pcapng("<")
    ng.shb("<", SHB_OPTIONS)
    ng.idb(LINKTYPE_ETHERNET, name="eth0")
    for rec in first.records:
        ng.epb(rec)
    ng.shb("<", [(SHB_OS, b"second section")])
    ng.idb(LINKTYPE_RAW, name="tun0", tsresol=9)
    ng.idb(LINKTYPE_ETHERNET, name="eth1")
    for rec in second.records:
        ng.epb(rec, tsresol=9 if rec.iface == 0 else 6)
    records = first.records + second.records
    for rec in first.records:
        rec.truth["section"] = 0
    for rec in second.records:
        rec.truth["section"] = 1
    return Sample("synth-pcapng-two-sections.pcapng",
                  "pcapng with two sections (two SHBs): section 0 has one Ethernet interface; section 1 "
                  "has its own IDBs (raw IP with nanosecond resolution, Ethernet), numbered from 0 again",
                  ng.bytes(), records,
                  {"container": "pcapng", "endian": "little", "sections": 2,
                   "interfaces": [[_iface(LINKTYPE_ETHERNET, name="eth0")],
                                  [_iface(LINKTYPE_RAW, 9, name="tun0"), _iface(LINKTYPE_ETHERNET, name="eth1")]]},
                  ["interface ids restart at 0 in each section; the `iface` of a record is within its section"])


def case_pcapng_mixed_endian_sections() -> Sample:
    first = sessions_capture(eth(), conv4())
    second = sessions_capture(eth(), conv6(), cap=Capture(t0_ns=T0_NS + 60_000_000_000))
    ng = Pcapng("<")
    ng.shb("<", SHB_OPTIONS)
    ng.idb(LINKTYPE_ETHERNET, name="eth0")
    for rec in first.records:
        rec.truth["section"] = 0
        ng.epb(rec)
    ng.shb(">", [(SHB_OS, b"big-endian host")])  # as if two hosts' files were concatenated
    ng.idb(LINKTYPE_ETHERNET, name="eth0")
    for rec in second.records:
        rec.truth["section"] = 1
        ng.epb(rec)
    return Sample("synth-pcapng-mixed-endian-sections.pcapng",
                  "pcapng with a little-endian section then a big-endian section (each SHB sets the byte "
                  "order of the blocks after it); IPv4 session in the first, IPv6 session in the second",
                  ng.bytes(), first.records + second.records,
                  {"container": "pcapng", "endian": "little, then big", "sections": 2,
                   "interfaces": [[_iface(LINKTYPE_ETHERNET, name="eth0")], [_iface(LINKTYPE_ETHERNET, name="eth0")]]})


TICK_2_20_NS = 1_953_125  # 2048 ticks of 2^-20 s: the smallest step that is a whole number of ns


def case_pcapng_multi_iface() -> Sample:
    # Three interfaces, each with its own session, interleaved in time.
    tsoffset = 1_700_000_000
    ifaces = [(eth(), LINKTYPE_ETHERNET, None, None, conv4(49300)),
              (raw(), LINKTYPE_RAW, 9, None, conv6(49301)),
              (sll(), LINKTYPE_LINUX_SLL, 0x94, tsoffset, Conv((C4, 49302), (S4, 443)))]
    cap = Capture()
    per_iface = [session(conv) for *_, conv in ifaces]
    for step in range(8):
        for i, (link, _, tsresol, _, _) in enumerate(ifaces):
            ts = T0_NS + TICK_2_20_NS * (3 * step + i + 1) * 64 + (7 if tsresol == 9 else 0)
            cap.tcp(per_iface[i][step], link, ts_ns=ts, iface=i)
    ng = Pcapng("<")
    ng.shb("<", SHB_OPTIONS)
    for _link, lt, tsresol, off, _ in ifaces:
        ng.idb(lt, name={LINKTYPE_ETHERNET: "eth0", LINKTYPE_RAW: "tun0", LINKTYPE_LINUX_SLL: "any"}[lt],
               tsresol=tsresol, tsoffset_s=off)
    for rec in cap.records:
        _, _, tsresol, off, _ = ifaces[rec.iface]
        ng.epb(rec, tsresol=6 if tsresol is None else tsresol, tsoffset_s=off or 0)
    return Sample("synth-pcapng-multi-iface.pcapng",
                  "pcapng with three interfaces of different link types and timestamp resolutions: "
                  "Ethernet (default 10^-6), raw IP (if_tsresol 9 = 10^-9), Linux SLL (if_tsresol 0x94 = "
                  "2^-20, if_tsoffset 1700000000 s); one session per interface, interleaved",
                  ng.bytes(), cap.records,
                  {"container": "pcapng", "endian": "little", "sections": 1,
                   "interfaces": [[_iface(LINKTYPE_ETHERNET, name="eth0"), _iface(LINKTYPE_RAW, 9, name="tun0"),
                                   _iface(LINKTYPE_LINUX_SLL, 0x94, tsoffset, name="any")]]},
                  ["ts_ns is the true time: ticks / resolution + if_tsoffset; the 2^-20 interface's "
                   "timestamps are multiples of 1953125 ns so they convert exactly"])


def case_pcapng_block_zoo() -> Sample:
    cap = sessions_capture(eth(), conv4())
    recs = cap.records
    ng = Pcapng("<")
    ng.shb("<", SHB_OPTIONS)
    ng.idb(LINKTYPE_ETHERNET, name="eth0")
    ng.nrb([(C4, "client.example.test"), (S4, "server.example.test"), (C6, "client6.example.test")])
    for rec in recs[:3]:
        ng.epb(rec)
    ng.custom(BT_CUSTOM_COPY, PEN_WIRESHARK_TEST, b"opaque custom block data, skip me")
    ng.spb(recs[3])
    recs[3].ts_ns = None  # a Simple Packet Block has no timestamp
    ng.block(0x80000ABC, b"local-use block type nobody defined\0\0\0")
    ng.pb_obsolete(recs[4])
    for rec in recs[5:]:
        ng.epb(rec)
    ng.isb(0, T0_NS + 10_000_000)
    blocks = ["SHB", "IDB", "NRB", "EPB", "EPB", "EPB", "Custom 0x00000BAD", "SPB", "local-use 0x80000ABC",
              "PB (obsolete, type 2)", "EPB", "EPB", "EPB", "ISB"]
    recs[3].truth["block"] = "SPB"
    recs[4].truth["block"] = "PB"
    return Sample("synth-pcapng-block-zoo.pcapng",
                  "pcapng block types a reader must handle or skip: Name Resolution Block, Custom Block "
                  "(0x00000BAD), a local-use block type (0x80000ABC), Simple Packet Block (no timestamp), "
                  "obsolete Packet Block (type 2), Interface Statistics Block",
                  ng.bytes(), recs,
                  {"container": "pcapng", "endian": "little", "sections": 1, "blocks": blocks,
                   "interfaces": [[_iface(LINKTYPE_ETHERNET, name="eth0")]]},
                  ["only EPB, SPB and PB are packet records; the SPB's ts_ns is null",
                   "tshark 4.0 (and Wireshark) show the Custom Block as a frame of its own (frame 4, "
                   "protocol 'data'); tcpanalyze numbers it too (class non_ip, status "
                   "non_packet_record), so a packet's frame number is its wireshark_frame here; "
                   "'frame' counts packet records only, as capinfos does (8 packets)"],
                  tshark_extra_frames={4: "Custom Block (PEN 32473)"})


def case_gzip(samples: dict[str, Sample]) -> list[Sample]:
    out = []
    for src, dst in (("synth-container-le-usec.pcap", "synth-gzip-le-usec.pcap.gz"),
                     ("synth-container-le.pcapng", "synth-gzip-le.pcapng.gz")):
        s = samples[src]
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:  # mtime 0: reproducible
            gz.write(s.data)
        out.append(Sample(dst, f"gzip-compressed copy of {src}", buf.getvalue(), s.records,
                          {**s.fmt, "compressed": "gzip"}))
    return out


CASES = [
    case_vlan_8021q, case_vlan_qinq, case_vlan_3_deep, case_mpls, case_pppoe, case_sll, case_sll2,
    case_null_le, case_loop, case_ppp, case_ppp_chdlc, case_raw_101, case_raw_12, case_raw_228,
    case_raw_229, case_ipv4_options, case_ipv6_ext_headers, case_tcp_options, case_tcp_options_malformed,
    case_ipv4_frag_in_order, case_ipv4_frag_out_of_order, case_ipv4_frag_overlap, case_ipv4_frag_incomplete,
    case_ipv6_frag, case_malformed, case_snaplen_70, case_mixed_non_tcp, case_container_pcaps,
    case_container_pcapng, case_pcapng_two_sections, case_pcapng_mixed_endian_sections,
    case_pcapng_multi_iface, case_pcapng_block_zoo,
]


# ----------------------------------------------------------------------------- expected JSON


def expected_json(s: Sample, case: str) -> dict:
    packets = []
    for frame, rec in enumerate(s.records, start=1):
        entry = {"frame": frame, "class": rec.truth["class"]}
        if "reason" in rec.truth:
            entry["reason"] = rec.truth["reason"]
        entry.update({"ts_ns": rec.ts_ns, "caplen": rec.caplen, "len": rec.orig_len, "iface": rec.iface})
        if rec.truth["class"] == "tcp":
            entry["truncated"] = rec.caplen < rec.orig_len
        entry.update({k: v for k, v in rec.truth.items() if k not in ("class", "reason", "truncated")})
        if s.tshark_extra_frames:
            entry["wireshark_frame"] = frame
            for extra in sorted(s.tshark_extra_frames):
                entry["wireshark_frame"] += extra <= entry["wireshark_frame"]
        packets.append(entry)
    counts = {c: sum(1 for p in packets if p["class"] == c) for c in ("tcp", "other_ip", "non_ip", "malformed")}
    reasons = {}
    for p in packets:
        if "reason" in p:
            reasons[p["reason"]] = reasons.get(p["reason"], 0) + 1
    return {"file": s.file, "made_by": f"scripts/build_synthetic_samples.py {case}", "description": s.description,
            "format": s.fmt, "records": len(packets), "counts": counts, "malformed_reasons": reasons,
            "notes": s.notes, "packets": packets}


# ------------------------------------------------------------------------------ tshark check

TSHARK_FIELDS = ["frame.number", "frame.time_epoch", "frame.len", "frame.cap_len", "frame.protocols",
                 "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.seq_raw",
                 "tcp.ack_raw", "tcp.flags", "tcp.window_size_value", "tcp.len", "tcp.option_kind",
                 "tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.timestamp.tsval",
                 "tcp.options.timestamp.tsecr", "tcp.options.sack_le", "tcp.options.sack_re",
                 "_ws.expert.message"]


def tshark_rows(path: Path) -> list[dict]:
    cmd = ["tshark", "-n", "-r", str(path), "-o", "tcp.relative_sequence_numbers:FALSE",
           "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [dict(zip(TSHARK_FIELDS, line.split("\t"))) for line in out.splitlines()]


def _ns(epoch: str) -> int:
    sec, _, frac = epoch.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def _first(v: str) -> str:
    return v.split("|")[0] if v else ""


def _ints(v: str) -> list[int]:
    return [int(x, 0) for x in v.split("|") if x] if v else []


def _up_to_eol(kinds: list[int]) -> list[int]:
    """tshark lists every padding byte as another EOL; the truth stops at the first."""
    return kinds[: kinds.index(0) + 1] if 0 in kinds else kinds


def tshark_class(row: dict) -> str:
    protos = row["frame.protocols"].split(":")
    if "ip" not in protos and "ipv6" not in protos:
        return "non_ip"
    if "tcp" in protos and not {"icmp", "icmpv6", "gre"} & set(protos):
        return "tcp"
    return "other_ip"


def compare(p: dict, row: dict) -> list[str]:
    """Differences between the truth of one TCP record and tshark's reading of it."""
    want = {"src": p["src_addr"], "dst": p["dst_addr"], "sport": p["src_port"], "dport": p["dst_port"],
            "seq": p["seq_raw"], "ack": p["ack_raw"], "flags": p["tcp_flags"], "win": p["win_raw"],
            "truncated": p["truncated"]}
    o = p.get("options")  # absent when the snaplen cut the options
    if o is not None:
        want.update({"kinds": o["kinds"], "mss": o["mss"], "wscale": o["wscale"], "ts_val": o["ts_val"],
                     "ts_ecr": o["ts_ecr"], "sack": o["sack"]})
    v6 = ":" in p["src_addr"]
    got = {"src": _first(row["ipv6.src" if v6 else "ip.src"]), "dst": _first(row["ipv6.dst" if v6 else "ip.dst"]),
           "sport": int(_first(row["tcp.srcport"]) or -1), "dport": int(_first(row["tcp.dstport"]) or -1),
           "seq": int(_first(row["tcp.seq_raw"]) or -1), "ack": int(_first(row["tcp.ack_raw"]) or -1),
           "flags": int(_first(row["tcp.flags"]) or "-1", 0), "win": int(_first(row["tcp.window_size_value"]) or -1),
           "kinds": _up_to_eol(_ints(row["tcp.option_kind"])), "mss": (_ints(row["tcp.options.mss_val"]) or [None])[0],
           "wscale": (_ints(row["tcp.options.wscale.shift"]) or [None])[0],
           "ts_val": (_ints(row["tcp.options.timestamp.tsval"]) or [None])[0],
           "ts_ecr": (_ints(row["tcp.options.timestamp.tsecr"]) or [None])[0],
           "sack": [list(b) for b in zip(_ints(row["tcp.options.sack_le"]), _ints(row["tcp.options.sack_re"]))],
           "truncated": int(row["frame.cap_len"]) < int(row["frame.len"])}
    if not p["truncated"]:
        want["payload_len"] = p["payload_len"]
        got["payload_len"] = int(_first(row["tcp.len"]) or -1)
    if p["ts_ns"] is not None:
        want["ts_ns"], got["ts_ns"] = p["ts_ns"], _ns(row["frame.time_epoch"])
    return [f"{k}: built {want[k]!r}, tshark {got[k]!r}" for k in want if want[k] != got.get(k)]


def verify(s: Sample, expected: dict) -> list[str]:
    """Read the file back with tshark; return every disagreement with the truth."""
    path = OUT_DIR / s.file
    rows = [r for r in tshark_rows(path) if int(r["frame.number"]) not in s.tshark_extra_frames]
    problems = []
    if len(rows) != expected["records"]:
        return [f"{s.file}: tshark reads {len(rows)} records, built {expected['records']}"]
    for p, row in zip(expected["packets"], rows):
        where = f"{s.file} frame {p['frame']}"
        seen = tshark_class(row)
        if p["class"] == "tcp":
            if seen != "tcp":
                problems.append(f"{where}: tshark sees {row['frame.protocols']}, built tcp")
                continue
            problems += [f"{where}: {d}" for d in compare(p, row)]
        elif p["class"] in ("other_ip", "non_ip") and seen != p["class"]:
            problems.append(f"{where}: tshark sees {seen} ({row['frame.protocols']}), built {p['class']}")
        if p["class"] == "malformed" or p.get("options", {}).get("malformed"):
            p["tshark_view"] = {"protocols": row["frame.protocols"],
                                "expert": sorted(set(row["_ws.expert.message"].split("|")) - {""})}
    if "Bad checksum" in "".join(r["_ws.expert.message"] for r in rows):
        problems.append(f"{s.file}: tshark reports a bad checksum")
    return problems


# ------------------------------------------------------------------------------------ main


def build_all() -> list[tuple[Sample, str]]:
    built: list[tuple[Sample, str]] = []
    for case in CASES:
        result = case()
        for s in result if isinstance(result, list) else [result]:
            built.append((s, case.__name__))
    by_file = {s.file: s for s, _ in built}
    built += [(s, "case_gzip") for s in case_gzip(by_file)]
    return built


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-verify", action="store_true", help="skip the tshark read-back")
    args = ap.parse_args()
    verify_on = not args.no_verify and shutil.which("tshark") is not None
    EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
    problems = []
    for s, case in build_all():
        (OUT_DIR / s.file).write_bytes(s.data)
        expected = expected_json(s, case)
        if verify_on:
            problems += verify(s, expected)
        (EXPECTED_DIR / f"{s.name}.json").write_text(json.dumps(expected, indent=1) + "\n")
        print(f"{s.file:40s} {expected['records']:4d} records {len(s.data):7d} bytes")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(f"{len(problems)} disagreements with tshark")
    if not verify_on:
        print("not verified with tshark", file=sys.stderr)


if __name__ == "__main__":
    main()
