"""``tcpanalyze packets``: TCP packets in file order, with their session and analysis flags."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..output import Format
from .app import FILE_ARG, FORMAT_OPT, OUTPUT_OPT, app, output_path, report_accounting


@app.command()
def packets(
    file: str = FILE_ARG,
    fmt: Format = FORMAT_OPT,
    output: Optional[Path] = OUTPUT_OPT,
    all_records: bool = typer.Option(False, "--all-records",
                                     help="One row per record (with its class and status), decoded only: no session analysis."),
) -> None:
    """TCP packets in file order with their session and Wireshark's analysis flags; accounting on stderr.

    Example: tcpanalyze packets sample_pcaps/real-graceful-close.pcap --format jsonl -o packets.jsonl
    """
    from ..engine import analyze
    from ..output import FrameWriter
    from ..packets import read_packets
    from .tables import packet_table

    with FrameWriter(fmt, output_path(output), packet_table) as out:
        if all_records:
            frame = read_packets(file, all_records=True)
            accounting = frame.attrs["accounting"]
        else:
            result = analyze(file)
            frame = result.packets
            accounting = result.accounting.as_dict()
        out.write(frame)
    report_accounting(accounting)
