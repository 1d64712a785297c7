"""``tcpanalyze follow``: the reassembled bytes of one session, as raw bytes, hexdump, text or JSON lines.

Raw output is exactly the captured bytes of one direction in stream order, each byte once;
bytes the capture does not hold (gaps) are left out, never made up, and stderr says how
many were missing and where the other formats show them. Raw bytes never go to a terminal.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError
from .app import EXIT_CODES, FILE_ARG, OUTPUT_OPT, app
from .filters import FILTER_OPT, TSHARK_OPT, chosen_session


class StreamFormat(str, enum.Enum):
    raw = "raw"
    hexdump = "hexdump"
    text = "text"
    jsonl = "jsonl"


class Direction(str, enum.Enum):
    orig = "orig"
    resp = "resp"
    both = "both"


class Policy(str, enum.Enum):
    first = "first"
    last = "last"


SESSION_ARG = typer.Argument(None, help="Session id, as `tcpanalyze sessions` numbers them (like Wireshark's "
                                         "tcp.stream); with -Y, optional: the first session with a matching packet.")
POLICY_OPT = typer.Option(Policy.first, "--policy",
                          help="Bytes sent twice with different contents: keep the first copy seen, or the last.")


@app.command(epilog=EXIT_CODES)
def follow(
    file: str = FILE_ARG,
    session_id: Optional[int] = SESSION_ARG,
    direction: Direction = typer.Option(Direction.both, "--direction", "-d", help="Which side's bytes."),
    fmt: StreamFormat = typer.Option(StreamFormat.text, "--format", "-f",
                                     help="raw: exactly the bytes (one direction, to a file or pipe); hexdump; "
                                          "text (escaped, turns labelled); jsonl (chunks, data in base64)."),
    output: Optional[Path] = OUTPUT_OPT,
    policy: Policy = POLICY_OPT,
    display_filter: Optional[str] = FILTER_OPT,
    tshark: bool = TSHARK_OPT,
) -> None:
    """The bytes of one TCP session in order, each once: gaps marked, differing retransmissions reported.

    The session is chosen by its id, or with -Y by a packet it holds (as Wireshark's Follow TCP
    Stream on a selected packet): the first session with a packet the display filter matches;
    given both, the session must have such a packet. --host, --port, --session and
    --time-range do not apply.

    Example: tcpanalyze follow sample_pcaps/real-graceful-close.pcap 0 --direction orig --format raw -o request.bin
    """
    if fmt == StreamFormat.raw:
        if direction == Direction.both:
            raise UsageError("--format raw writes one direction's bytes: add --direction orig or --direction resp")
        if output is None and sys.stdout.isatty():
            raise UsageError("raw capture bytes are not written to a terminal: give -o FILE, pipe the output, "
                             "or use --format text or hexdump")
    from ..packets import Accounting
    from ..reassembly import SessionCollector, build_streams, unknown_session_message
    from . import stream_views
    from .progress import ReadProgress

    accounting = Accounting()
    stream = None
    with ReadProgress() as progress:
        session_id = chosen_session(file, session_id, display_filter, tshark, progress)
        collector = SessionCollector(file, accounting, {session_id}, progress=progress)
        for records, segments in collector:
            stream = next(build_streams(records, segments, policy.value))
    if stream is None:
        raise UsageError(unknown_session_message(session_id, collector.sessions_seen))
    directions = ("orig", "resp") if direction == Direction.both else (direction.value,)
    for warning in accounting.warnings + stream.warnings(directions):
        print(f"warning: {warning}", file=sys.stderr)

    if fmt == StreamFormat.raw:
        data = stream.direction(direction.value).data
        if output is None:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            output.write_bytes(data)
        return
    writer = {StreamFormat.hexdump: stream_views.write_hexdump, StreamFormat.text: stream_views.write_text,
              StreamFormat.jsonl: stream_views.write_jsonl}[fmt]
    if output is None:
        writer(stream, directions, sys.stdout)
    else:
        with open(output, "w", encoding="utf-8") as out:
            writer(stream, directions, out)
