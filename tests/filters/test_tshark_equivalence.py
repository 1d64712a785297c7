"""Display filters select the frames ``tshark -Y`` selects, on the same captures.

tshark also shows non-TCP frames and TCP inside ICMP errors, which our packets table does not
hold: its filter is ANDed with ``tcp && !icmp``.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache

import pytest

import tcpanalyze
from tcpanalyze.dfilter import DisplayFilter

from helpers import SAMPLE_DIR

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")

CAPTURES = ["stream-lossy-ipv4.pcap", "stream-lossy-ipv6.pcap", "real-zero-window.pcap", "real-refused.pcap",
            "anomaly-scans.pcap", "check-lossy.pcap", "real-keepalive.pcap"]

EXPRESSIONS = [
    # comparisons, word operators, either-end fields
    "tcp.port == 5202", "tcp.srcport eq 5202 and tcp.len gt 0", "tcp.dstport != 5202", "tcp.port != 5202",
    "tcp.port ~= 5202", "tcp.port === 5202", "tcp.len >= 1448", "tcp.len le 100", "tcp.len < 1", "frame.len > 1000",
    # sets and ranges
    "frame.number in {1..3, 7, 20..25}", "tcp.dstport in {1..1024}", "tcp.flags in {0x02, 0x12}",
    # addresses: equality, CIDR, Wireshark 4.0's all-not-equal
    "ip.addr == 10.0.0.0/8", "ip.src == 10.78.0.2", "ip.addr != 10.78.0.1", "ip.dst in {10.77.0.0/16}",
    "ipv6.addr == fd00::/8", "ipv6.src == fd78::1", "ip.version == 6",
    # logic and precedence
    "!tcp.flags.ack == 1", "not tcp.flags.ack == 1 or tcp.flags.syn == 1 and frame.number > 1",
    "(tcp.flags.fin == 1 || tcp.flags.reset == 1) && !(tcp.len > 0)", "tcp.flags.push == 1 && tcp.flags.ack == 1",
    "tcp.flags == 0x012", "tcp.flags.reset == 1 && tcp.flags.ack == 0",
    # sequence space, windows, options
    "tcp.seq == 1 && tcp.ack == 1", "tcp.ack == 0", "tcp.seq_raw > 2147483648", "tcp.window_size == 0",
    "tcp.window_size_value < 100", "tcp.window_size > 100000", "tcp.options.mss_val == 1460",
    "tcp.options.mss_val != 1460", "tcp.options.wscale.shift >= 7", "tcp.options.sack_perm",
    "tcp.options.timestamp.tsecr == 0", "ip.ttl < 64", "frame.time_relative < 0.5",
    # every analysis flag, and the analysis values
    "tcp.analysis.retransmission", "tcp.analysis.fast_retransmission", "tcp.analysis.spurious_retransmission",
    "tcp.analysis.out_of_order", "tcp.analysis.lost_segment", "tcp.analysis.ack_lost_segment",
    "tcp.analysis.duplicate_ack", "tcp.analysis.zero_window", "tcp.analysis.zero_window_probe",
    "tcp.analysis.zero_window_probe_ack", "tcp.analysis.window_full", "tcp.analysis.window_update",
    "tcp.analysis.keep_alive", "tcp.analysis.keep_alive_ack", "tcp.analysis.reused_ports",
    "tcp.analysis.ack_rtt > 0.0001", "tcp.analysis.bytes_in_flight > 10000", "tcp.analysis.duplicate_ack_num >= 2",
    "tcp.analysis.acks_frame in {2..10}", "tcp.stream == 0",
]


@cache
def _analysis(name: str):
    return tcpanalyze.analyze(str(SAMPLE_DIR / name))


def _tshark(name: str, expression: str) -> list[int]:
    out = subprocess.run(["tshark", "-r", str(SAMPLE_DIR / name), "-Y", f"({expression}) && tcp && !icmp",
                          "-T", "fields", "-e", "frame.number"], capture_output=True, text=True, check=True).stdout
    return [int(line) for line in out.split()]


def test_the_set_covers_at_least_40_expressions():
    assert len(EXPRESSIONS) >= 40


def _disagreements(name: str, expressions: list[str]) -> dict[str, tuple[list[int], list[int]]]:
    """The expressions whose frames differ from tshark's on ``name``: (ours only, tshark's only)."""
    analysis = _analysis(name)
    wrong = {}
    for expression in expressions:
        keep = DisplayFilter.for_packets(expression).mask(analysis.packets, analysis.accounting.first_tcp_ts_ns)
        ours = analysis.packets["frame"][keep].tolist()
        theirs = _tshark(name, expression)
        if ours != theirs:
            wrong[expression] = (sorted(set(ours) - set(theirs))[:5], sorted(set(theirs) - set(ours))[:5])
    return wrong


@pytest.mark.parametrize("name", CAPTURES)
def test_filter_selects_the_frames_tshark_selects(name):
    assert _disagreements(name, EXPRESSIONS) == {}


# Tunnel protocols and ids, on captures of real sessions through each tunnel.
TUNNEL_CAPTURES = ["real-tunnel-vxlan-two-tenants.pcap", "real-tunnel-vxlan-in-gre.pcap", "real-tunnel-gre.pcap",
                   "real-tunnel-gtpu.pcap", "real-tunnel-erspan-v1.pcap", "real-tunnel-geneve.pcap",
                   "real-tunnel-teredo.pcap", "real-tunnel-ipip.pcap"]
TUNNEL_EXPRESSIONS = [
    "vxlan", "gre", "erspan", "geneve", "gtp", "teredo", "ayiya", "!vxlan && tcp.len > 0",
    "vxlan.vni == 200", "vxlan.vni in {100, 4242} && tcp.flags.syn == 1", "gre.key == 44", "gtp.teid == 4097",
    "erspan.spanid == 46", "geneve.vni != 43", "vxlan && tcp.analysis.retransmission",
]


@pytest.mark.parametrize("name", TUNNEL_CAPTURES)
def test_tunnel_fields_select_the_frames_tshark_selects(name):
    assert _disagreements(name, TUNNEL_EXPRESSIONS) == {}


def test_tunnel_columns_filter_by_our_names():
    packets = _analysis("real-tunnel-vxlan-two-tenants.pcap").packets
    keep = DisplayFilter.for_packets('tunnel == "vxlan" && tunnel_id == 200 && outer_src_addr == 192.0.2.0/24').mask(
        packets, None)
    assert keep.sum() == (packets.tunnel_id == 200).sum() > 0
