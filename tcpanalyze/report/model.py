"""What a report says about an analysed capture: a versioned tree of plain dataclasses.

``build_report(analysis)`` computes it once; the text, markdown, JSON and HTML renderers only
lay it out. ``Report.as_dict()`` is the JSON form, documented field by field in
``docs/report.schema.json`` (bump ``SCHEMA_VERSION`` when a field changes meaning or goes).

>>> report = build_report(tcpanalyze.analyze("sample_pcaps/real-loss-random-sender.pcap"))
>>> report.attention[0].diagnoses[0].message
'2.5 % of segments retransmitted (7 of 284, by the originator)'
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import malloc
from ..capture import capture_label
from ..detect import DETECTOR_COLUMNS
from ..detect.inputs import address_codes, require_columns
from ..frames import endpoint
from ..version import __version__
from ..engine.session import FAILED_HANDSHAKES
from ..quantiles import GroupQuantiles, groups_by_id
from .diagnose import KINDS, SEVERITIES, describe, flag_sessions

if TYPE_CHECKING:
    from ..pipeline import Analysis

SCHEMA_VERSION = 2  # 2: a server's RTT figures time the side rtt_to names
# How many of each kind of session problem the problem list shows (the totals say how many more).
PROBLEMS_PER_KIND = 5
# How many anomalies of each kind it shows, the worst first: a capture of 50,000 sessions can
# have thousands of reset teardowns or stalls, one per session, and the report is one screen;
# `tcpanalyze anomalies` lists them all. Capture-wide kinds (floods, scans) rarely reach it.
ANOMALIES_PER_KIND = 5
SERVERS_SHOWN = 20
# The RTT samples, a frame at a time, anew on each call (``Analysis.rtt_sample_batches``).
RttBatches = Callable[[], Iterable[pd.DataFrame]]
ATTENTION_SHOWN = 20
# An anomaly lists at most this many of its sessions (a SYN flood has millions).
SESSION_IDS_SHOWN = 20
# Floats in the JSON form keep this many decimals (epoch seconds to the microsecond).
FLOAT_DECIMALS = 6


@dataclass
class Packets:
    """Records by class, from the record accounting (the classes add up to ``records``)."""

    records: int
    tcp: int
    other_ip: int
    non_ip: int
    malformed: int
    tcp_truncated: int
    tcp_reassembled: int
    tcp_bad_checksum: int  # with verified checksums: TCP records left out for a wrong checksum
    malformed_reasons: dict[str, int]
    other_ip_protocols: dict[str, int]
    tcp_by_tunnel: dict[str, int]  # TCP records that came out of tunnels, by tunnel chain


@dataclass
class Capture:
    """The capture as a whole: where, when, how much."""

    file: str
    selection: str | None  # the filters the report was narrowed with (None: the whole capture)
    first_ts: float | None  # epoch seconds of the first TCP packet
    last_ts: float | None
    duration_s: float
    packets: Packets
    sessions: int
    sessions_by_close_type: dict[str, int]
    sessions_by_conn_state: dict[str, int]
    orig_bytes: int
    resp_bytes: int
    total_bytes: int
    throughput_bps: float | None  # application bytes of every session over the capture's duration
    warnings: list[str]


@dataclass
class Problem:
    """One problem, ranked: an anomaly across sessions, or one session's worst trait."""

    rank: int
    source: str  # "anomaly" or "session"
    kind: str
    severity: str
    message: str
    value: float | None  # what ranks it among its kind (unit in ``unit``)
    unit: str | None
    target: str | None  # the endpoint concerned (anomalies: the target; sessions: the server)
    session_ids: list[int]
    session_count: int
    anomaly_id: int | None = None


@dataclass
class Server:
    """One responder address:port and how its sessions went."""

    server: str
    addr: str
    port: int
    sessions: int
    failed_handshakes: int  # connection attempts that did not complete the handshake (FAILED_HANDSHAKES)
    data_pkts: int
    retrans_pkts: int  # data segments sent again (the sessions' *_retrans_data_pkts)
    retrans_pct: float | None  # of data_pkts (check's retransmission_rate)
    retrans_all_pkts: int  # segments sent again, SYN and FIN too (the sessions' *_retrans_pkts, check's retransmissions)
    rtt_to: str | None  # which side of the capture point the RTT figures time: "server" or "clients" (RTT_TO); None without any
    rtt_samples: int
    rtt_median_ms: float | None
    rtt_p95_ms: float | None
    irtt_resp_median_ms: float | None  # handshakes: SYN -> SYN-ACK, the capture point to the server and back
    irtt_orig_median_ms: float | None  # SYN-ACK -> ACK, the capture point to the clients and back
    bytes: int


