"""Rules files and inline rules: what they say, and errors that name the file, line and a fix."""

from __future__ import annotations

import pytest

from check_truth import REPO
from tcpanalyze.check.rules import Tolerance, load_rules, parse_inline, parse_rules_text
from tcpanalyze.errors import UsageError

GOOD = """\
# gate for the nightly load test
[[rule]]
name = "few retransmissions"
metric = "retransmission_rate"
comparison = "<"
limit = 0.02
scope = "server"
filter = { port = [80, 443], conn_state = "SF" }

[[rule]]
expr = "rst_teardowns == 0"
severity = "warning"

[[rule]]
metric = "retransmission_rate"
max_increase = "20%"

[[rule]]
metric = "zero_window_longest_s"
comparison = "<="
limit = 1
max_increase = 0.25
"""


def error_of(text: str) -> str:
    with pytest.raises(UsageError) as info:
        parse_rules_text(text, "rules.toml")
    return str(info.value)


def test_rules_file_gives_each_rule_its_fields_and_header_line(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(GOOD)
    rules = load_rules(path)
    assert [(r.metric, r.comparison, r.limit, r.scope, r.severity, r.line) for r in rules] == [
        ("retransmission_rate", "<", 0.02, "server", "error", 2),
        ("rst_teardowns", "==", 0, "capture", "warning", 10),
        ("retransmission_rate", None, None, "capture", "error", 14),
        ("zero_window_longest_s", "<=", 1, "capture", "error", 18),
    ]
    assert rules[0].filters == {"port": (80, 443), "conn_state": ("SF",)}
    assert rules[0].title == "few retransmissions"
    assert rules[1].title == "rst_teardowns == 0"
    assert rules[2].max_increase == Tolerance(0.2, True) and rules[2].baseline_only
    assert rules[3].max_increase == Tolerance(0.25, False) and not rules[3].baseline_only
    assert rules[0].location == f"{path}:2"


def test_inline_rule_with_options():
    rule = parse_inline("retransmission_rate<0.02 scope=host severity=warning port=80,8080 conn_state=SF")
    assert (rule.metric, rule.comparison, rule.limit, rule.scope, rule.severity) == (
        "retransmission_rate", "<", 0.02, "host", "warning")
    assert rule.filters == {"port": (80, 8080), "conn_state": ("SF",)}
    assert rule.location == "inline"


def test_inline_baseline_only_rule_and_boolean_limit():
    rule = parse_inline("bytes max_decrease=10%")
    assert rule.baseline_only and rule.max_decrease == Tolerance(0.1, True)
    assert parse_inline("has_syn_flood == false").limit is False


def test_bad_toml_syntax_names_the_line():
    message = error_of('[[rule]]\nmetric = "sessions"\ncomparison = "<"\nlimit = 0.5.5\n')
    assert message.startswith("rules.toml:4: invalid TOML: ")


def test_unknown_metric_names_its_line_and_the_closest_metric():
    text = '[[rule]]\nmetric = "sessions"\ncomparison = ">"\nlimit = 0\n\n[[rule]]\n# typo below\n' \
           'metric = "retransmision_rate"\ncomparison = "<"\nlimit = 0.1\n'
    assert error_of(text) == ("rules.toml:8: unknown metric 'retransmision_rate'; "
                              "hint: did you mean 'retransmission_rate'?")


def test_unknown_metric_in_expr_names_the_expr_line():
    assert error_of('[[rule]]\nseverity = "error"\nexpr = "rst_teardown == 0"\n') == (
        "rules.toml:3: unknown metric 'rst_teardown'; hint: did you mean 'rst_teardowns'?")


def test_bad_comparison_lists_the_valid_ones_and_suggests():
    assert error_of('[[rule]]\nmetric = "sessions"\ncomparison = "=<"\nlimit = 3\n') == (
        "rules.toml:3: bad comparison '=<': use one of <, <=, >, >=, ==, !=; hint: did you mean '<='?")


def test_missing_limit():
    assert error_of('[[rule]]\nmetric = "sessions"\ncomparison = "<"\n') == (
        "rules.toml:1: rule has a comparison but no limit")


def test_rule_with_neither_limit_nor_tolerance():
    assert error_of('\n[[rule]]\nmetric = "bytes"\n') == (
        "rules.toml:2: rule for 'bytes' has no comparison and limit (and no max_increase or max_decrease)")


def test_unknown_rule_key_filter_scope_and_table():
    assert error_of('[[rule]]\nexpr = "sessions > 0"\nlimmit = 3\n') == (
        "rules.toml:3: unknown rule key 'limmit'; hint: did you mean 'limit'?")
    assert error_of('[[rule]]\nexpr = "sessions > 0"\nfilter = { prot = 80 }\n') == (
        "rules.toml:3: unknown filter 'prot'; hint: did you mean 'port'?")
    assert error_of('[[rule]]\nexpr = "sessions > 0"\nscope = "servers"\n') == (
        "rules.toml:3: bad scope 'servers': use one of capture, server, host, session; hint: did you mean 'server'?")
    assert error_of('[[rules]]\nexpr = "sessions > 0"\n') == (
        "rules.toml:1: unknown table or key 'rules' (rules are [[rule]] tables); hint: did you mean 'rule'?")


def test_limit_must_be_a_number_and_tolerance_a_percentage():
    assert error_of('[[rule]]\nmetric = "sessions"\ncomparison = "<"\nlimit = "ten"\n') == (
        "rules.toml:4: limit must be a number (or true/false), not 'ten'")
    assert error_of('[[rule]]\nmetric = "bytes"\nmax_increase = "lots"\n') == (
        "rules.toml:3: max_increase must be a number (absolute) or a percentage string such as \"20%\", not 'lots'")


def test_empty_rules_file_and_unreadable_file(tmp_path):
    assert error_of("# nothing\n") == "rules.toml: no rules (write each as a [[rule]] table)"
    with pytest.raises(UsageError, match="cannot read rules file"):
        load_rules(tmp_path / "missing.toml")


def test_inline_errors():
    with pytest.raises(UsageError, match=r"^--rule 2: cannot read rule 'retransmission_rate': expected METRIC OP"):
        parse_inline("retransmission_rate", "--rule 2")
    with pytest.raises(UsageError, match=r"^inline: unknown key 'scop' .*hint: did you mean 'scope'\?$"):
        parse_inline("sessions > 1 scop=host", "inline")


def test_rules_file_example_in_the_docs_is_valid():
    text = (REPO / "docs" / "check.md").read_text()
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    rules = parse_rules_text(example, "docs/check.md")
    assert [r.metric for r in rules] == ["retransmission_rate", "rst_teardowns", "refused_handshakes",
                                         "handshake_rtt_p99_ms", "zero_window_longest_s", "retransmission_rate",
                                         "anomalies_syn_flood", "has_port_scan"]


def test_rules_files_in_the_ci_page_are_valid():
    blocks = [b.split("```", 1)[0] for b in (REPO / "docs" / "ci.md").read_text().split("```toml\n")[1:]]
    gate, baseline = (parse_rules_text(b, "docs/ci.md") for b in blocks)
    assert len(gate) == 6 and all(r.comparison for r in gate)
    assert [(r.metric, str(r.max_increase)) for r in baseline] == [("retransmission_rate", "20%"),
                                                                    ("handshake_rtt_p99_ms", "2")]
