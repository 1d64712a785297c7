"""Charts drawn with Plotly: zoom, pan, and hover naming each point's frame, for the HTML report.

>>> html_div(chart, div_id="graph-1", include_plotlyjs=True)   # the first graph carries plotly.js

The same ``Chart`` that ``canvas.render`` draws with matplotlib; nothing here decides what to show.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .chart import Chart, Layer

HEIGHT_PX = 480
# matplotlib marker letters to Plotly's symbol names
SYMBOLS = {"x": "x-thin-open", "o": "circle-open", "^": "triangle-up", "D": "diamond-open", "+": "cross-thin-open",
           ".": "circle"}
DASH = {True: "dash", False: "solid"}


def plotly_figure(chart: Chart) -> go.Figure:
    """The chart as a Plotly figure."""
    fig = go.Figure()
    fig.update_layout(title={"text": chart.title, "font": {"size": 14}}, height=HEIGHT_PX, template="plotly_white",
                      hovermode="closest", margin={"l": 70, "r": 20, "t": 50, "b": 50},
                      legend={"x": 0.01, "y": 0.99, "bgcolor": "rgba(255,255,255,0.8)", "font": {"size": 11}})
    if chart.message is not None:
        fig.add_annotation(text=chart.message.replace("\n", "<br>"), x=0.5, y=0.5, xref="paper", yref="paper",
                           showarrow=False, font={"size": 15})
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return fig
    for layer in chart.layers:
        if layer.kind == "spans":
            for k, (start, stop) in enumerate(zip(layer.x, layer.x1)):
                fig.add_vrect(x0=start, x1=stop, fillcolor=layer.colour, opacity=0.6, line_width=0, layer="below",
                              name=layer.label, showlegend=k == 0, legendgroup=layer.label)
        else:
            fig.add_trace(_trace(layer))
    for note in chart.notes:
        fig.add_annotation(x=note.x, y=note.y, text=note.text, showarrow=True, arrowhead=2, ax=0, ay=34,
                           bgcolor="rgba(255,255,255,0.9)", bordercolor="#bbb", font={"size": 11})
    fig.update_xaxes(title_text=chart.xlabel, range=list(chart.x_range) if chart.x_range else None)
    y_range = list(chart.y_range) if chart.y_range else None
    fig.update_yaxes(title_text=chart.ylabel, range=y_range, rangemode="tozero" if chart.y_from_zero else "normal",
                     tickformat=",d" if chart.thousands else None)
    return fig


def html_div(chart: Chart, *, div_id: str, include_plotlyjs: bool) -> str:
    """The chart as an HTML ``<div>`` and its script; plotly.js itself inline when ``include_plotlyjs``
    (once per page: later graphs use it), never from a CDN."""
    return plotly_figure(chart).to_html(full_html=False, include_plotlyjs=include_plotlyjs, div_id=div_id,
                                        config={"displaylogo": False, "responsive": True, "scrollZoom": True})


def _trace(layer: Layer) -> go.Scatter:
    """A scatter trace drawing one layer: bars are two points and a gap each, stairs a step line."""
    x, y = layer.x, layer.y
    hover = layer.hover
    if layer.kind == "bars":
        x = _with_gaps(x, x)
        y = _with_gaps(layer.y, layer.y1)
        hover = {name: np.repeat(values, 3) for name, values in hover.items()}
    elif layer.kind == "stairs":
        y = np.append(y, y[-1])
    style: dict = {"name": layer.label, "showlegend": layer.legend, "legendgroup": layer.label, "opacity": layer.alpha}
    if layer.kind == "markers":
        style |= {"mode": "markers",
                  "marker": {"symbol": SYMBOLS[layer.marker], "size": 7 * layer.width, "color": layer.colour,
                             "line": {"width": 1.5, "color": layer.colour}}}
    else:
        line = {"color": layer.colour, "width": layer.width * 1.5, "dash": DASH[layer.dashed],
                "shape": "hv" if layer.kind in ("step", "stairs") else "linear"}
        style |= {"mode": "lines", "line": line, "connectgaps": False}
    if hover:
        names = list(hover)
        fields = "<br>".join(f"{name} %{{customdata[{k}]{'' if name == 'frame' else ':,'}}}"  # frames as Wireshark
                             for k, name in enumerate(names))
        style |= {"customdata": np.column_stack([hover[name] for name in names]),
                  "hovertemplate": f"{layer.label}<br>{fields}<br>t %{{x:.6f}} s<extra></extra>"}
    else:
        style |= {"hovertemplate": f"{layer.label}<br>%{{y:,.4g}}<br>t %{{x:.6f}} s<extra></extra>"}
    return go.Scatter(x=x, y=y, **style)


def _with_gaps(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``first[0], second[0], nan, first[1], second[1], nan, ...``: one line piece per bar."""
    return np.column_stack([first, second, np.full(len(first), np.nan)]).ravel().astype(float)
