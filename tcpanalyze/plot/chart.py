"""What a graph shows, independent of how it is drawn: the one description both renderers read.

A ``Chart`` is a list of ``Layer`` s (bars, markers, step lines, stairs, shaded spans) plus
titles, notes and the axis ranges. ``canvas.render`` draws it with matplotlib (PNG, SVG, PDF);
``interactive.plotly_figure`` with Plotly (the HTML report). Builders (seq.py, series.py) decide
which points, colours, kinds and ranges; renderers only translate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TIME_LABEL = "time (s since the session's first packet)"
# One colour per direction, the same in every graph (matplotlib's tab10 blue and orange).
DIRECTION_COLOURS = {"orig": "#1f77b4", "resp": "#ff7f0e"}


@dataclass
class Layer:
    """One series of a chart, drawn as ``kind`` in ``colour`` and named ``label`` in the legend.

    Kinds: ``bars`` (a vertical bar per x from y to y1), ``markers`` (a point per x, y), ``step``
    (a line holding each y until the next x), ``stairs`` (y[i] from x[i] to x[i + 1]), ``spans``
    (a shaded band across the plot from x to x1).

    ``hover`` holds per-point columns shown on hover in the interactive form (name -> values,
    one per x), e.g. ``{"frame": ..., "len": ...}``.
    """

    kind: str
    label: str
    colour: str
    x: np.ndarray
    y: np.ndarray | None = None
    y1: np.ndarray | None = None  # bars: top of each bar
    x1: np.ndarray | None = None  # spans: end of each span
    marker: str | None = None  # markers: matplotlib's marker letter ("x", "o", "^", "D", ".")
    width: float = 1.0
    dashed: bool = False
    alpha: float = 1.0
    legend: bool = True  # False: a companion of a layer of the same label that the legend shows
    hover: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Note:
    """A label with an arrow pointing up at (x, y): something continues above the plot."""

    x: float
    y: float
    text: str


@dataclass
class Chart:
    """A whole graph. ``message`` instead of layers: nothing to draw, and why.

    ``x_range``/``y_range`` None: fit the data (the y-range of what lies in ``x_range``).
    """

    title: str
    xlabel: str = ""
    ylabel: str = ""
    layers: list[Layer] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    y_from_zero: bool = False
    thousands: bool = False  # y tick labels with thousands separators
    message: str | None = None


def y_extent(layers: list[Layer], x_range: tuple[float, float] | None) -> tuple[float, float] | None:
    """Lowest and highest y the ``layers`` reach inside ``x_range`` (a step line counts the value
    it holds when the range starts); None when nothing lies there."""
    lows, highs = [], []
    for layer in layers:
        if layer.y is None or layer.kind == "spans" or layer.x.size == 0:
            continue
        x, y = layer.x, layer.y
        top = layer.y1 if layer.y1 is not None else y
        if layer.kind == "stairs":
            x = x[:-1]
        inside = np.ones(x.size, bool) if x_range is None else (x >= x_range[0]) & (x <= x_range[1])
        if layer.kind in ("step", "stairs") and x_range is not None:
            before = np.flatnonzero(x < x_range[0])
            if before.size:
                inside[before[-1]] = True
        if inside.any():
            lows.append(np.min(np.minimum(y[inside], top[inside])))
            highs.append(np.max(np.maximum(y[inside], top[inside])))
    if not lows:
        return None
    return float(min(lows)), float(max(highs))


def padded(low: float, high: float, share: float = 0.05) -> tuple[float, float]:
    """``low``..``high`` widened by ``share`` of its span on each side (by 1 when the span is 0)."""
    pad = (high - low) * share or 1.0
    return low - pad, high + pad
