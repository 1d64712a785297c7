"""How ``tcpanalyze follow`` shows a reassembled stream: hexdump, escaped text, JSON lines.

Each view walks ``stream.chunks`` (the turns, in capture order) for the chosen directions;
a gap is shown where it was, as ``[N bytes missing]`` (a gap object in JSON lines). The
text views never let a capture's control bytes reach a terminal.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import TextIO

from ..reassembly import Stream

HEXDUMP_WIDTH = 16
# Printable ASCII stays, newline and tab keep their meaning, every other byte is \xNN.
_ESCAPES = {b: f"\\x{b:02x}" for b in range(256) if not 32 <= b < 127 and b not in (9, 10)}
_ESCAPES[ord("\\")] = "\\\\"


def escaped_text(data: bytes) -> str:
    """Bytes as text safe for a terminal: control and non-ASCII bytes as ``\\xNN``, backslash doubled."""
    return data.decode("latin-1").translate(_ESCAPES)


def _turns(stream: Stream, directions: tuple[str, ...]) -> Iterator[tuple[dict, bytes | None]]:
    """(chunk row as a dict, its bytes or None for a gap), in capture order."""
    chunks = stream.chunks
    for row in chunks[chunks["direction"].isin(directions)].to_dict("records"):
        data = None if row["missing"] else stream.direction(row["direction"]).slice(row["offset"], row["length"])
        yield row, data


def _heading(stream: Stream, row: dict) -> str:
    src, dst = stream.endpoints(row["direction"])
    return (f"=== {row['direction']} {src} -> {dst}  offset {row['offset']}, {row['length']} bytes, "
            f"frame {row['first_frame']}")


def write_text(stream: Stream, directions: tuple[str, ...], out: TextIO) -> None:
    """Each turn under a heading naming its direction, its bytes as escaped text."""
    for row, data in _turns(stream, directions):
        if data is None:
            out.write(f"[{row['length']} bytes missing]  ({row['direction']}, offset {row['offset']})\n")
            continue
        text = escaped_text(data)
        out.write(_heading(stream, row) + "\n" + text + ("" if text.endswith("\n") else "\n"))


def write_hexdump(stream: Stream, directions: tuple[str, ...], out: TextIO) -> None:
    """Each turn as hexdump lines (stream offset, 16 bytes in hex, the printable ones as text)."""
    for row, data in _turns(stream, directions):
        if data is None:
            out.write(f"[{row['length']} bytes missing]  ({row['direction']}, offset {row['offset']})\n")
            continue
        out.write(_heading(stream, row) + "\n")
        for start in range(0, len(data), HEXDUMP_WIDTH):
            line = data[start : start + HEXDUMP_WIDTH]
            shown = "".join(chr(b) if 32 <= b < 127 else "." for b in line)
            out.write(f"{row['offset'] + start:08x}  {line.hex(' '):<{3 * HEXDUMP_WIDTH - 1}}  |{shown}|\n")


def write_jsonl(stream: Stream, directions: tuple[str, ...], out: TextIO) -> None:
    """One JSON object per turn: ``type`` data (bytes in base64 ``data``) or gap, with offset and frame."""
    for row, data in _turns(stream, directions):
        record = {"session_id": stream.session_id, "type": "gap" if data is None else "data",
                  "direction": row["direction"], "offset": int(row["offset"]), "length": int(row["length"]),
                  "frame": int(row["first_frame"]), "ts_ns": int(row["ts_ns"])}
        if data is not None:
            record["data"] = base64.b64encode(data).decode("ascii")
        out.write(json.dumps(record) + "\n")
