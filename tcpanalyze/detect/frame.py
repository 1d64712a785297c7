"""The anomalies table: its columns, and ``Finding``, what a detector reports before it is a row.

Lists in a row are capped: ``source_addrs`` holds the top ``MAX_SOURCES`` sources by count,
ties in order of first appearance (``source_count`` is the full number), ``session_ids`` and ``evidence_frames`` the first
``MAX_LISTED`` in order (``details["session_ids_total"]`` / ``details["evidence_frames_total"]`` say
how many there were when a list was cut).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .inputs import distinct

MAX_SOURCES = 10
MAX_LISTED = 1000
FEW_ITEMS = 64  # sources or ids up to this many are counted and sorted in plain Python

SEVERITIES = ("info", "warning", "critical")

# name, dtype, meaning
ANOMALY_COLUMNS: list[tuple[str, str, str]] = [
    ("anomaly_id", "int64", "0.. in table order"),
    ("kind", "object", ("detector name: syn_flood, backscatter, port_scan, address_sweep, rst_teardown, "
                        "rst_storm, backlog_overflow, zero_window_stall, retransmission_storm, handshake_failures, "
                        "idle_exhaustion, injection")),
    ("severity", "object", "info, warning or critical"),
    ("start", "float64", "first event of the anomaly, epoch seconds"),
    ("end", "float64", "last event of the anomaly, epoch seconds"),
    ("target_addr", "object", "the host the anomaly is about (None when there is none)"),
    ("target_port", "Int64", "its port (missing when the anomaly is about a host, not a port)"),
    ("source_addrs", "object", f"list of the top {MAX_SOURCES} source addresses by count"),
    ("source_count", "int64", "number of distinct source addresses"),
    ("session_ids", "object", f"list of the sessions involved (first {MAX_LISTED})"),
    ("evidence_frames", "object", f"list of frame numbers that show it (first {MAX_LISTED})"),
    ("message", "object", "one plain-language sentence with the numbers"),
    ("details", "object", "dict of kind-specific numbers"),
]
COLUMN_NAMES = [name for name, _, _ in ANOMALY_COLUMNS]


@dataclass(slots=True)  # tens of thousands on a big capture: no __dict__ each
class Finding:
    """One anomaly as a detector found it; lists are full here and capped when tabled."""

    kind: str
    severity: str
    start: float
    end: float
    target_addr: str | None
    target_port: int | None
    message: str
    sources: np.ndarray | list = field(default_factory=list)  # one address per event (counted for the top list)
    session_ids: np.ndarray | list = field(default_factory=list)
    evidence_frames: np.ndarray | list = field(default_factory=list)
    details: dict = field(default_factory=dict)


def _top_sources(sources) -> tuple[list[str], int]:
    """The MAX_SOURCES most frequent addresses (ties: first seen first) and how many distinct ones."""
    if len(sources) <= FEW_ITEMS:  # most findings name a source or two: no numpy round trip
        counts: dict = {}
        for source in sources:
            counts[source] = counts.get(source, 0) + 1
        top = sorted(counts, key=lambda a: -counts[a])  # stable: ties stay in first-seen order
        return [str(a) for a in top[:MAX_SOURCES]], len(counts)
    codes, uniques = pd.factorize(np.asarray(sources, dtype=object))
    if uniques.size == 0:
        return [], 0
    counts = np.bincount(codes)
    top = np.lexsort((np.arange(counts.size), -counts))[:MAX_SOURCES]
    return [str(uniques[k]) for k in top], int(uniques.size)


def _capped(values, name: str, details: dict) -> list[int]:
    if len(values) <= FEW_ITEMS:  # most findings list a session or two: no numpy round trip
        return sorted({int(v) for v in values})
    unique = distinct(np.asarray(values, dtype=np.int64))
    if unique.size > MAX_LISTED:
        details[name] = int(unique.size)
    return unique[:MAX_LISTED].tolist()


def anomalies_frame(findings: list[Finding]) -> pd.DataFrame:
    """The anomalies table of ``findings``: columns as in ANOMALY_COLUMNS, sorted by start then kind."""
    findings = sorted(findings, key=lambda f: (f.start, f.kind, f.target_addr or "", f.target_port or -1))
    rows = []
    for number, f in enumerate(findings):
        details = dict(f.details)
        sources, source_count = _top_sources(f.sources)
        rows.append({
            "anomaly_id": number, "kind": f.kind, "severity": f.severity, "start": float(f.start),
            "end": float(f.end), "target_addr": f.target_addr,
            "target_port": f.target_port, "source_addrs": sources, "source_count": source_count,
            "session_ids": _capped(f.session_ids, "session_ids_total", details),
            "evidence_frames": _capped(f.evidence_frames, "evidence_frames_total", details),
            "message": f.message, "details": details,
        })
    frame = pd.DataFrame(rows, columns=COLUMN_NAMES)
    frame = frame.astype({"anomaly_id": "int64", "kind": object, "severity": object, "start": "float64",
                          "end": "float64", "target_addr": object, "target_port": "Int64", "source_count": "int64",
                          "message": object})
    # None, not NaN, where there is no target address (astype turns None into NaN)
    frame["target_addr"] = pd.Series([a if isinstance(a, str) else None for a in frame["target_addr"]],
                                     index=frame.index, dtype=object)
    return frame


def flat_anomalies(frame: pd.DataFrame, *, lists: bool = True) -> pd.DataFrame:
    """The table with ``details`` as JSON text and (``lists=True``, for CSV) its lists as
    space-separated text; Parquet keeps the lists as lists."""
    import json

    def joined(values: list) -> str:
        return " ".join(str(v) for v in values)

    flat = frame.assign(details=frame["details"].map(lambda d: json.dumps(d, sort_keys=True)))
    if lists:
        flat = flat.assign(**{c: frame[c].map(joined) for c in ("source_addrs", "session_ids", "evidence_frames")})
    return flat
