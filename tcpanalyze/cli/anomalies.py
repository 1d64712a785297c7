"""``tcpanalyze anomalies``: floods, scans, resets, stalls, backlog overflow found in a capture."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import typer

from ..errors import UsageError
from ..output import Format
from .app import (
    CHECKSUMS_OPT,
    EXIT_CODES,
    FILES_ARG,
    FORMAT_OPT,
    OUTPUT_OPT,
    SCHEDULER_OPT,
    WORKERS_OPT,
    analysis_options,
    app,
    capture_spec,
    output_path,
    report_accounting,
)
from .filters import HOST_OPT, PORT_OPT, SESSION_OPT, TIME_RANGE_OPT, Filters


def parse_sets(pairs: list[str]) -> dict[str, str]:
    """``["syn_flood.min_rate_per_s=50", ...]`` as a dict; a pair without ``=`` is a UsageError."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {pair!r}: expected SECTION.KEY=VALUE, e.g. syn_flood.min_rate_per_s=50")
        out[key.strip()] = value.strip()
    return out


@app.command(epilog=EXIT_CODES)
def anomalies(
    files: list[str] = FILES_ARG,
    fmt: Format = FORMAT_OPT,
    output: Path | None = OUTPUT_OPT,
    config: Path | None = typer.Option(None, "--config",
                                       help="TOML file of thresholds: \\[syn_flood] min_rate_per_s = 50 ..."),
    sets: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                   help="Override one threshold, e.g. --set port_scan.min_ports=10 (repeatable)."),
    no_packets: bool = typer.Option(False, "--no-packets",
                                    help="Detect from the sessions alone (less memory, less evidence)."),
    host: str | None = HOST_OPT,
    port: int | None = PORT_OPT,
    session: list[int] | None = SESSION_OPT,
    time_range: str | None = TIME_RANGE_OPT,
    workers: int = WORKERS_OPT,
    verify_checksums: bool = CHECKSUMS_OPT,
    scheduler: str | None = SCHEDULER_OPT,
) -> None:
    """Anomalies across sessions: SYN floods, backscatter, scans, RST teardowns and storms, backlog overflow,
    zero-window stalls, retransmission storms, failed handshakes, idle exhaustion, RST injection.

    Thresholds and what each detector means: docs/anomalies.md.

    Detection always sees the whole capture; the filters then keep the anomalies whose time
    window overlaps --time-range and one of whose sessions (or whose target) matches --host,
    --port, --session.

    Example: tcpanalyze anomalies sample_pcaps/anomaly-scans.pcap --format jsonl --set port_scan.min_ports=10
    """
    file = capture_spec(files)
    filters = Filters.parse(host, port, session, time_range)
    from ..detect import DETECTOR_COLUMNS, DetectConfig, flat_anomalies
    from ..output import FrameWriter
    from ..pipeline import analyze, cluster_client
    from .progress import ReadProgress

    cfg = DetectConfig.from_toml(str(config)) if config is not None else DetectConfig()
    cfg = cfg.with_overrides(parse_sets(sets))  # bad thresholds fail before the capture is read
    with cluster_client(scheduler) as client, ReadProgress() as progress:
        result = analyze(file, packets=False, evidence=not no_packets, columns=DETECTOR_COLUMNS, progress=progress,
                         workers=workers, client=client, options=analysis_options(verify_checksums))
    found = result.drop_evidence_packets(cfg).anomalies  # the evidence goes before the findings are made
    found = filters.anomalies(found, result.sessions, result.accounting.first_tcp_ts_ns)
    if fmt in (Format.csv, Format.parquet):
        found = flat_anomalies(found, lists=fmt == Format.csv)
    view = partial(anomaly_table, day0_ns=result.accounting.first_tcp_ts_ns)
    with FrameWriter(fmt, output_path(output), view) as out:
        out.write(found)
    report_accounting(result.accounting.as_dict())
    if found.empty and fmt == Format.table:
        print("no anomalies with these thresholds" + (" and filters" if filters.active else ""), file=sys.stderr)
    if file == "-" and not no_packets:
        print("note: overlap conflicts (injection) need the capture as a file: not checked on standard input",
              file=sys.stderr)


def anomaly_table(frame, day0_ns: int | None = None):
    """The human view of anomalies: short columns, the sentence last (``start_utc`` as
    ``tables.utc_text`` writes it)."""
    import pandas as pd

    from ..detect.text import endpoint
    from .tables import utc_text

    target = [endpoint(a, None if pd.isna(p) else int(p)) for a, p in zip(frame["target_addr"], frame["target_port"])]
    return pd.DataFrame({
        "id": frame["anomaly_id"],
        "start_utc": utc_text(frame["start"], day0_ns),
        "dur_s": (frame["end"] - frame["start"]).map("{:.3f}".format),
        "kind": frame["kind"],
        "severity": frame["severity"],
        "target": target,
        "sources": frame["source_count"],
        "sessions": [d.get("session_ids_total", len(ids)) for ids, d in zip(frame["session_ids"], frame["details"])],
        "message": frame["message"],
    })
