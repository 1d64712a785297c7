"""Real sessions inside tunnels (sample_pcaps/real-tunnel-*.pcap, made by
scripts/make_tunnel_captures.py; docs/tunnels.md): Python socket programs talking through Linux's
vxlan device and userspace GRE, gretap, ip6gre, ERSPAN I/II/III, Geneve, ipip, sit, ip6tnl, GTP-U,
Teredo and AYIYA endpoints with loss on the underlay, VXLAN inside GRE, two VXLAN tenants with the
same inner addresses and ports, and PBB / VN-Tag frames rewritten from a real run.

On every frame our innermost TCP header and analysis flags are tshark's; every session carries
what the programs wrote (byte counts and sha256) and closes as they closed it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

import tcpanalyze
from helpers import EXPECTED_DIR, SAMPLE_DIR, matching_sessions
from tcpanalyze.engine.flags import FLAG_NAMES

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")

SPECS = sorted(EXPECTED_DIR.glob("real-tunnel-*.json"))
TWO_TENANTS = "real-tunnel-vxlan-two-tenants.pcap"
# tshark keys a TCP conversation on addresses and ports only: the second tenant's SYN reuses
# the first tenant's 4-tuple, so tshark flags it reused_ports. They are different sessions (other
# VNI), which is the point of the capture: there we must not flag it.
TSHARK_ONLY = {TWO_TENANTS: "reused_ports"}
# Our column, tshark's innermost field (-E occurrence=l), how to read tshark's text.
TCP_FIELDS = [("src_port", "tcp.srcport", int), ("dst_port", "tcp.dstport", int), ("seq_raw", "tcp.seq_raw", int),
              ("ack_raw", "tcp.ack_raw", int), ("tcp_flags", "tcp.flags", lambda v: int(v, 16)),
              ("win_raw", "tcp.window_size_value", int), ("payload_len", "tcp.len", int)]


def spec_id(path: Path) -> str:
    return path.stem.removeprefix("real-tunnel-")


def spec(path: Path) -> dict:
    return json.loads(path.read_text())


@lru_cache(maxsize=None)
def tshark(name: str, *fields: str) -> dict[int, list[str]]:
    """frame number -> the innermost occurrence of each field ('' where the frame has none)."""
    args = sum((["-e", f] for f in fields), [])
    out = subprocess.run(["tshark", "-n", "-r", str(SAMPLE_DIR / name), "-T", "fields", "-E", "occurrence=l",
                          "-e", "frame.number", *args], capture_output=True, text=True, timeout=120, check=True).stdout
    return {int(frame): values for frame, *values in (line.split("\t") for line in out.splitlines())}


@lru_cache(maxsize=None)
def analysis(name: str):
    return tcpanalyze.analyze(str(SAMPLE_DIR / name))


def test_every_tunnel_of_the_issue_has_a_real_capture():
    names = {spec_id(p) for p in SPECS}
    assert names >= {"vxlan", "geneve", "gre", "gretap", "ip6gre", "erspan-v0", "erspan-v1", "erspan-v2", "ipip",
                     "sit", "ip6tnl", "gtpu", "teredo", "ayiya", "pbb", "vntag", "vxlan-in-gre", "vxlan-two-tenants"}


@pytest.mark.parametrize("spec_path", SPECS, ids=spec_id)
def test_inner_tcp_header_of_every_frame_is_tsharks_innermost(spec_path):
    name = spec(spec_path)["file"]
    theirs = {frame: tuple(read(v) for (_, _, read), v in zip(TCP_FIELDS, values))
              for frame, values in tshark(name, *(f for _, f, _ in TCP_FIELDS)).items()}
    packets = analysis(name).packets
    ours = {int(row[0]): tuple(int(v) for v in row[1:])
            for row in packets[["frame", *(c for c, _, _ in TCP_FIELDS)]].itertuples(index=False)}
    assert len(theirs) == spec(spec_path)["tshark_observed"]["counts"]["packets"]
    assert ours == theirs


@pytest.mark.parametrize("spec_path", SPECS, ids=spec_id)
def test_analysis_flags_of_every_frame_are_tsharks(spec_path):
    name = spec(spec_path)["file"]
    rows = tshark(name, *(f"tcp.analysis.{flag}" for flag in FLAG_NAMES))
    theirs = {frame: {flag for flag, v in zip(FLAG_NAMES, values) if v} for frame, values in rows.items()}
    only_tshark = TSHARK_ONLY.get(name)
    if only_tshark:
        assert sum(only_tshark in flags for flags in theirs.values()) == 1
        theirs = {frame: flags - {only_tshark} for frame, flags in theirs.items()}
    packets = analysis(name).packets
    ours = {int(frame): set(flags) for frame, flags in zip(packets.frame, packets.analysis)}
    assert {f: s for f, s in ours.items() if s} == {f: s for f, s in theirs.items() if s}
    assert any(theirs.values()), "the underlay loss shows in tshark's flags"


@pytest.mark.parametrize("spec_path", SPECS, ids=spec_id)
def test_sessions_carry_what_the_programs_sent_and_close_as_they_did(spec_path):
    truth = spec(spec_path)
    result = analysis(truth["file"])
    assert len(result.sessions) == len(truth["connections"])
    for conn, row in zip(truth["connections"], matching_sessions(result.sessions, truth["connections"])):
        assert (row.orig_bytes, row.resp_bytes, row.missed_bytes) == (conn["orig_bytes"], conn["resp_bytes"], 0)
        assert row.closed_by == conn["first_closer"]
        if conn["resp_close"] == "rst":
            assert row.close_type == "rst"
        else:
            assert (row.close_type, row.conn_state) == ("fin", "SF")
        stream = result.stream(int(row.session_id))
        for d in ("orig", "resp"):
            data = stream.direction(d).data
            assert (len(data), hashlib.sha256(data).hexdigest()) == (conn[f"{d}_bytes"], conn[f"{d}_sha256"])


def test_two_tenants_with_the_same_inner_four_tuple_are_two_sessions():
    result = analysis(TWO_TENANTS)
    sessions = result.sessions
    assert len(sessions) == 2
    assert len({(str(s.orig_addr), s.orig_port, str(s.resp_addr), s.resp_port) for s in sessions.itertuples()}) == 1
    # every frame of one VNI (as tshark reads it) is in one session, and the VNIs in different ones
    vni = {frame: values[0] for frame, values in tshark(TWO_TENANTS, "vxlan.vni").items()}
    packets = result.packets
    session_of_vni: dict[str, set[int]] = {}
    for frame, session_id in zip(packets.frame, packets.session_id):
        session_of_vni.setdefault(vni[int(frame)], set()).add(int(session_id))
    assert sorted(session_of_vni) == ["100", "200"]
    assert all(len(ids) == 1 for ids in session_of_vni.values())
    assert session_of_vni["100"] != session_of_vni["200"]