@dataclass
class Diagnosis:
    kind: str
    severity: str
    message: str
    value: float | None


@dataclass
class SessionAttention:
    """A session worth a look, with what is wrong in plain words (worst first)."""

    session_id: int
    orig: str
    resp: str
    start: float
    duration_s: float
    conn_state: str
    close_type: str
    orig_bytes: int
    resp_bytes: int
    severity: str
    diagnoses: list[Diagnosis]


@dataclass
class Report:
    """Everything a report says; ``as_dict()`` is its JSON form."""

    schema_version: int
    generator: str
    capture: Capture
    problems: list[Problem]
    problem_totals: dict[str, int]  # findings of each kind before the list was cut
    servers: list[Server]
    servers_total: int
    rtt_source: str  # "packets" (every ACK's RTT sample) or "sessions" (per-session means)
    attention: list[SessionAttention]
    attention_total: int
    attention_left_out: int  # sessions with a problem of warning or worse that an anomaly already tells

    def as_dict(self) -> dict[str, Any]:
        return _clean(dataclasses.asdict(self))

    def to_json(self) -> str:
        """The JSON form, indented (``docs/report.schema.json`` describes it)."""
        return json.dumps(self.as_dict(), indent=2) + "\n"


# The session columns the report reads: the detectors' and its own (its graphs' too). ``build_report``
# keeps these alone, so reading another fails in every test; ``tcpanalyze report`` analyses with them.
REPORT_COLUMNS = tuple(dict.fromkeys((*DETECTOR_COLUMNS, "irtt_ms", "irtt_resp_ms", "irtt_orig_ms", "handshake_s",
                                      "missed_bytes", "history", "orig_rtt_mean_ms", "resp_rtt_mean_ms", "orig_rst_pkts",
                                      "resp_rst_pkts", "resp_retrans_pkts")))


def build_report(analysis: "Analysis", *, selection: str | None = None) -> Report:
    """Compute the report of an analysed capture (``tcpanalyze.analyze``'s result); ``selection``
    says how its sessions were narrowed down, if they were (e.g. ``"--port 443"``)."""
    sessions = require_columns(analysis.sessions, REPORT_COLUMNS, "the report")
    findings = flag_sessions(sessions)
    anomalies = analysis.anomalies
    told = _Told(sessions, analysis.detection.members)
    problems, totals = _problems(sessions, findings, anomalies, told)
    samples = analysis.rtt_sample_batches if analysis.has_rtt_samples else None
    servers, servers_total, rtt_source = _servers(sessions, samples)
    attention, attention_total, attention_left_out = _attention(sessions, findings, told)
    return Report(
        schema_version=SCHEMA_VERSION,
        generator=f"tcpanalyze {__version__}",
        capture=_capture(analysis, sessions, selection),
        problems=problems,
        problem_totals=totals,
        servers=servers,
        servers_total=servers_total,
        rtt_source=rtt_source,
        attention=attention,
        attention_total=attention_total,
        attention_left_out=attention_left_out,
    )


# -- capture ------------------------------------------------------------------------------

