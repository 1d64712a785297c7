"""Assert on captured traffic from your own tests (pytest or plain ``assert``).

>>> from tcpanalyze.testing import assert_capture
>>> assert_capture("run.pcap", "retransmission_rate < 0.01", "rst_teardowns == 0")
>>> report = check_capture("run.pcap", rules="rules.toml", baseline="good.pcap")

Rules are written as on the command line (``METRIC OP LIMIT [key=value ...]``, see
docs/check.md) or read from a TOML rules file. A failure raises ``AssertionError`` whose
message lists every failed rule with its measured value, limit and worst sessions.
"""

from __future__ import annotations

from pathlib import Path

from .check import CheckReport, Rule, load_rules, parse_inline, run_check
from .check.outputs import scope_message


def check_capture(path: str | Path, *inline: str, rules: str | Path | None = None,
                  baseline: str | Path | None = None, warnings_fail: bool = False) -> CheckReport:
    """Evaluate rules on a capture and raise ``AssertionError`` if one of error severity failed
    (or any rule, with ``warnings_fail``); returns the report otherwise."""
    chosen: list[Rule] = load_rules(rules) if rules is not None else []
    chosen += [parse_inline(text, f"rule {i + 1}") for i, text in enumerate(inline)]
    if not chosen:
        raise ValueError("check_capture needs at least one rule (inline text or rules=FILE)")
    report = run_check(str(path), chosen, None if baseline is None else str(baseline))
    failing = [r for r in report.failed if warnings_fail or r.rule.severity == "error"]
    if failing:
        raise AssertionError(failure_message(report, failing))
    return report


def assert_capture(path: str | Path, *rules: str, baseline: str | Path | None = None) -> None:
    """``assert`` that every inline rule holds on the capture (warnings fail too).

    >>> from tcpanalyze.testing import assert_capture
    >>> assert_capture("run.pcap", "retransmission_rate < 0.01", "rst_teardowns == 0")
    """
    check_capture(path, *rules, baseline=baseline, warnings_fail=True)


def failure_message(report: CheckReport, failing) -> str:
    """Several lines: the capture, then per failed rule the rule and each failed scope."""
    lines = [f"{len(failing)} of {len(report.results)} capture rules failed on {report.capture}"
             + (f" (baseline {report.baseline})" if report.baseline else "") + ":"]
    for result in failing:
        lines.append(f"  {result.rule.title}  [{result.rule.location}]")
        for outcome in result.failed[:5]:
            lines.append(f"    {scope_message(result, outcome)}")
            lines.extend(f"      {detail}" for detail in outcome.details)
        if result.counts["fail"] > 5:
            lines.append(f"    ... and {result.counts['fail'] - 5} more {result.rule.scope} scopes")
    return "\n".join(lines)
