"""``tcpanalyze plot``: one graph of one session, as PNG, SVG or PDF."""

from __future__ import annotations

import enum
import io
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import TcpanalyzeError, UsageError
from .app import EXIT_CODES, FILE_ARG, app, report_accounting


class Kind(str, enum.Enum):
    """The graph kinds of ``tcpanalyze.plot.KINDS`` (listed here so --help needs no matplotlib)."""

    seq = "seq"
    throughput = "throughput"
    rtt = "rtt"
    window = "window"


class Direction(str, enum.Enum):
    orig = "orig"
    resp = "resp"


class ImageFormat(str, enum.Enum):
    png = "png"
    svg = "svg"
    pdf = "pdf"


@app.command(epilog=EXIT_CODES)
def plot(
    file: str = FILE_ARG,
    session: int = typer.Argument(..., help="Session id (the id column of `tcpanalyze sessions`)."),
    kind: Kind = typer.Option(Kind.seq, "--kind", "-k",
                              help="seq: time-sequence graph; throughput: throughput and goodput; "
                                   "rtt: RTT samples; window: advertised windows and bytes in flight."),
    direction: Optional[Direction] = typer.Option(
        None, "--direction", help="seq only: whose data to draw (default: the side that sent more)."),
    fmt: Optional[ImageFormat] = typer.Option(
        None, "--format", "-f", help="Image format [default: from the -o suffix (.png, .svg, .pdf), else png]."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Image file. Without it: the image on stdout (not to a terminal)."),
) -> None:
    """Draw one graph of one TCP session: time-sequence (tcptrace style), throughput, RTT or window.

    The session is chosen by its id: --host, --port, --session and --time-range do not apply.

    Example: tcpanalyze plot sample_pcaps/real-zero-window.pcap 0 --kind seq -o seq.png
    """
    to_stdout = output is None or str(output) == "-"
    image = _image_format(fmt, None if to_stdout else output)  # fails before the capture is read
    if to_stdout and sys.stdout.isatty():
        raise UsageError(f"a {image.value.upper()} image would go to the terminal: write it to a file with "
                         f"-o FILE.png (or .svg, .pdf), or pipe the output")
    from ..pipeline import analyze
    from ..plot import session_figure
    from .progress import ReadProgress

    with ReadProgress() as progress:
        if file == "-":  # standard input is read once: keep every packet
            analysis = analyze(file, progress=progress)
        else:  # the sessions, then a second pass for this session's packets alone
            analysis = analyze(file, packets=False, evidence=False, progress=progress)
    analysis = analysis.with_session_packets([session])
    fig = session_figure(analysis, session, kind.value, direction=direction.value if direction else None)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=image.value)
    if to_stdout:
        sys.stdout.buffer.write(buffer.getvalue())
        sys.stdout.buffer.flush()
    else:
        try:
            output.write_bytes(buffer.getvalue())
        except OSError as exc:
            raise TcpanalyzeError(f"{output}: cannot write: {exc.strerror}") from None
    report_accounting(analysis.accounting.as_dict())


def _image_format(fmt: Optional[ImageFormat], output: Optional[Path]) -> ImageFormat:
    """--format, else the suffix of -o, else PNG; a UsageError when the two disagree or neither says."""
    by_suffix = None
    if output is not None:
        suffix = output.suffix.lower().lstrip(".")
        if suffix in ImageFormat.__members__:
            by_suffix = ImageFormat(suffix)
        elif fmt is None:
            raise UsageError(f"{output}: cannot tell the image format; use a .png, .svg or .pdf file name "
                             f"or --format png|svg|pdf")
    if fmt is not None and by_suffix is not None and fmt != by_suffix:
        raise UsageError(f"--format {fmt.value} but {output} ends in .{by_suffix.value}: give one or make them agree")
    return fmt or by_suffix or ImageFormat.png