def _capture(analysis: "Analysis", sessions: pd.DataFrame, selection: str | None) -> Capture:
    acc = analysis.accounting.as_dict()
    reasons = {k: v for k, v in acc["by_status"].items() if k not in ("tcp", "not_tcp", "non_ip")}
    packets = Packets(acc["records"], acc["tcp"], acc["other_ip"], acc["non_ip"], acc["malformed"],
                      acc["tcp_truncated"], acc["tcp_reassembled"], acc["tcp_bad_checksum"], dict(sorted(reasons.items())),
                      dict(sorted(acc["other_ip_protocols"].items())), dict(sorted(acc["tcp_by_tunnel"].items())))
    first = float(sessions["start"].min()) if len(sessions) else None
    last = float(sessions["end"].max()) if len(sessions) else None
    duration = (last - first) if first is not None else 0.0
    orig_bytes, resp_bytes = int(sessions["orig_bytes"].sum()), int(sessions["resp_bytes"].sum())
    return Capture(
        file=_file_name(analysis.path), selection=selection,
        first_ts=first, last_ts=last, duration_s=duration, packets=packets,
        sessions=len(sessions),
        sessions_by_close_type=_counts(sessions["close_type"]),
        sessions_by_conn_state=_counts(sessions["conn_state"]),
        orig_bytes=orig_bytes, resp_bytes=resp_bytes, total_bytes=orig_bytes + resp_bytes,
        throughput_bps=(orig_bytes + resp_bytes) * 8 / duration if duration > 0 else None,
        warnings=list(analysis.warnings),
    )


def _file_name(path) -> str:
    """The capture's file name (or pattern) without its directory, or its first file's and how
    many more; "(stdin)" and "(live)" for the others."""
    if path is None:
        return "(live)"
    if path == "-":
        return "(stdin)"
    if isinstance(path, (str, os.PathLike)):
        return os.path.basename(os.path.normpath(path))
    return capture_label([os.path.basename(p) for p in path])


def _counts(column: pd.Series) -> dict[str, int]:
    """Value counts, most common first (ties by name)."""
    counts = {str(k): int(v) for k, v in column.value_counts().items() if v}  # a categorical's from its codes
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# -- problems -----------------------------------------------------------------------------

def _problems(sessions: pd.DataFrame, findings: pd.DataFrame, anomalies: pd.DataFrame,
              told: "_Told") -> tuple[list[Problem], dict[str, int]]:
    """Each kind's worst anomalies and worst sessions (severity, then what was lost), ranked by
    ``_impact_order``. A session problem an anomaly of a related kind already names (listed or
    not) is not listed twice."""
    problems = [_anomaly_problem(a) for a in _worst_anomalies(anomalies).itertuples(index=False)]
    totals = {f"anomaly:{k}": int(v) for k, v in anomalies["kind"].value_counts().items()}
    for kind in KINDS:
        of_kind = findings[findings["kind"] == kind]
        if of_kind.empty:
            continue
        totals[kind] = int(of_kind["session_id"].nunique())
        listed = of_kind[~told.sessions(kind)[of_kind["row"].to_numpy()]]
        worst = listed.assign(severity_rank=listed["severity"].cat.codes).sort_values(
            ["severity_rank", "value", "session_id"], ascending=[True, False, True], kind="stable")
        for f in worst.head(PROBLEMS_PER_KIND).itertuples(index=False):
            session = sessions.iloc[f.row]
            problems.append(Problem(
                rank=0, source="session", kind=kind, severity=f.severity,
                message=f"session {f.session_id}: {describe(kind, f.side, session)}",
                value=float(f.value), unit=_UNITS[kind],
                target=endpoint(session["resp_addr"], session["resp_port"]),
                session_ids=[int(f.session_id)], session_count=1))
    problems.sort(key=_impact_order)
    for rank, problem in enumerate(problems, 1):
        problem.rank = rank
    return problems, totals


# Anomaly kinds (tcpanalyze.detect) that already tell a session finding's story.
ANOMALY_KINDS_COVERING = {
    "zero_window": ("zero_window_stall",),
    "retransmission": ("retransmission_storm",),
    "handshake_retry": ("syn_flood", "backlog_overflow"),  # a full accept queue: its clients' SYNs retried
    "reset": ("rst_teardown", "rst_storm", "port_scan", "address_sweep", "syn_flood", "backscatter"),
    "refused": ("syn_flood", "port_scan", "address_sweep", "handshake_failures", "backlog_overflow"),
    "unanswered": ("syn_flood", "port_scan", "address_sweep", "handshake_failures", "backlog_overflow"),
}


