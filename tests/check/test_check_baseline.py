"""Baseline comparison: the same traffic captured clean and with 5 % injected loss
(scripts/make_check_samples.py); the lossy run must fail a max_increase rule against the clean one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from check_truth import REPO, expected, retransmissions, sample
from tcpanalyze.check import parse_inline, parse_rules_text, run_check

CLEAN, LOSSY = str(sample("check-clean.pcap")), str(sample("check-lossy.pcap"))


def rate(name: str) -> float:
    retrans, data = retransmissions(sample(name), data_only=True)
    return sum(retrans.values()) / sum(data.values())


def test_samples_carry_the_same_traffic():
    clean, lossy = expected("check-clean"), expected("check-lossy")
    assert [c["orig_sha256"] for c in clean["connections"]] == [c["orig_sha256"] for c in lossy["connections"]]
    assert clean["forwarder"]["dropped"] == 0 and lossy["forwarder"]["dropped"] > 0


def test_lossy_capture_fails_relative_and_absolute_increase_against_clean_baseline():
    rules = parse_rules_text('[[rule]]\nmetric = "retransmission_rate"\nmax_increase = "20%"\n\n'
                             '[[rule]]\nmetric = "retransmissions"\nmax_increase = 5\n', "gate.toml")
    report = run_check(LOSSY, rules, baseline=CLEAN)
    assert report.exit_code == 1
    relative, absolute = report.results
    assert relative.status == absolute.status == "fail"
    (outcome,) = relative.failed
    assert (outcome.value, outcome.baseline) == (pytest.approx(rate("check-lossy.pcap")), 0.0)
    retrans, _ = retransmissions(sample("check-lossy.pcap"))
    (outcome,) = absolute.failed
    assert (outcome.value, outcome.baseline) == (sum(retrans.values()), 0.0)
    assert outcome.reason == "increase over 5 (at most 5)"


def test_same_capture_as_its_own_baseline_passes():
    rules = [parse_inline("retransmission_rate max_increase=20%"), parse_inline("bytes max_decrease=1%")]
    report = run_check(LOSSY, rules, baseline=LOSSY)
    assert [r.status for r in report.results] == ["pass", "pass"] and report.exit_code == 0
    assert report.results[0].passed[0].baseline == report.results[0].passed[0].value


def test_generous_absolute_tolerance_passes_and_a_limit_still_applies():
    report = run_check(LOSSY, [parse_inline("retransmission_rate max_increase=0.1"),
                               parse_inline("retransmission_rate < 0.01 max_increase=0.1")], baseline=CLEAN)
    generous, with_limit = report.results
    assert generous.status == "pass"
    assert with_limit.status == "fail" and with_limit.failed[0].reason == "not < 0.01"


def test_clean_capture_against_lossy_baseline_improves_and_passes():
    report = run_check(CLEAN, [parse_inline("retransmission_rate max_increase=20%")], baseline=LOSSY)
    assert report.exit_code == 0
    outcome = report.results[0].passed[0]
    assert (outcome.value, outcome.baseline) == (0.0, pytest.approx(rate("check-lossy.pcap")))


def test_cli_baseline_report_shows_both_values():
    result = subprocess.run([sys.executable, "-m", "tcpanalyze", "check", LOSSY, "--baseline", CLEAN,
                             "--rule", "retransmission_rate max_increase=20%"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[:3] == [
        f"tcpanalyze check {LOSSY} (baseline {CLEAN})",
        "FAIL  retransmission_rate max_increase 20%  [inline, error]",
        f"      capture: {rate('check-lossy.pcap'):.6g} (baseline 0): increase over 20% (at most 0); "
        "worst: session 5 (0.0779221), session 4 (0.0657895), session 1 (0.0526316), session 2 (0.0526316), "
        "session 0 (0.0405405)",
    ]
