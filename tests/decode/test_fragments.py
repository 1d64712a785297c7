"""IP fragment reassembly: the completing fragment's frame carries the TCP segment, as in Wireshark."""

from __future__ import annotations

import shutil
import subprocess

import pandas as pd
import pytest

import tcpanalyze
from helpers import Rec, eth, ipv4, ipv6, ipv6_fragment_header, ipv6_opts_header, IPV6_HOP_BY_HOP, tcp, udp, write_pcap
from tcpanalyze.packets import decode_capture

SRC4, DST4 = "192.0.2.1", "198.51.100.2"
SRC6, DST6 = "2001:db8::1", "2001:db8::2"
PAYLOAD = bytes(range(256)) * 8  # 2048 bytes, every offset distinguishable
SEGMENT = tcp(40000, 80, seq=0xCAFEBABE, ack=7, flags="PA", payload=PAYLOAD)  # 20 + 2048 bytes


def v4_fragments(datagram: bytes, cuts: list[int], ident: int = 0x4242, src: str = SRC4, proto: int = 6) -> list[bytes]:
    """IPv4 fragments of ``datagram`` split at the byte offsets ``cuts`` (multiples of 8)."""
    edges = [0, *cuts, len(datagram)]
    return [eth(ipv4(src, DST4, datagram[a:b], ident=ident, proto=proto, mf=b < len(datagram), frag_offset=a))
            for a, b in zip(edges, edges[1:])]


def v6_fragments(datagram: bytes, cuts: list[int], ident: int = 0x01020304, proto: int = 6) -> list[bytes]:
    edges = [0, *cuts, len(datagram)]
    return [eth(ipv6(SRC6, DST6, datagram[a:b], next_header=proto,
                     ext=(ipv6_opts_header(IPV6_HOP_BY_HOP), ipv6_fragment_header(a, b < len(datagram), ident))))
            for a, b in zip(edges, edges[1:])]


def decode(tmp_path, records, **kwargs):
    path = write_pcap(tmp_path / "frag.pcap", records)
    decoded = decode_capture(str(path), tcp_only=False, **kwargs)
    df = tcpanalyze.read_packets(str(path), all_records=True)
    return decoded, df


def assert_rebuilt_in(df, decoded, frame: int, payload: bytes = PAYLOAD, overlap: bool = False) -> None:
    row = df.set_index("frame").loc[frame]
    assert (row["status"], row["reassembled"], row["fragment_overlap"]) == ("tcp", True, overlap)
    assert (row["src_port"], row["dst_port"], row["seq_raw"], row["ack_raw"]) == (40000, 80, 0xCAFEBABE, 7)
    assert (row["payload_len"], row["payload_caplen"], row["payload_off"]) == (len(payload), len(payload), pd.NA)
    assert decoded.reassembled_payloads[frame] == payload
    others = df[df["frame"] != frame]
    assert (others["status"] == "ip_fragment").all()
    assert df.attrs["accounting"]["tcp_reassembled"] == 1


@pytest.mark.parametrize("order,completing", [([0, 1, 2], 3), ([2, 1, 0], 3), ([1, 2, 0], 3), ([0, 2, 1], 3)])
def test_ipv4_three_fragments_rebuild_in_the_frame_that_completes_them(tmp_path, order, completing):
    fragments = v4_fragments(SEGMENT, [800, 1600])
    decoded, df = decode(tmp_path, [fragments[k] for k in order])
    assert_rebuilt_in(df, decoded, completing)


def test_ipv4_fragments_rebuild_across_batch_boundaries(tmp_path):
    fragments = v4_fragments(SEGMENT, [800, 1600])
    decoded, df = decode(tmp_path, fragments, max_records=1)
    assert decoded.packets["status"].tolist() == [2, 2, 0]
    assert decoded.reassembled_payloads[3] == PAYLOAD


def test_overlapping_fragments_are_marked_and_the_first_seen_bytes_win(tmp_path):
    first, second, third = v4_fragments(SEGMENT, [800, 1600])
    # A rewrite of bytes 720..1600 with different content, sent after the originals.
    rewrite = bytes(b ^ 0xFF for b in SEGMENT[720:1600])
    liar = eth(ipv4(SRC4, DST4, rewrite, ident=0x4242, mf=True, frag_offset=720))
    decoded, df = decode(tmp_path, [first, second, liar, third])
    assert_rebuilt_in(df, decoded, 4, overlap=True)


def test_overlap_arriving_before_the_original_wins_over_it(tmp_path):
    first, second, third = v4_fragments(SEGMENT, [800, 1600])
    rewrite = bytes(b ^ 0xFF for b in SEGMENT[800:1600])
    liar = eth(ipv4(SRC4, DST4, rewrite, ident=0x4242, mf=True, frag_offset=800))
    decoded, df = decode(tmp_path, [liar, first, second, third])
    expected = PAYLOAD[: 800 - 20] + bytes(b ^ 0xFF for b in PAYLOAD[780:1580]) + PAYLOAD[1580:]
    assert_rebuilt_in(df, decoded, 4, payload=expected, overlap=True)


def test_duplicate_fragment_counts_as_overlap(tmp_path):
    fragments = v4_fragments(SEGMENT, [800, 1600])
    decoded, df = decode(tmp_path, [fragments[0], fragments[0], fragments[1], fragments[2]])
    assert_rebuilt_in(df, decoded, 4, overlap=True)