class _Told:
    """Which sessions an anomaly already tells, per kind of session finding (each covering set
    of anomaly kinds worked out once). ``members``: each anomaly's kind and every session it
    involves (``Detection.members``; the anomalies table lists the first 1,000 only)."""

    def __init__(self, sessions: pd.DataFrame, members: list[tuple[str, np.ndarray]]) -> None:
        self._ids, self._members = sessions["session_id"].to_numpy(np.int64), members
        self._by_covering: dict[tuple[str, ...], np.ndarray] = {}

    def sessions(self, kind: str) -> np.ndarray:
        """Per session: does an anomaly of a kind that explains ``kind`` findings involve it?"""
        covering = ANOMALY_KINDS_COVERING.get(kind, ())
        if covering not in self._by_covering:
            named = [ids for anomaly_kind, ids in self._members if anomaly_kind in covering]
            told = np.zeros(int(self._ids.max()) + 1 if self._ids.size else 0, np.bool_)  # by id: np.isin sorts copies
            if named:
                named = np.concatenate(named)
                told[named[named < told.size]] = True
            self._by_covering[covering] = told[self._ids]
        return self._by_covering[covering]


_UNITS = {"zero_window": "s", "retransmission": "packets", "handshake_retry": "s", "refused": "packets",
          "unanswered": "packets", "reset": "bytes", "slow_handshake": "ms", "capture_loss": "bytes"}


def _session_count(session_ids, details) -> int:
    """How many sessions an anomaly involves: all of them, though it lists its first ones only."""
    return int(details.get("session_ids_total", len(session_ids)) if isinstance(details, dict) else len(session_ids))


def _session_counts(anomalies: pd.DataFrame) -> np.ndarray:
    return np.array([_session_count(ids, details) for ids, details in
                     zip(anomalies["session_ids"].tolist(), anomalies["details"].tolist())], np.int64)


def _worst_anomalies(anomalies: pd.DataFrame) -> pd.DataFrame:
    """The ``ANOMALIES_PER_KIND`` worst anomalies of each kind (severity, then most sessions, then
    size, then earliest, then lowest anomaly_id), in the order ``anomalies`` had them."""
    if anomalies.empty:
        return anomalies
    sizes = [_anomaly_value(kind, details)[0] for kind, details in zip(anomalies["kind"], anomalies["details"])]
    ranked = pd.DataFrame({"kind": anomalies["kind"].to_numpy(),
                           "severity": anomalies["severity"].map(SEVERITIES.index).to_numpy(),
                           "sessions": -_session_counts(anomalies), "size": [-(v or 0) for v in sizes],
                           "start": anomalies["start"].to_numpy(), "anomaly_id": anomalies["anomaly_id"].to_numpy()})
    ranked = ranked.sort_values(["severity", "sessions", "size", "start", "anomaly_id"], kind="stable")
    keep = np.sort(ranked.groupby("kind", sort=False).head(ANOMALIES_PER_KIND).index.to_numpy())
    return anomalies.iloc[keep]


# Anomaly kinds in the order a report lists them when severity and sessions affected tie: what
# stops many clients first, then what slows sessions down, then teardown context.
ANOMALY_ORDER = ("syn_flood", "backscatter", "port_scan", "address_sweep", "backlog_overflow", "handshake_failures",
                 "injection", "zero_window_stall", "retransmission_storm", "idle_exhaustion", "rst_storm",
                 "rst_teardown")
# What sizes an anomaly of each kind (its details key) and in which unit; otherwise its sessions.
_ANOMALY_VALUES = {"zero_window_stall": ("total_s", "s"), "retransmission_storm": ("retransmissions", "packets"),
                   "rst_teardown": ("unacked_bytes", "bytes")}


def _impact_order(p: Problem) -> tuple:
    """Problems by what users lost: severity; then sessions affected; then an anomaly before a
    single session's problem; then kind; then the size of the problem (stall seconds, segments
    re-sent, bytes in flight at a reset...), never a share: 2 of 5 segments is not worse than 96."""
    kind = ANOMALY_ORDER.index(p.kind) if p.source == "anomaly" and p.kind in ANOMALY_ORDER else \
        len(ANOMALY_ORDER) + (KINDS.index(p.kind) if p.kind in KINDS else 0)
    return (SEVERITIES.index(p.severity), -p.session_count, p.source != "anomaly", kind, -(p.value or 0))


def _anomaly_value(kind: str, details) -> tuple[float | None, str | None]:
    key, unit = _ANOMALY_VALUES.get(kind, (None, None))
    if key is None or not isinstance(details, dict) or details.get(key) is None:
        return None, None
    return float(details[key]), unit


