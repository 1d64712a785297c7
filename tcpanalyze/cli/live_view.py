"""What ``tcpanalyze live`` shows while it captures: a rich view for people, JSON events for machines.

Both views take the same calls from the capture loop: ``opened``, ``closed`` and ``ended``
for sessions, ``anomalies`` for new and grown detections, ``refresh`` with the running
counters (at most every ``refresh_s``), ``close`` when the capture stops and ``end`` with the
final counts.
"""

from __future__ import annotations

import json
import time
from collections import deque

import pandas as pd

from ..pipeline.live import LiveCounters
from ..output import Format, FrameWriter, printable
from .tables import endpoint_text

RECENT_EVENTS = 12
RECENT_ANOMALIES = 6


class JsonEvents:
    """One JSON object per line (stdout, or the ``-o`` file), each with an ``event``: ``start`` (the capture is
    running), ``session_closed`` (a session closed, FIN both ways or a RST: its record as it
    stands), ``session_end`` (the session ended and is freed: its final record; fields of both as
    in ``sessions --format jsonl``), ``anomaly`` (a new detection), ``anomaly_update`` (a reported
    one grew: the same ``anomaly_id``, its new extent), ``stats`` (the running counters, every
    second) and ``end`` (final counters and record accounting)."""

    refresh_s = 1.0

    def __init__(self, label: str, path: str | None = None) -> None:
        self._label = label
        self._writer = FrameWriter(Format.jsonl, path)

    def started(self) -> None:
        """The capture is running: traffic from now on is seen."""
        self._line({"event": "start", "time": round(time.time(), 3), "interface": self._label})

    def opened(self, sessions: pd.DataFrame | None) -> None:
        """Session starts are not events (a SYN flood would be millions of them); see ``stats``."""

    def closed(self, sessions: pd.DataFrame | None) -> None:
        if sessions is not None:
            self._frame("session_closed", sessions)

    def ended(self, sessions: pd.DataFrame) -> None:
        self._frame("session_end", sessions)

    def anomalies(self, found: pd.DataFrame, grown: pd.DataFrame) -> None:
        self._frame("anomaly", found)
        self._frame("anomaly_update", grown)

    def refresh(self, counters: LiveCounters) -> None:
        self._line({"event": "stats", "time": round(time.time(), 3), **counters.as_dict()})

    def close(self) -> None:
        self._writer.flush()

    def end(self, counters: LiveCounters, accounting: dict) -> None:
        self._line({"event": "end", "time": round(time.time(), 3), **counters.as_dict(), "accounting": accounting})
        self._writer.close()

    def _frame(self, event: str, frame: pd.DataFrame) -> None:
        if len(frame):
            tagged = frame.copy(deep=False)
            tagged.insert(0, "event", event)
            self._writer.write(tagged)
            self._writer.flush()

    def _line(self, record: dict) -> None:
        self._writer.write_line(json.dumps(record))


class TerminalView:
    """A rich view on stderr, redrawn ``1 / refresh_s`` times a second: counters, the latest
    sessions opening and closing, and anomalies as they are detected."""

    refresh_s = 0.5

    def __init__(self, label: str) -> None:
        from rich.console import Console
        from rich.live import Live

        self._label = label
        self._state = "starting dumpcap"
        self._started = time.monotonic()
        self._events: deque[tuple[str, ...]] = deque(maxlen=RECENT_EVENTS)
        self._anomalies: dict[int, tuple[str, ...]] = {}  # by anomaly_id, the latest RECENT_ANOMALIES
        self._anomaly_count = 0
        self._live = Live(console=Console(stderr=True), auto_refresh=False, transient=True)
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
        """New anomalies are added, grown ones replace their row (the latest RECENT_ANOMALIES shown)."""
        self._anomaly_count += len(found)
        for row in pd.concat([found, grown]).itertuples():
            self._anomalies.pop(row.anomaly_id, None)
            self._anomalies[row.anomaly_id] = (str(row.severity), str(row.kind), printable(str(row.message)))
        for anomaly_id in list(self._anomalies)[:-RECENT_ANOMALIES]:
            del self._anomalies[anomaly_id]

    def refresh(self, counters: LiveCounters) -> None:
        self._live.update(self._render(counters), refresh=True)

    def close(self) -> None:
        self._live.stop()

    def end(self, counters: LiveCounters, accounting: dict) -> None:
        """The report that follows says it all."""

    def _add_events(self, what: str, sessions: pd.DataFrame, details: list[str]) -> None:
        recent = sessions.tail(RECENT_EVENTS)
        clock = pd.to_datetime(recent["start"], unit="s").dt.strftime("%H:%M:%S")
        rows = zip(clock, recent["session_id"], endpoint_text(recent["orig_addr"], recent["orig_port"]),
                   endpoint_text(recent["resp_addr"], recent["resp_port"]), details[-len(recent):])
        for start, sid, orig, resp, detail in rows:
            self._events.append((what, str(sid), start, orig, resp, detail))

    def _render(self, c: LiveCounters):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        elapsed = time.monotonic() - self._started
        header = Text(f"tcpanalyze live: {self._state} on {printable(self._label)}, {elapsed:.0f} s "
                      f"(Ctrl-C stops and prints the report)", style="bold")
        counters = Table(box=None, pad_edge=False)
        for name in ("packets", "TCP", "sessions", "open", "ended", "retrans", "RST", "zero win", "anomalies"):
            counters.add_column(name, justify="right")
        counters.add_row(str(c.records), str(c.tcp_packets), str(c.sessions_started), str(c.sessions_open),
                         str(c.sessions_ended), f"{c.retrans_data_pkts} ({c.retrans_pct:.2f}%)", str(c.rst_pkts),
                         str(c.zero_window_episodes), str(self._anomaly_count))
        events = Table(title="sessions", title_justify="left", box=None, pad_edge=False)
        for name in ("", "id", "start", "originator", "responder", "how it went"):
            events.add_column(name)
        for row in self._events:
            events.add_row(*row, style="green" if row[0] == "open" else None)
        parts = [header, counters, events]
        if self._anomalies:
            found = Table(title="anomalies", title_justify="left", box=None, pad_edge=False)
            for name in ("severity", "kind", "what"):
                found.add_column(name)
            for row in self._anomalies.values():
                found.add_row(*row, style="red" if row[0] == "critical" else "yellow")
            parts.append(found)
        return Group(*parts)


def _outcome(sessions: pd.DataFrame) -> list[str]:
    """How each session went, in a few words: state, close, bytes each way, retransmissions."""
    return (sessions["conn_state"].astype(str) + " " + sessions["close_type"].astype(str) + " "
            + sessions["orig_bytes"].astype(str) + "/" + sessions["resp_bytes"].astype(str) + " B, "
            + (sessions["orig_retrans_pkts"] + sessions["resp_retrans_pkts"]).astype(str) + " retrans").tolist()
