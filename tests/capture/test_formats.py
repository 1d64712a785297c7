"""Capture formats: random packets written every way we read, read back field for field.

The property tests build packets with dpkt (TCP, IPv4, IPv6) behind random link layers,
write them as pcap or pcapng in either byte order, at every timestamp resolution, optionally
gzipped, and check every record and decoded field comes back exactly.
"""

from __future__ import annotations

import gzip
import io
import ipaddress
import json
import os
import re
import socket
import struct
import sys
import threading
from dataclasses import dataclass

import dpkt
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import (
    ETH_QINQ, ETH_VLAN, IPV6_DEST_OPTS, IPV6_HOP_BY_HOP, Iface, Rec, eth, ipv4, ipv6_opts_header, ipv6_routing_header,
    null, pcap_bytes, pcapng_block, pcapng_bytes, pcapng_epb, pcapng_idb, pcapng_shb, run_python, sll, sll2, tcp,
    units_per_second, write_pcap, write_pcapng,
)
from tcpanalyze.capture import CaptureReader
from tcpanalyze.errors import CaptureError
from tcpanalyze.packets import decode_capture

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# --- strategies --------------------------------------------------------------------------


@dataclass
class Built:
    """One generated packet and everything it should decode to."""

    linktype: int
    data: bytes
    expect: dict
    payload: bytes


u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def tcp_options(draw):
    """A random option list within 40 bytes: MSS, WS, SACK-perm, TS, SACK (0-4 blocks), NOPs."""
    chosen = draw(st.lists(st.sampled_from(["mss", "ws", "sackok", "ts", "sack", "nop"]), max_size=8))
    out, expect, used = b"", {"mss": None, "wscale": None, "sack_perm": False, "ts": None, "sack": None}, set()
    for kind in chosen:
        if kind in used and kind != "nop":
            continue
        if kind == "mss":
            value = draw(u16)
            raw, key = struct.pack("!BBH", 2, 4, value), "mss"
        elif kind == "ws":
            value = draw(st.integers(0, 255))
            raw, key = struct.pack("!BBB", 3, 3, value), "wscale"
        elif kind == "sackok":
            value, raw, key = True, b"\x04\x02", "sack_perm"
        elif kind == "ts":
            value = (draw(u32), draw(u32))
            raw, key = struct.pack("!BBII", 8, 10, *value), "ts"
        elif kind == "sack":
            room = (40 - len(out) - 2) // 8
            value = draw(st.lists(st.tuples(u32, u32), max_size=max(0, min(4, room))))
            raw = struct.pack("!BB", 5, 2 + 8 * len(value)) + b"".join(struct.pack("!II", *b) for b in value)
            key = "sack"
        else:
            raw, key = b"\x01", None
        if len(out) + len(raw) > 40:
            continue
        used.add(kind)
        out += raw
        if key is not None:
            expect[key] = value
    return out, expect


addresses4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
addresses6 = st.integers(0, 2**128 - 1).map(lambda n: ipaddress.IPv6Address(n)).filter(
    lambda a: a.ipv4_mapped is None).map(str)  # mapped addresses print as IPv4 (see test_differential_dpkt)


