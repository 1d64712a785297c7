"""Charts drawn with matplotlib's Agg canvas (PNG, SVG, PDF), and the look every graph shares."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..errors import TcpanalyzeError, UsageError
from .chart import Chart, Layer

DPI = 100
SIZE_PX = (900, 480)  # at DPI: 9 x 4.8 inches
SAVE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
THOUSANDS = FuncFormatter(lambda value, _pos: f"{value:,.0f}")


def new_axes(title: str, size_px: tuple[int, int] = SIZE_PX) -> tuple[Figure, Axes]:
    """A figure on an Agg canvas with one titled axes (no pyplot: no global state)."""
    fig = Figure(figsize=(size_px[0] / DPI, size_px[1] / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    return fig, ax


def render(chart: Chart, size_px: tuple[int, int] = SIZE_PX) -> Figure:
    """The chart as a matplotlib figure of ``size_px`` pixels (at DPI dots per inch)."""
    fig, ax = new_axes(chart.title, size_px)
    if chart.message is not None:
        ax.set_axis_off()
        ax.text(0.5, 0.5, chart.message, transform=ax.transAxes, ha="center", va="center", fontsize=12, wrap=True)
        return fig
    for layer in chart.layers:
        _draw(ax, layer)
    ax.autoscale_view()
    if chart.x_range is not None:
        ax.set_xlim(*chart.x_range)
    if chart.y_range is not None:
        ax.set_ylim(*chart.y_range)
    elif chart.y_from_zero:
        ax.set_ylim(bottom=0)
    for note in chart.notes:
        ax.annotate(note.text, xy=(note.x, note.y), xytext=(0, -28), textcoords="offset points", ha="center",
                    fontsize=8, arrowprops={"arrowstyle": "->", "color": "0.3"},
                    bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.9})
    ax.set_xlabel(chart.xlabel)
    ax.set_ylabel(chart.ylabel)
    if chart.thousands:
        ax.yaxis.set_major_formatter(THOUSANDS)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def _draw(ax: Axes, layer: Layer) -> None:
    label = layer.label if layer.legend else f"_{layer.label}"  # matplotlib's legend skips "_" labels
    style = {"color": layer.colour, "label": label, "alpha": layer.alpha}
    if layer.kind == "bars":
        bars = np.stack([np.column_stack([layer.x, layer.y]), np.column_stack([layer.x, layer.y1])], axis=1)
        ax.add_collection(LineCollection(bars, colors=layer.colour, linewidths=layer.width, alpha=layer.alpha,
                                         label=label))
    elif layer.kind == "markers":
        ax.plot(layer.x, layer.y, linestyle="none", marker=layer.marker, markersize=5 * layer.width, **style)
    elif layer.kind == "step":
        ax.step(layer.x, layer.y, where="post", linewidth=layer.width, linestyle="--" if layer.dashed else "-",
                **style)
    elif layer.kind == "stairs":
        ax.stairs(layer.y, layer.x, linewidth=layer.width, linestyle="--" if layer.dashed else "-", **style)
    else:  # spans
        for k, (start, stop) in enumerate(zip(layer.x, layer.x1)):
            ax.axvspan(start, stop, color=layer.colour, alpha=layer.alpha, label=label if k == 0 else None,
                       linewidth=0)


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
