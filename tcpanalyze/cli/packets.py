"""``tcpanalyze packets``: TCP packets in file order, with their session and analysis flags."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError
from ..output import Format
from .app import (CHECKSUMS_OPT, EXIT_CODES, FILES_ARG, FORMAT_OPT, OUTPUT_OPT, analysis_options, app, capture_spec, output_path,
                  report_accounting)
from .filters import (
    FILTER_OPT,
    HOST_OPT,
    PORT_OPT,
    SESSION_OPT,
    TIME_RANGE_OPT,
    TSHARK_OPT,
    Filters,
    filter_engine,
    tshark_needs_filter,
)


@app.command(epilog=EXIT_CODES)
def packets(
    files: list[str] = FILES_ARG,
    fmt: Format = FORMAT_OPT,
    output: Optional[Path] = OUTPUT_OPT,
    all_records: bool = typer.Option(False, "--all-records",
                                     help="One row per record (with its class and status), decoded only: no session analysis."),
    host: Optional[str] = HOST_OPT,
    port: Optional[int] = PORT_OPT,
    session: Optional[list[int]] = SESSION_OPT,
    time_range: Optional[str] = TIME_RANGE_OPT,
    display_filter: Optional[str] = FILTER_OPT,
    tshark: bool = TSHARK_OPT,
    raw: bool = typer.Option(False, "--raw", help="Sequence and ACK numbers, SACK edges and the window as on the wire "
                                                  "(default, as Wireshark shows them: relative numbers, scaled window)."),
    columns: Optional[str] = typer.Option(None, "--columns", help="Comma-separated columns to show, whole (table: "
                                                                   "its columns and flag_names, src, dst, options, "
                                                                   "analysis, tunnel; csv/jsonl/parquet: the packets "
                                                                   "table's)."),
    verify_checksums: bool = CHECKSUMS_OPT,
) -> None:
    """TCP packets in file order with their session and Wireshark's analysis flags; accounting on stderr.

    The table fits 120 columns: flags as Wireshark's letters (F S R P A U E C N: SA is SYN+ACK),
    win the calculated window and ws its scale factor, info the analysis flags then options
    (cut with … where a row would run wider; --columns shows any column whole).

    Example: tcpanalyze packets sample_pcaps/real-graceful-close.pcap --format jsonl -o packets.jsonl
    """
    file = capture_spec(files)
    filters = Filters.parse(host, port, session, time_range)
    if all_records and filters.session_ids:
        raise UsageError("--session needs the session analysis; it cannot be used with --all-records")
    if all_records and display_filter is not None:
        raise UsageError("--filter reads the session analysis; it cannot be used with --all-records")
    from ..dfilter import packet_filter

    tshark_needs_filter(display_filter, tshark)
    matching = None if display_filter is None else packet_filter(display_filter, file, filter_engine(tshark))
    from ..pipeline import analyze
    from ..output import FrameWriter
    from ..packets import read_packets
    from .progress import ReadProgress
    from .tables import packet_columns, packet_table

    with ReadProgress() as progress:
        if all_records:
            frame = read_packets(file, all_records=True, progress=progress, verify_checksums=verify_checksums)
            accounting = frame.attrs["accounting"]
        else:
            result = analyze(file, progress=progress, options=analysis_options(verify_checksums))
            frame = result.packets
            accounting = result.accounting.as_dict()
    base_ns = int(frame["ts_ns"].iloc[0]) if len(frame) else None  # time 0 stays the capture's first packet
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    if wanted:
        known = packet_columns(frame) if fmt == "table" else list(frame.columns)
        missing = [c for c in wanted if c not in known]
        if missing:
            raise UsageError(f"--columns: no column {', '.join(missing)} (there are {', '.join(known)})")
    table_view = partial(packet_table, base_ns=base_ns, raw=raw, columns=wanted if fmt == "table" else None)
    selected = filters.packets(frame, base_ns)
    if matching is not None:
        selected = selected[matching.mask(selected, base_ns)]
    with FrameWriter(fmt, output_path(output), table_view) as out:
        out.write(selected[wanted] if wanted and fmt != "table" else selected)
    report_accounting(accounting)