def _anomaly_problem(a) -> Problem:
    ids = [int(i) for i in list(a.session_ids)]
    port = a.target_port
    has_port = port is not None and not pd.isna(port)
    target = None
    if a.target_addr is not None and not pd.isna(a.target_addr):
        target = endpoint(a.target_addr, int(port)) if has_port else str(a.target_addr)
    value, unit = _anomaly_value(str(a.kind), a.details)
    return Problem(rank=0, source="anomaly", kind=str(a.kind), severity=str(a.severity), message=str(a.message),
                   value=value, unit=unit, target=target, session_ids=ids[:SESSION_IDS_SHOWN],
                   session_count=_session_count(ids, a.details), anomaly_id=int(a.anomaly_id))


# -- servers ------------------------------------------------------------------------------

def _servers(sessions: pd.DataFrame, samples: RttBatches | None) -> tuple[list[Server], int, str]:
    """The busiest responder address:ports (most sessions, then most bytes), how many there are
    in all, and where their RTTs come from (``samples``: the RTT samples, read a batch at a time,
    as often as needed: ``Analysis.rtt_sample_batches``)."""
    if sessions.empty:
        return [], 0, "packets" if samples is not None else "sessions"
    addr_codes, addr_names = address_codes(sessions["resp_addr"])  # codes: no text per session
    # numbered in order of first appearance: the stable sort below keeps it among ties
    server, keys = pd.factorize(addr_codes << 16 | sessions["resp_port"].to_numpy(np.int64),
                                size_hint=1 << 16)  # a hash table grown to the servers, not sized to the sessions
    groups = keys.size
    failed = sessions["handshake"].isin(FAILED_HANDSHAKES).to_numpy()
    table = pd.DataFrame({
        "addr": keys >> 16, "port": keys & 0xFFFF,
        "sessions": np.bincount(server, minlength=groups), "failed": np.bincount(server[failed], minlength=groups),
        "data": _sums(sessions, server, groups, "orig_data_pkts", "resp_data_pkts"),
        "retrans": _sums(sessions, server, groups, "orig_retrans_data_pkts", "resp_retrans_data_pkts"),
        "retrans_all": _sums(sessions, server, groups, "orig_retrans_pkts", "resp_retrans_pkts"),
        "bytes": _sums(sessions, server, groups, "orig_bytes", "resp_bytes"),
    })
    table = table.sort_values(["sessions", "bytes"], ascending=False, kind="stable").head(SERVERS_SHOWN)
    shown = np.full(groups, -1, np.int64)  # by server number: its place among those shown, -1 for the others
    shown[table.index] = np.arange(len(table))
    rows = np.flatnonzero(shown[server] >= 0)  # the sessions of the servers shown: the RTT figures read theirs only
    of_shown = pd.DataFrame({c: sessions[c].to_numpy()[rows] for c in _SERVER_RTT_COLUMNS}, copy=False)
    rtt, source = _server_rtt(of_shown, samples, shown[server][rows])
    table = table.join(rtt.set_axis(table.index))
    servers = [Server(
        server=endpoint(addr_names[row.addr], row.port), addr=str(addr_names[row.addr]), port=int(row.port),
        sessions=int(row.sessions), failed_handshakes=int(row.failed), data_pkts=int(row.data), retrans_pkts=int(row.retrans),
        retrans_pct=100 * row.retrans / row.data if row.data else None, retrans_all_pkts=int(row.retrans_all),
        rtt_to=RTT_TO[bool(row.at_server)] if row.rtt_samples else None, rtt_samples=int(row.rtt_samples), rtt_median_ms=_opt(row.rtt_median_ms),
        rtt_p95_ms=_opt(row.rtt_p95_ms), irtt_resp_median_ms=_opt(row.irtt_resp_ms),
        irtt_orig_median_ms=_opt(row.irtt_orig_ms), bytes=int(row.bytes))
        for row in table.itertuples(index=False)]
    return servers, groups, source


def _sums(sessions: pd.DataFrame, server: np.ndarray, groups: int, *columns: str) -> np.ndarray:
    """Per server number (0..groups-1): the sum of ``columns`` over its sessions."""
    total = np.zeros(groups, np.int64)
    for column in columns:
        np.add.at(total, server, sessions[column].to_numpy(np.int64))  # int64 both: numpy's fast path
    return total


