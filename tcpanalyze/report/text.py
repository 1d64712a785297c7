"""The report as rich text tables; colour only when the output is a terminal."""

from __future__ import annotations

import io
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from ..output import printable
from .layout import Section, sections
from .model import Report

SEVERITY_STYLES = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
# Width when writing to a file or pipe: tables never wrap there (one line per row, easy to grep).
FILE_WIDTH = 10_000


def write_text(report: Report, out: TextIO) -> None:
    """Write the report to ``out``: coloured to the terminal's width on a terminal, else plain
    text without trailing blanks. Every string goes in as ``Text``: an IPv6 endpoint such as
    ``[fd77::2]:80`` must not be read as rich markup."""
    if out.isatty():
        _print(report, Console(file=out, force_terminal=True, highlight=False))
        return
    buffer = io.StringIO()
    _print(report, Console(file=buffer, width=FILE_WIDTH, no_color=True, highlight=False))
    out.write("\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n")


def _print(report: Report, console: Console) -> None:
    console.print(Text(f"tcpanalyze report: {printable(report.capture.file)}", style="bold"))
    for section in sections(report):
        console.print()
        _section(console, section)


def _section(console: Console, section: Section) -> None:
    console.print(Text(section.title, style="bold underline"))
    if section.facts:
        width = max(len(label) for label, _ in section.facts) + 1
        for label, value in section.facts:
            console.print(Text.assemble((f"{label + ':':<{width}}", "bold"), "  ", printable(value)))
    table = section.table
    if table is not None and table.rows:
        rich_table = RichTable(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for k, column in enumerate(table.columns):
            rich_table.add_column(Text(column), justify="right" if k in table.right else "left", overflow="fold")
        for k, row in enumerate(table.rows):
            style = SEVERITY_STYLES.get(table.severities[k]) if table.severities else None
            rich_table.add_row(*(Text(printable(cell)) for cell in row), style=style)
        console.print(rich_table)
    elif table is not None:
        console.print(Text(section.empty))
    if section.note:
        console.print(Text(section.note, style="dim"))
