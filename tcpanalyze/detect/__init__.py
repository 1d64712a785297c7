"""Anomaly detection across sessions: floods, backscatter, scans, resets, stalls, backlog overflow,
injection.

>>> from tcpanalyze.detect import DetectConfig, detect_anomalies
>>> anomalies = detect_anomalies(result.sessions, result.detector_packets)          # defaults
>>> anomalies = detect_anomalies(result.sessions, None, DetectConfig.from_toml("thresholds.toml"))

Detectors work from the sessions frame alone; given packets too (the packets table, or the
evidence ``analyze(path, packets=False)`` keeps: ``Analysis.detector_packets``) they add
per-packet evidence (RST times, capture copies, zero-window probes, evidence frames). One module
per detector family; ``DETECTORS`` maps each kind, in report order, to its function. The rules
and thresholds are documented in docs/anomalies.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import malloc
from .backlog import detect_backlog_overflow
from .backscatter import detect_backscatter
from .config import DetectConfig
from .floods import detect_syn_flood
from .frame import (
    ANOMALY_COLUMNS,
    MAX_LISTED,
    MAX_SOURCES,
    Finding,
    anomalies_frame,
    flat_anomalies,
)
from .handshakes import detect_handshake_failures
from .idle import detect_idle_exhaustion
from .injection import detect_injection
from .inputs import DETECTOR_COLUMNS, Inputs
from .resets import detect_rst_storm, detect_rst_teardown
from .retransmissions import detect_retransmission_storm
from .scans import detect_address_sweep, detect_port_scan
from .stalls import detect_zero_window_stall

__all__ = [
    "ANOMALY_COLUMNS",
    "DETECTORS",
    "DETECTOR_COLUMNS",
    "MAX_LISTED",
    "MAX_SOURCES",
    "DetectConfig",
    "Detection",
    "detect",
    "detect_anomalies",
    "detection_of",
    "flat_anomalies",
    "run_detectors",
    "session_anomaly_kinds",
]

DETECTORS: dict[str, Callable[[Inputs, object], Iterable[Finding]]] = {
    "syn_flood": detect_syn_flood,
    "backscatter": detect_backscatter,
    "port_scan": detect_port_scan,
    "address_sweep": detect_address_sweep,
    "rst_teardown": detect_rst_teardown,
    "rst_storm": detect_rst_storm,
    "backlog_overflow": detect_backlog_overflow,
    "zero_window_stall": detect_zero_window_stall,
    "retransmission_storm": detect_retransmission_storm,
    "handshake_failures": detect_handshake_failures,
    "idle_exhaustion": detect_idle_exhaustion,
    "injection": detect_injection,
}


@dataclass
class Detection:
    """The anomalies table, and the full list of sessions each anomaly involves (by kind)."""

    anomalies: pd.DataFrame
    members: list[tuple[str, np.ndarray]]  # (kind, session ids), one per anomaly, untruncated


def detect(sessions: pd.DataFrame, packets: pd.DataFrame | None = None, config: DetectConfig | None = None,
           path: str | None = None) -> Detection:
    """Run every enabled detector; the table plus which sessions each anomaly involves (untruncated).

    ``path``, the capture file, lets the injection detector compare retransmitted payload bytes.
    """
    return detection_of(run_detectors(sessions, packets, config, path))


def run_detectors(sessions: pd.DataFrame, packets: pd.DataFrame | None = None, config: DetectConfig | None = None,
                  path: str | None = None) -> list[Iterable[Finding]]:
    """Every enabled detector's findings (``detect``'s arguments): lists, or iterators that make
    one finding per session as they are read from the few columns those need, holding neither
    ``sessions`` nor ``packets``: a caller can let the packets go before ``detection_of`` makes
    them (``Analysis.drop_evidence_packets``)."""
    config = config or DetectConfig()
    inp = Inputs(sessions, packets, path)
    found: list[Iterable[Finding]] = []
    if inp.n:
        for kind, run in DETECTORS.items():
            cfg = getattr(config, kind)
            if cfg.enabled:
                found.append(run(inp, cfg))
                malloc.trim()  # its freed temporaries back to the system: the next detector starts from what is live
    return found


def detection_of(found: list[Iterable[Finding]]) -> Detection:
    """The anomalies table and members of ``run_detectors``' findings (emptying ``found``)."""
    findings = _absorb([finding for each in found for finding in each])
    found.clear()
    members = [(f.kind, np.asarray(f.session_ids, dtype=np.int64)) for f in findings]
    detection = Detection(anomalies_frame(findings), members)  # empties findings as it tables them
    malloc.trim()  # what the working arrays and the findings held, back to the system
    return detection