def test_datagram_never_completed_leaves_every_fragment_as_ip_fragment(tmp_path):
    fragments = v4_fragments(SEGMENT, [800, 1600])
    decoded, df = decode(tmp_path, [fragments[0], fragments[2]])
    assert df["status"].tolist() == ["ip_fragment", "ip_fragment"]
    assert df["record_class"].tolist() == ["other_ip", "other_ip"]
    assert decoded.reassembled_payloads == {}
    acc = df.attrs["accounting"]
    assert (acc["tcp"], acc["other_ip"], acc["by_status"]) == (0, 2, {"ip_fragment": 2})
    assert tcpanalyze.read_packets(str(tmp_path / "frag.pcap")).empty


def test_first_fragment_alone_does_not_invent_a_tcp_segment(tmp_path):
    decoded, df = decode(tmp_path, v4_fragments(SEGMENT, [800])[:1])
    assert df["status"].tolist() == ["ip_fragment"] and decoded.reassembled_payloads == {}


def test_interleaved_datagrams_rebuild_separately_by_identification_and_source(tmp_path):
    a = v4_fragments(SEGMENT, [1000], ident=1)
    b = v4_fragments(SEGMENT, [1000], ident=2)
    c = v4_fragments(SEGMENT, [1000], ident=1, src="192.0.2.99")
    decoded, df = decode(tmp_path, [a[0], b[0], c[0], c[1], b[1], a[1]])
    assert df["status"].tolist() == ["ip_fragment"] * 3 + ["tcp"] * 3
    assert df["src_addr"].tolist()[3:] == ["192.0.2.99", SRC4, SRC4]
    assert all(decoded.reassembled_payloads[f] == PAYLOAD for f in (4, 5, 6))


def test_fragment_cut_by_the_capture_never_completes_a_datagram(tmp_path):
    first, second = v4_fragments(SEGMENT, [1000])
    decoded, df = decode(tmp_path, [Rec(first[:200], origlen=len(first)), second])
    assert df["status"].tolist() == ["ip_fragment", "ip_fragment"]
    assert df["truncated"].tolist() == [True, False]


def test_rebuilt_udp_datagram_stays_fragments_and_names_its_protocol(tmp_path):
    fragments = v4_fragments(udp(payload=bytes(1500)), [800], proto=17)
    decoded, df = decode(tmp_path, fragments)
    assert df["status"].tolist() == ["ip_fragment", "ip_fragment"]
    assert df["ip_proto"].tolist() == [17, 17]


def test_fragments_of_a_datagram_longer_than_ipv4_allows_are_not_rebuilt(tmp_path):
    # Data ending past 65515 bytes would need an IPv4 total length above 65535 ("ping of death").
    big = tcp(1, 2, payload=bytes(65500))  # 65520 bytes of IP payload
    decoded, df = decode(tmp_path, v4_fragments(big, list(range(1480, len(big), 1480))))
    assert set(df["status"]) == {"ip_fragment"}
    assert df.attrs["accounting"]["records"] == len(df) == 45


def test_largest_ipv4_datagram_is_rebuilt(tmp_path):
    big = tcp(1, 2, payload=bytes(65515 - 20))
    decoded, df = decode(tmp_path, v4_fragments(big, list(range(1480, len(big), 1480))))
    last = df.iloc[-1]
    assert (last["status"], last["payload_len"]) == ("tcp", 65515 - 20)


@pytest.mark.parametrize("order,completing", [([0, 1, 2], 3), ([2, 0, 1], 3)])
def test_ipv6_fragments_rebuild_in_the_frame_that_completes_them(tmp_path, order, completing):
    fragments = v6_fragments(SEGMENT, [800, 1600])
    decoded, df = decode(tmp_path, [fragments[k] for k in order])
    assert_rebuilt_in(df, decoded, completing)
    row = df.set_index("frame").loc[completing]
    assert (row["ip_version"], row["src_addr"], row["ip_id"]) == (6, SRC6, 0x01020304)


def test_ipv6_overlap_is_marked(tmp_path):
    first, second, third = v6_fragments(SEGMENT, [800, 1600])
    liar = eth(ipv6(SRC6, DST6, bytes(800), ext=(ipv6_opts_header(IPV6_HOP_BY_HOP),
                                               ipv6_fragment_header(800, True, 0x01020304))))
    decoded, df = decode(tmp_path, [first, second, liar, third])
    assert_rebuilt_in(df, decoded, 4, overlap=True)


def test_ipv6_incomplete_datagram_leaves_fragments(tmp_path):
    first, _second, third = v6_fragments(SEGMENT, [800, 1600])
    decoded, df = decode(tmp_path, [first, third])
    assert df["status"].tolist() == ["ip_fragment", "ip_fragment"] and not decoded.reassembled_payloads


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("builder", [v4_fragments, v6_fragments], ids=["ipv4", "ipv6"])
def test_tshark_shows_the_segment_in_the_same_frame_with_the_same_length(tmp_path, builder):
    fragments = builder(SEGMENT, [800, 1600])
    path = write_pcap(tmp_path / "t.pcap", [fragments[2], fragments[0], fragments[1]])
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e", "tcp.srcport",
                          "-e", "tcp.seq_raw", "-e", "tcp.len"], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    theirs = [line.split("\t") for line in out.splitlines()]
    df = tcpanalyze.read_packets(str(path), all_records=True)
    ours = [[str(r.frame), str(r.src_port), str(r.seq_raw), str(r.payload_len)] if r.status == "tcp"
            else [str(r.frame), "", "", ""] for r in df.itertuples()]
    assert ours == theirs