@st.composite
def packets(draw, linktypes=(1, 113, 276, 101, 0)):
    linktype = draw(st.sampled_from(linktypes))
    opts, opt_expect = draw(tcp_options())
    payload = draw(st.binary(max_size=200))
    flags = draw(st.integers(0, 0x1FF))
    sport, dport, seq, ack, win = draw(u16), draw(u16), draw(u32), draw(u32), draw(u16)
    segment = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, win=win, urp=draw(u16), sum=1,
                           opts=opts + b"\x00" * (-len(opts) % 4), data=payload)
    segment.off = (20 + len(segment.opts)) // 4
    segment.flags = flags
    version = {228: 4, 229: 6}.get(linktype) or draw(st.sampled_from([4, 6]))
    ttl = draw(st.integers(0, 255))
    ip_id = 0
    if version == 4:
        src, dst = draw(addresses4), draw(addresses4)
        ip_id = draw(u16)
        ip_opts = draw(st.sampled_from([b"", b"\x01\x01\x01\x00", b"\x07\x07\x04" + bytes(4) + b"\x00"]))
        packet = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=6, ttl=ttl, id=ip_id,
                            opts=ip_opts, data=segment)
        packet.hl = (20 + len(ip_opts)) // 4
        packet.sum = 1
        packet = bytes(packet)
    else:
        src, dst = draw(addresses6), draw(addresses6)
        ext = draw(st.lists(st.sampled_from(["hbh", "rt", "dst"]), max_size=3, unique=True))
        chain = [{"hbh": ipv6_opts_header(IPV6_HOP_BY_HOP, draw(st.integers(0, 3))),
                  "rt": ipv6_routing_header(draw(st.integers(1, 2))),
                  "dst": ipv6_opts_header(IPV6_DEST_OPTS)}[e] for e in sorted(ext, key=["hbh", "rt", "dst"].index)]
        types = [t for t, _ in chain] + [6]
        body = b"".join(bytes([types[k + 1]]) + hdr[1:] for k, (_, hdr) in enumerate(chain)) + bytes(segment)
        packet = bytes(dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, src), dst=socket.inet_pton(socket.AF_INET6, dst),
                                    nxt=types[0], hlim=ttl, plen=len(body), data=body))
    if linktype == 1:
        vlans = tuple((draw(st.sampled_from([ETH_VLAN, ETH_QINQ, 0x9100])), draw(st.integers(0, 4095)))
                      for _ in range(draw(st.integers(0, 3))))
        data = eth(packet, vlans=vlans)
    elif linktype == 113:
        data = sll(packet)
    elif linktype == 276:
        data = sll2(packet)
    elif linktype == 0:
        data = null(packet, byteorder=draw(st.sampled_from(["little", "big"])))
    else:
        data = packet
    expect = {"status": 0, "ip_version": version, "src": src, "dst": dst, "src_port": sport, "dst_port": dport,
              "seq_raw": seq, "ack_raw": ack, "tcp_flags": flags, "win_raw": win, "tcp_hdr_len": segment.off * 4,
              "payload_len": len(payload), "ttl": ttl, "ip_id": ip_id, **opt_expect}
    return Built(linktype, data, expect, payload)


