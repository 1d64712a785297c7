"""Graphs of one TCP session, drawn with matplotlib (Agg canvas, no pyplot).

>>> analysis = tcpanalyze.analyze("sample_pcaps/real-zero-window.pcap")
>>> fig = tcpanalyze.plot.session_figure(analysis, 0, "seq")
>>> Path("seq.png").write_bytes(tcpanalyze.plot.png_bytes(fig))

Kinds: ``seq`` (time-sequence graph of one direction's data), ``throughput`` (throughput and
goodput per direction), ``rtt`` (RTT samples per direction), ``window`` (advertised windows
and bytes in flight). A session with nothing to draw gets a figure that says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from ..errors import UsageError
from .canvas import image_format, new_axes, png_bytes, save_figure
from .seq import draw_seq
from .series import draw_rtt, draw_throughput, draw_window
from .session import DIRECTIONS, session_packets

if TYPE_CHECKING:
    from ..pipeline import Analysis

__all__ = ["KINDS", "image_format", "png_bytes", "save_figure", "session_figure"]

KINDS = {
    "seq": "time-sequence graph",
    "throughput": "throughput and goodput",
    "rtt": "round-trip time samples",
    "window": "advertised window and bytes in flight",
}


def session_figure(analysis: Analysis, session_id: int, kind: str, *, direction: str | None = None) -> Figure:
    """A figure of one kind for session ``session_id`` of ``analysis`` (made with packets).

    ``direction`` (``orig`` or ``resp``) picks whose data the ``seq`` graph shows; by default
    the direction that carried more payload. Raises UsageError for an unknown session or kind.
    """
    if kind not in KINDS:
        raise UsageError(f"unknown graph kind {kind!r}: choose one of {', '.join(KINDS)}")
    if direction not in (None, *DIRECTIONS):
        raise UsageError(f"unknown direction {direction!r}: choose orig or resp")
    session = session_packets(analysis, session_id)
    if kind == "seq":
        direction = direction or session.busier_direction()
        fig, ax = new_axes(f"{KINDS[kind]} of {session.arrow(direction)} — session {session.session_id}")
        draw_seq(ax, session, direction)
        return fig
    fig, ax = new_axes(f"{KINDS[kind]} — {session.name}")
    {"throughput": draw_throughput, "rtt": draw_rtt, "window": draw_window}[kind](ax, session)
    return fig
