"""``tcpanalyze export-streams``: every direction of every session to its own file, plus an index.

Files are named as tcpflow names them, sender then receiver, each address and port
zero-padded (``010.077.000.001.44804-010.077.000.002.05101``), after the session id
(``s000003_...``) so that a reused 4-tuple gets a file per session. Their contents are
``follow --format raw``'s: the captured bytes in stream order, gaps left out.
``index.jsonl`` has one line per file: session_id, direction, file, bytes, stream_bytes,
gaps, missing_bytes, conflicts and the sha256 of the file.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import sys
from pathlib import Path

import typer

from .app import FILE_ARG, app, report_accounting
from .follow import POLICY_OPT, Policy

INDEX_NAME = "index.jsonl"


def flow_name(addr: str, port: int) -> str:
    """One end of a flow as tcpflow writes it: ``192.168.001.010.00080``; IPv6 as its full hex groups."""
    if ":" in addr:
        text = ipaddress.IPv6Address(addr).exploded.replace(":", "")
    else:
        text = "{:0>3}.{:0>3}.{:0>3}.{:0>3}".format(*addr.split("."))
    return f"{text}.{port:05d}"


@app.command("export-streams")
def export_streams(
    file: str = FILE_ARG,
    directory: Path = typer.Argument(..., help="Directory for the stream files and index.jsonl (created if missing)."),
    policy: Policy = POLICY_OPT,
) -> None:
    """Write each direction of each TCP session to its own file (like tcpflow) and an index, in one pass.

    Example: tcpanalyze export-streams sample_pcaps/real-many-short-conns.pcap streams/
    """
    from ..errors import UsageError
    from ..packets import Accounting
    from ..reassembly import SessionCollector, build_streams
    from .progress import ReadProgress

    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    accounting = Accounting()
    files = total = with_gaps = with_conflicts = 0
    with open(directory / INDEX_NAME, "w", encoding="utf-8") as index, ReadProgress() as progress:
        for records, segments in SessionCollector(file, accounting, progress=progress):
            for stream in build_streams(records, segments, policy.value):
                for name in ("orig", "resp"):
                    d = stream.direction(name)
                    if not d.length:
                        continue  # this side sent no data
                    ends = [(stream.orig_addr, stream.orig_port), (stream.resp_addr, stream.resp_port)]
                    sender, receiver = ends if name == "orig" else ends[::-1]
                    path = f"s{stream.session_id:06d}_{flow_name(*sender)}-{flow_name(*receiver)}"
                    (directory / path).write_bytes(d.data)
                    index.write(json.dumps({
                        "session_id": stream.session_id, "direction": name, "file": path, "bytes": len(d.data),
                        "stream_bytes": d.length, "gaps": len(d.gaps), "missing_bytes": d.missing_bytes,
                        "conflicts": len(d.conflicts), "sha256": hashlib.sha256(d.data).hexdigest(),
                    }) + "\n")
                    files += 1
                    total += len(d.data)
                    with_gaps += bool(d.gaps)
                    with_conflicts += bool(d.conflicts)
    print(f"{files} stream files, {total} bytes, written to {directory} (index: {directory / INDEX_NAME}); "
          f"{with_gaps} with gaps, {with_conflicts} with overlap conflicts", file=sys.stderr)
    report_accounting(accounting.as_dict())
