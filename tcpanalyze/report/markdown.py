"""The report as GitHub-flavoured markdown: a heading per section, facts as a list, pipe tables."""

from __future__ import annotations

from .layout import Section, Table, sections
from .model import Report


def markdown_text(report: Report) -> str:
    """The whole report as one markdown document."""
    parts = [f"# tcpanalyze report: {_cell(report.capture.file)}", ""]
    for section in sections(report):
        parts += _section(section)
    parts.append(f"_{report.generator}, report schema {report.schema_version}_")
    return "\n".join(parts) + "\n"


def _section(section: Section) -> list[str]:
    lines = [f"## {section.title}", ""]
    if section.facts:
        lines += [f"- **{label}:** {_cell(value)}" for label, value in section.facts]
        lines.append("")
    if section.table is not None:
        lines += (_table(section.table) if section.table.rows else [section.empty]) + [""]
    if section.note:
        lines += [f"_{_cell(section.note)}_", ""]
    return lines


def _table(table: Table) -> list[str]:
    rule = ["---:" if k in table.right else "---" for k in range(len(table.columns))]
    return [_row(table.columns), _row(rule)] + [_row([_cell(c) for c in row]) for row in table.rows]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell(text: str) -> str:
    """Text that cannot break a table row or start markup: pipes, backslashes, newlines escaped."""
    out = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for ch in "*`<>":
        out = out.replace(ch, "\\" + ch)
    return out
