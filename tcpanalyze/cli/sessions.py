"""``tcpanalyze sessions``: one row per TCP session, written as sessions end."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..output import Format
from .app import EXIT_CODES, FILE_ARG, FORMAT_OPT, OUTPUT_OPT, app, output_path, report_accounting
from .filters import HOST_OPT, PORT_OPT, SESSION_OPT, TIME_RANGE_OPT, Filters


@app.command(epilog=EXIT_CODES)
def sessions(
    file: str = FILE_ARG,
    fmt: Format = FORMAT_OPT,
    output: Optional[Path] = OUTPUT_OPT,
    host: Optional[str] = HOST_OPT,
    port: Optional[int] = PORT_OPT,
    session: Optional[list[int]] = SESSION_OPT,
    time_range: Optional[str] = TIME_RANGE_OPT,
) -> None:
    """One row per TCP session: endpoints, bytes, flags per direction, RTT, stalls, Zeek state, close.

    Example: tcpanalyze sessions sample_pcaps/real-rst-abort.pcap --format jsonl
    """
    filters = Filters.parse(host, port, session, time_range)
    from ..engine.analysis import iter_sessions
    from ..output import FrameWriter
    from ..packets import Accounting
    from .progress import ReadProgress
    from .tables import session_table

    accounting = Accounting()
    with FrameWriter(fmt, output_path(output), session_table) as out, ReadProgress() as progress:
        # Written as sessions end: memory stays bounded. Each chunk is filtered on its own.
        for chunk in iter_sessions(file, accounting, progress=progress):
            kept = filters.sessions(chunk, accounting.first_tcp_ts_ns)
            if len(kept):  # an empty first chunk would fix the table's column widths too narrow
                out.write(kept)
    report_accounting(accounting.as_dict())
