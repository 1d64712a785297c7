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
    if type(sources) is list and len(sources) == 1 and type(sources[0]) is str:
        return sources, 1  # a per-session finding's one source: its list is the cell
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


def _capped(values) -> tuple[list[int], int]:
    """The first MAX_LISTED distinct values in ascending order, and how many distinct ones there are."""
    if len(values) <= FEW_ITEMS:  # most findings list a session or two: no numpy round trip
        if type(values) is list and all(type(v) is int for v in values) and all(map(int.__lt__, values, values[1:])):
            return values, len(values)  # already distinct and ascending: the finding's list is the cell
        listed = sorted({int(v) for v in values})
        return listed, len(listed)
    unique = distinct(np.asarray(values, dtype=np.int64))
    return unique[:MAX_LISTED].tolist(), int(unique.size)


def _order(f: Finding) -> tuple:
    """Table order: by start, then kind, then target."""
    return f.start, f.kind, f.target_addr or "", f.target_port or -1


def anomalies_frame(findings: list[Finding]) -> pd.DataFrame:
    """The anomalies table of ``findings``: columns as in ANOMALY_COLUMNS, sorted by start then kind.

    Empties ``findings``, letting each go once tabled (a big capture's findings are not held
    twice); their details dicts and lists may become cells of the table.
    """
    findings.sort(key=_order)
    findings.reverse()  # popped from the end, in table order
    rows = len(findings)
    start, end, source_count = np.empty(rows), np.empty(rows), np.empty(rows, np.int64)
    kind, severity, target_addr, target_port, source_addrs, session_ids, evidence_frames, message, details = (
        [] for _ in range(9))
    for number in range(rows):
        f = findings.pop()
        start[number], end[number] = f.start, f.end
        kind.append(f.kind)
        severity.append(f.severity)
        target_addr.append(f.target_addr if isinstance(f.target_addr, str) else None)
        target_port.append(f.target_port)
        sources, source_count[number] = _top_sources(f.sources)
        source_addrs.append(sources)
        sessions, sessions_total = _capped(f.session_ids)
        session_ids.append(sessions)
        frames, frames_total = _capped(f.evidence_frames)
        evidence_frames.append(frames)
        message.append(f.message)
        totals = {name: total for name, total in (("session_ids_total", sessions_total),
                                                  ("evidence_frames_total", frames_total)) if total > MAX_LISTED}
        # the totals go on a copy: the finding's own dict stays as its detector wrote it
        details.append({**f.details, **totals} if totals else f.details)

    def cells(values: list) -> pd.Series:
        return pd.Series(values, dtype=object)  # as given: no inferred text dtype, no new string per row

    return pd.DataFrame({
        "anomaly_id": np.arange(rows, dtype=np.int64), "kind": cells(kind), "severity": cells(severity),
        "start": start, "end": end, "target_addr": cells(target_addr),
        "target_port": pd.Series(target_port, dtype="Int64"), "source_addrs": cells(source_addrs),
        "source_count": source_count, "session_ids": cells(session_ids), "evidence_frames": cells(evidence_frames),
        "message": cells(message), "details": cells(details)})


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
