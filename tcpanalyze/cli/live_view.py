"""What ``tcpanalyze live`` shows while it captures: a rich view for people, JSON events for machines.

Both views take the same calls from the capture loop: ``started``; ``opened``, ``closed`` and
``ended`` for sessions; ``anomalies`` for new and grown detections; ``refresh`` with a
:class:`LiveStatus` (at most every ``refresh_s``); ``close`` when the capture stops; ``end``
with the final counts and what was lost on the way (``CaptureLosses``).
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass

import pandas as pd

from ..capture.live import CaptureLosses, CaptureProgress
from ..frames import public_sessions
from ..output import Format, FrameWriter, printable
from ..pipeline.live import IntervalRates, LiveCounters
from .tables import endpoint_text

RECENT_EVENTS = 10
RECENT_ANOMALIES = 6
TOP = 5
# Packets dropped before dumpcap wrote them, as a share of those that passed the capture
# filter, above which the loss is a warning: past 1 % the sessions' retransmission and
# missing-data counts are more the capture's doing than the network's. The capture loss seen
# in TCP (Zeek's capture_loss over an interval) is held to the same mark (Zeek's own notice,
# Too_Much_Loss, waits for 10 % over 15 minutes; here an interval is a second).
DROP_WARNING_PCT = 1.0
# A lag the view shows in yellow: the analysis is working through a backlog.
LAG_WARNING_S = 1.0


@dataclass(frozen=True)
class LiveStatus:
    """Everything a refresh shows: totals, the last interval's rates, how far the analysis is
    behind the capture, and the interval's top talkers and servers."""

    counters: LiveCounters
    rates: IntervalRates
    progress: CaptureProgress
    talkers: pd.DataFrame  # addr, packets, bytes
    servers: pd.DataFrame  # addr, port, packets, bytes


def loss_warning(losses: CaptureLosses) -> str | None:
    """The warning a capture's losses deserve, if any."""
    if losses.drop_pct > DROP_WARNING_PCT:
        return (f"{losses.dropped} of {losses.matched} packets ({losses.drop_pct:.1f}%) were dropped before dumpcap "
                f"wrote them: the analysis is missing them")
    if losses.lost_before_analysis:
        return f"{losses.lost_before_analysis} packets dumpcap wrote were not analysed"
    return None


def tcp_loss_warning(rates: IntervalRates) -> str | None:
    """The warning the capture loss seen in TCP over the last interval deserves, if any."""
    if rates.capture_loss_pct > DROP_WARNING_PCT:
        return (f"{rates.capture_loss_pct:.1f}% of the ACKs over the last {rates.interval_s:.1f} s acknowledged data "
                f"the capture never saw (Zeek's capture_loss): packets are missing from the analysis")
    return None


class AnomalyTally:
    """New anomalies counted by severity, and the info-level ones by kind: those (a
    ``rst_teardown`` per aborted session) are counted, not listed (:func:`listed`)."""

    def __init__(self) -> None:
        self.severities: Counter[str] = Counter()
        self.info_kinds: Counter[str] = Counter()

    def add(self, found: pd.DataFrame) -> None:
        self.severities.update(found["severity"].astype(str))
        self.info_kinds.update(found.loc[found["severity"] == "info", "kind"].astype(str))

    def as_dict(self) -> dict:
        return {"anomalies": dict(self.severities), "info_anomalies": dict(self.info_kinds)}


def listed(anomalies: pd.DataFrame) -> pd.DataFrame:
    """The anomalies worth a line of their own: warnings and critical ones."""
    return anomalies.loc[anomalies["severity"] != "info"]


