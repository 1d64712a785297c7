"""-Y on report and check: the sessions with a packet the display filter matches."""

from __future__ import annotations

import json

from cli_run import run_tcpanalyze
from helpers import SAMPLE_DIR

LOSSY = str(SAMPLE_DIR / "check-lossy.pcap")


def test_report_covers_the_sessions_with_a_matching_packet():
    result = run_tcpanalyze(["report", LOSSY, "-f", "json", "-Y", "tcp.stream in {1 5} && tcp.analysis.retransmission"])
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["capture"]["sessions"] == 2
    assert report["capture"]["selection"] == "-Y 'tcp.stream in {1 5} && tcp.analysis.retransmission'"
    assert {i for p in report["problems"] for i in p["session_ids"]} <= {1, 5}


def test_check_rules_see_only_the_matching_sessions():
    result = run_tcpanalyze(["check", LOSSY, "-f", "json", "-Y", "tcp.stream == 3", "--rule", "sessions == 1"])
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["rules"][0]["scopes"][0]["value"] == 1


def test_an_unknown_field_is_one_line_before_reading():
    for command in (["report", LOSSY], ["check", LOSSY, "--rule", "sessions > 0"]):
        result = run_tcpanalyze([*command, "-Y", "tcp.streem == 1"])
        assert result.returncode == 2
        assert result.stderr.decode().splitlines() == [
            "tcpanalyze: error: display filter 'tcp.streem == 1': no field 'tcp.streem' at column 1; "
            "did you mean tcp.stream, tcp.seq, tcp.dstport?"]
