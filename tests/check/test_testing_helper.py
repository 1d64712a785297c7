"""tcpanalyze.testing used the way a user's own pytest suite would use it."""

from __future__ import annotations

import pytest

from check_truth import sample
from tcpanalyze.testing import assert_capture, check_capture

CLEAN, LOSSY = sample("check-clean.pcap"), sample("check-lossy.pcap")


def test_clean_run_meets_the_network_budget():
    assert_capture(CLEAN, "retransmission_rate < 0.01", "rst_teardowns == 0", "handshake_rtt_p99_ms < 50")


def test_lossy_run_fails_with_a_readable_message():
    with pytest.raises(AssertionError) as info:
        assert_capture(LOSSY, "retransmission_rate < 0.01", "rst_teardowns == 0",
                       "retransmissions <= 0 scope=session", baseline=CLEAN)
    lines = str(info.value).splitlines()
    assert lines[0] == f"2 of 3 capture rules failed on {LOSSY} (baseline {CLEAN}):"
    assert lines[1] == "  retransmission_rate < 0.01  [inline]"
    assert lines[2].startswith("    capture: 0.0530973: not < 0.01; worst: session 5 (0.0779221), ")
    assert lines[3] == "  retransmissions <= 0 per session  [inline]"
    # every session of the lossy run retransmitted; the worst five are listed, then the rest counted
    assert lines[4:] == ["    session 1: 6: not <= 0", "    session 5: 6: not <= 0", "    session 4: 5: not <= 0",
                         "    session 2: 4: not <= 0", "    session 0: 3: not <= 0",
                         "    ... and 1 more session scopes"]


def test_check_capture_returns_the_report_and_lets_warnings_pass(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nexpr = "retransmission_rate < 0.01"\nseverity = "warning"\n')
    report = check_capture(LOSSY, "sessions == 6", rules=rules)
    assert [r.status for r in report.results] == ["fail", "pass"]
    with pytest.raises(AssertionError, match="retransmission_rate < 0.01"):
        check_capture(LOSSY, rules=rules, warnings_fail=True)
