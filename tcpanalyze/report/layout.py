"""The report laid out as titled sections of facts and tables of text cells.

Text, markdown and HTML all render these same sections, so they carry the same numbers,
formatted in one place: integers with thousands separators, seconds and milliseconds to
three decimals, percentages to two, and a missing value as ``-`` (no cell is ever empty).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .model import PROBLEMS_PER_KIND, Report

MISSING = "-"


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    right: set[int] = field(default_factory=set)  # right-aligned (numeric) columns
    severities: list[str] = field(default_factory=list)  # per row, for colour; may be empty


@dataclass
class Section:
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    table: Table | None = None
    empty: str = ""  # said instead of an empty table
    note: str = ""  # said after the table (what was left out)


def count(n: int) -> str:
    return f"{n:,}"


def seconds(s: float | None) -> str:
    return MISSING if s is None else f"{s:.3f}"


def millis(ms: float | None) -> str:
    return MISSING if ms is None else f"{ms:.3f}"


def percent(p: float | None) -> str:
    return MISSING if p is None else f"{p:.2f}"


def utc(ts: float | None) -> str:
    if ts is None:
        return MISSING
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def bits_per_second(bps: float | None) -> str:
    """Throughput in the largest unit that keeps a number at or above 1 (bit/s, kbit/s, Mbit/s, Gbit/s)."""
    if bps is None:
        return MISSING
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bps >= scale:
            return f"{bps / scale:.2f} {unit}"
    return f"{bps:.2f} bit/s"


def _listing(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {count(v)}" for k, v in counts.items()) or "none"


def sections(report: Report) -> list[Section]:
    """The report's sections in reading order: capture, problems, servers, sessions."""
    return [_capture(report), _problems(report), _servers(report), _attention(report)]


def _capture(report: Report) -> Section:
    c, p = report.capture, report.capture.packets
    facts = [
        ("File", c.file),
        *([("Selection", c.selection)] if c.selection else []),
        ("First packet", utc(c.first_ts)),
        ("Last packet", utc(c.last_ts)),
        ("Duration (s)", seconds(c.duration_s)),
        ("Records", f"{count(p.records)}: {count(p.tcp)} TCP, {count(p.other_ip)} other IP, "
                    f"{count(p.non_ip)} non-IP, {count(p.malformed)} malformed"),
    ]
    if p.tcp_truncated or p.tcp_reassembled:
        facts.append(("TCP packets", f"{count(p.tcp_truncated)} truncated by the snap length, "
                                     f"{count(p.tcp_reassembled)} reassembled from IP fragments"))
    if p.tcp_bad_checksum:
        facts.append(("Bad checksums", f"{count(p.tcp_bad_checksum)} TCP packets with a wrong IPv4 or TCP checksum, "
                                          "left out of the analysis"))
    if p.tcp_by_tunnel:
        facts.append(("TCP from tunnels", _listing(p.tcp_by_tunnel)))
    if p.malformed_reasons:
        facts.append(("Malformed", _listing(p.malformed_reasons)))
    if p.other_ip_protocols:
        facts.append(("Other IP protocols", _listing(p.other_ip_protocols)))
    facts += [
        ("Sessions", count(c.sessions)),
        ("By close type", _listing(c.sessions_by_close_type)),
        ("By conn_state", _listing(c.sessions_by_conn_state)),
        ("Bytes", f"{count(c.total_bytes)}: {count(c.orig_bytes)} from originators, "
                  f"{count(c.resp_bytes)} from responders"),
        ("Throughput", bits_per_second(c.throughput_bps)),
    ]
    facts += [("Warning", w) for w in c.warnings]
    return Section("Capture", facts=facts)


def _problems(report: Report) -> Section:
    rows = [[count(p.rank), p.severity, p.kind, p.target or MISSING, p.message] for p in report.problems]
    return Section("Problems, worst first",
                   table=Table(["#", "severity", "kind", "where", "problem"], rows, {0},
                               [p.severity for p in report.problems]),
                   empty="No problems found.", note=_problems_note(report))