def address_of(hi: int, lo: int) -> str:
    if hi == 0 and lo >> 32 == 0xFFFF:
        return str(ipaddress.IPv4Address(lo & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address((hi << 64) | lo))


def check_decoded(decoded, built: list[Built], cuts: list[int], stream: bytes) -> None:
    """Every decoded row equals what was built; payload bytes are where payload_off says."""
    p = decoded.packets
    assert len(p) == len(built)
    for i, (b, cut) in enumerate(zip(built, cuts)):
        e = b.expect
        got = {name: int(p[name][i]) for name in ("status", "ip_version", "src_port", "dst_port", "seq_raw", "ack_raw",
                                                  "tcp_flags", "win_raw", "tcp_hdr_len", "payload_len", "ttl", "ip_id")}
        assert got == {k: e[k] for k in got}, i
        assert address_of(int(p["src_hi"][i]), int(p["src_lo"][i])) == e["src"]
        assert address_of(int(p["dst_hi"][i]), int(p["dst_lo"][i])) == e["dst"]
        opts = int(p["options"][i])
        assert opts & 32 == 0  # never malformed
        assert (int(p["mss"][i]) if opts & 1 else None) == e["mss"]
        assert (int(p["wscale"][i]) if opts & 2 else None) == e["wscale"]
        assert bool(opts & 4) == e["sack_perm"]
        assert ((int(p["ts_val"][i]), int(p["ts_ecr"][i])) if opts & 8 else None) == e["ts"]
        blocks = [(int(p[f"sack_le{k}"][i]), int(p[f"sack_re{k}"][i])) for k in range(1, int(p["sack_count"][i]) + 1)]
        assert bool(opts & 16) == (e["sack"] is not None)  # a SACK option with no blocks is still one
        assert blocks == (e["sack"] or [])
        captured = len(b.payload) - cut
        assert int(p["payload_caplen"][i]) == captured
        assert bool(int(p["marks"][i]) & 1) == (cut > 0)
        start = int(p["rec_off"][i]) + int(p["payload_off"][i])
        assert stream[start : start + captured] == b.payload[:captured]


cut_strategy = st.integers(0, 50)


def records_with_cuts(built: list[Built], cuts: list[int], stamps: list[int], ifaces: list[int] | None = None):
    recs = []
    for k, (b, cut) in enumerate(zip(built, cuts)):
        cut = min(cut, len(b.payload))
        cuts[k] = cut
        recs.append(Rec(b.data[: len(b.data) - cut], ts_ns=stamps[k], origlen=len(b.data),
                        iface=0 if ifaces is None else ifaces[k]))
    return recs


# --- pcap ------------------------------------------------------------------------------


@SETTINGS
@given(data=st.data(), big_endian=st.booleans(), nanosecond=st.booleans(), compress=st.booleans(),
       linktype=st.sampled_from([1, 113, 276, 101, 0, 12, 228, 229]))
def test_pcap_round_trip_every_byte_order_resolution_and_gzip(tmp_path, data, big_endian, nanosecond, compress, linktype):
    built = data.draw(st.lists(packets(linktypes=(linktype,)), min_size=1, max_size=6))
    cuts = data.draw(st.lists(cut_strategy, min_size=len(built), max_size=len(built)))
    stamps = data.draw(st.lists(st.integers(0, 2**32 * 10**9 - 1), min_size=len(built), max_size=len(built)))
    raw = pcap_bytes(records_with_cuts(built, cuts, stamps), linktype, nanosecond, big_endian)
    path = tmp_path / ("t.pcap.gz" if compress else "t.pcap")
    path.write_bytes(gzip.compress(raw) if compress else raw)

    decoded = decode_capture(str(path), tcp_only=False)
    info = decoded.info
    assert (info.file_format, info.compressed, info.records, info.warnings) == (
        "pcap-ns" if nanosecond else "pcap", compress, len(built), [])
    assert [i.linktype for i in info.interfaces] == [linktype]
    p = decoded.packets
    unit = 1 if nanosecond else 1000
    assert p["ts_ns"].tolist() == [s // unit * unit for s in stamps]
    assert p["caplen"].tolist() == [len(b.data) - c for b, c in zip(built, cuts)]
    assert p["origlen"].tolist() == [len(b.data) for b in built]
    assert p["frame"].tolist() == list(range(1, len(built) + 1))
    assert set(p["iface"].tolist()) == {0} and set(p["linktype"].tolist()) == {linktype}
    check_decoded(decoded, built, cuts, raw)


# --- pcapng ----------------------------------------------------------------------------

resolutions = st.one_of(st.none(), st.integers(0, 18), st.integers(0, 62).map(lambda k: 0x80 | k))


@SETTINGS
@given(data=st.data(), big_endian=st.booleans(), compress=st.booleans(),
       ifaces=st.lists(st.tuples(st.sampled_from([1, 113, 276, 101, 0]), resolutions,
                                 st.one_of(st.none(), st.integers(-2**31, 2**31))), min_size=1, max_size=4))
def test_pcapng_round_trip_interfaces_resolutions_offsets_and_gzip(tmp_path, data, big_endian, compress, ifaces):
    interfaces = [Iface(lt, resol, off) for lt, resol, off in ifaces]
    n = data.draw(st.integers(1, 6))
    which = data.draw(st.lists(st.integers(0, len(interfaces) - 1), min_size=n, max_size=n))
    built = [data.draw(packets(linktypes=(interfaces[k].linktype,))) for k in which]
    cuts = data.draw(st.lists(cut_strategy, min_size=n, max_size=n))
    ticks = data.draw(st.lists(st.integers(0, 2**63 - 1), min_size=n, max_size=n))
    recs = records_with_cuts(built, cuts, [0] * n, which)
    order = ">" if big_endian else "<"
    raw = pcapng_shb(order) + b"".join(pcapng_idb(i, order) for i in interfaces) + b"".join(
        pcapng_epb(rec, t, order) for rec, t in zip(recs, ticks))
    path = tmp_path / ("t.pcapng.gz" if compress else "t.pcapng")
    path.write_bytes(gzip.compress(raw) if compress else raw)

    decoded = decode_capture(str(path), tcp_only=False)
    info = decoded.info
    assert (info.file_format, info.compressed, info.records, info.warnings) == ("pcapng", compress, n, [])
    assert [(i.linktype, i.units_per_second, i.ts_offset_s) for i in info.interfaces] == [
        (i.linktype, units_per_second(i.tsresol), i.tsoffset_s or 0) for i in interfaces]
    p = decoded.packets
    expected_ts = []
    for k, t in zip(which, ticks):
        ns = t * 10**9 // units_per_second(interfaces[k].tsresol) + (interfaces[k].tsoffset_s or 0) * 10**9
        expected_ts.append(ns if -(2**63) <= ns < 2**63 else None)
    assert [None if e is None else int(v) for v, e in zip(p["ts_ns"], expected_ts)] == expected_ts
    assert p["iface"].tolist() == which
    assert p["linktype"].tolist() == [interfaces[k].linktype for k in which]
    assert p["caplen"].tolist() == [len(b.data) - c for b, c in zip(built, cuts)]
    assert p["origlen"].tolist() == [len(b.data) for b in built]
    check_decoded(decoded, built, cuts, raw)


@SETTINGS
@given(ts=st.integers(0, 2**62), resol=st.sampled_from([None, 0, 3, 6, 9, 0x80 | 10, 0x80 | 30]))
def test_pcapng_timestamp_is_the_tick_floor_of_the_true_time(tmp_path, ts, resol):
    iface = Iface(1, resol, None)
    units = units_per_second(resol)
    path = write_pcapng(tmp_path / "t.pcapng", [Rec(eth(ipv4("10.0.0.1", "10.0.0.2", tcp())), ts_ns=ts)],
                        interfaces=[iface])
    got = int(decode_capture(str(path)).packets["ts_ns"][0])
    ticks = ts * units // 10**9
    assert got == ticks * 10**9 // units
    if units % 10**9 == 0:
        assert got == ts  # the resolution holds every nanosecond


def test_pcapng_finest_power_of_two_resolution_floors_to_the_nanosecond(tmp_path):
    # 2^-60 s ticks: one tick before a second boundary is 999999999 ns, not rounded up to the second.
    iface = Iface(1, 0x80 | 60, None)
    packet = eth(ipv4("10.0.0.1", "10.0.0.2", tcp()))
    raw = pcapng_shb() + pcapng_idb(iface) + b"".join(
        pcapng_epb(Rec(packet, origlen=len(packet)), ticks) for ticks in (2**60 - 1, 2**60, 3 * 2**60 + 2**59))
    path = tmp_path / "fine.pcapng"
    path.write_bytes(raw)
    assert decode_capture(str(path)).packets["ts_ns"].tolist() == [999_999_999, 10**9, 3_500_000_000]


@pytest.mark.parametrize("option,what", [
    (struct.pack("<HHB3x", 9, 1, 0x80 | 63), "time stamp resolution 2^-63 s is not supported"),
    (struct.pack("<HHB3x", 9, 1, 19), "time stamp resolution 10^-19 s is not supported"),
    (struct.pack("<HHB3x", 9, 1, 0xFF), "time stamp resolution 2^-127 s is not supported"),
    (struct.pack("<HHq", 14, 8, 2**62), "time stamp offset of 4611686018427387904 s is out of range"),
])
def test_pcapng_interface_clock_beyond_int64_nanoseconds_stops_reading_with_a_warning(tmp_path, option, what):
    packet = eth(ipv4("10.0.0.1", "10.0.0.2", tcp()))
    good_idb = pcapng_idb(Iface(1))
    bad_idb = pcapng_block(1, struct.pack("<HHI", 1, 0, 0) + option + struct.pack("<HH", 0, 0))
    path = tmp_path / "clock.pcapng"
    path.write_bytes(pcapng_shb() + good_idb + pcapng_epb(Rec(packet, origlen=len(packet)), 1) + bad_idb
                     + pcapng_epb(Rec(packet, origlen=len(packet), iface=1), 1))
    decoded = decode_capture(str(path))
    assert decoded.info.records == 1
    assert len(decoded.accounting.warnings) == 1 and what in decoded.accounting.warnings[0]
    assert "after 1 records" in decoded.accounting.warnings[0]


# --- structure a writer of one kind of file would never produce --------------------------


def test_pcapng_interface_ids_restart_in_each_section_and_iface_counts_globally(tmp_path):
    packet = eth(ipv4("10.0.0.1", "10.0.0.2", tcp()))
    raw = (pcapng_shb("<") + pcapng_idb(Iface(1), "<") + pcapng_idb(Iface(101), "<")
           + pcapng_epb(Rec(packet, origlen=len(packet), iface=0), 1, "<")
           + pcapng_shb(">") + pcapng_idb(Iface(101, 9), ">")
           + pcapng_epb(Rec(packet[14:], origlen=len(packet) - 14, iface=0), 7, ">"))
    path = tmp_path / "two.pcapng"
    path.write_bytes(raw)
    decoded = decode_capture(str(path))
    assert decoded.packets["iface"].tolist() == [0, 2]
    assert decoded.packets["linktype"].tolist() == [1, 101]
    assert decoded.packets["ts_ns"].tolist() == [1000, 7]
    assert [i.section for i in decoded.info.interfaces] == [0, 0, 1]


def test_pcapng_simple_and_obsolete_packet_blocks_are_records_and_unknown_blocks_are_skipped(tmp_path):
    packet = eth(ipv4("10.0.0.1", "10.0.0.2", tcp(payload=bytes(40))))
    order = "<"
    spb = pcapng_block(3, struct.pack("<I", len(packet)) + packet)
    opb = pcapng_block(2, struct.pack("<HHIIII", 0, 0, 0, 5_000_000, len(packet), len(packet)) + packet)
    unknown = pcapng_block(0x80000ABC, b"local use")
    raw = (pcapng_shb(order) + pcapng_idb(Iface(1, snaplen=60), order) + unknown
           + pcapng_epb(Rec(packet, origlen=len(packet)), 3_000_000, order) + spb + opb + unknown)
    path = tmp_path / "blocks.pcapng"
    path.write_bytes(raw)
    p = decode_capture(str(path), tcp_only=False).packets
    assert p["frame"].tolist() == [1, 2, 3]
    assert p["caplen"].tolist() == [len(packet), 60, len(packet)]  # the SPB is cut at the interface snaplen
    assert p["origlen"].tolist() == [len(packet)] * 3
    assert p["ts_ns"].tolist() == [3_000_000_000, 3_000_000_000, 5_000_000_000]  # an SPB has none: the previous
    assert p["status"].tolist() == [0, 0, 0]


def test_modified_kuznetsov_pcap_records_are_read(tmp_path):
    packet = eth(ipv4("10.0.0.1", "10.0.0.2", tcp(seq=77)))
    header = struct.pack("<IHHiIII", 0xA1B2CD34, 2, 4, 0, 0, 65535, 1)
    record = struct.pack("<IIII", 10, 20, len(packet), len(packet)) + struct.pack("<IHBx", 3, 0x0800, 0) + packet
    path = tmp_path / "kuz.pcap"
    path.write_bytes(header + record + record)
    p = decode_capture(str(path)).packets
    assert p["seq_raw"].tolist() == [77, 77] and p["ts_ns"].tolist() == [10_000_020_000] * 2


def test_pcap_link_type_fcs_bits_are_masked(tmp_path):
    # FCS length 2 x 16 bits (bits 28-31) and the "FCS length present" bit (26), as libpcap writes them.
    frame = eth(ipv4("10.0.0.1", "10.0.0.2", tcp())) + b"\xde\xad\xbe\xef"
    path = write_pcap(tmp_path / "fcs.pcap", [frame], linktype=0x24000001)
    p = decode_capture(str(path)).packets
    assert p["linktype"].tolist() == [1] and p["payload_len"].tolist() == [0]


@pytest.mark.parametrize("content,message", [
    (b"hello, this is not a capture at all", "not a pcap or pcapng capture (starts with 68 65 6c 6c"),
    (gzip.compress(b"neither is this, gzipped"), "gzip data that is not a pcap or pcapng capture"),
    (b"\xd4\xc3\xb2\xa1\x02\x00", "pcap file header is cut off (6 of 24 bytes)"),
    (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00", "not a readable pcapng file"),
])
def test_input_that_is_not_a_capture_raises_capture_error_with_one_line(tmp_path, content, message):
    path = tmp_path / "bad.bin"
    path.write_bytes(content)
    with pytest.raises(CaptureError, match=re.escape(message)) as caught:
        decode_capture(str(path))
    assert "\n" not in str(caught.value)


def test_missing_file_and_directory_raise_capture_error(tmp_path):
    with pytest.raises(CaptureError, match="no such file"):
        decode_capture(str(tmp_path / "nope.pcap"))
    with pytest.raises(CaptureError, match="is a directory"):
        decode_capture(str(tmp_path))


def test_empty_file_reads_as_no_records_with_a_warning(tmp_path):
    path = tmp_path / "empty.pcap"
    path.write_bytes(b"")
    decoded = decode_capture(str(path))
    assert decoded.info.records == 0 and decoded.info.file_format == "empty"
    assert decoded.accounting.warnings == [f"{path}: file is empty (0 bytes), no records"]


def test_damaged_gzip_keeps_records_before_the_damage_and_warns(tmp_path):
    packets = [eth(ipv4("10.0.0.1", "10.0.0.2", tcp(seq=k, payload=bytes(200)))) for k in range(200)]
    compressed = gzip.compress(pcap_bytes(packets))
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    decoded = decode_capture(str(path))
    assert 0 < decoded.info.records < 200
    assert decoded.packets["seq_raw"].tolist() == list(range(decoded.info.records))
    assert len(decoded.accounting.warnings) == 1 and "input stream failed" in decoded.accounting.warnings[0]


def test_gzip_failing_before_any_data_is_unreadable_rather_than_empty(tmp_path):
    path = tmp_path / "header-only.pcap.gz"
    path.write_bytes(gzip.compress(pcap_bytes([]))[:10])  # the gzip header, no compressed data
    with pytest.raises(CaptureError, match=r"header-only\.pcap\.gz: input stream failed after byte 0: "
                                           "Compressed file ended before the end-of-stream marker"):
        decode_capture(str(path))


def test_gzip_magic_followed_by_garbage_is_unreadable(tmp_path):
    path = tmp_path / "garbage.pcap.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4)
    with pytest.raises(CaptureError, match=r"garbage\.pcap\.gz: input stream failed after byte 0: Error -3 "):
        decode_capture(str(path))


def test_reader_batches_cover_the_file_in_order(tmp_path):
    packets = [eth(ipv4("10.0.0.1", "10.0.0.2", tcp(seq=k))) for k in range(10)]
    path = write_pcap(tmp_path / "b.pcap", packets)
    with CaptureReader(str(path)) as reader:
        frames = [batch.frame.tolist() for batch in reader.batches(4)]
    assert frames == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert reader.info.records == 10


# --- standard input --------------------------------------------------------------------

STDIN_READER = """
import json, sys, tcpanalyze
df = tcpanalyze.read_packets("-")
print(json.dumps({"seq": df["seq_raw"].tolist(), "ts": df["ts_ns"].tolist(), "acc": df.attrs["accounting"]}))
"""


def stdin_packets(n: int = 300, payload: int = 0) -> list[Rec]:
    return [Rec(eth(ipv4("10.0.0.1", "10.0.0.2", tcp(seq=k, payload=bytes(payload or k)))), ts_ns=10**18 + k * 1000)
            for k in range(n)]


@pytest.mark.parametrize("kind", ["pcap", "pcapng-gzip"])
def test_capture_piped_to_a_new_interpreter_reads_like_the_file(kind):
    raw = pcapng_bytes(stdin_packets()) if kind.startswith("pcapng") else pcap_bytes(stdin_packets(), nanosecond=True)
    if kind.endswith("gzip"):
        raw = gzip.compress(raw)
    result = run_python(STDIN_READER, stdin=raw, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    got = json.loads(result.stdout)
    assert got["seq"] == list(range(300))
    assert got["ts"] == [10**18 + k * 1000 for k in range(300)]
    assert (got["acc"]["records"], got["acc"]["tcp"], got["acc"]["warnings"]) == (300, 300, [])


@pytest.fixture
def stdin_pipe(monkeypatch):
    """Feed bytes to ``sys.stdin`` through a real OS pipe, written from a thread as a shell would."""
    threads = []

    def feed(data: bytes) -> None:
        read_fd, write_fd = os.pipe()

        def writer():
            with os.fdopen(write_fd, "wb") as out:
                for k in range(0, len(data), 65536):
                    out.write(data[k : k + 65536])

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        threads.append(thread)
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(os.fdopen(read_fd, "rb")))

    yield feed
    for thread in threads:
        thread.join(timeout=10)


@pytest.mark.parametrize("kind", ["pcap", "pcapng", "pcap-gzip", "pcapng-gzip"])
def test_capture_on_stdin_pipe_reads_like_the_file(stdin_pipe, kind):
    raw = pcapng_bytes(stdin_packets()) if kind.startswith("pcapng") else pcap_bytes(stdin_packets())
    stdin_pipe(gzip.compress(raw) if kind.endswith("gzip") else raw)
    decoded = decode_capture("-")
    assert decoded.info.path == "<stdin>" and decoded.info.compressed == kind.endswith("gzip")
    assert decoded.packets["seq_raw"].tolist() == list(range(300))
    assert decoded.accounting.warnings == []


def test_large_capture_on_stdin_crosses_stream_chunks_without_losing_a_record(stdin_pipe):
    # 7000 x 1468-byte records: the reader's 8 MiB chunks end inside a record.
    stdin_pipe(pcap_bytes(stdin_packets(7000, payload=1400)))
    decoded = decode_capture("-")
    assert decoded.packets["seq_raw"].tolist() == list(range(7000))
    assert decoded.accounting.warnings == []


def test_capture_cut_off_on_stdin_keeps_complete_records_and_warns(stdin_pipe):
    raw = pcap_bytes(stdin_packets(10))
    stdin_pipe(raw[:-5])
    decoded = decode_capture("-")
    assert decoded.info.records == 9
    assert decoded.accounting.warnings[0].startswith("<stdin>: after 9 records")


def test_not_a_capture_on_stdin_raises_capture_error(stdin_pipe):
    stdin_pipe(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(CaptureError, match="^<stdin>: not a pcap or pcapng capture"):
        decode_capture("-")


def test_written_files_read_back_with_write_pcap_and_write_pcapng_helpers(tmp_path):
    packets = [eth(ipv4("10.0.0.1", "10.0.0.2", tcp(seq=k))) for k in range(3)]
    for path in (write_pcap(tmp_path / "a.pcap", packets, big_endian=True, nanosecond=True),
                 write_pcapng(tmp_path / "a.pcapng", packets, big_endian=True),
                 write_pcap(tmp_path / "a.pcap.gz", packets, gzip=True)):
        assert np.array_equal(decode_capture(str(path)).packets["seq_raw"], [0, 1, 2]), path
