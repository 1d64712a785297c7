"""--tshark / filter_engine="tshark": tshark evaluates the display filter on the file, for the
fields we do not have; we keep the frames it selects."""

from __future__ import annotations

import shutil

import pytest

import tcpanalyze
from tcpanalyze.dfilter import tshark as tshark_module
from tcpanalyze.errors import UsageError

from helpers import SAMPLE_DIR

LOSSY = str(SAMPLE_DIR / "stream-lossy-ipv4.pcap")
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


@needs_tshark
def test_a_field_we_do_not_have_selects_the_frames_tshark_selects():
    # tcp.nxtseq is not in the packets table: the next relative sequence number after this segment
    packets = tcpanalyze.analyze(LOSSY).packets
    flags = packets["tcp_flags"].to_numpy()
    nxtseq = packets["seq_rel"].to_numpy() + packets["payload_len"].to_numpy() + ((flags & 0x03) != 0)
    chosen = tcpanalyze.analyze(LOSSY, filter="tcp.nxtseq == 1449", filter_engine="tshark").packets
    assert chosen["frame"].tolist() == packets["frame"][nxtseq == 1449].tolist() != []


@needs_tshark
@pytest.mark.parametrize("expression", ["tcp.analysis.retransmission", "tcp.port == 5202 && tcp.len > 0",
                                        "tcp.flags.syn == 1 || tcp.analysis.ack_rtt > 0.001"])
def test_tshark_and_the_builtin_engine_agree_on_fields_we_have(expression):
    ours = tcpanalyze.analyze(LOSSY, filter=expression).packets["frame"].tolist()
    assert tcpanalyze.analyze(LOSSY, filter=expression, filter_engine="tshark").packets["frame"].tolist() == ours


def test_without_tshark_installed_the_error_is_one_line(monkeypatch):
    monkeypatch.setattr(tshark_module.shutil, "which", lambda name: None)
    with pytest.raises(UsageError, match="^tshark is not installed"):
        tcpanalyze.analyze(LOSSY, filter="tcp.nxtseq == 1", filter_engine="tshark")


@pytest.mark.parametrize("path", ["-", [LOSSY, str(SAMPLE_DIR / "real-refused.pcap")]])
def test_tshark_needs_one_capture_file(path):
    with pytest.raises(UsageError, match="needs one capture file"):
        tcpanalyze.analyze(path, filter="tcp.nxtseq == 1", filter_engine="tshark")


def test_an_unknown_engine_is_a_usage_error():
    with pytest.raises(UsageError, match="filter engine 'wireshark'"):
        tcpanalyze.analyze(LOSSY, filter="tcp.port == 1", filter_engine="wireshark")


def test_the_unknown_field_error_points_at_tshark():
    with pytest.raises(UsageError, match=r"no field 'tcp.nxtseq'.*or --tshark"):
        tcpanalyze.analyze(LOSSY, filter="tcp.nxtseq == 1")
