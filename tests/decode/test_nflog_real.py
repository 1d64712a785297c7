"""A real NFLOG capture (tcpdump -i nflog:5 behind an nftables log rule, sample_pcaps/real-nflog.pcap):
both connections come out whole, as tshark reads them."""

from __future__ import annotations

import shutil
import subprocess

import pytest

import tcpanalyze
from helpers import SAMPLE_DIR

NFLOG = SAMPLE_DIR / "real-nflog.pcap"


def test_both_logged_connections_are_whole_sessions():
    result = tcpanalyze.analyze(str(NFLOG))
    assert result.accounting.by_class == {"tcp": 20, "other_ip": 0, "non_ip": 0, "malformed": 0}
    sessions = result.sessions
    assert [(str(s.resp_addr), s.resp_port, s.conn_state, s.history, s.orig_bytes, s.resp_bytes, s.close_type)
            for s in sessions.itertuples()] == [("127.0.0.1", 5301, "SF", "ShADadFf", 3000, 6000, "fin"),
                                                ("::1", 5301, "SF", "ShADadFf", 3000, 6000, "fin")]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_every_frame_is_tsharks():
    out = subprocess.run(["tshark", "-n", "-r", str(NFLOG), "-T", "fields", "-e", "tcp.stream", "-e", "tcp.seq_raw",
                          "-e", "tcp.len", "-e", "tcp.analysis.flags"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    theirs = [line.split("\t") for line in out]
    packets = tcpanalyze.analyze(str(NFLOG)).packets
    assert [[str(p.session_id), str(p.seq_raw), str(p.payload_len)] for p in packets.itertuples()] == \
        [row[:3] for row in theirs]
    assert {row[3] for row in theirs} == {""} and not any(packets["analysis"].map(len))
