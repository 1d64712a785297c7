"""``tcpanalyze sessions``: one row per TCP session, written as sessions end."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError
from ..output import Format
from .app import EXIT_CODES, FILES_ARG, FORMAT_OPT, OUTPUT_OPT, app, capture_spec, output_path, report_accounting
from .filters import HOST_OPT, PORT_OPT, SESSION_OPT, TIME_RANGE_OPT, Filters


@app.command(epilog=EXIT_CODES)
def sessions(
    files: list[str] = FILES_ARG,
    fmt: Format = FORMAT_OPT,
    output: Optional[Path] = OUTPUT_OPT,
    host: Optional[str] = HOST_OPT,
    port: Optional[int] = PORT_OPT,
    session: Optional[list[int]] = SESSION_OPT,
    time_range: Optional[str] = TIME_RANGE_OPT,
    columns: Optional[str] = typer.Option(
        None, "--columns", "-c", metavar="NAMES",
        help="Only these columns, in this order (comma-separated; the README lists them). "
             "The table then shows them as they are, not its short view."),
) -> None:
    """One row per TCP session: endpoints, bytes, flags per direction, RTT, stalls, Zeek state, close.

    Example: tcpanalyze sessions sample_pcaps/real-rst-abort.pcap --format csv --columns session_id,conn_state,history
    """
    file = capture_spec(files)
    filters = Filters.parse(host, port, session, time_range)
    from ..pipeline import iter_sessions, session_columns
    from ..output import FrameWriter
    from ..packets import Accounting
    from .progress import ReadProgress
    from .tables import session_table

    chosen = None if columns is None else session_columns(_names(columns))  # checked before reading
    accounting = Accounting()
    with FrameWriter(fmt, output_path(output), session_table if chosen is None else None) as out, \
            ReadProgress() as progress:
        # Written as sessions end: memory stays bounded. Each chunk is filtered on its own.
        for chunk in iter_sessions(file, accounting, progress=progress):
            kept = filters.sessions(chunk, accounting.first_tcp_ts_ns)  # filters read their own columns
            if len(kept):  # an empty first chunk would fix the table's column widths too narrow
                out.write(kept if chosen is None else kept[chosen])
    report_accounting(accounting.as_dict())


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError("--columns: give one or more session column names, separated by commas")
    return names
