"""``-Y/--filter`` on ``packets`` and ``sessions``, ``analyze(filter=...)``, and the one-line errors."""

from __future__ import annotations

import json

import pytest

import tcpanalyze
from tcpanalyze.errors import UsageError

from cli_run import run_tcpanalyze
from helpers import SAMPLE_DIR

LOSSY = str(SAMPLE_DIR / "stream-lossy-ipv4.pcap")
SCANS = str(SAMPLE_DIR / "anomaly-scans.pcap")


def _jsonl(*args: str) -> list[dict]:
    result = run_tcpanalyze([*args, "--format", "jsonl"])
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_packets_filter_keeps_the_matching_frames():
    rows = _jsonl("packets", LOSSY, "-Y", "tcp.analysis.retransmission && tcp.len > 1000")
    analysis = tcpanalyze.analyze(LOSSY)
    expected = analysis.packets[(analysis.packets.analysis_flags & 1 != 0) & (analysis.packets.payload_len > 1000)]
    assert [r["frame"] for r in rows] == expected.frame.tolist() != []


def test_sessions_filter_reads_session_columns_with_whitespace_sets():
    rows = _jsonl("sessions", SCANS, "--filter", 'conn_state in {"REJ" "S0"} && resp_port < 100')
    sessions = tcpanalyze.analyze(SCANS, packets=False).sessions
    expected = sessions[sessions.conn_state.isin(["REJ", "S0"]) & (sessions.resp_port < 100)].session_id
    assert sorted(r["session_id"] for r in rows) == sorted(expected.tolist()) != []


def test_text_fields_take_contains_and_matches():
    rows = _jsonl("sessions", SCANS, "-Y", 'history contains "r" and not history matches "^Sh"')
    assert rows and all("r" in r["history"] and not r["history"].startswith("Sh") for r in rows)


@pytest.mark.parametrize("command, expression, message", [
    ("packets", "tcp.analysis.retransmision", "did you mean tcp.analysis.retransmission"),
    ("packets", "tcp.port == 80 ||", "syntax error at column"),
    ("packets", "tcp.analysis.retransmission == 1", "use it bare"),
    ("sessions", 'conn_stat == "REJ"', "did you mean conn_state"),
])
def test_bad_filters_get_one_line_and_exit_2(command, expression, message):
    result = run_tcpanalyze([command, LOSSY, "-Y", expression])
    err = result.stderr.decode().strip()
    assert result.returncode == 2 and message in err and len(err.splitlines()) == 1


def test_analyze_filter_keeps_matching_packets_and_their_sessions():
    analysis = tcpanalyze.analyze(SCANS, filter="tcp.flags.reset == 1 && tcp.srcport < 30")
    assert len(analysis.packets) and set(analysis.packets.tcp_flags & 4) == {4}
    assert sorted(analysis.sessions.session_id) == sorted(set(analysis.packets.session_id))
    assert analysis.packets_of == frozenset(analysis.sessions.session_id)


def test_analyze_rejects_an_unknown_field_before_reading():
    with pytest.raises(UsageError, match="no field 'tcp.nope'"):
        tcpanalyze.analyze("/nonexistent.pcap", filter="tcp.nope")
