"""What the report tests share: hand-built packets of one client and one server, and the
report's "one finding per cause" rule as a check."""

from __future__ import annotations

from helpers import BASE_TS_NS, Rec, eth, ipv4, tcp
from tcpanalyze.report.model import ANOMALY_KINDS_COVERING

CLIENT, SERVER = "10.0.0.1", "10.0.0.2"


def at(ms: float, packet: bytes) -> Rec:
    return Rec(eth(packet), ts_ns=BASE_TS_NS + round(ms * 1e6))


def c2s(port: int = 40000, **kw) -> bytes:
    """A segment from the client's ``port`` to the server's port 80."""
    return ipv4(CLIENT, SERVER, tcp(port, 80, **kw))


def s2c(port: int = 40000, **kw) -> bytes:
    return ipv4(SERVER, CLIENT, tcp(80, port, **kw))


def told_again(analysis, report) -> list[tuple[str, int]]:
    """(finding kind, session id) listed among session problems, or as the warning-or-worse
    reason a session needs attention, although an anomaly of a kind that explains it involves it
    (among all its sessions: the anomalies table lists the first 1,000 only)."""
    named: dict[int, set[str]] = {}
    for kind, ids in analysis.detection.members:
        for i in ids.tolist():
            named.setdefault(i, set()).add(kind)

    def told(kind: str, session_id: int) -> bool:
        return bool(named.get(session_id, set()) & set(ANOMALY_KINDS_COVERING.get(kind, ())))

    again = [(p.kind, p.session_ids[0]) for p in report.problems if p.source == "session" and told(p.kind, p.session_ids[0])]
    for a in report.attention:
        reasons = [d.kind for d in a.diagnoses if d.severity != "info"]
        if all(told(kind, a.session_id) for kind in reasons):
            again.append((",".join(reasons), a.session_id))
    return again
