"""``tcpanalyze stats``: per-interval counts, like ``tshark -z io,stat``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError
from ..output import Format
from .app import (CHECKSUMS_OPT, EXIT_CODES, FILES_ARG, FORMAT_OPT, OUTPUT_OPT, analysis_options, app, capture_spec, output_path,
                  report_accounting)


@app.command(epilog=EXIT_CODES)
def stats(
    files: list[str] = FILES_ARG,
    interval: float = typer.Option(1.0, "--interval", metavar="SECONDS",
                                   help="Length of each interval, from the capture's first record."),
    fmt: Format = FORMAT_OPT,
    output: Optional[Path] = OUTPUT_OPT,
    chart: Optional[Path] = typer.Option(None, "--chart", metavar="FILE",
                                         help="Also draw the counts: .png/.svg/.pdf, or .html (interactive, "
                                              "self-contained)."),
    verify_checksums: bool = CHECKSUMS_OPT,
) -> None:
    """Per interval: TCP packets, bytes, new sessions, retransmissions, RSTs, zero windows.

    Like tshark -z io,stat,SECONDS,tcp (same intervals, packets and bytes), with the session
    figures beside them; every interval is listed, empty ones too, up to a million of them (a
    capture whose timestamps span years lists its non-empty intervals).

    Example: tcpanalyze stats sample_pcaps/check-lossy.pcap --interval 0.25
    """
    file = capture_spec(files)
    if chart is not None and chart.suffix.lower() not in (".html", ".png", ".svg", ".pdf"):  # before reading
        raise UsageError(f"{chart}: cannot tell the chart's format; use a .png, .svg, .pdf or .html file name")
    from ..output import FrameWriter
    from ..packets import Accounting
    from ..pipeline import io_stats
    from .progress import ReadProgress

    accounting = Accounting()
    with ReadProgress() as progress:
        table = io_stats(file, interval, accounting=accounting, progress=progress,
                         options=analysis_options(verify_checksums))
    with FrameWriter(fmt, output_path(output)) as out:
        out.write(table)
    if chart is not None:
        from ..capture import capture_label
        from ..plot.io_chart import io_chart, save_chart

        save_chart(io_chart(table, f"TCP per interval: {capture_label(file)}"), str(chart))
    report_accounting(accounting.as_dict())