# Where a server's RTT figures point: towards the server, or, captured at the server, towards its clients.
RTT_TO = {False: "server", True: "clients"}
# The capture point is taken to be at the server when the handshakes' server side (median
# SYN -> SYN-ACK) is at most this fraction of their client side (median SYN-ACK -> ACK): the
# capture point sits within the third of the path nearest the server, so the clients' side holds
# the path. Captured on the server itself, SYN -> SYN-ACK is the server's own SYN processing
# (0.02-0.06 ms on the real-loss samples) against 0.06-1.6 ms of path; captured on the client,
# it is the other way round. A capture midway, or over a path too short to tell (a veth, where
# both halves are stack delays), keeps the figures towards the server.
AT_SERVER_IRTT_RATIO = 0.5


def _capture_at_server(sessions: pd.DataFrame, server: np.ndarray) -> pd.DataFrame:
    """Per server number (0..n-1; -1: a session of none): the median handshake halves over its
    sessions that have them (``irtt_resp_ms``, ``irtt_orig_ms``) and whether they put the capture
    point at the server (``at_server``, AT_SERVER_IRTT_RATIO)."""
    groups = int(server.max()) + 1 if server.size else 0
    by_server = pd.Categorical.from_codes(server, categories=pd.RangeIndex(groups))  # grouped by code: no hashing
    resp, orig = (pd.Series(sessions[half].to_numpy(np.float64), copy=False).groupby(by_server, observed=False)
                  .median().to_numpy() for half in ("irtt_resp_ms", "irtt_orig_ms"))
    with np.errstate(invalid="ignore"):
        at_server = resp <= AT_SERVER_IRTT_RATIO * orig  # False where either half is unknown
    return pd.DataFrame({"irtt_resp_ms": resp, "irtt_orig_ms": orig, "at_server": at_server})


# What ``_server_rtt`` reads of a session.
_SERVER_RTT_COLUMNS = ("session_id", "irtt_resp_ms", "irtt_orig_ms", "orig_rtt_mean_ms", "resp_rtt_mean_ms")


def _server_rtt(sessions: pd.DataFrame, samples: RttBatches | None,
                server: np.ndarray) -> tuple[pd.DataFrame, str]:
    """RTT median and 95th percentile per server (``server``: each session's server number,
    0..n-1, or -1 for a server not shown: only the shown ones' samples count), over the
    path's side of the capture point. Captured away from the server (at the
    clients, or midway) that is the capture point to the server and back: the RTT samples of
    the clients' data (``Analysis.rtt_sample_batches`` timing the originator's segments to the
    server's ACKs). Captured at the server (``_capture_at_server``) those samples are the server's
    own ACK delay, so the figures are the capture point to the clients and back: the server's
    segments to the clients' ACKs. Without samples, the sessions' ``orig_``/``resp_rtt_mean_ms``
    stand in. One row per server number, in order, with the handshake halves and ``at_server``."""
    groups = int(server.max()) + 1 if server.size else 0
    place = _capture_at_server(sessions, server)
    at_server = place["at_server"].to_numpy(np.bool_)
    if samples is not None:
        towards = _servers_timed(sessions["session_id"].to_numpy(np.int64), server, at_server)
        malloc.trim()  # the heap freed so far, back to the system: the batches (Arrow's pool) would not reuse it

        def read() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for batch in samples():
                session, ns = batch["session_id"].to_numpy(np.int64), batch["ack_rtt_ns"].to_numpy(np.int64)
                from_resp = batch["data_direction"].cat.codes.to_numpy() == 1
                for side, mine in enumerate((~from_resp, from_resp)):
                    yield groups_by_id(towards[side], session, where=mine), ns

        quantiles = GroupQuantiles(read, groups)
        counts, median, p95 = quantiles.counts, quantiles.quantile(0.5) / 1e6, quantiles.quantile(0.95) / 1e6
        source = "packets"
    else:
        there = np.where(server >= 0, at_server[server], False)
        mean = pd.Series(np.where(there, sessions["resp_rtt_mean_ms"].to_numpy(np.float64),
                                  sessions["orig_rtt_mean_ms"].to_numpy(np.float64)))
        by_server = mean.groupby(server)  # NaN means are left out
        counts = by_server.count().reindex(range(groups), fill_value=0).to_numpy()
        median, p95 = (by_server.quantile(q).reindex(range(groups)).to_numpy() for q in (0.5, 0.95))
        source = "sessions"
    return place.assign(rtt_samples=counts, rtt_median_ms=median, rtt_p95_ms=p95), source


