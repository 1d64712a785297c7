"""A check report as people and CI systems read it: text summary, JUnit XML, JSON, GitHub annotations.

JUnit: one ``testsuite`` per run (inside ``testsuites``), one ``testcase`` per rule and scope.
A failed rule of error severity is a ``failure``; a failed warning is a passing test case with
the warning in ``system-out`` (the run does not fail on it); a scope without data, or a
baseline rule run without a baseline, is ``skipped``.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

from .evaluate import CheckReport, RuleResult, ScopeOutcome
from .metrics import METRICS
from .rules import format_limit

SHOWN_SCOPES = 5  # failed scopes listed per rule in the text summary
JUNIT_PASSED_CASES = 200  # passing scopes listed one by one in JUnit; more are folded into one case


def _value(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.6g}"


def _limit_text(result: RuleResult) -> str:
    rule = result.rule
    parts = []
    if rule.comparison is not None:
        parts.append(f"limit {rule.comparison} {format_limit(rule.limit)}")
    if rule.max_increase is not None:
        parts.append(f"max increase {rule.max_increase}")
    if rule.max_decrease is not None:
        parts.append(f"max decrease {rule.max_decrease}")
    return ", ".join(parts)


def _measured(outcome: ScopeOutcome, boolean: bool = False) -> str:
    if boolean and not math.isnan(outcome.value):  # a true/false metric (has_*, capture_complete)
        return format_limit(bool(outcome.value))
    text = _value(outcome.value)
    if outcome.baseline is not None:
        text += f" (baseline {_value(outcome.baseline)})"
    return text


def _offenders(outcome: ScopeOutcome) -> str:
    return ", ".join(f"session {o.session_id} ({_value(o.value)})" for o in outcome.offenders)


def scope_message(result: RuleResult, outcome: ScopeOutcome) -> str:
    """One line: where, what was measured, the limit, and the worst sessions."""
    text = f"{outcome.label(result.rule.scope)}: {_measured(outcome, isinstance(result.rule.limit, bool))}"
    if outcome.status == "pass":
        text += f" ({_limit_text(result)})"
    elif outcome.reason:
        text += f": {outcome.reason}"
    if outcome.offenders:
        text += f"; worst: {_offenders(outcome)}"
    return text


# ------------------------------------------------------------------------------ text


def text_summary(report: CheckReport) -> str:
    """The human summary: one block per rule, failures first within it, then a total line."""
    lines = [f"tcpanalyze check {report.capture}" + (f" (baseline {report.baseline})" if report.baseline else "")]
    for result in report.results:
        rule = result.rule
        tag = {"pass": "PASS", "skip": "SKIP"}.get(result.status, "FAIL" if rule.severity == "error" else "WARN")
        lines.append(f"{tag:5s} {rule.title}  [{rule.location}, {rule.severity}]")
        if result.note:
            lines.append(f"      {result.note}")
            continue
        if rule.scope == "capture":
            for outcome in result.outcomes:
                lines.extend(_outcome_lines(result, outcome))
            continue
        counts = result.counts
        lines.append(f"      {counts['fail']} of {sum(counts.values())} {rule.scope} scopes failed"
                     + (f", {counts['skip']} without data" if counts["skip"] else ""))
        for outcome in result.failed[:SHOWN_SCOPES]:
            lines.extend(_outcome_lines(result, outcome))
        if not result.failed and result.passed:  # the closest to its limit
            lines.append(f"      worst {scope_message(result, result.passed[0])}")
        if counts["fail"] > SHOWN_SCOPES:
            lines.append(f"      ... and {counts['fail'] - SHOWN_SCOPES} more")
    failed_errors = sum(r.rule.severity == "error" for r in report.failed)
    failed_warnings = len(report.failed) - failed_errors
    passed = sum(r.status == "pass" for r in report.results)
    skipped = sum(r.status == "skip" for r in report.results)
    lines.append(f"{len(report.results)} rules: {passed} passed, {failed_errors} failed, "
                 f"{failed_warnings} warnings, {skipped} skipped")
    return "\n".join(lines) + "\n"


def _outcome_lines(result: RuleResult, outcome: ScopeOutcome) -> list[str]:
    lines = [f"      {scope_message(result, outcome)}"]
    lines.extend(f"        {detail}" for detail in outcome.details)
    return lines


# ----------------------------------------------------------------------------- JUnit


def junit_xml(report: CheckReport) -> str:
    """JUnit XML: a testsuite named after the capture, a testcase per rule and scope."""
    suite = ET.Element("testsuite", name=f"tcpanalyze check {report.capture}")
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    for result in report.results:
        for case in _junit_cases(result):
            suite.append(case)
            counts["tests"] += 1
            counts["failures"] += case.find("failure") is not None
            counts["skipped"] += case.find("skipped") is not None
    attrs = {k: str(v) for k, v in counts.items()} | {"errors": "0", "time": "0"}
    suite.attrib.update(attrs)
    root = ET.Element("testsuites", {k: attrs[k] for k in ("tests", "failures", "errors", "time")})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _junit_cases(result: RuleResult) -> list[ET.Element]:
    rule = result.rule
    classname = f"tcpanalyze.check.{rule.metric}"
    if result.note:
        case = ET.Element("testcase", name=rule.title, classname=classname, time="0")
        ET.SubElement(case, "skipped", message=result.note)
        return [case]
    cases = []
    for outcome in result.failed + result.passed[:JUNIT_PASSED_CASES] + result.skipped:
        name = rule.title if rule.scope == "capture" else f"{rule.title} [{outcome.label(rule.scope)}]"
        case = ET.Element("testcase", name=name, classname=classname, time="0")
        message = scope_message(result, outcome)
        if outcome.status == "fail" and rule.severity == "error":
            failure = ET.SubElement(case, "failure", message=message, type=rule.metric)
            failure.text = "\n".join([message, *outcome.details, f"rule: {rule.location}"])
        elif outcome.status == "fail":
            ET.SubElement(case, "system-out").text = f"warning: {message}"
        elif outcome.status == "skip":
            ET.SubElement(case, "skipped", message=message)
        cases.append(case)
    folded = result.counts["pass"] - min(len(result.passed), JUNIT_PASSED_CASES)
    if folded > 0:
        cases.append(ET.Element("testcase", name=f"{rule.title} [{folded} more {rule.scope} scopes passed]",
                                classname=classname, time="0"))
    return cases


# ------------------------------------------------------------------------------ JSON


def report_dict(report: CheckReport) -> dict:
    """The report as plain data (what ``--json`` writes)."""
    return {
        "capture": report.capture,
        "baseline": report.baseline,
        "exit_code": report.exit_code,
        "rules": [_rule_dict(result) for result in report.results],
    }


def _number(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _rule_dict(result: RuleResult) -> dict:
    rule = result.rule
    return {
        "name": rule.title,
        "metric": rule.metric,
        "unit": METRICS[rule.metric].unit,
        "comparison": rule.comparison,
        "limit": rule.limit,
        "max_increase": None if rule.max_increase is None else str(rule.max_increase),
        "max_decrease": None if rule.max_decrease is None else str(rule.max_decrease),
        "scope": rule.scope,
        "filters": {k: list(v) for k, v in rule.filters.items()},
        "severity": rule.severity,
        "location": rule.location,
        "status": result.status,
        "note": result.note,
        "scope_counts": result.counts,
        "scopes": [{"scope": o.scope, "status": o.status, "value": _number(o.value),
                    "baseline": _number(o.baseline), "reason": o.reason,
                    "offenders": [{"session_id": f.session_id, "value": _number(f.value)} for f in o.offenders],
                    "anomalies": o.details}
                   for o in result.outcomes],
    }


def json_text(report: CheckReport) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"


# ---------------------------------------------------------------- GitHub annotations


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(report: CheckReport) -> str:
    """GitHub Actions workflow commands, one per failed scope (``::error`` or ``::warning``),
    pointing at the rule's line in the rules file when it has one."""
    lines = []
    for result in report.failed:
        rule = result.rule
        props = []
        if rule.file is not None:
            props.append(f"file={_escape_property(rule.file)}")
            if rule.line:
                props.append(f"line={rule.line}")
        props.append(f"title={_escape_property('tcpanalyze check: ' + rule.title)}")
        for outcome in result.failed[:SHOWN_SCOPES]:
            lines.append(f"::{rule.severity} {','.join(props)}::{_escape_data(scope_message(result, outcome))}")
    return "".join(line + "\n" for line in lines)
