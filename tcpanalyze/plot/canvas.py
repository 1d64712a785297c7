"""Figures drawn with matplotlib's Agg canvas, and the look every graph shares."""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..errors import TcpanalyzeError, UsageError

FIGSIZE_IN = (9.0, 4.8)
DPI = 100
# One colour per direction, the same in every graph (matplotlib's tab10 blue and orange).
DIRECTION_COLOURS = {"orig": "tab:blue", "resp": "tab:orange"}
SAVE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
TIME_LABEL = "time (s since the session's first packet)"
THOUSANDS = FuncFormatter(lambda value, _pos: f"{value:,.0f}")


def new_axes(title: str) -> tuple[Figure, Axes]:
    """A figure on an Agg canvas with one titled axes (no pyplot: no global state)."""
    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    return fig, ax


def no_data(ax: Axes, message: str) -> None:
    """Say in the figure why there is nothing to draw (instead of an empty frame)."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=12, wrap=True)


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes (Agg)."""
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return buf.getvalue()


def image_format(path: str) -> str:
    """``png``, ``svg`` or ``pdf`` from the suffix of ``path``; UsageError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in SAVE_FORMATS:
        raise UsageError(f"{path}: cannot tell the image format; use a .png, .svg or .pdf file name")
    return SAVE_FORMATS[suffix]


def save_figure(fig: Figure, path: str) -> None:
    """Write the figure to ``path`` as PNG, SVG or PDF, chosen by the file's suffix."""
    fmt = image_format(path)
    try:
        fig.savefig(path, format=fmt)
    except OSError as exc:
        raise TcpanalyzeError(f"{path}: cannot write: {exc.strerror}") from None