def _problems_note(report: Report) -> str:
    """What the problem list left out: per cut kind, how many there were and how many are shown;
    and the session kinds none of which is listed because an anomaly above tells every one."""
    shown = Counter((p.source, p.kind) for p in report.problems)
    anomalies, sessions, all_told = [], [], []
    for key, total in report.problem_totals.items():
        source, _, kind = key.rpartition(":")
        if source == "anomaly" and total > shown[("anomaly", kind)]:
            anomalies.append(f"{kind} {count(shown[('anomaly', kind)])} of {count(total)}")
        elif not source and total > shown[("session", kind)]:
            if shown[("session", kind)] == 0:  # not one listed: an anomaly tells them all (else the worst would be)
                all_told.append((kind, total))
            else:
                sessions.append(f"{kind} {count(shown[('session', kind)])} of {count(total)}")
    notes = []
    if anomalies:
        notes.append(f"Anomalies shown: {', '.join(anomalies)}, the worst of each kind "
                     f"(tcpanalyze anomalies FILE lists them all).")
    if sessions:
        notes.append(f"Sessions shown: {', '.join(sessions)}; each kind lists its worst {PROBLEMS_PER_KIND} "
                     f"sessions, leaving out those an anomaly above already names.")
    if all_told:
        notes.append(_all_told_note(all_told))
    return " ".join(notes)


def _all_told_note(kinds: list[tuple[str, int]]) -> str:
    """E.g. "All 46 refused and 20 unanswered sessions are told by an anomaly above, so none is
    listed again." for the session kinds an anomaly tells every one of."""
    if len(kinds) == 1 and kinds[0][1] == 1:
        return f"The {kinds[0][0]} session is told by an anomaly above, so it is not listed again."
    parts = [f"{count(total)} {kind}" for kind, total in kinds]
    listing = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"All {listing} sessions are told by an anomaly above, so none is listed again."


def _servers(report: Report) -> Section:
    rows = [[s.server, count(s.sessions), count(s.failed_handshakes), count(s.retrans_all_pkts),
             percent(s.retrans_pct), s.rtt_to or "-", millis(s.rtt_median_ms),
             millis(s.rtt_p95_ms), count(s.bytes)] for s in report.servers]
    notes = []
    if len(rows) < report.servers_total:
        notes.append(f"{count(len(rows))} busiest of {count(report.servers_total)} servers shown.")
    if rows:
        notes += [RETRANS_NOTE, _rtt_note(report)]
    return Section("Servers",
                   table=Table(["server", "sessions", "failed handshakes", "retrans", "data retrans %",
                                "rtt to", "rtt median ms", "rtt p95 ms", "bytes"], rows, {1, 2, 3, 4, 6, 7, 8}),
                   empty="No TCP sessions.", note=" ".join(notes))


RETRANS_NOTE = ("retrans: segments sent again, SYNs and FINs included (the retrans of tcpanalyze sessions, check's "
                "retransmissions); data retrans %: data segments sent again, of all data segments (check's "
                "retransmission_rate).")

# What the RTT figures time, by rtt_to, and over what (by rtt_source).
_RTT_TO_NOTES = {
    "server": "rtt to server: from the capture point to the server (a responder's address:port) and back, over {over}.",
    "clients": "rtt to clients: captured at the server (its handshakes' median SYN to SYN-ACK at most half their "
               "SYN-ACK to ACK), where the other way would time its own ACK delay: from the capture point to the "
               "clients and back, over {over}.",
}
_RTT_OVER = {
    "packets": {"server": "every sample of an originator's segment to the responder's ACK",
                "clients": "every sample of the responder's segment to the originator's ACK"},
    "sessions": {"server": "the sessions' mean RTTs of the originators' data (no per-packet samples kept)",
                 "clients": "the sessions' mean RTTs of the responders' data (no per-packet samples kept)"},
}


def _rtt_note(report: Report) -> str:
    """What the RTT columns time: a sentence for each side the listed servers' figures point to."""
    sides = [side for side in ("server", "clients") if any(s.rtt_to == side for s in report.servers)]
    return " ".join(_RTT_TO_NOTES[side].format(over=_RTT_OVER[report.rtt_source][side]) for side in sides)


def _attention(report: Report) -> Section:
    rows = [[count(a.session_id), a.orig, a.resp, a.conn_state, seconds(a.duration_s),
             count(a.orig_bytes + a.resp_bytes), "; ".join(d.message for d in a.diagnoses)]
            for a in report.attention]
    return Section("Sessions that need attention",
                   table=Table(["session", "originator", "responder", "state", "duration s", "bytes", "diagnosis"],
                               rows, {0, 4, 5}, [a.severity for a in report.attention]),
                   empty="No other session needs attention." if report.attention_left_out else
                   "No session needs attention.", note=_attention_note(report))


def _attention_note(report: Report) -> str:
    """How many sessions the list leaves out: past its length, and those an anomaly already tells."""
    shown, left_out = len(report.attention), report.attention_left_out
    notes = [f"{count(shown)} of {count(report.attention_total)} shown."] if shown < report.attention_total else []
    if left_out:
        notes.append(f"{count(left_out)} {'session' if left_out == 1 else 'sessions'} with a problem left out: "
                     f"an anomaly already tells {'it' if left_out == 1 else 'them'}.")
    return " ".join(notes)