class JsonEvents:
    """One JSON object per line (stdout, or the ``-o`` file), each with an ``event``: ``start`` (the capture is
    running), ``session_closed`` (a session closed, FIN both ways or a RST: its record as it
    stands), ``session_end`` (the session ended and is freed: its final record; fields of both as
    in ``sessions --format jsonl``), ``anomaly`` (a new warning or critical detection; info ones
    are only counted), ``anomaly_update`` (a reported one grew: the same ``anomaly_id``, its new
    extent), ``stats`` (every second: the running counters, the last interval's ``rates``,
    ``capture`` progress, ``top_talkers``, ``top_servers``, ``anomalies`` by severity and
    ``info_anomalies`` by kind), ``capture_loss`` (a warning: packets lost between the wire and the
    analysis) and ``end`` (final counters, ``capture`` losses, record accounting)."""

    refresh_s = 1.0

    def __init__(self, label: str, path: str | None = None) -> None:
        self._label = label
        self._writer = FrameWriter(Format.jsonl, path)
        self._anomalies = AnomalyTally()
        self._files_missed = 0
        self._lossy = False  # the last interval's capture loss was a warning

    def started(self) -> None:
        """The capture is running: traffic from now on is seen."""
        self._line({"event": "start", "time": round(time.time(), 3), "interface": self._label})

    def opened(self, sessions: pd.DataFrame | None) -> None:
        """Session starts are not events (a SYN flood would be millions of them); see ``stats``."""

    def closed(self, sessions: pd.DataFrame | None) -> None:
        if sessions is not None:
            self._frame("session_closed", public_sessions(sessions))

    def ended(self, sessions: pd.DataFrame) -> None:
        self._frame("session_end", public_sessions(sessions))

    def anomalies(self, found: pd.DataFrame, grown: pd.DataFrame) -> None:
        self._anomalies.add(found)
        self._frame("anomaly", listed(found))
        self._frame("anomaly_update", listed(grown))

    def refresh(self, status: LiveStatus) -> None:
        self._loss_events(status)
        self._line({"event": "stats", "time": round(time.time(), 3), **status.counters.as_dict(),
                    "rates": asdict(status.rates), "capture": _progress_dict(status.progress),
                    "top_talkers": status.talkers.to_dict("records"), "top_servers": status.servers.to_dict("records"),
                    **self._anomalies.as_dict()})

    def _loss_events(self, status: LiveStatus) -> None:
        """A ``capture_loss`` event for each ring file newly missed, and when the capture loss seen in
        TCP turns into a warning (once, until an interval is below the mark again)."""
        missed = status.progress.files_missed
        if missed > self._files_missed:
            self._files_missed = missed
            self._line({"event": "capture_loss", "time": round(time.time(), 3), "severity": "warning",
                        "files_missed": missed, "message": f"ring files replaced before they were analysed: {missed}"})
        warning = tcp_loss_warning(status.rates)
        if warning and not self._lossy:
            counters = status.counters
            self._line({"event": "capture_loss", "time": round(time.time(), 3), "severity": "warning",
                        "capture_loss_pct": status.rates.capture_loss_pct, "interval_s": status.rates.interval_s,
                        "advancing_ack_pkts": counters.advancing_ack_pkts,
                        "ack_lost_segment_pkts": counters.ack_lost_segment_pkts, "message": warning})
        self._lossy = warning is not None

    def close(self) -> None:
        self._writer.flush()

    def end(self, counters: LiveCounters, accounting: dict, losses: CaptureLosses) -> None:
        warning = loss_warning(losses)
        if warning:
            self._line({"event": "capture_loss", "time": round(time.time(), 3), "severity": "warning",
                        **losses.as_dict(), "message": warning})
        self._line({"event": "end", "time": round(time.time(), 3), **counters.as_dict(), "capture": losses.as_dict(),
                    **self._anomalies.as_dict(), "accounting": accounting})
        self._writer.close()

    def _frame(self, event: str, frame: pd.DataFrame) -> None:
        if len(frame):
            tagged = frame.copy(deep=False)
            tagged.insert(0, "event", event)
            self._writer.write(tagged)
            self._writer.flush()

    def _line(self, record: dict) -> None:
        self._writer.write_line(json.dumps(record))
        self._writer.flush()


