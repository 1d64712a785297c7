"""``tcpanalyze check``: evaluate rules on a capture; exit 1 when a rule of error severity fails."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError
from .app import FILE_ARG, OUTPUT_OPT, app


@app.command()
def check(
    file: str = FILE_ARG,
    rules: Optional[Path] = typer.Option(None, "--rules", "-r", help="TOML rules file (see docs/check.md)."),
    rule: Optional[list[str]] = typer.Option(
        None, "--rule", help="An inline rule, e.g. 'retransmission_rate < 0.02 scope=server'. Repeatable."),
    baseline: Optional[str] = typer.Option(
        None, "--baseline", help="An earlier capture of the same traffic, for max_increase/max_decrease rules."),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Write JUnit XML (a test case per rule and scope)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the results as JSON."),
    github: bool = typer.Option(False, "--github", help="Print GitHub Actions annotations (::error ...) for failures."),
    output: Optional[Path] = OUTPUT_OPT,
) -> None:
    """Check a capture against rules (retransmissions, resets, stalls, RTT, anomalies...) for CI.

    Prints each rule's result: the measured value, the limit, the worst sessions.

    Exit code: 0 all passed (failed warnings do not count), 1 a rule of error severity failed, 2 bad rules or input.

    Example: tcpanalyze check run.pcap --rules rules.toml --baseline good.pcap --junit check.xml
    """
    from ..check import load_rules, parse_inline, run_check
    from ..check import outputs

    parsed = load_rules(rules) if rules is not None else []
    parsed += [parse_inline(text, f"--rule {i + 1}") for i, text in enumerate(rule or [])]
    if not parsed:
        raise UsageError("no rules: give --rules FILE or --rule 'METRIC OP LIMIT'")
    report = run_check(file, parsed, baseline)
    summary = outputs.text_summary(report)
    if output is None:
        sys.stdout.write(summary)
    else:
        _write(output, summary)
    if junit is not None:
        _write(junit, outputs.junit_xml(report))
    if json_out is not None:
        _write(json_out, outputs.json_text(report))
    if github:
        sys.stdout.write(outputs.github_annotations(report))
    sys.stdout.flush()
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
