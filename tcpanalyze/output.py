"""Writing DataFrames for people and machines: aligned text tables, CSV and JSON lines.

Every writer streams the frame in chunks, so a multi-million-row capture starts printing at
once and never holds the whole text in memory. Text meant for a terminal is stripped of
control characters.
"""

from __future__ import annotations

import enum
import re
import sys
from typing import TextIO

import numpy as np
import pandas as pd

from .errors import TcpanalyzeError, UsageError

# Rows formatted at a time: bounds the memory the text of a chunk takes.
CHUNK_ROWS = 10_000
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


class FrameWriter:
    """Writes DataFrame chunks, one after another, as one table, CSV, JSON-lines or Parquet output.

    >>> with FrameWriter(Format.csv, None) as out:      # None: stdout
    ...     for chunk in chunks:
    ...         out.write(chunk)
    """

    def __init__(self, fmt: Format, path: str | None, table_view=None) -> None:
        if fmt == Format.parquet and path in (None, "-"):
            raise UsageError("--format parquet writes a binary file: give it a path with -o")
        self.fmt = fmt
        self._table_view = table_view
        self._path = path
        self._csv_header = True
        self._widths: list[int] | None = None
        self._parquet = None
        self._out: TextIO = sys.stdout
        self._own = False
        if fmt != Format.parquet and path not in (None, "-"):
            try:
                self._out = open(path, "w", encoding="utf-8", newline="")
            except OSError as exc:
                raise TcpanalyzeError(f"{path}: cannot write: {exc.strerror}") from None
            self._own = True

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == Format.parquet:
            self._write_parquet(frame)
        elif self.fmt == Format.jsonl:
            for start in range(0, len(frame), CHUNK_ROWS):
                text = frame.iloc[start : start + CHUNK_ROWS].to_json(orient="records", lines=True, date_format="iso",
                                                                      date_unit="ns", default_handler=str)
                self._out.write(text if text.endswith("\n") or not text else text + "\n")
        elif self.fmt == Format.csv:
            self._write_csv(frame)
        else:
            self._write_table(self._table_view(frame) if self._table_view else frame)

    def write_line(self, text: str) -> None:
        """One line of text of the caller's own (e.g. a JSON event between frames), flushed at once."""
        self._out.write(text + "\n")
        self._out.flush()

    def flush(self) -> None:
        self._out.flush()

    def _write_csv(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        # pyarrow's C++ writer: several times faster than pandas on million-row frames. It
        # writes categoricals (pyarrow dictionaries) as their values. The text goes to the system
        # allocator, not pyarrow's default pool, which keeps freed memory.
        pool = pa.system_memory_pool()
        frame = _flatten_lists(frame)
        binary = getattr(self._out, "buffer", None)
        for start in range(0, len(frame), CHUNK_ROWS):
            table = pa.Table.from_pandas(frame.iloc[start : start + CHUNK_ROWS], preserve_index=False)
            sink = pa.BufferOutputStream(memory_pool=pool)
            pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=self._csv_header, quoting_style="needed"),
                             memory_pool=pool)
            if binary is None:
                self._out.write(sink.getvalue().to_pybytes().decode("utf-8"))
            else:  # the bytes as they are, no round trip through str
                self._out.flush()  # after anything written as text before
                binary.write(sink.getvalue())
            self._csv_header = False

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._parquet is None:
            self._schema = _wide_dictionaries(table.schema)
            self._parquet = pq.ParquetWriter(self._path, self._schema)
        self._parquet.write_table(table.cast(self._schema))

    def _write_table(self, frame: pd.DataFrame) -> None:
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS]
            cells = {name: chunk[name].astype(str) for name in chunk.columns}
            if self._widths is None:
                # Widths from the first rows keep the output streaming; later rows may run wider.
                self._widths = [max([len(h)] + [len(v) for v in col.head(2000)]) for h, col in cells.items()]
                self._out.write(_row(list(cells), self._widths) + "\n")
            columns = [col.map(printable).to_numpy() for col in cells.values()]
            for values in zip(*columns):
                self._out.write(_row(values, self._widths) + "\n")

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._own:
            self._out.close()
        else:
            self._out.flush()

    def __enter__(self) -> "FrameWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _wide_dictionaries(schema):
    """``schema`` with every dictionary (categorical) column indexed by int32: a later chunk may
    have more categories than the first one's index type holds."""
    import pyarrow as pa

    fields = [f.with_type(pa.dictionary(pa.int32(), f.type.value_type)) if pa.types.is_dictionary(f.type) else f
              for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


def _flatten_lists(chunk: pd.DataFrame) -> pd.DataFrame:
    """List columns (e.g. the analysis flags) as comma-joined text, for CSV."""
    lists = [c for c in chunk.columns if chunk[c].dtype == object and len(chunk) and isinstance(chunk[c].iloc[0], list)]
    return chunk.assign(**{c: chunk[c].str.join(",") for c in lists}) if lists else chunk


def _row(values, widths: list[int]) -> str:
    return "  ".join(str(v).rjust(w) if _numeric(v) else str(v).ljust(w) for v, w in zip(values, widths)).rstrip()


def _numeric(value: object) -> bool:
    text = str(value)
    return bool(text) and (text.lstrip("-").replace(".", "", 1).isdigit())


def relative_seconds(ts_ns: pd.Series, base_ns: int | None = None) -> pd.Series:
    """Seconds since ``base_ns`` (default: the first timestamp), as text with microsecond precision."""
    if base_ns is None:
        base_ns = int(ts_ns.iloc[0]) if len(ts_ns) else 0
    return pd.Series(np.char.mod("%.6f", (ts_ns.to_numpy() - base_ns) / 1e9), index=ts_ns.index, dtype=object)
