"""``tcpanalyze report``: what is wrong in a capture and where, in one screen or one file."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Optional

import typer

from .app import (
    CHECKSUMS_OPT,
    EXIT_CODES,
    FILES_ARG,
    OUTPUT_OPT,
    SCHEDULER_OPT,
    WORKERS_OPT,
    analysis_options,
    app,
    capture_spec,
    open_text_output,
    report_accounting,
)
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


class ReportFormat(str, enum.Enum):
    text = "text"
    markdown = "markdown"
    json = "json"
    html = "html"


@app.command(epilog=EXIT_CODES)
def report(
    files: list[str] = FILES_ARG,
    fmt: ReportFormat = typer.Option(ReportFormat.text, "--format", "-f",
                                     help="text (tables; colour on a terminal), markdown, json (schema: "
                                          "docs/report.schema.json) or html (one self-contained file with graphs)."),
    output: Optional[Path] = OUTPUT_OPT,
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
    """Capture summary, problems ranked by impact, servers, and the sessions that need attention.

    With filters, the report covers the sessions that pass them (each with all its packets; with
    -Y, the sessions with a packet the display filter matches); the record counts stay those of
    the whole file.

    Example: tcpanalyze report sample_pcaps/real-zero-window.pcap --format html -o report.html
    """
    file = capture_spec(files)
    filters = Filters.parse(host, port, session, time_range)
    tshark_needs_filter(display_filter, tshark)
    from ..pipeline import analyze, cluster_client
    from ..report import REPORT_COLUMNS, build_report
    from .progress import ReadProgress

    with cluster_client(scheduler) as client, ReadProgress() as progress:  # html graphs of stdin need every packet
        analysis = filters.select(analyze(file, packets=fmt == ReportFormat.html and file == "-",
                                          columns=REPORT_COLUMNS, progress=progress, workers=workers, client=client,
                                          filter=display_filter, filter_engine=filter_engine(tshark),
                                          options=analysis_options(verify_checksums)))
    analysis.drop_evidence_packets()  # anomalies found: the report reads nothing else of them
    the_report = build_report(analysis, selection=_selection_text(host, port, session, time_range, display_filter))
    with open_text_output(output) as out:
        if fmt == ReportFormat.text:
            from ..report.text import write_text

            write_text(the_report, out)
        elif fmt == ReportFormat.markdown:
            from ..report.markdown import markdown_text

            out.write(markdown_text(the_report))
        elif fmt == ReportFormat.json:
            out.write(the_report.to_json())
        else:
            from ..report.graphs import report_graphs
            from ..report.html import html_text

            out.write(html_text(the_report, report_graphs(the_report, analysis)))
    report_accounting(analysis.accounting.as_dict())


def _selection_text(host: Optional[str], port: Optional[int], session: Optional[list[int]],
                    time_range: Optional[str], display_filter: Optional[str]) -> str | None:
    """The filters as the user gave them, for the report to say what it covers."""
    parts = [f"--host {host}" if host is not None else "", f"--port {port}" if port is not None else "",
             *(f"--session {s}" for s in session or ()),
             f"--time-range {time_range}" if time_range is not None else "",
             f"-Y '{display_filter}'" if display_filter is not None else ""]
    return " ".join(p for p in parts if p) or None
