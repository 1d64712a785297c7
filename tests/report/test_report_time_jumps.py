"""Captures whose clock steps back or jumps by years: no flag Wireshark does not set, and every
session spans its packets' times (never a negative duration), as Wireshark's conversations do."""

from __future__ import annotations

import shutil
import subprocess

import pytest

import tcpanalyze
from helpers import CORPUS_DIR, SAMPLE_DIR, Rec, write_pcap
from tcpanalyze.capture import CaptureReader
from tcpanalyze.report import build_report

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
STEP_BACK_NS = 10 * 10**9
JUMPING = CORPUS_DIR / "vlan-mpls-mixed.pcap"  # three captures merged: the clock jumps by years


@pytest.fixture
def stepping_back(tmp_path):
    """The lossy real transfer with its clock set back 10 s from frame 151 on."""
    records = []
    with CaptureReader(str(SAMPLE_DIR / "stream-lossy-ipv4.pcap")) as reader:
        for batch in reader.batches():
            for i in range(len(batch)):
                start = int(batch.rec_off[i])
                shift = STEP_BACK_NS if int(batch.frame[i]) > 150 else 0
                records.append(Rec(bytes(batch.buf[start:start + int(batch.caplen[i])]),
                                   int(batch.ts_ns[i]) - shift, int(batch.origlen[i])))
    return write_pcap(tmp_path / "stepping-back.pcap", records, nanosecond=True)


def _tshark_durations(path) -> list[float]:
    """Duration of each TCP conversation (``-z conv,tcp``), shortest first."""
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-q", "-z", "conv,tcp"], capture_output=True, text=True,
                         check=True).stdout
    return sorted(float(line.split()[-1]) for line in out.splitlines() if "<->" in line)


def _tshark_flagged(path) -> set[int]:
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "tcp.analysis.flags", "-T", "fields",
                          "-e", "frame.number"], capture_output=True, text=True, check=True).stdout
    return {int(n) for n in out.split()}


@pytest.mark.parametrize("capture", ["stepping-back", "jumping"])
def test_sessions_span_their_packets_times(capture, request):
    path = request.getfixturevalue("stepping_back") if capture == "stepping-back" else JUMPING
    result = tcpanalyze.analyze(str(path))
    packets, sessions = result.packets, result.sessions.set_index("session_id")
    spans = packets.groupby("session_id")["ts_ns"].agg(["min", "max"]) / 1e9
    assert (sessions["start"] == spans["min"]).all() and (sessions["end"] == spans["max"]).all()
    assert (sessions["duration"] >= 0).all()
    report = build_report(result).as_dict()["capture"]
    assert (report["first_ts"], report["last_ts"]) == pytest.approx((packets["ts_ns"].min() / 1e9,
                                                                     packets["ts_ns"].max() / 1e9), abs=1e-6)
    assert report["duration_s"] >= 0


@needs_tshark
@pytest.mark.parametrize("capture", ["stepping-back", "jumping"])
def test_durations_and_flags_are_tsharks(capture, request):
    path = request.getfixturevalue("stepping_back") if capture == "stepping-back" else JUMPING
    result = tcpanalyze.analyze(str(path))
    assert sorted(result.sessions["duration"]) == pytest.approx(_tshark_durations(path), abs=1e-4)
    flagged = set(result.packets.loc[result.packets["analysis"].map(len) > 0, "frame"])
    assert flagged == _tshark_flagged(path)
