"""``tcpanalyze check``: evaluate rules on a capture; exit 1 when a rule of error severity fails."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError
from .app import CHECKSUMS_OPT, EXIT_CODES, FILES_ARG, OUTPUT_OPT, SCHEDULER_OPT, WORKERS_OPT, analysis_options, app, capture_spec
from .filters import (
    FILTER_OPT,
    HOST_OPT,
    PORT_OPT,
    SESSION_OPT,
    TIME_RANGE_OPT,
    TSHARK_OPT,
    Filters,
    filter_engine,
    tshark_needs_filter,
)


class CheckFormat(str, enum.Enum):
    text = "text"
    json = "json"
    junit = "junit"
    github = "github"


@app.command(epilog=EXIT_CODES)
def check(
    files: list[str] = FILES_ARG,
    rules: Optional[Path] = typer.Option(None, "--rules", "-r", help="TOML rules file (see docs/check.md)."),
    rule: Optional[list[str]] = typer.Option(
        None, "--rule", help="An inline rule, e.g. 'retransmission_rate < 0.02 scope=server'. Repeatable."),
    baseline: Optional[str] = typer.Option(
        None, "--baseline", help="An earlier capture of the same traffic, for max_increase/max_decrease rules."),
    fmt: CheckFormat = typer.Option(
        CheckFormat.text, "--format", "-f",
        help="The main output: text (the summary), json, junit (JUnit XML) or github (Actions annotations)."),
    output: Optional[Path] = OUTPUT_OPT,
    junit: Optional[Path] = typer.Option(None, "--junit", help="Also write JUnit XML (a test case per rule and scope)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON."),
    github: bool = typer.Option(False, "--github",
                                help="Also print GitHub Actions annotations (::error ...) for failures, on stdout."),
    host: Optional[str] = HOST_OPT,
    port: Optional[int] = PORT_OPT,
    session: Optional[list[int]] = SESSION_OPT,
    time_range: Optional[str] = TIME_RANGE_OPT,
    display_filter: Optional[str] = FILTER_OPT,
    tshark: bool = TSHARK_OPT,
    workers: int = WORKERS_OPT,
    verify_checksums: bool = CHECKSUMS_OPT,
    scheduler: Optional[str] = SCHEDULER_OPT,
) -> None:
    """Check a capture against rules (retransmissions, resets, stalls, RTT, anomalies...) for CI.

    Prints each rule's result: the measured value, the limit, the worst sessions. --junit,
    --json and --github write other forms of the same results alongside the main output.

    --host, --port, --session, --time-range and -Y (a Wireshark display filter: the sessions
    with a packet it matches) narrow the capture (and the baseline) before any rule sees it:
    the sessions that pass, with all their packets; anomalies are then detected among those. A rule's own filters (host=, port=, server=, ...) narrow further.

    Exit code: 1 when a rule of error severity failed (failed warnings do not count).

    Example: tcpanalyze check sample_pcaps/check-clean.pcap --rule 'retransmission_rate < 0.02' --junit check.xml
    """
    file = capture_spec(files)
    filters = Filters.parse(host, port, session, time_range)
    tshark_needs_filter(display_filter, tshark)
    from ..check import load_rules, outputs, parse_inline, run_check
    from ..pipeline import cluster_client
    from .progress import ReadProgress

    parsed = load_rules(rules) if rules is not None else []
    parsed += [parse_inline(text, f"--rule {i + 1}") for i, text in enumerate(rule or [])]
    if not parsed:
        raise UsageError("no rules: give --rules FILE or --rule 'METRIC OP LIMIT'")
    with cluster_client(scheduler) as client, ReadProgress() as progress:
        report = run_check(file, parsed, baseline, select=filters.select, progress=progress,
                           workers=workers, client=client, display_filter=display_filter,
                           filter_engine=filter_engine(tshark), options=analysis_options(verify_checksums))
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    writers = {CheckFormat.text: outputs.text_summary, CheckFormat.json: outputs.json_text,
               CheckFormat.junit: outputs.junit_xml, CheckFormat.github: outputs.github_annotations}
    main_text = writers[fmt](report)
    if output is None or str(output) == "-":
        sys.stdout.write(main_text)
    else:
        _write(output, main_text)
    if junit is not None:
        _write(junit, outputs.junit_xml(report))
    if json_out is not None:
        _write(json_out, outputs.json_text(report))
    if github and not (fmt == CheckFormat.github and output is None):
        sys.stdout.write(outputs.github_annotations(report))
    sys.stdout.flush()
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
