"""``tcpanalyze export-streams``: every direction of every session to its own file, plus an index.

Files are named as tcpflow names them, sender then receiver, each address and port
zero-padded (``010.077.000.001.44804-010.077.000.002.05101``), after the session id
(``s000003_...``) so that a reused 4-tuple gets a file per session. Their contents are
``follow --format raw``'s: the captured bytes in stream order, gaps left out.
The index (``index.jsonl``, or ``index.csv`` with ``--format csv``) has one row per file:
session_id, direction, file, bytes, stream_bytes, gaps, missing_bytes, conflicts and the
sha256 of the file.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import ipaddress
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional, TextIO

import typer

from ..errors import TcpanalyzeError, UsageError
from .app import EXIT_CODES, FILE_ARG, app, report_accounting
from .filters import (
    FILTER_OPT,
    HOST_OPT,
    PORT_OPT,
    SESSION_OPT,
    TIME_RANGE_OPT,
    TSHARK_OPT,
    Filters,
    matching_sessions,
    tshark_needs_filter,
)
from .follow import POLICY_OPT, Policy

INDEX_FIELDS = ("session_id", "direction", "file", "bytes", "stream_bytes", "gaps", "missing_bytes", "conflicts",
                "sha256")


class IndexFormat(str, enum.Enum):
    jsonl = "jsonl"
    csv = "csv"


def flow_name(addr: str, port: int) -> str:
    """One end of a flow as tcpflow writes it: ``192.168.001.010.00080``; IPv6 as its full hex groups."""
    if ":" in addr:
        text = ipaddress.IPv6Address(addr).exploded.replace(":", "")
    else:
        text = "{:0>3}.{:0>3}.{:0>3}.{:0>3}".format(*addr.split("."))
    return f"{text}.{port:05d}"


@app.command("export-streams", epilog=EXIT_CODES)
def export_streams(
    file: str = FILE_ARG,
    directory: Path = typer.Argument(..., help="Directory for the stream files and the index (created if missing)."),
    policy: Policy = POLICY_OPT,
    fmt: IndexFormat = typer.Option(IndexFormat.jsonl, "--format", "-f", help="The index: JSON lines or CSV."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Write the index here (- for stdout) instead of DIRECTORY/index.jsonl (.csv)."),
    host: Optional[str] = HOST_OPT,
    port: Optional[int] = PORT_OPT,
    session: Optional[list[int]] = SESSION_OPT,
    time_range: Optional[str] = TIME_RANGE_OPT,
    display_filter: Optional[str] = FILTER_OPT,
    tshark: bool = TSHARK_OPT,
) -> None:
    """Write each direction of each TCP session to its own file (like tcpflow) and an index, in one pass.

    With filters, only the sessions that pass them are written (with -Y, the sessions with a
    packet the display filter matches: a first pass finds them).

    Example: tcpanalyze export-streams sample_pcaps/real-many-short-conns.pcap streams/ --port 5108
    """
    filters = Filters.parse(host, port, session, time_range)
    from ..packets import Accounting
    from ..reassembly import SessionCollector, build_streams
    from .progress import ReadProgress

    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    index_path = output if output is not None else directory / f"index.{fmt.value}"
    accounting = Accounting()
    files = total = with_gaps = with_conflicts = 0
    with _index_writer(index_path, fmt) as write_row, ReadProgress() as progress:
        wanted = _wanted_sessions(file, filters, display_filter, tshark, progress)  # only their payload is kept
        for records, segments in SessionCollector(file, accounting, wanted, progress=progress):
            records = filters.sessions(records, accounting.first_tcp_ts_ns)
            for stream in build_streams(records, segments, policy.value):
                for name in ("orig", "resp"):
                    d = stream.direction(name)
                    if not d.length:
                        continue  # this side sent no data
                    ends = [(stream.orig_addr, stream.orig_port), (stream.resp_addr, stream.resp_port)]
                    sender, receiver = ends if name == "orig" else ends[::-1]
                    path = f"s{stream.session_id:06d}_{flow_name(*sender)}-{flow_name(*receiver)}"
                    (directory / path).write_bytes(d.data)
                    write_row({
                        "session_id": stream.session_id, "direction": name, "file": path, "bytes": len(d.data),
                        "stream_bytes": d.length, "gaps": len(d.gaps), "missing_bytes": d.missing_bytes,
                        "conflicts": len(d.conflicts), "sha256": hashlib.sha256(d.data).hexdigest(),
                    })
                    files += 1
                    total += len(d.data)
                    with_gaps += bool(d.gaps)
                    with_conflicts += bool(d.conflicts)
    where = "stdout" if str(index_path) == "-" else index_path
    print(f"{files} stream files, {total} bytes, written to {directory} (index: {where}); "
          f"{with_gaps} with gaps, {with_conflicts} with overlap conflicts", file=sys.stderr)
    report_accounting(accounting.as_dict())


def _wanted_sessions(file: str, filters: Filters, display_filter: Optional[str], tshark: bool,
                     progress) -> set[int] | None:
    """The session ids ``--session`` and ``-Y`` allow (None: every session)."""
    wanted = set(filters.session_ids) or None
    tshark_needs_filter(display_filter, tshark)
    if display_filter is None:
        return wanted
    matching = set(matching_sessions(file, display_filter, tshark, progress).sessions["session_id"].tolist())
    return matching if wanted is None else wanted & matching


@contextmanager
def _index_writer(path: Path, fmt: IndexFormat) -> Iterator:
    """A function writing one index row (a dict of ``INDEX_FIELDS``) to ``path`` (``-``: stdout)."""
    if str(path) == "-":
        yield _row_writer(sys.stdout, fmt)
        sys.stdout.flush()
        return
    try:
        handle = open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise TcpanalyzeError(f"{path}: cannot write: {exc.strerror}") from None
    with handle:
        yield _row_writer(handle, fmt)


def _row_writer(out: TextIO, fmt: IndexFormat):
    if fmt == IndexFormat.jsonl:
        return lambda row: out.write(json.dumps(row) + "\n")
    writer = csv.DictWriter(out, INDEX_FIELDS, lineterminator="\n")
    writer.writeheader()
    return writer.writerow
