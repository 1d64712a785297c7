"""The graphs an HTML report embeds, described by ``tcpanalyze.plot`` as charts.

The worst sessions get a time-sequence graph each, of the direction their problem hit
(``problem_direction``) and, on a long session, of the time around it
(``tcpanalyze.plot.problem_span``); the worst of them also gets throughput, RTT and window
graphs over the same span. The worst are, among the sessions that carried data, those of the
top problems about one session (the first of each kind, then the others, in rank order: a
stall, a retransmission storm, a reset mid-transfer before a second stall), then those of the
attention list. With neither, the session that carried the most bytes is drawn instead, whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import plot
from ..frames import endpoint
from ..plot.session import DIRECTIONS, other
from .model import ANOMALY_KINDS_COVERING, Problem, Report

if TYPE_CHECKING:
    import pandas as pd

    from ..pipeline import Analysis

SEQUENCE_GRAPHS = 3
KIND_TITLES = {"seq": "time-sequence graph", "throughput": "throughput", "rtt": "round-trip time",
               "window": "advertised window and bytes in flight"}
# Per diagnosis kind: the session column, per direction, that says how hard it hit that direction's data.
HIT_BY = {"zero_window": "{peer}_zero_window_s",  # the data stopped by the peer's zero window
          "retransmission": "{side}_retrans_data_pkts",
          "capture_loss": "{side}_missed_bytes"}


@dataclass
class Graph:
    title: str
    chart: plot.Chart


def graph_sessions(report: Report, analysis: "Analysis") -> list[int]:
    """Session ids to draw, worst first (none when the analysis kept no packets and the capture
    cannot be read again)."""
    if (analysis.packets is None and not analysis.rereadable) or analysis.sessions.empty:
        return []
    sessions = analysis.sessions.set_index("session_id")
    carried = (sessions["orig_data_pkts"] + sessions["resp_data_pkts"]) > 0
    worst = [i for i in graph_kinds(report) if carried.get(i, False)]
    if not worst and carried.any():
        worst = [int((sessions["orig_bytes"] + sessions["resp_bytes"]).idxmax())]
    return worst[:SEQUENCE_GRAPHS]


def graph_kinds(report: Report) -> dict[int, list[str]]:
    """The sessions worth a graph, worst first (see the module's docstring), each with the kinds
    of its session findings (``tcpanalyze.report.diagnose.KINDS``) that say where to look: an
    anomaly's kind stands for the findings it tells (a zero_window_stall for zero_window)."""
    single = [p for p in report.problems if p.session_count == 1 and p.session_ids]
    first_of_kind: dict[str, Problem] = {}
    for p in single:
        first_of_kind.setdefault(p.kind, p)
    firsts = list(first_of_kind.values())
    kinds: dict[int, list[str]] = {}
    for p in firsts + [p for p in single if p not in firsts]:
        kinds.setdefault(p.session_ids[0], []).extend(_finding_kinds(p.source, p.kind))
    for a in report.attention:
        kinds.setdefault(a.session_id, []).extend(d.kind for d in a.diagnoses)
    return kinds


def _finding_kinds(source: str, kind: str) -> list[str]:
    """A problem's kind as session findings: itself, or those its anomaly kind tells."""
    if source == "session":
        return [kind]
    return [finding for finding, covering in ANOMALY_KINDS_COVERING.items() if kind in covering]


def problem_direction(session: "pd.Series", kinds: list[str]) -> str:
    """The direction (``orig``/``resp``) whose data the session's first diagnosis of ``kinds`` (worst
    first) hit hardest; for no such diagnosis, the direction that sent more payload."""
    for kind in kinds:
        if kind in HIT_BY:
            hits = {d: session[HIT_BY[kind].format(side=d, peer=other(d))] for d in DIRECTIONS}
            if max(hits.values()) > 0:
                return max(DIRECTIONS, key=hits.__getitem__)
    return "resp" if session["resp_payload_bytes"] > session["orig_payload_bytes"] else "orig"


def report_graphs(report: Report, analysis: "Analysis") -> list[Graph]:
    """Charts of the worst sessions, titled: the direction and span of each one's problem."""
    sessions = analysis.sessions.set_index("session_id")
    chosen = graph_sessions(report, analysis)
    analysis = analysis.with_session_packets(chosen) if chosen else analysis
    kinds = graph_kinds(report)
    graphs = []
    for n, session_id in enumerate(chosen):
        row = sessions.loc[session_id]
        direction = problem_direction(row, kinds.get(session_id, []))
        span = plot.problem_span(plot.session_packets(analysis, session_id), direction)
        who = f"{endpoint(row['orig_addr'], row['orig_port'])} → {endpoint(row['resp_addr'], row['resp_port'])}"
        when = f", {span[0]:.3f}–{span[1]:.3f} s" if span else ""
        for kind in (KIND_TITLES if n == 0 else ("seq",)):
            chart = plot.session_chart(analysis, session_id, kind, direction=direction, time_range=span)
            graphs.append(Graph(f"Session {session_id} ({who}): {KIND_TITLES[kind]}{when}", chart))
    return graphs
