"""-Y on report, check, follow, export-streams and plot: the sessions with a packet the display
filter matches (follow and plot: the first of them, or the one given, which must match)."""

from __future__ import annotations

import json
import shutil

import pytest

from cli_run import run_tcpanalyze
from helpers import SAMPLE_DIR

LOSSY = str(SAMPLE_DIR / "check-lossy.pcap")
MANY = str(SAMPLE_DIR / "real-many-short-conns.pcap")
STREAM = str(SAMPLE_DIR / "stream-lossy-ipv4.pcap")
SESSION_6 = "tcp.srcport == 45694"  # the originator's port of session 6 of MANY


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
            "did you mean tcp.stream, tcp.seq, tcp.dstport?; or --tshark (analyze: filter_engine=\"tshark\") for any "
            "Wireshark field"]


def test_follow_shows_the_first_session_with_a_matching_packet():
    result = run_tcpanalyze(["follow", MANY, "-Y", "tcp.srcport in {45694 45708}", "-f", "jsonl"])
    assert result.returncode == 0, result.stderr.decode()
    assert {json.loads(line)["session_id"] for line in result.stdout.splitlines()} == {6}


def test_follow_a_session_without_a_matching_packet_is_a_one_line_error():
    result = run_tcpanalyze(["follow", MANY, "3", "-Y", SESSION_6])
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [f"tcpanalyze: error: session 3 has no packet matching -Y '{SESSION_6}'"]
    assert run_tcpanalyze(["follow", MANY, "6", "-Y", SESSION_6]).returncode == 0


def test_follow_needs_a_session_or_a_filter():
    result = run_tcpanalyze(["follow", MANY])
    assert result.returncode == 2
    assert "give a SESSION id, or -Y EXPR" in result.stderr.decode()


def test_export_streams_writes_only_the_matching_sessions(tmp_path):
    result = run_tcpanalyze(["export-streams", MANY, str(tmp_path), "-Y", f"{SESSION_6} || tcp.stream == 2"])
    assert result.returncode == 0, result.stderr.decode()
    rows = [json.loads(line) for line in (tmp_path / "index.jsonl").read_text().splitlines()]
    assert sorted({r["session_id"] for r in rows}) == [2, 6]
    nothing = run_tcpanalyze(["export-streams", MANY, str(tmp_path / "none"), "-Y", "tcp.port == 1"])
    assert nothing.returncode == 0 and (tmp_path / "none" / "index.jsonl").read_text() == ""


def test_plot_draws_the_first_session_with_a_matching_packet(tmp_path):
    by_filter, by_id = tmp_path / "filter.png", tmp_path / "id.png"
    assert run_tcpanalyze(["plot", MANY, "-Y", SESSION_6, "-o", str(by_filter)]).returncode == 0
    assert run_tcpanalyze(["plot", MANY, "6", "-o", str(by_id)]).returncode == 0
    assert by_filter.read_bytes() == by_id.read_bytes()


def test_a_second_pass_needs_a_file_not_standard_input():
    result = run_tcpanalyze(["follow", "-", "-Y", SESSION_6], stdin=(SAMPLE_DIR / "real-many-short-conns.pcap").read_bytes())
    assert result.returncode == 2
    assert "give a file, not standard input" in result.stderr.decode()


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_the_packets_command_takes_tshark_for_unknown_fields():
    result = run_tcpanalyze(["packets", STREAM, "-Y", "tcp.nxtseq == 1449", "--tshark", "-f", "csv",
                             "--columns", "frame"])
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().split()[0] == '"frame"' and len(result.stdout.decode().split()) > 1
    bad = run_tcpanalyze(["packets", STREAM, "-Y", "tcp.nxtseq ==", "--tshark"])
    assert bad.returncode == 2
    assert bad.stderr.decode().splitlines() == [
        "tcpanalyze: error: display filter 'tcp.nxtseq ==': tshark: Unexpected end of filter expression."]


def test_tshark_without_a_filter_is_a_usage_error():
    result = run_tcpanalyze(["packets", STREAM, "--tshark"])
    assert result.returncode == 2 and "give -Y EXPR too" in result.stderr.decode()
