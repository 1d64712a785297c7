"""TCP inside tunnels (issue 17): the hand-built sample_pcaps/synth-tunnel-*.pcap files
(scripts/make_tunnel_synth.py) read by us and by tshark, the tunnel identity columns, sessions
keyed by tunnel, broken tunnel headers, and checksum verification."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess

import numpy as np
import pytest

import tcpanalyze
from helpers import REPO_ROOT, SAMPLE_DIR, eth, ipv4, tcp, write_pcap
from tcpanalyze import jit
from tcpanalyze.capture import CaptureReader
from tcpanalyze.decode import Decoder, kernels, status, tunnels
from tcpanalyze.decode.columns import MARK_BAD_IP_CHECKSUM, MARK_BAD_TCP_CHECKSUM, allocate
from tcpanalyze.engine.flags import FLAG_NAMES
from tcpanalyze.packets import decode_capture

SYNTH = sorted(SAMPLE_DIR.glob("synth-tunnel-*.pcap"))
HAS_TSHARK = shutil.which("tshark") is not None
TSHARK_TCP_FIELDS = ["tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value",
                     "tcp.len"]

# file stem (after synth-tunnel-) -> (tunnel chain, tunnel id of each direction)
CHAINS = {
    "ipip": ("ipip", (0, 0)), "6in4": ("6in4", (0, 0)), "4in6": ("4in6", (0, 0)), "6in6": ("6in6", (0, 0)),
    "gre": ("gre", (0x1234, 0x1234)), "gre6": ("gre", (0, 0)), "gretap": ("gre", (9, 9)),
    "pptp": ("gre", (0x4000, 0x4001)), "erspan1": ("erspan", (0, 0)), "erspan2": ("erspan", (42, 42)),
    "erspan3": ("erspan", (42, 42)), "mpls-gre": ("gre", (0, 0)), "mpls-udp": ("mpls-udp", (0, 0)),
    "vxlan": ("vxlan", (100, 100)), "vxlan-gpe": ("vxlan-gpe", (300, 300)), "geneve": ("geneve", (500, 500)),
    "gtp-u": ("gtp-u", (0x1000, 0x1001)), "teredo": ("teredo", (0, 0)), "ayiya": ("ayiya", (0, 0)),
    "pbb": ("", (0, 0)), "vntag": ("", (0, 0)), "nested": ("gre>vxlan", (100, 100)),
    "malformed": ("vxlan", (100, 100)),
}
# synth-tunnel-malformed.pcap: the status of each record after the good session's 12
MALFORMED_STATUSES = ["tunnel_header_truncated", "tunnel_header_malformed", "tunnel_header_malformed",
                      "tunnel_header_malformed", "tunnel_header_malformed", "tunnel_header_malformed",
                      "tunnel_header_truncated"]


def synth_script():
    spec = importlib.util.spec_from_file_location("make_tunnel_synth", REPO_ROOT / "scripts" / "make_tunnel_synth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tenants_capture(tmp_path_factory):
    """The same inner 4-tuple in VNI 100 and VNI 200 at once, interleaved packet by packet."""
    return synth_script().write_pcap(tmp_path_factory.mktemp("tenants") / "tenants.pcap", synth_script().tenants())


def tshark_rows(path, *args: str) -> list[list[str]]:
    fields = ["frame.number", *TSHARK_TCP_FIELDS, *(f"tcp.analysis.{flag}" for flag in FLAG_NAMES)]
    out = subprocess.run(["tshark", "-n", "-r", str(path), *args, "-T", "fields", "-E", "occurrence=l",
                          *sum((["-e", f] for f in fields), [])], capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def tshark_view(path, *args: str) -> dict[int, tuple]:
    """frame -> (inner TCP header fields, sorted analysis flags), for the frames where tshark found TCP."""
    view = {}
    for row in tshark_rows(path, *args):
        fields, flags = row[1 : 1 + len(TSHARK_TCP_FIELDS)], row[1 + len(TSHARK_TCP_FIELDS):]
        if fields[0]:
            view[int(row[0])] = (tuple(int(v, 0) for v in fields),
                                 sorted(name for name, value in zip(FLAG_NAMES, flags) if value))
    return view


def our_view(path) -> dict[int, tuple]:
    packets = tcpanalyze.analyze(str(path)).packets
    decoded = decode_capture(str(path)).packets
    columns = ["src_port", "dst_port", "seq_raw", "ack_raw", "tcp_flags", "win_raw", "payload_len"]
    headers = {int(f): tuple(int(decoded[c][i]) for c in columns) for i, f in enumerate(decoded["frame"])}
    return {int(p.frame): (headers[int(p.frame)], sorted(p.analysis)) for p in packets.itertuples()}


def test_every_tunnel_kind_has_a_sample():
    kinds = {name for chain, _ in CHAINS.values() for name in chain.split(">") if name}
    assert kinds == set(tunnels.KIND_NAMES.values())
    assert {p.name.removeprefix("synth-tunnel-").removesuffix(".pcap") for p in SYNTH} == set(CHAINS) | {"bad-checksums"}


@pytest.mark.skipif(not HAS_TSHARK, reason="tshark is not installed")
@pytest.mark.parametrize("path", SYNTH, ids=lambda p: p.stem)
def test_inner_tcp_headers_and_flags_are_tsharks(path):
    ours = our_view(path)
    assert len(ours) >= 12 and sum(1 for _, flags in ours.values() if flags) >= 2  # a retransmission, a dup ACK
    assert ours == tshark_view(path)


@pytest.mark.parametrize("path", [p for p in SYNTH if p.stem.removeprefix("synth-tunnel-") in CHAINS],
                         ids=lambda p: p.stem)
def test_chain_id_and_one_key_for_both_directions(path):
    chain, ids = CHAINS[path.stem.removeprefix("synth-tunnel-")]
    packets = decode_capture(str(path)).packets
    assert {tunnels.chain_name(c) for c in packets["tunnel_chain"]} == {chain}
    from_client = packets["src_port"] == 40000
    assert set(packets["tunnel_id"][from_client].tolist()) == {ids[0]}
    assert set(packets["tunnel_id"][~from_client].tolist()) == {ids[1]}
    assert np.unique(packets["tunnel_key"]).size == 1 and (packets["tunnel_key"][0] != 0) == bool(chain)
    assert len(tcpanalyze.analyze(str(path)).sessions) == 1


def test_outer_endpoints_are_those_of_the_innermost_tunnel():
    packets = decode_capture(str(SAMPLE_DIR / "synth-tunnel-nested.pcap")).packets
    outer = {(int(s), int(d)) for s, d in zip(packets["outer_src_lo"], packets["outer_dst_lo"])}
    vxlan_ends = (0xFFFF_C633_6401, 0xFFFF_C633_6402)  # ::ffff:198.51.100.1 and .2, not GRE's 192.0.2.x
    assert outer == {vxlan_ends, vxlan_ends[::-1]}
    assert not packets["outer_src_hi"].any() and not packets["outer_dst_hi"].any()


def test_untunnelled_packets_have_no_tunnel_columns():
    packets = decode_capture(str(SAMPLE_DIR / "real-rst-abort.pcap")).packets
    for name in ("tunnel_chain", "tunnel_id", "tunnel_key", "outer_src_lo", "outer_dst_lo"):
        assert not packets[name].any(), name


def test_same_inner_four_tuple_in_two_vnis_is_two_sessions(tenants_capture):
    result = tcpanalyze.analyze(str(tenants_capture))
    assert len(result.sessions) == 2
    assert (result.sessions["orig_pkts"] + result.sessions["resp_pkts"]).tolist() == [12, 12]
    decoded = decode_capture(str(tenants_capture)).packets
    vni = dict(zip(decoded["frame"].tolist(), decoded["tunnel_id"].tolist()))
    by_session = {sid: {vni[int(f)] for f in frames} for sid, frames in result.packets.groupby("session_id")["frame"]}
    assert by_session == {0: {100}, 1: {200}}
    # Each tenant's session alone is the whole story: one retransmission and one duplicate ACK each.
    flags = sorted(name for names in result.packets["analysis"] for name in names)
    assert flags == ["duplicate_ack", "duplicate_ack", "retransmission", "retransmission"]


def test_broken_tunnel_headers_are_malformed_with_a_reason():
    decoded = decode_capture(str(SAMPLE_DIR / "synth-tunnel-malformed.pcap"), tcp_only=False)
    names = [status.STATUSES[int(s)][0] for s in decoded.packets["status"]]
    assert names == ["tcp"] * 12 + MALFORMED_STATUSES
    acc = decoded.accounting.as_dict()
    assert acc["malformed"] == len(MALFORMED_STATUSES) and acc["tcp_by_tunnel"] == {"vxlan": 12}


@pytest.mark.skipif(not HAS_TSHARK, reason="tshark is not installed")
def test_tshark_finds_no_tcp_in_the_broken_tunnel_headers():
    assert sorted(tshark_view(SAMPLE_DIR / "synth-tunnel-malformed.pcap")) == list(range(1, 13))


def test_accounting_counts_tcp_packets_by_tunnel_chain():
    acc = decode_capture(str(SAMPLE_DIR / "synth-tunnel-pptp.pcap")).accounting.as_dict()
    # the bare GRE acknowledgement is PPTP without a PPP frame: other IP, not a tunnelled TCP packet
    assert (acc["tcp"], acc["other_ip"], acc["tcp_by_tunnel"]) == (12, 1, {"gre": 12})
    assert decode_capture(str(SAMPLE_DIR / "real-rst-abort.pcap")).accounting.as_dict()["tcp_by_tunnel"] == {}


def test_a_nonstandard_udp_port_is_read_once_configured(tmp_path):
    moved = bytearray((SAMPLE_DIR / "synth-tunnel-vxlan.pcap").read_bytes())
    moved = moved.replace((4789).to_bytes(2, "big"), (8472).to_bytes(2, "big"))  # VXLAN's UDP ports
    path = tmp_path / "vxlan-8472.pcap"
    path.write_bytes(bytes(moved))
    assert decode_capture(str(path)).accounting.as_dict()["tcp"] == 0
    tunnels.set_udp_port(8472, "vxlan")
    try:
        packets = decode_capture(str(path)).packets
    finally:
        tunnels.reset_udp_ports()
    assert len(packets) == 12 and set(packets["tunnel_id"].tolist()) == {100}
    if HAS_TSHARK:
        assert our_view_with_port(path) == tshark_view(path, "-d", "udp.port==8472,vxlan")


def our_view_with_port(path) -> dict[int, tuple]:
    tunnels.set_udp_port(8472, "vxlan")
    try:
        return our_view(path)
    finally:
        tunnels.reset_udp_ports()


def test_set_udp_port_refuses_what_is_no_udp_tunnel():
    with pytest.raises(ValueError):
        tunnels.set_udp_port(8472, "gre")
    with pytest.raises(ValueError):
        tunnels.set_udp_port(70000, "vxlan")


def test_tunnels_nest_up_to_the_limit(tmp_path):
    def nest(depth: int) -> bytes:
        packet = ipv4("10.0.0.1", "10.0.0.2", tcp(40000, 80, flags="S"))
        for _ in range(depth):
            packet = ipv4("192.0.2.1", "192.0.2.2", packet, proto=4)
        return eth(packet)

    path = write_pcap(tmp_path / "deep.pcap", [nest(tunnels.MAX_TUNNEL_LAYERS), nest(tunnels.MAX_TUNNEL_LAYERS + 1)])
    packets = decode_capture(str(path), tcp_only=False).packets
    assert packets["status"].tolist() == [status.TCP, status.NOT_TCP]
    assert tunnels.chain_name(int(packets["tunnel_chain"][0])) == ">".join(["ipip"] * tunnels.MAX_TUNNEL_LAYERS)


def test_no_cut_of_a_tunnel_frame_reads_past_it():
    """Every prefix of every tunnel frame, decoded alone in a buffer that ends with it, as plain
    Python: numpy raises IndexError on any read past the buffer."""
    cases = 0
    with jit.mode(plain=True):
        for path in SYNTH:
            with CaptureReader(str(path)) as reader:
                for batch in reader.batches():
                    for i in range(len(batch)):
                        start = int(batch.rec_off[i])
                        frame = batch.buf[start : start + int(batch.caplen[i])]
                        for cut in range(0, frame.size + 1):
                            out = allocate(1)
                            kernels.decode_one_packet(np.array(frame[:cut]), kernels.LINKTYPE_ETHERNET,
                                                      int(batch.origlen[i]), out["u64"], out["u32"], out["i32"],
                                                      out["u16"], out["u8"], tunnels.udp_ports)
                            cases += 1
    assert cases > 20_000


def decode_marks(path, verify: bool) -> dict[int, int]:
    decoder = Decoder(verify_checksums=verify)
    marks = {}
    with CaptureReader(str(path)) as reader:
        for batch in reader.batches():
            packets = decoder.decode(batch)
            marks.update(zip(packets["frame"].tolist(), packets["marks"].tolist()))
    return marks


CHECKSUM_MARKS = MARK_BAD_IP_CHECKSUM | MARK_BAD_TCP_CHECKSUM


def test_checksums_are_only_checked_when_asked():
    assert not any(m & CHECKSUM_MARKS for m in decode_marks(SAMPLE_DIR / "synth-tunnel-bad-checksums.pcap", False).values())


def test_bad_checksums_are_marked_per_packet():
    marks = decode_marks(SAMPLE_DIR / "synth-tunnel-bad-checksums.pcap", True)
    bad = {frame: m & CHECKSUM_MARKS for frame, m in marks.items() if m & CHECKSUM_MARKS}
    assert bad == {4: MARK_BAD_IP_CHECKSUM, 5: MARK_BAD_TCP_CHECKSUM, 17: MARK_BAD_TCP_CHECKSUM}


@pytest.mark.skipif(not HAS_TSHARK, reason="tshark is not installed")
@pytest.mark.parametrize("path", SYNTH + [SAMPLE_DIR / "real-rst-abort.pcap", SAMPLE_DIR / "real-ipv6-transfer.pcap"],
                         ids=lambda p: p.stem)
def test_checksum_marks_are_tsharks(path):
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-o", "ip.check_checksum:TRUE", "-o",
                          "tcp.check_checksum:TRUE", "-T", "fields", "-E", "occurrence=l", "-e", "frame.number",
                          "-e", "ip.checksum.status", "-e", "tcp.checksum.status"],
                         capture_output=True, text=True, check=True).stdout
    bad = "0"  # Wireshark's PROTO_CHECKSUM_E_BAD
    theirs = {}
    for frame, ip_status, tcp_status in (line.split("\t") for line in out.splitlines()):
        theirs[int(frame)] = (MARK_BAD_IP_CHECKSUM if ip_status == bad else 0) | (
            MARK_BAD_TCP_CHECKSUM if tcp_status == bad else 0)
    tcp_frames = set(decode_capture(str(path)).packets["frame"].tolist())
    ours = decode_marks(path, True)
    assert {f: ours[f] & CHECKSUM_MARKS for f in tcp_frames} == {f: theirs[f] for f in tcp_frames}
