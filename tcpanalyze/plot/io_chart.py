"""The io statistics chart: counts per interval (``pipeline.io_stats``), a stair line each.

``io_chart`` describes it (a ``Chart``), ``save_chart`` writes it: PNG, SVG or PDF through
matplotlib, or a self-contained interactive HTML page (plotly.js inline, no network).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import TcpanalyzeError
from .canvas import render, save_figure
from .chart import Chart, Layer

# (column, legend label, colour), drawn in this order
SERIES = (("packets", "TCP packets", "#1f77b4"), ("new_sessions", "new sessions", "#2ca02c"),
          ("retransmissions", "retransmissions", "#d62728"), ("rsts", "RSTs", "#9467bd"),
          ("zero_windows", "zero windows", "#8c564b"))


def io_chart(table: pd.DataFrame, title: str) -> Chart:
    """Each count of ``table`` (``io_stats``'s rows) per interval, over time from the first record."""
    if table.empty:
        return Chart(title, message="no TCP packets: nothing to count")
    edges = np.append(table["start_s"].to_numpy(float), table["end_s"].to_numpy(float)[-1])
    layers = [Layer("stairs", label, colour, edges, table[column].to_numpy(float), width=1.2)
              for column, label, colour in SERIES]
    interval = float(table["end_s"].iloc[0] - table["start_s"].iloc[0])
    return Chart(title, xlabel="time (s since the capture's first record)", ylabel=f"count per {interval:g} s",
                 layers=layers, y_from_zero=True, thousands=True)


def save_chart(chart: Chart, path: str) -> None:
    """Write ``chart`` to ``path``: an interactive page for ``.html``, else an image (.png/.svg/.pdf)."""
    if Path(path).suffix.lower() != ".html":
        save_figure(render(chart), path)
        return
    from .interactive import plotly_figure

    try:
        plotly_figure(chart).write_html(path, include_plotlyjs=True, full_html=True,
                                        config={"displaylogo": False, "responsive": True, "scrollZoom": True})
    except OSError as exc:
        raise TcpanalyzeError(f"{path}: cannot write: {exc.strerror}") from None
