"""``tcpanalyze sessions``: one row per TCP session, written as sessions end."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError
from ..output import Format
from .app import (CHECKSUMS_OPT, EXIT_CODES, FILES_ARG, FORMAT_OPT, OUTPUT_OPT, analysis_options, app, capture_spec, output_path,
                  report_accounting)
from .filters import HOST_OPT, PORT_OPT, SESSION_FILTER_OPT, SESSION_OPT, TIME_RANGE_OPT, Filters


SESSIONS_HELP = "\n\n".join(" ".join(paragraph.split()) for paragraph in """\
One row per TCP session: endpoints, bytes, flags per direction, RTT, stalls, Zeek state, close.

The two ends are the originator (orig_ columns: the side that opened the connection, as Zeek
decides it) and the responder (resp_). Sessions come in session_id order (order of first
packet), each written once it and every earlier one have ended (--as-they-end: as each ends).

conn_state (Zeek's): S0 SYN seen, no reply; S1 established, not closed; SF normal open and
close; REJ SYN answered by a RST (refused); S2 established, the originator closed, no reply;
S3 established, the responder closed, no reply; RSTO the originator reset; RSTR the
responder reset; RSTOS0 the originator sent a SYN then a RST, no SYN-ACK; RSTRH the
responder sent a SYN-ACK then a RST, no SYN; SH the originator sent a SYN then a FIN, no
SYN-ACK; SHR the responder sent a SYN-ACK then a FIN, no SYN; OTH no SYN seen, mid-stream.

history (Zeek's; upper case from the originator, lower case from the responder): S SYN, H
SYN-ACK, A pure ACK, D data, F FIN, R RST, C bad checksum, G content gap, T retransmission,
W zero window, I inconsistent packet, Q multi-flag packet, ^ direction flipped.

Example: tcpanalyze sessions sample_pcaps/real-rst-abort.pcap --format csv --columns session_id,conn_state,history
""".split("\n\n"))  # rich keeps line breaks: one line per paragraph


@app.command(epilog=EXIT_CODES, help=SESSIONS_HELP)
def sessions(
    files: list[str] = FILES_ARG,
    fmt: Format = FORMAT_OPT,
    output: Optional[Path] = OUTPUT_OPT,
    host: Optional[str] = HOST_OPT,
    port: Optional[int] = PORT_OPT,
    session: Optional[list[int]] = SESSION_OPT,
    time_range: Optional[str] = TIME_RANGE_OPT,
    display_filter: Optional[str] = SESSION_FILTER_OPT,
    columns: Optional[str] = typer.Option(
        None, "--columns", metavar="NAMES",
        help="Only these columns, in this order (comma-separated; the README lists them). "
             "The table then shows them as they are, not its short view."),
    sort: Optional[str] = typer.Option(None, "--sort", metavar="COLUMN",
                                       help="Order the sessions by this column (ascending; ties by session_id). "
                                            "Holds every session until the end, or with --limit only the top N."),
    desc: bool = typer.Option(False, "--desc", help="With --sort: largest first."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, metavar="N",
                                        help="At most N sessions: the first N by --sort, else by session_id."),
    as_they_end: bool = typer.Option(False, "--as-they-end",
                                     help="Write each session as soon as it ends (end order), holding none back (in id order, the "
                                          "sessions waiting for an earlier one go to a temporary file past 32,768)."),
    verify_checksums: bool = CHECKSUMS_OPT,
) -> None:
    """One row per TCP session (the help text is ``SESSIONS_HELP``)."""
    file = capture_spec(files)
    filters = Filters.parse(host, port, session, time_range)
    from ..dfilter import DisplayFilter
    from ..pipeline import iter_sessions, session_columns
    from ..pipeline.id_order import InIdOrder
    from ..output import FrameWriter
    from ..packets import Accounting
    from .progress import ReadProgress
    from .tables import session_table

    chosen = None if columns is None else session_columns(_names(columns))  # checked before reading
    matching = None if display_filter is None else DisplayFilter.for_sessions(display_filter)
    order = None if sort is None else _SortedSessions(session_columns([sort])[0], desc, limit)
    if order is None and desc:
        raise UsageError("--desc orders by --sort COLUMN: give that too")
    accounting = Accounting()
    in_order = None if as_they_end or order is not None else InIdOrder()
    written = 0
    view = None if chosen is not None else lambda frame: session_table(frame, accounting.first_tcp_ts_ns)
    with FrameWriter(fmt, output_path(output), view) as out, \
            ReadProgress() as progress:
        # Written as sessions end (in session_id order: each waits for the earlier ones), chunk by chunk.
        chunks = iter_sessions(file, accounting, options=analysis_options(verify_checksums), progress=progress)
        for chunk in chunks if in_order is None else in_order.reordered(chunks):
            kept = filters.sessions(chunk, accounting.first_tcp_ts_ns)  # filters read their own columns
            if matching is not None:
                kept = kept[matching.mask(kept)]
            if order is not None:
                order.add(kept)
                continue
            if limit is not None:
                kept = kept.head(max(limit - written, 0))
            if len(kept):  # an empty first chunk would fix the table's column widths too narrow
                out.write(kept if chosen is None else kept[chosen])
                written += len(kept)
        if order is not None and len(ranked := order.frame()):
            out.write(ranked if chosen is None else ranked[chosen])
    report_accounting(accounting.as_dict())


class _SortedSessions:
    """Session chunks gathered in one order: all of them, or only the top ``limit`` so far."""

    def __init__(self, column: str, descending: bool, limit: int | None) -> None:
        self.column, self.descending, self.limit = column, descending, limit
        self._chunks: list = []

    def add(self, chunk) -> None:
        if not len(chunk):
            return
        self._chunks.append(chunk)
        if self.limit is not None:  # keep memory at the top N
            self._chunks = [self.frame()]

    def frame(self):
        import pandas as pd

        if not self._chunks:
            return pd.DataFrame()
        frame = pd.concat(self._chunks, ignore_index=True) if len(self._chunks) > 1 else self._chunks[0]
        frame = frame.sort_values([self.column, "session_id"], ascending=[not self.descending, True],
                                  na_position="last", kind="stable", ignore_index=True)
        return frame if self.limit is None else frame.head(self.limit)


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError("--columns: give one or more session column names, separated by commas")
    return names
