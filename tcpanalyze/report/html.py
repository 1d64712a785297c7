"""The report as one self-contained HTML file: inline CSS, interactive Plotly graphs with
plotly.js embedded once, no requests.

The page declares a Content-Security-Policy that allows only its own inline scripts and styles
and ``data:`` images (plotly.js's icons), so even a browser that would fetch something cannot:
the file reads the same offline, attached to a ticket or opened years later.
"""

from __future__ import annotations

from html import escape

from .graphs import Graph
from .layout import Section, Table, sections
from .model import Report

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2327;
       margin: 0 auto; max-width: 1200px; padding: 1.5em 2em 3em; }
h1 { font-size: 1.5em; margin: 0 0 .2em; }
h2 { font-size: 1.15em; border-bottom: 2px solid #d0d7de; padding-bottom: .2em; margin-top: 1.8em; }
.generator { color: #57606a; margin: 0; }
dl { display: grid; grid-template-columns: max-content auto; gap: .15em 1.2em; margin: 0; }
dt { font-weight: 600; }
dd { margin: 0; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #e5e8eb; vertical-align: top; }
th { background: #f4f6f8; font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.critical td:first-child { border-left: 4px solid #cf222e; }
tr.warning td:first-child { border-left: 4px solid #d4a72c; }
tr.info td:first-child { border-left: 4px solid #54aeff; }
.sev { font-weight: 600; }
tr.critical .sev { color: #cf222e; } tr.warning .sev { color: #9a6700; } tr.info .sev { color: #0969da; }
.note, .empty { color: #57606a; }
figure { margin: 1em 0 2em; }
figure .plotly-graph-div { border: 1px solid #e5e8eb; }
figcaption { color: #57606a; }
"""


def html_text(report: Report, graphs: list[Graph]) -> str:
    """The whole report as an HTML document, ``graphs`` embedded after the tables."""
    title = f"tcpanalyze report: {report.capture.file}"
    body = [f"<h1>{escape(title)}</h1>",
            f'<p class="generator">{escape(report.generator)}, report schema {report.schema_version}</p>']
    body += [_section(s) for s in sections(report)]
    if graphs:
        body.append("<h2>Graphs</h2>")
        body.append('<p class="note">Drag to zoom, shift-drag (or the toolbar) to pan, double-click to see '
                    'everything; hover a point for its frame number.</p>')
        body += [_figure(g, n) for n, g in enumerate(graphs)]
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
        "",
    ])


def _section(section: Section) -> str:
    parts = [f"<section><h2>{escape(section.title)}</h2>"]
    if section.facts:
        parts.append("<dl>" + "".join(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>"
                                      for label, value in section.facts) + "</dl>")
    table = section.table
    if table is not None and table.rows:
        head = "".join(f'<th{_num(k in table.right)}>{escape(c)}</th>' for k, c in enumerate(table.columns))
        rows = []
        for i, row in enumerate(table.rows):
            severity = table.severities[i] if table.severities else ""
            cells = "".join(f'<td{_cell_class(table, k)}>{escape(c)}</td>' for k, c in enumerate(row))
            rows.append(f'<tr class="{escape(severity)}">{cells}</tr>' if severity else f"<tr>{cells}</tr>")
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    elif table is not None:
        parts.append(f'<p class="empty">{escape(section.empty)}</p>')
    if section.note:
        parts.append(f'<p class="note">{escape(section.note)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _num(numeric: bool) -> str:
    return ' class="num"' if numeric else ""


def _cell_class(table: Table, k: int) -> str:
    if k in table.right:
        return ' class="num"'
    return ' class="sev"' if table.columns[k] == "severity" else ""


def _figure(graph: Graph, n: int) -> str:
    """The n-th graph (from 0); the first carries plotly.js for all."""
    from ..plot.interactive import html_div

    div = html_div(graph.chart, div_id=f"graph-{n + 1}", include_plotlyjs=n == 0)
    return f"<figure>{div}<figcaption>{escape(graph.title)}</figcaption></figure>"