class TerminalView:
    """A rich view on stderr, redrawn ``1 / refresh_s`` times a second: traffic rates, session
    counts, how far the analysis is behind dumpcap, the capture loss seen in TCP, top talkers and
    servers, anomalies by severity (info ones only counted) and the latest sessions opening and
    closing."""

    refresh_s = 0.5

    def __init__(self, label: str) -> None:
        from rich.console import Console
        from rich.live import Live

        self._label = label
        self._state = "starting dumpcap"
        self._started = time.monotonic()
        self._events: deque[tuple[str, ...]] = deque(maxlen=RECENT_EVENTS)
        self._anomalies: dict[int, tuple[str, ...]] = {}  # by anomaly_id, the latest RECENT_ANOMALIES not info
        self._counts = AnomalyTally()
        self._console = Console(stderr=True)
        self._live = Live(console=self._console, auto_refresh=False, transient=True)
        self._live.start()

    def started(self) -> None:
        self._state = "capturing"

    def opened(self, sessions: pd.DataFrame | None) -> None:
        if sessions is not None:
            self._add_events("open", sessions, [""] * len(sessions))

    def closed(self, sessions: pd.DataFrame | None) -> None:
        if sessions is not None:
            self._add_events("closed", sessions, _outcome(sessions.tail(RECENT_EVENTS)))

    def ended(self, sessions: pd.DataFrame) -> None:
        self._add_events("end", sessions, _outcome(sessions.tail(RECENT_EVENTS)))

    def anomalies(self, found: pd.DataFrame, grown: pd.DataFrame) -> None:
        """New anomalies are counted by severity; warnings and critical ones are listed (grown ones
        replace their row, the latest RECENT_ANOMALIES shown), info ones only counted by kind."""
        self._counts.add(found)
        for row in listed(pd.concat([found, grown])).itertuples():
            self._anomalies.pop(row.anomaly_id, None)
            self._anomalies[row.anomaly_id] = (str(row.severity), str(row.kind), printable(str(row.message)))
        for anomaly_id in list(self._anomalies)[:-RECENT_ANOMALIES]:
            del self._anomalies[anomaly_id]

    def refresh(self, status: LiveStatus) -> None:
        self._live.update(self._render(status), refresh=True)

    def close(self) -> None:
        self._live.stop()

    def end(self, counters: LiveCounters, accounting: dict, losses: CaptureLosses) -> None:
        """The report that follows says it all; a capture that lost packets gets a warning first."""
        warning = loss_warning(losses)
        if warning:
            self._console.print(f"[bold red]warning:[/] {warning}", highlight=False)

    def _add_events(self, what: str, sessions: pd.DataFrame, details: list[str]) -> None:
        recent = sessions.tail(RECENT_EVENTS)
        clock = pd.to_datetime(recent["start"], unit="s").dt.strftime("%H:%M:%S")
        rows = zip(clock, recent["session_id"], endpoint_text(recent["orig_addr"], recent["orig_port"]),
                   endpoint_text(recent["resp_addr"], recent["resp_port"]), details[-len(recent):])
        for start, sid, orig, resp, detail in rows:
            self._events.append((what, str(sid), start, orig, resp, detail))

    def _render(self, status: LiveStatus):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        c, r, p = status.counters, status.rates, status.progress
        elapsed = time.monotonic() - self._started
        header = Text(f"tcpanalyze live: {self._state} on {printable(self._label)}, {elapsed:.0f} s "
                      f"(Ctrl-C stops and prints the report)", style="bold")
        summary = Table.grid(padding=(0, 2))
        summary.add_column(style="bold cyan")
        summary.add_column()
        summary.add_row("traffic", f"{r.packets_per_s:,.0f} packets/s   {_bits(r.bits_per_s)}   "
                                   f"{r.sessions_started_per_s:,.1f} sessions/s   retrans {r.retrans_pct:.2f}%   "
                                   f"RST {r.rst_per_s:,.1f}/s ({r.rst_pct:.2f}%)   over the last {r.interval_s:.1f} s")
        summary.add_row("sessions", f"{c.sessions_started:,} started: {c.sessions_open:,} open, "
                                    f"{c.sessions_lingering:,} closed and lingering, {c.sessions_ended:,} ended   "
                                    f"({c.sessions_closed:,} closed in all)")
        summary.add_row("totals", f"{c.records:,} packets ({c.tcp_packets:,} TCP), {_bytes(c.wire_bytes)}, "
                                  f"{c.retrans_data_pkts:,} retransmitted ({c.retrans_pct:.2f}%), "
                                  f"{c.rst_pkts:,} RST, {c.zero_window_episodes:,} zero windows")
        summary.add_row("capture", Text.from_markup(_capture_line(p)))
        summary.add_row("loss", Text.from_markup(_loss_line(c, r)))
        summary.add_row("anomalies", self._severity_line())
        parts = [header, summary, _top_tables(status)]
        if self._anomalies:
            found = Table(box=None, pad_edge=False, show_header=False)
            for _ in range(3):
                found.add_column()
            for row in self._anomalies.values():
                found.add_row(*row, style="red" if row[0] == "critical" else "yellow")
            parts.append(found)
        events = Table(title="latest sessions", title_justify="left", box=None, pad_edge=False)
        for name in ("", "id", "start", "originator", "responder", "how it went"):
            events.add_column(name)
        for row in self._events:
            events.add_row(*row, style="green" if row[0] == "open" else None)
        parts.append(events)
        return Group(*parts)

    def _severity_line(self) -> str:
        severities = self._counts.severities
        counts = ", ".join(f"{severities[s]} {s}" for s in ("critical", "warning") if severities[s])
        info = severities["info"]
        if info:
            kinds = ", ".join(f"{kind} {n}" for kind, n in self._counts.info_kinds.most_common())
            counts += f"{', ' if counts else ''}{info} info ({kinds}; not listed)"
        return counts or "none"