def _servers_timed(ids: np.ndarray, server: np.ndarray, at_server: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """By session id (-1: none, a session filtered out or of a server not shown), the server whose
    figures an RTT sample counts for: of the originator's data (towards the server), and of the
    responder's data (towards the clients), where ``at_server`` (per server number) says the
    capture was taken at the server; the other side's samples count for no server."""
    size = int(ids.max()) + 1 if ids.size else 0
    of_orig_data, of_resp_data = np.full(size, -1, np.int64), np.full(size, -1, np.int64)
    there = np.where(server >= 0, at_server[server], False)
    of_orig_data[ids] = np.where(there, -1, server)
    of_resp_data[ids] = np.where(there, server, -1)
    return of_orig_data, of_resp_data


def _opt(value: float) -> float | None:
    return None if pd.isna(value) else float(value)


# -- sessions that need attention ---------------------------------------------------------

def _attention(sessions: pd.DataFrame, findings: pd.DataFrame,
               told: _Told) -> tuple[list[SessionAttention], int, int]:
    """Sessions with a problem of warning or worse that no anomaly already tells, worst first
    (``_by_impact``); how many such sessions there are in all; and how many sessions with such a
    problem were left out because an anomaly tells every one of their problems."""
    if findings.empty:
        return [], 0, 0
    severity = findings["severity"].cat.codes.to_numpy()  # categories in SEVERITIES order
    serious = findings[severity <= SEVERITIES.index("warning")]
    known = np.zeros(len(serious), np.bool_)
    for kind in serious["kind"].unique():
        of_kind = (serious["kind"] == kind).to_numpy()
        known[of_kind] = told.sessions(kind)[serious["row"].to_numpy()[of_kind]]
    left_out = serious["row"].nunique() - serious.loc[~known, "row"].nunique()
    per_session = _by_impact(serious[~known])
    out = []
    for row, summary in per_session.head(ATTENTION_SHOWN).iterrows():
        session = sessions.iloc[row]
        own = findings[findings["row"] == row].assign(severity_rank=lambda f: f["severity"].cat.codes)
        own = own.sort_values(["severity_rank"], kind="stable")
        diagnoses = [Diagnosis(f.kind, f.severity, describe(f.kind, f.side, session), float(f.value))
                     for f in own.itertuples(index=False)]
        out.append(SessionAttention(
            session_id=int(session["session_id"]),
            orig=endpoint(session["orig_addr"], session["orig_port"]),
            resp=endpoint(session["resp_addr"], session["resp_port"]),
            start=float(session["start"]), duration_s=float(session["duration"]),
            conn_state=str(session["conn_state"]), close_type=str(session["close_type"]),
            orig_bytes=int(session["orig_bytes"]), resp_bytes=int(session["resp_bytes"]),
            severity=SEVERITIES[int(summary["worst"])], diagnoses=diagnoses))
    return out, len(per_session), int(left_out)


def _by_impact(findings: pd.DataFrame) -> pd.DataFrame:
    """One row per session of ``findings`` (indexed by its row in the sessions), worst first: by
    the severity of its worst finding, then that finding's kind (``KINDS`` order: a stall before
    retransmission before a retried SYN...), then what it lost (its value), then how many
    findings the session has, then session id."""
    ranked = findings.assign(worst=findings["severity"].cat.codes, kind_rank=findings["kind"].cat.codes)
    per_session = ranked.sort_values(["worst", "kind_rank", "value"], ascending=[True, True, False],
                                     kind="stable").groupby("row", sort=False).agg(
        worst=("worst", "first"), kind_rank=("kind_rank", "first"), value=("value", "first"),
        n=("kind", "size"), session_id=("session_id", "first"))
    return per_session.sort_values(["worst", "kind_rank", "value", "n", "session_id"],
                                   ascending=[True, True, False, False, True], kind="stable")


def _clean(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN to None, floats to microsecond/microunit precision."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, FLOAT_DECIMALS)
    return value
