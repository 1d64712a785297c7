"""The graphs an HTML report embeds, drawn by ``tcpanalyze.plot``.

The worst sessions (first in the attention list, among those that carried data) get a
time-sequence graph each; the worst of them also gets throughput, RTT and window graphs.
With nothing needing attention, the session that carried the most bytes is drawn instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..frames import endpoint
from .model import Report

if TYPE_CHECKING:
    from ..pipeline import Analysis

SEQUENCE_GRAPHS = 3
KIND_TITLES = {"seq": "time-sequence graph", "throughput": "throughput", "rtt": "round-trip time",
               "window": "advertised window and bytes in flight"}


@dataclass
class Graph:
    title: str
    png: bytes


def graph_sessions(report: Report, analysis: "Analysis") -> list[int]:
    """Session ids to draw, worst first (none when the analysis kept no packets and the capture
    cannot be read again)."""
    if (analysis.packets is None and not analysis.rereadable) or analysis.sessions.empty:
        return []
    sessions = analysis.sessions.set_index("session_id")
    carried = (sessions["orig_data_pkts"] + sessions["resp_data_pkts"]) > 0
    worst = [a.session_id for a in report.attention if carried.get(a.session_id, False)]
    if not worst and carried.any():
        worst = [int((sessions["orig_bytes"] + sessions["resp_bytes"]).idxmax())]
    return worst[:SEQUENCE_GRAPHS]


def report_graphs(report: Report, analysis: "Analysis") -> list[Graph]:
    """PNG graphs of the worst sessions, titled."""
    from .. import plot

    sessions = analysis.sessions.set_index("session_id")
    chosen = graph_sessions(report, analysis)
    analysis = analysis.with_session_packets(chosen) if chosen else analysis
    graphs = []
    for n, session_id in enumerate(chosen):
        row = sessions.loc[session_id]
        who = f"{endpoint(row['orig_addr'], row['orig_port'])} → {endpoint(row['resp_addr'], row['resp_port'])}"
        for kind in (KIND_TITLES if n == 0 else ("seq",)):
            figure = plot.session_figure(analysis, session_id, kind)
            graphs.append(Graph(f"Session {session_id} ({who}): {KIND_TITLES[kind]}", plot.png_bytes(figure)))
    return graphs
