"""``tcpanalyze sessions``: one row per TCP session, written as sessions end."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..output import Format
from .app import FILE_ARG, FORMAT_OPT, OUTPUT_OPT, app, output_path, report_accounting


@app.command()
def sessions(
    file: str = FILE_ARG,
    fmt: Format = FORMAT_OPT,
    output: Optional[Path] = OUTPUT_OPT,
) -> None:
    """One row per TCP session: endpoints, bytes, flags per direction, RTT, stalls, Zeek state, close.

    Example: tcpanalyze sessions sample_pcaps/real-rst-abort.pcap --format jsonl
    """
    from ..engine.analysis import iter_sessions
    from ..output import FrameWriter
    from ..packets import Accounting
    from .tables import session_table

    accounting = Accounting()
    with FrameWriter(fmt, output_path(output), session_table) as out:
        for chunk in iter_sessions(file, accounting):  # written as sessions end: memory stays bounded
            out.write(chunk)
    report_accounting(accounting.as_dict())
