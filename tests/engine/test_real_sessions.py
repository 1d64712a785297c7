"""Session records of real-stack captures match what the programs did (sample_pcaps/expected)."""

from __future__ import annotations

import json

import pytest

import tcpanalyze
from helpers import EXPECTED_DIR, SAMPLE_DIR, matching_sessions, truth_files

REAL = sorted(p for p in EXPECTED_DIR.glob("real-*.json"))


def _sessions(name: str):
    return tcpanalyze.analyze(str(SAMPLE_DIR / name), packets=False).sessions


@pytest.mark.parametrize("expected_path, name", [(p, f) for p in REAL for f in truth_files(json.loads(p.read_text()))],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_session_bytes_and_close_match_what_the_programs_did(expected_path, name):
    expected = json.loads(expected_path.read_text())
    sessions = _sessions(name)
    assert len(sessions) == len(expected["connections"])
    for conn, row in zip(expected["connections"], matching_sessions(sessions, expected["connections"])):
        assert row.orig_bytes == conn["orig_bytes"]
        assert row.resp_bytes == conn["resp_bytes"]
        assert row.missed_bytes == 0
        assert row.closed_by == conn["first_closer"]
        if conn.get("refused"):
            assert (row.close_type, row.conn_state, row.handshake) == ("refused", "REJ", "refused")
        elif "rst" in (conn["orig_close"], conn["resp_close"]):
            assert row.close_type == "rst"
        else:
            assert row.close_type == "fin" and row.conn_state == "SF"
            assert (row.orig_state, row.resp_state) == (("TIME-WAIT", "CLOSED") if conn["first_closer"] == "orig"
                                                        else ("CLOSED", "TIME-WAIT"))
        if "half_close" in conn:
            assert row.half_closed


def test_graceful_close_is_not_half_closed_and_has_no_analysis_flags():
    row = _sessions("real-graceful-close.pcap").iloc[0]
    assert not row.half_closed and row.handshake == "complete" and row.irtt_ms > 0
    flag_columns = [c for c in row.index if c.startswith(("orig_", "resp_")) and c.split("_", 1)[1] in
                    {"retransmission", "duplicate_ack", "lost_segment", "zero_window", "out_of_order"}]
    assert all(row[c] == 0 for c in flag_columns)


def test_server_abort_with_so_linger_zero_is_a_reset_by_the_responder():
    row = _sessions("real-rst-abort.pcap").iloc[0]
    assert (row.close_type, row.closed_by, row.conn_state) == ("rst", "resp", "RSTR")
    assert (row.orig_state, row.resp_state) == ("CLOSED", "CLOSED")


def test_zero_window_stall_has_its_length_and_probes():
    expected = json.loads((EXPECTED_DIR / "real-zero-window.json").read_text())
    stall = expected["parameters"]["stall_s"]
    row = _sessions("real-zero-window.pcap").iloc[0]
    assert row.resp_zero_window_episodes >= 1
    # The receiver stops reading for `stall` seconds; its window is zero for most of that.
    assert 0.6 * stall <= row.resp_zero_window_longest_s <= stall + 0.2
    assert row.resp_zero_window_probes >= 1  # Linux probes: seq = SND.UNA - 1 (Wireshark: keep_alive)
    assert row.resp_zero_window >= 1


def test_keepalives_every_second_while_idle():
    expected = json.loads((EXPECTED_DIR / "real-keepalive.json").read_text())
    params = expected["parameters"]
    row = _sessions("real-keepalive.pcap").iloc[0]
    probes = int((params["idle_s"] - params["keepidle_s"]) // params["keepintvl_s"]) + 1
    assert row.orig_keep_alive == probes
    assert row.resp_keep_alive_ack == probes
    assert row.longest_idle_s == pytest.approx(params["keepintvl_s"], abs=0.1)


def test_many_short_connections_are_separate_complete_sessions():
    sessions = _sessions("real-many-short-conns.pcap")
    assert len(sessions) == 20
    assert (sessions.conn_state == "SF").all() and (sessions.handshake == "complete").all()
    assert sessions.session_id.tolist() == list(range(20))
