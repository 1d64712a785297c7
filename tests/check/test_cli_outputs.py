"""`tcpanalyze check` on the command line: summary, exit codes, JUnit XML, JSON, GitHub annotations."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from check_truth import REPO, retransmissions, sample

RULES = """\
[[rule]]
name = "few retransmissions"
metric = "retransmission_rate"
comparison = "<"
limit = 0.02

[[rule]]
expr = "rst_teardowns == 0"
scope = "server"

[[rule]]
expr = "handshake_rtt_p99_ms < 1000"

[[rule]]
expr = "zero_window_longest_s < 0.5"
severity = "warning"

[[rule]]
metric = "retransmission_rate"
max_increase = "20%"
"""


def run_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tcpanalyze", "check", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO)


@pytest.fixture
def rules_file(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    return path


def test_exit_0_when_every_rule_passes():
    result = run_check(str(sample("check-clean.pcap")), "--rule", "retransmission_rate < 0.01",
                       "--rule", "rst_teardowns == 0", "--rule", "sessions == 6")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "3 rules: 3 passed, 0 failed, 0 warnings, 0 skipped"
    assert "PASS  sessions == 6  [inline, error]" in result.stdout
    assert "      capture: 6 (limit == 6)" in result.stdout


def test_exit_1_with_measured_value_limit_and_offenders(rules_file):
    retrans, data = retransmissions(sample("check-lossy.pcap"), data_only=True)
    rate = sum(retrans.values()) / sum(data.values())
    worst = max(retrans, key=lambda sid: (retrans[sid] / data[sid], -sid))
    result = run_check(str(sample("check-lossy.pcap")), "--rules", str(rules_file))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == f"FAIL  few retransmissions  [{rules_file}:1, error]"
    assert lines[2].startswith(f"      capture: {rate:.6g}: not < 0.02; worst: session {worst} "
                               f"({retrans[worst] / data[worst]:.6g}), ")
    assert f"SKIP  retransmission_rate max_increase 20%  [{rules_file}:18, error]" in lines
    assert "      compares with a baseline: give --baseline" in lines
    assert lines[-1] == "5 rules: 3 passed, 1 failed, 0 warnings, 1 skipped"


def test_a_failed_warning_alone_exits_0(tmp_path):
    result = run_check(str(sample("real-zero-window.pcap")), "--rule", "zero_window_longest_s < 0.5 severity=warning")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == "WARN  zero_window_longest_s < 0.5  [inline, warning]"
    assert result.stdout.splitlines()[-1] == "1 rules: 0 passed, 0 failed, 1 warnings, 0 skipped"


@pytest.mark.parametrize("args,message", [
    (["--rule", "retransmision_rate < 0.1"],
     "tcpanalyze: error: --rule 1: unknown metric 'retransmision_rate'; hint: did you mean 'retransmission_rate'?"),
    ([], "tcpanalyze: error: no rules: give --rules FILE or --rule 'METRIC OP LIMIT'"),
    (["--rules", "/nonexistent/rules.toml"], "tcpanalyze: error: cannot read rules file /nonexistent/rules.toml: "
                                             "No such file or directory"),
])
def test_exit_2_on_usage_errors(args, message):
    result = run_check(str(sample("check-clean.pcap")), *args)
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert "Traceback" not in result.stderr


def test_exit_2_on_malformed_rules_file_and_bad_capture(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nmetric = "sessions"\ncomparison = ">"\nlimit = [1\n')
    result = run_check(str(sample("check-clean.pcap")), "--rules", str(bad))
    assert result.returncode == 2 and result.stderr.startswith(f"tcpanalyze: error: {bad}:4: invalid TOML: ")
    not_a_capture = tmp_path / "x.pcap"
    not_a_capture.write_bytes(b"this is not a capture at all")
    result = run_check(str(not_a_capture), "--rule", "sessions > 0")
    assert result.returncode == 2 and result.stderr.startswith("tcpanalyze: error: ")


def test_junit_xml_structure_counts_and_failure_text(rules_file, tmp_path):
    out = tmp_path / "check.xml"
    result = run_check(str(sample("check-lossy.pcap")), "--rules", str(rules_file), "--junit", str(out))
    assert result.returncode == 1
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    # one case per rule and scope: 5 rules, the server rule has one server
    assert [c.get("name") for c in cases] == [
        "few retransmissions", "rst_teardowns == 0 per server [server 10.78.0.2:5201]",
        "handshake_rtt_p99_ms < 1000", "zero_window_longest_s < 0.5", "retransmission_rate max_increase 20%"]
    failures = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert [c.get("name") for c in failures] == ["few retransmissions"]
    assert [c.get("name") for c in skipped] == ["retransmission_rate max_increase 20%"]
    assert [suite.get(k) for k in ("tests", "failures", "skipped", "errors")] == ["5", "1", "1", "0"]
    assert (root.get("tests"), root.get("failures")) == ("5", "1")
    failure = failures[0].find("failure")
    assert failure.get("message").startswith("capture: 0.0530973: not < 0.02; worst: session ")
    assert failure.text.endswith(f"rule: {rules_file}:1")


def test_junit_xml_is_read_by_junitparser(rules_file, tmp_path):
    junitparser = pytest.importorskip("junitparser")
    out = tmp_path / "check.xml"
    run_check(str(sample("check-lossy.pcap")), "--rules", str(rules_file), "--junit", str(out))
    xml = junitparser.JUnitXml.fromfile(str(out))
    (suite,) = list(xml)
    assert (suite.tests, suite.failures, suite.skipped, suite.errors) == (5, 1, 1, 0)
    outcomes = {case.name: [type(r).__name__ for r in case.result] for case in suite}
    assert outcomes["few retransmissions"] == ["Failure"]
    assert outcomes["retransmission_rate max_increase 20%"] == ["Skipped"]
    assert outcomes["handshake_rtt_p99_ms < 1000"] == []


def test_json_output_and_github_annotations(rules_file, tmp_path):
    out = tmp_path / "check.json"
    result = run_check(str(sample("check-lossy.pcap")), "--rules", str(rules_file), "--json", str(out),
                       "--baseline", str(sample("check-clean.pcap")), "--github", "-o", str(tmp_path / "summary.txt"))
    assert result.returncode == 1
    report = json.loads(out.read_text())
    assert report["exit_code"] == 1 and report["baseline"] == str(sample("check-clean.pcap"))
    by_name = {r["name"]: r for r in report["rules"]}
    assert [by_name[n]["status"] for n in by_name] == ["fail", "pass", "pass", "pass", "fail"]
    increase = by_name["retransmission_rate max_increase 20%"]["scopes"][0]
    assert increase["baseline"] == 0.0 and increase["value"] == pytest.approx(24 / 452, abs=1e-7)
    assert increase["reason"] == "increase over 20% (at most 0)"
    # session 1's re-sent SYN and FIN are not data: 4 of its 76 data packets, behind session 5's 6 of 77
    assert increase["offenders"][0] == {"session_id": 5, "value": pytest.approx(6 / 77)}
    # annotations on stdout, one per failed scope, pointing at the rule's line; the summary went to -o
    annotations = result.stdout.splitlines()
    assert len(annotations) == 2
    assert annotations[0].startswith(f"::error file={rules_file},line=1,title=tcpanalyze check%3A few retransmissions"
                                     "::capture: 0.0530973: not < 0.02; worst: session 5 (0.0779221), ")
    assert annotations[1].startswith(f"::error file={rules_file},line=18,title=tcpanalyze check%3A "
                                     "retransmission_rate max_increase 20%25::capture: 0.0530973 (baseline 0): "
                                     "increase over 20%25 (at most 0); worst: session 5 ")
    assert (tmp_path / "summary.txt").read_text().startswith("tcpanalyze check ")
