"""Writing DataFrames for people and machines: aligned text tables, CSV and JSON lines.

Every writer streams the frame in chunks, so a multi-million-row capture starts printing at
once and never holds the whole text in memory. Text meant for a terminal is stripped of
control characters.
"""

from __future__ import annotations

import enum
import re
from typing import TextIO

import numpy as np
import pandas as pd

CHUNK_ROWS = 50_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

TCP_FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "AE")


class Format(str, enum.Enum):
    table = "table"
    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"


def flag_text(flags: int) -> str:
    """TCP flags as Wireshark lists them, e.g. ``SYN,ACK``."""
    return ",".join(name for bit, name in enumerate(TCP_FLAG_NAMES) if flags >> bit & 1)


def printable(text: str) -> str:
    """Text safe for a terminal: control characters shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def write_frame(frame: pd.DataFrame, out: TextIO, fmt: Format, table: pd.DataFrame | None = None) -> None:
    """Write ``frame`` to ``out`` as CSV or JSON lines, or as an aligned text table.

    ``table`` is the display version of ``frame`` for the text format (defaults to ``frame``).
    Parquet is binary and goes to a file: see :func:`write_parquet`.
    """
    if fmt == Format.jsonl:
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS]
            text = chunk.to_json(orient="records", lines=True, date_format="iso", default_handler=str)
            out.write(text if text.endswith("\n") or not text else text + "\n")
    elif fmt == Format.csv:
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS]
            lists = [c for c in chunk.columns if chunk[c].dtype == object and len(chunk) and isinstance(chunk[c].iloc[0], list)]
            if lists:
                chunk = chunk.assign(**{c: chunk[c].str.join(",") for c in lists})
            chunk.to_csv(out, index=False, header=start == 0, lineterminator="\n")
    else:
        _write_table(frame if table is None else table, out)


def _write_table(frame: pd.DataFrame, out: TextIO) -> None:
    widths: list[int] | None = None
    for start in range(0, max(len(frame), 1), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        cells = {name: chunk[name].astype(str) for name in chunk.columns}
        if widths is None:
            # Widths from the first chunk keep the output streaming; later rows may run wider.
            widths = [max([len(h)] + [len(v) for v in col.head(2000)]) for h, col in cells.items()]
            out.write(_row(list(cells), widths) + "\n")
        columns = [col.map(printable).to_numpy() for col in cells.values()]
        for values in zip(*columns):
            out.write(_row(values, widths) + "\n")


def _row(values, widths: list[int]) -> str:
    return "  ".join(str(v).rjust(w) if _numeric(v) else str(v).ljust(w) for v, w in zip(values, widths)).rstrip()


def _numeric(value: object) -> bool:
    text = str(value)
    return bool(text) and (text.lstrip("-").replace(".", "", 1).isdigit())


def relative_seconds(ts_ns: pd.Series) -> pd.Series:
    """Seconds since the first timestamp, as text with microsecond precision."""
    base = int(ts_ns.iloc[0]) if len(ts_ns) else 0
    return pd.Series(np.char.mod("%.6f", (ts_ns.to_numpy() - base) / 1e9), index=ts_ns.index, dtype=object)


def write_parquet(frame: pd.DataFrame, path: str) -> None:
    """Write ``frame`` as a Parquet file (columns and dtypes kept)."""
    frame.to_parquet(path, index=False)
