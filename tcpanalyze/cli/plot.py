"""``tcpanalyze plot``: one graph of one session, as PNG, SVG or PDF."""

from __future__ import annotations

import enum
import io
import re
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import TcpanalyzeError, UsageError
from .app import EXIT_CODES, FILE_ARG, app, report_accounting
from .filters import FILTER_OPT, TSHARK_OPT, TimeRange, matching_sessions, pick_session

SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")
# Pixels per side: below, the legend covers the graph; above, a PNG grows past 100 MB.
SIZE_LIMITS_PX = (200, 10000)


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
    session: Optional[int] = typer.Argument(None, help="Session id (the id column of `tcpanalyze sessions`); with "
                                                       "-Y, optional: the first session with a matching packet."),
    kind: Kind = typer.Option(Kind.seq, "--kind", "-k",
                              help="seq: time-sequence graph; throughput: throughput and goodput; "
                                   "rtt: RTT samples; window: advertised windows and bytes in flight."),
    direction: Optional[Direction] = typer.Option(
        None, "--direction", "-d", help="seq only: whose data to draw (default: the side that sent more)."),
    time_range: Optional[str] = typer.Option(
        None, "--time-range", metavar="START:END",
        help="Only this span, in seconds since the session's first packet (e.g. 1.5:3, 10:, :0.5)."),
    size: Optional[str] = typer.Option(
        None, "--size", metavar="WxH",
        help="Image size in pixels, e.g. 1600x800 (default 900x480); SVG and PDF at 100 pixels per inch."),
    fmt: Optional[ImageFormat] = typer.Option(
        None, "--format", "-f", help="Image format (default: from the -o suffix, .png, .svg or .pdf, else png)."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Image file. Without it: the image on stdout (not to a terminal)."),
    display_filter: Optional[str] = FILTER_OPT,
    tshark: bool = TSHARK_OPT,
) -> None:
    """Draw one graph of one TCP session: time-sequence (tcptrace style), throughput, RTT or window.

    The session is chosen by its id, or with -Y by a packet it holds: the first session with a
    packet the display filter matches (given both, the session must have one). --host,
    --port and --session do not apply.
    --time-range is the span drawn, in seconds since the session's first packet.

    Example: tcpanalyze plot sample_pcaps/real-zero-window.pcap 0 --kind seq -o seq.png
    """
    to_stdout = output is None or str(output) == "-"
    image = _image_format(fmt, None if to_stdout else output)  # fails before the capture is read
    span = None if time_range is None else _time_range(time_range)
    size_px = None if size is None else _size(size)
    if display_filter is None:
        pick_session(session, [], None)  # no id and no -Y: a usage error before the capture is read
    if to_stdout and sys.stdout.isatty():
        raise UsageError(f"a {image.value.upper()} image would go to the terminal: write it to a file with "
                         f"-o FILE.png (or .svg, .pdf), or pipe the output")
    from ..plot import SIZE_PX, session_figure
    from .progress import ReadProgress

    with ReadProgress() as progress:  # the sessions, then a second pass for this session's packets alone
        analysis = matching_sessions(file, display_filter, tshark, progress)
    session = pick_session(session, analysis.sessions["session_id"].tolist(), display_filter)
    analysis = analysis.with_session_packets([session])
    fig = session_figure(analysis, session, kind.value, direction=direction.value if direction else None,
                         time_range=span, size_px=size_px or SIZE_PX)
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


def _time_range(text: str) -> tuple[float | None, float | None]:
    """``START:END`` in seconds since the session's first packet, either side optional."""
    span = TimeRange.parse(text)
    if not span.relative:
        raise UsageError(f"--time-range {text!r}: plot takes seconds since the session's first packet "
                         f"(e.g. 1.5:3), not timestamps")
    return span.start, span.end


def _size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` in pixels, each within SIZE_LIMITS_PX."""
    match = SIZE.match(text)
    if not match:
        raise UsageError(f"--size {text!r}: expected WIDTHxHEIGHT in pixels, e.g. 1600x800")
    width, height = int(match[1]), int(match[2])
    low, high = SIZE_LIMITS_PX
    if not (low <= width <= high and low <= height <= high):
        raise UsageError(f"--size {text!r}: width and height must each be {low} to {high} pixels")
    return width, height
