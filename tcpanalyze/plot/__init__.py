"""Graphs of one TCP session: described once as a ``Chart``, drawn with matplotlib (PNG, SVG,
PDF) or Plotly (interactive, for the HTML report).

>>> analysis = tcpanalyze.analyze("sample_pcaps/real-zero-window.pcap")
>>> fig = tcpanalyze.plot.session_figure(analysis, 0, "seq", time_range=(0.1, 1.6))
>>> Path("seq.png").write_bytes(tcpanalyze.plot.png_bytes(fig))

Kinds: ``seq`` (time-sequence graph of one direction's data), ``throughput`` (throughput and
goodput per direction), ``rtt`` (RTT samples per direction), ``window`` (advertised windows
and bytes in flight). A session with nothing to draw gets a figure that says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UsageError
from .canvas import SIZE_PX, image_format, png_bytes, render, save_figure
from .chart import Chart, padded, y_extent
from .focus import problem_span
from .seq import seq_chart
from .series import rtt_chart, throughput_chart, window_chart
from .session import DIRECTIONS, SessionPackets, session_packets

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..pipeline import Analysis

__all__ = ["KINDS", "SIZE_PX", "Chart", "image_format", "png_bytes", "problem_span", "save_figure", "session_chart",
           "session_figure", "session_packets"]

KINDS = {
    "seq": "time-sequence graph",
    "throughput": "throughput and goodput",
    "rtt": "round-trip time samples",
    "window": "advertised window and bytes in flight",
}
SERIES = {"throughput": throughput_chart, "rtt": rtt_chart, "window": window_chart}


def session_chart(analysis: Analysis, session_id: int, kind: str, *, direction: str | None = None,
                  time_range: tuple[float | None, float | None] | None = None) -> Chart:
    """A chart of one kind for session ``session_id`` of ``analysis`` (made with packets).

    ``direction`` (``orig`` or ``resp``) picks whose data the ``seq`` graph shows; by default
    the direction that carried more payload. ``time_range`` (start, end) in seconds since the
    session's first packet, either None for that end of the session. Raises UsageError for an
    unknown session, kind or direction, or a time range outside the session.
    """
    if kind not in KINDS:
        raise UsageError(f"unknown graph kind {kind!r}: choose one of {', '.join(KINDS)}")
    if direction not in (None, *DIRECTIONS):
        raise UsageError(f"unknown direction {direction!r}: choose orig or resp")
    session = session_packets(analysis, session_id)
    x_range = None if time_range is None else _x_range(session, *time_range)
    if kind == "seq":
        direction = direction or session.busier_direction()
        title = f"{KINDS[kind]} of {session.arrow(direction)} — session {session.session_id}"
        return seq_chart(session, direction, title, x_range)
    chart = SERIES[kind](session, f"{KINDS[kind]} — {session.name}")
    if x_range is not None and chart.message is None:
        chart.x_range = x_range
        extent = y_extent(chart.layers, x_range)
        if extent is not None:
            low, high = padded(*extent)
            chart.y_range = (0 if chart.y_from_zero else low, high)
    return chart


def session_figure(analysis: Analysis, session_id: int, kind: str, *, direction: str | None = None,
                   time_range: tuple[float | None, float | None] | None = None,
                   size_px: tuple[int, int] = SIZE_PX) -> Figure:
    """``session_chart`` drawn with matplotlib, ``size_px`` (width, height) pixels at 100 dpi.

    >>> fig = tcpanalyze.plot.session_figure(tcpanalyze.analyze("capture.pcap"), 0, "seq")
    >>> fig.savefig("session-0-seq.png")
    """
    return render(session_chart(analysis, session_id, kind, direction=direction, time_range=time_range), size_px)


def _x_range(session: SessionPackets, start: float | None, end: float | None) -> tuple[float, float]:
    """The shown span in seconds since the session's first packet; UsageError if it misses the session."""
    start = 0.0 if start is None else start
    end = session.duration_s if end is None else end
    if start > session.duration_s:
        raise UsageError(f"time range {start:g}:{end:g} s starts after session {session.session_id} ends "
                         f"({session.duration_s:.6g} s after its first packet)")
    if end <= start:
        raise UsageError(f"time range {start:g}:{end:g} s is empty: the end must come after the start")
    return start, end