def detect_anomalies(sessions: pd.DataFrame, packets: pd.DataFrame | None = None,
                     config: DetectConfig | None = None, path: str | None = None) -> pd.DataFrame:
    """The anomalies table (columns as in ``ANOMALY_COLUMNS``), sorted by start then kind.

    Give ``path`` (the capture file the packets came from) to find overlap conflicts too.

    >>> analysis = tcpanalyze.analyze("capture.pcap")
    >>> detect_anomalies(analysis.sessions, analysis.packets, path="capture.pcap")[["kind", "start"]]
    """
    return detect(sessions, packets, config, path).anomalies


def session_anomaly_kinds(sessions: pd.DataFrame, detection: Detection) -> pd.Series:
    """The ``anomalies`` column for ``sessions``: the kinds each session takes part in, sorted."""
    ids = [ids for _, ids in detection.members]
    pairs = pd.DataFrame({"session_id": np.concatenate(ids) if ids else np.empty(0, np.int64),
                          "kind": np.repeat([kind for kind, _ in detection.members], [len(i) for i in ids])})
    kinds = pairs.drop_duplicates().sort_values("kind").groupby("session_id")["kind"].agg(list)
    column = sessions["session_id"].map(kinds)
    return column.map(lambda v: v if isinstance(v, list) else [])


def _same_service(effect: Finding, cause: Finding) -> bool:
    """A SYN flood's half-open attempts are its own evidence, not also handshake failures."""
    return (effect.target_addr, effect.target_port) == (cause.target_addr, cause.target_port)


# Share of an RST storm's sessions that must be a scan's probes (or backscatter replies) for the
# storm to be the scan's refusals: all of them in a scan, a handful if a server resets its clients.
MOSTLY = 0.8


def _mostly_its_sessions(effect: Finding, cause: Finding) -> bool:
    """A scan's refusals (and the RSTs of backscatter) are the scan, not also an RST storm."""
    sessions = np.asarray(effect.session_ids, dtype=np.int64)
    return bool(sessions.size) and bool(np.isin(sessions, cause.session_ids).mean() >= MOSTLY)


# An anomaly another one explains is reported once, by its cause: kind -> the kinds that can
# explain it, and how to tell that one does (it must also overlap it in time).
ABSORBED_BY: dict[str, tuple[tuple[str, ...], Callable[[Finding, Finding], bool]]] = {
    "handshake_failures": (("syn_flood",), _same_service),
    "rst_storm": (("port_scan", "address_sweep", "backscatter"), _mostly_its_sessions),
}


def _absorb(findings: list[Finding]) -> list[Finding]:
    """``findings`` without the ones another explains; the cause lists each in ``details["absorbed"]``."""
    cause_kinds = {kind for kinds, _ in ABSORBED_BY.values() for kind in kinds}
    causes = [f for f in findings if f.kind in cause_kinds]
    kept = []
    for f in findings:
        kinds, explains = ABSORBED_BY.get(f.kind, ((), None))
        cause = next((c for c in causes if c.kind in kinds and c.start <= f.end and c.end >= f.start
                      and explains(f, c)), None) if explains else None
        if cause is None:
            kept.append(f)
        else:
            cause.details.setdefault("absorbed", []).append(
                {"kind": f.kind, "target_addr": f.target_addr, "message": f.message})
    return kept
