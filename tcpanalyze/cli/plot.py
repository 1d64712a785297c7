"""``tcpanalyze plot``: one graph of one session, as PNG, SVG or PDF."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError
from .app import FILE_ARG, app, report_accounting


class Kind(str, enum.Enum):
    """The graph kinds of ``tcpanalyze.plot.KINDS`` (listed here so --help needs no matplotlib)."""

    seq = "seq"
    throughput = "throughput"
    rtt = "rtt"
    window = "window"


class Direction(str, enum.Enum):
    orig = "orig"
    resp = "resp"


@app.command()
def plot(
    file: str = FILE_ARG,
    session: int = typer.Argument(..., help="Session id (the id column of `tcpanalyze sessions`)."),
    kind: Kind = typer.Option(Kind.seq, "--kind", "-k",
                              help="seq: time-sequence graph; throughput: throughput and goodput; "
                                   "rtt: RTT samples; window: advertised windows and bytes in flight."),
    direction: Optional[Direction] = typer.Option(
        None, "--direction", help="seq only: whose data to draw (default: the side that sent more)."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Image file; .png, .svg or .pdf picks the format. Without it: PNG on stdout."),
) -> None:
    """Draw one graph of one TCP session: time-sequence (tcptrace style), throughput, RTT or window.

    Example: tcpanalyze plot sample_pcaps/real-zero-window.pcap 0 --kind seq -o seq.png
    """
    to_stdout = output is None or str(output) == "-"
    if to_stdout and sys.stdout.isatty():
        raise UsageError("a PNG image would go to the terminal: write it to a file with -o FILE.png "
                         "(or .svg, .pdf), or pipe the output")
    from ..engine import analyze
    from ..plot import image_format, png_bytes, save_figure, session_figure
    from .progress import ReadProgress

    if not to_stdout:
        image_format(str(output))  # a bad suffix fails before the capture is read

    with ReadProgress() as progress:
        analysis = analyze(file, progress=progress)
    fig = session_figure(analysis, session, kind.value, direction=direction.value if direction else None)
    if to_stdout:
        sys.stdout.buffer.write(png_bytes(fig))
        sys.stdout.buffer.flush()
    else:
        save_figure(fig, str(output))
    report_accounting(analysis.accounting.as_dict())