def _capture_line(p: CaptureProgress) -> str:
    """Packets written (read back from dumpcap's files) and analysed, and the lag: what is written
    and not analysed yet (yellow from LAG_WARNING_S)."""
    unread = f"; {_bytes(p.unread_bytes)} not read yet" if p.unread_bytes else ""
    behind = f"lag {p.behind_s:.1f} s ({p.behind_packets:,} packets, {_bytes(p.behind_bytes)}{unread})"
    behind = f"[yellow]{behind}[/]" if p.behind_s >= LAG_WARNING_S else behind
    missed = f", [bold red]ring files replaced unread: {p.files_missed}[/]" if p.files_missed else ""
    return f"{p.written:,} packets written, {p.analysed:,} analysed: {behind}{missed}"


def _loss_line(c: LiveCounters, r: IntervalRates) -> str:
    """The two loss figures: the capture loss seen in TCP over the interval (red past the warning
    mark) and since the start; the kernel's drops, which dumpcap tells only when it stops."""
    loss = f"capture loss (ACKs of unseen data, as Zeek's capture_loss): {r.capture_loss_pct:.2f} %"
    loss = f"[bold red]{loss}[/]" if tcp_loss_warning(r) else loss
    return (f"{loss} over the last {r.interval_s:.1f} s ({c.capture_loss_pct:.2f} % since the start)\n"
            f"kernel drops: dumpcap counts them when it stops (shown at the end)")


def _top_tables(status: LiveStatus):
    """Top talkers and top servers side by side, as rates over the last interval."""
    from rich.table import Table

    seconds = max(status.rates.interval_s, 1e-9)
    talkers, servers = status.talkers, status.servers
    tables = []
    for title, frame, names in (
            ("top talkers (sent)", talkers, talkers["addr"].map(printable)),
            ("top servers (both ways)", servers, endpoint_text(servers["addr"], servers["port"]) if len(servers) else [])):
        table = Table(title=title, title_justify="left", box=None, pad_edge=False)
        for name, justify in (("address", "left"), ("packets/s", "right"), ("bits/s", "right")):
            table.add_column(name, justify=justify)
        for name, packets, size in zip(names, frame["packets"], frame["bytes"]):
            table.add_row(name, f"{packets / seconds:,.0f}", _bits(8 * size / seconds))
        tables.append(table)
    grid = Table.grid(padding=(0, 6))
    grid.add_row(*tables)
    return grid


def _progress_dict(p: CaptureProgress) -> dict:
    return {**asdict(p), "behind_packets": p.behind_packets, "behind_s": round(p.behind_s, 3)}


def _bits(per_s: float) -> str:
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if per_s >= scale:
            return f"{per_s / scale:.1f} {unit}"
    return f"{per_s:.0f} bit/s"


def _bytes(size: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:.0f} B"


def _outcome(sessions: pd.DataFrame) -> list[str]:
    """How each session went, in a few words: state, close, bytes each way, retransmissions."""
    return (sessions["conn_state"].astype(str) + " " + sessions["close_type"].astype(str) + " "
            + sessions["orig_bytes"].astype(str) + "/" + sessions["resp_bytes"].astype(str) + " B, "
            + (sessions["orig_retrans_pkts"] + sessions["resp_retrans_pkts"]).astype(str) + " retrans").tolist()
