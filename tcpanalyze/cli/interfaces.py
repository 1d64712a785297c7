"""``tcpanalyze interfaces``: what ``tcpanalyze live -i`` can capture on."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..output import Format
from .app import EXIT_CODES, FORMAT_OPT, OUTPUT_OPT, app, output_path


@app.command(epilog=EXIT_CODES)
def interfaces(
    fmt: Format = FORMAT_OPT,
    output: Optional[Path] = OUTPUT_OPT,
) -> None:
    """The interfaces dumpcap can capture on: index, name, description, addresses, loopback.

    Example: tcpanalyze interfaces --format jsonl
    """
    import pandas as pd

    from ..capture.live import list_interfaces
    from ..output import FrameWriter

    found = list_interfaces()
    frame = pd.DataFrame({
        "index": [i.index for i in found],
        "name": [i.name for i in found],
        "description": [i.description for i in found],
        "addresses": [list(i.addresses) for i in found],
        "loopback": [i.loopback for i in found],
    })
    with FrameWriter(fmt, output_path(output), _interface_table) as out:
        out.write(frame)


def _interface_table(frame):
    """The human view: addresses comma-joined."""
    return frame.assign(addresses=frame["addresses"].str.join(","))
