"""The filters every command takes: ``--host``, ``--port``, ``--session``, ``--time-range``;
and ``-Y/--filter`` (``FILTER_OPT``; ``SESSION_FILTER_OPT`` for ``sessions``, over its columns),
a Wireshark display filter (``tcpanalyze.dfilter``),
evaluated by tshark with ``--tshark`` (``TSHARK_OPT``). ``matching_sessions`` and
``pick_session`` serve the commands that read a capture again for chosen sessions (``follow``,
``export-streams``, ``plot``).

A command declares the four options (``HOST_OPT``, ``PORT_OPT``, ``SESSION_OPT``,
``TIME_RANGE_OPT``), turns them into a ``Filters`` with ``Filters.parse``, and applies it
to its frames::

    filters = Filters.parse(host, port, session, time_range)
    sessions = filters.sessions(sessions, base_ns=accounting.first_tcp_ts_ns)
    packets = filters.packets(packets, base_ns=int(packets["ts_ns"].iloc[0]))
    analysis = filters.select(analysis)            # the sessions that pass, with all their packets
    anomalies = filters.anomalies(anomalies, analysis.sessions, base_ns=accounting.first_tcp_ts_ns)

Every filter given must hold (they combine with AND). ``--time-range START:END`` takes
seconds since the capture's first TCP packet (time 0 of ``time_s`` in ``tcpanalyze
packets``; with ``--all-records``, the first record), or two ISO 8601 timestamps (UTC unless
they carry an offset). Either end may be left out. A packet is kept when START <= its
time < END; a session (or an anomaly) when any part of it (first to last packet) lies in
that range. An anomaly passes ``--host``/``--port``/``--session`` when one of its sessions
does, or (``--host``/``--port`` only) when its target does.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Optional

import numpy as np
import typer

from ..errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from ..pipeline import Analysis

HOST_OPT = typer.Option(None, "--host", metavar="ADDR",
                        help="Only traffic to or from this IP address (either endpoint).")
PORT_OPT = typer.Option(None, "--port", min=0, max=65535, help="Only traffic to or from this port (either endpoint).")
SESSION_OPT = typer.Option(None, "--session", metavar="ID", help="Only this session id (repeat for several).")
TIME_RANGE_OPT = typer.Option(
    None, "--time-range", metavar="START:END",
    help="Only this time span: seconds since the first TCP packet (e.g. 1.5:3, 10:, :0.5) or ISO 8601 "
         "timestamps, UTC unless an offset is given (e.g. 2024-05-01T10:00:00:2024-05-01T10:00:05).")
FILTER_OPT = typer.Option(
    None, "--filter", "-Y", metavar="EXPR",
    help="Only rows matching this Wireshark display filter, e.g. 'tcp.port == 443 && tcp.analysis.retransmission' "
         "(Wireshark's field names; the README lists them).")
# sessions filters its rows on their own columns: a packet field has no value there.
SESSION_FILTER_OPT = typer.Option(
    None, "--filter", "-Y", metavar="EXPR",
    help="Only sessions matching this display filter (Wireshark's syntax) over the session columns, e.g. "
         "'resp_port == 443 && orig_retrans_pkts > 3' (the README lists them).")

TSHARK_OPT = typer.Option(
    False, "--tshark",
    help="Have tshark evaluate -Y on the file: any Wireshark field, Wireshark's exact semantics, slower "
         "(needs tshark and one capture file).")

_SECONDS = r"\s*(\d+(?:\.\d*)?|\.\d+)?\s*"
_RELATIVE = re.compile(f"^{_SECONDS}:{_SECONDS}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class TimeRange:
    """A time span, either in seconds relative to a base time or in absolute epoch nanoseconds."""

    start: float | int | None
    end: float | int | None
    relative: bool

    @classmethod
    def parse(cls, text: str) -> "TimeRange":
        """``START:END`` in relative seconds, or two ISO 8601 timestamps; UsageError if neither."""
        match = _RELATIVE.match(text)
        if match:
            start, end = (None if g is None else float(g) for g in match.groups())
            span = cls(start, end, relative=True)
        else:
            span = cls(*_iso_pair(text), relative=False)
        if span.start is None and span.end is None:
            raise UsageError(f"--time-range {text!r}: give a start, an end, or both (START:END)")
        if span.start is not None and span.end is not None and span.end < span.start:
            raise UsageError(f"--time-range {text!r}: the end comes before the start")
        return span

    def bounds_ns(self, base_ns: int | None) -> tuple[int | None, int | None]:
        """Start and end as epoch nanoseconds (relative times are added to ``base_ns``)."""
        if not self.relative:
            return self.start, self.end  # type: ignore[return-value]
        base = base_ns or 0
        return tuple(None if v is None else base + round(v * 1e9) for v in (self.start, self.end))  # type: ignore


def _iso_pair(text: str) -> tuple[int | None, int | None]:
    """Split ``START:END`` at the one colon where both sides read as ISO timestamps (or are empty)."""
    for at in (i for i, c in enumerate(text) if c == ":"):
        try:
            return _iso_ns(text[:at]), _iso_ns(text[at + 1:])
        except ValueError:
            continue
    raise UsageError(f"--time-range {text!r}: expected START:END in seconds (e.g. 1.5:3) "
                     f"or ISO 8601 timestamps (e.g. 2024-05-01T10:00:00:2024-05-01T10:00:05)")


def _iso_ns(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


@dataclass(frozen=True)
class Filters:
    """What to keep: rows matching every filter given (None or empty: no filter)."""

    host: str | None = None
    port: int | None = None
    session_ids: tuple[int, ...] = ()
    time_range: TimeRange | None = None

    @classmethod
    def parse(cls, host: Optional[str], port: Optional[int], session: Optional[list[int]],
              time_range: Optional[str]) -> "Filters":
        """The filters from the command-line options; UsageError for a bad address or time range."""
        if host is not None:
            try:
                host = str(ipaddress.ip_address(host.strip()))  # the text form the frames use
            except ValueError:
                raise UsageError(f"--host {host!r}: not an IPv4 or IPv6 address") from None
        return cls(host, port, tuple(session or ()), None if time_range is None else TimeRange.parse(time_range))

    @property
    def active(self) -> bool:
        return bool(self.host is not None or self.port is not None or self.session_ids or self.time_range)

    def sessions(self, frame: "pd.DataFrame", base_ns: int | None) -> "pd.DataFrame":
        """The sessions of ``frame`` (a sessions frame, or a chunk of one) that pass every filter."""
        if not self.active or frame.empty:
            return frame
        keep = self._endpoint_mask(frame, ("orig_addr", "resp_addr"), ("orig_port", "resp_port"))
        return frame[keep & self._span_mask(frame, base_ns)]

    def select(self, analysis: "Analysis") -> "Analysis":
        """The analysis narrowed to the sessions that pass, each with all its packets (same accounting)."""
        if not self.active:
            return analysis
        sessions = self.sessions(analysis.sessions, analysis.accounting.first_tcp_ts_ns).reset_index(drop=True)
        def of_sessions(frame: "pd.DataFrame | None") -> "pd.DataFrame | None":
            if frame is None:
                return None
            return frame[frame["session_id"].isin(sessions["session_id"])].reset_index(drop=True)

        evidence = analysis.evidence
        if evidence is not None:
            evidence = dataclasses.replace(evidence, packets=of_sessions(evidence.packets),
                                           rtt=evidence.rtt.of_sessions(sessions["session_id"].to_numpy(np.int64)))
        return dataclasses.replace(analysis, sessions=sessions, packets=of_sessions(analysis.packets),
                                   evidence=evidence)

    def anomalies(self, frame: "pd.DataFrame", sessions: "pd.DataFrame", base_ns: int | None) -> "pd.DataFrame":
        """The anomalies of ``frame`` that pass: their time window overlaps ``--time-range``, and one of
        their sessions (from ``sessions``) passes the other filters, or their target passes ``--host``
        and ``--port`` (when no ``--session`` is given)."""
        if not self.active or frame.empty:
            return frame
        keep = self._span_mask(frame, base_ns)
        if self.host is not None or self.port is not None or self.session_ids:
            matching = set(dataclasses.replace(self, time_range=None).sessions(sessions, None)["session_id"].tolist())
            by_session = np.array([not matching.isdisjoint(ids) for ids in frame["session_ids"]], np.bool_)
            by_target = np.zeros(len(frame), np.bool_)
            if not self.session_ids:
                by_target[:] = True
                if self.host is not None:
                    by_target &= (frame["target_addr"].astype(str) == self.host).to_numpy(bool)
                if self.port is not None:
                    by_target &= (frame["target_port"] == self.port).fillna(False).to_numpy(bool)
            keep &= by_session | by_target
        return frame[keep]

    def _span_mask(self, frame: "pd.DataFrame", base_ns: int | None) -> np.ndarray:
        """Rows whose ``start``..``end`` (epoch seconds) overlaps ``--time-range`` (all rows without one)."""
        keep = np.ones(len(frame), np.bool_)
        if self.time_range is not None:
            start, end = self.time_range.bounds_ns(base_ns)
            if start is not None:
                keep &= frame["end"].to_numpy() >= start / 1e9
            if end is not None:
                keep &= frame["start"].to_numpy() < end / 1e9
        return keep

    def packets(self, frame: "pd.DataFrame", base_ns: int | None) -> "pd.DataFrame":
        """The packets (or records) of ``frame`` that pass every filter."""
        if not self.active or frame.empty:
            return frame
        keep = self._endpoint_mask(frame, ("src_addr", "dst_addr"), ("src_port", "dst_port"))
        if self.time_range is not None:
            start, end = self.time_range.bounds_ns(base_ns)
            ts = frame["ts_ns"].to_numpy()
            if start is not None:
                keep &= ts >= start
            if end is not None:
                keep &= ts < end
        return frame[keep]

    def _endpoint_mask(self, frame: "pd.DataFrame", addrs: tuple[str, str], ports: tuple[str, str]) -> np.ndarray:
        keep = np.ones(len(frame), np.bool_)
        if self.host is not None:
            keep &= (frame[addrs[0]] == self.host).to_numpy(bool) | (frame[addrs[1]] == self.host).to_numpy(bool)
        if self.port is not None:
            keep &= (frame[ports[0]] == self.port).to_numpy(bool) | (frame[ports[1]] == self.port).to_numpy(bool)
        if self.session_ids:
            keep &= frame["session_id"].isin(self.session_ids).to_numpy()
        return keep


def filter_engine(tshark: bool) -> str:
    """The ``--tshark`` flag as ``analyze``'s ``filter_engine``."""
    return "tshark" if tshark else "builtin"


def tshark_needs_filter(display_filter: Optional[str], tshark: bool) -> None:
    """UsageError for ``--tshark`` without ``-Y``."""
    if tshark and display_filter is None:
        raise UsageError("--tshark evaluates a display filter: give -Y EXPR too")


def matching_sessions(file: str | list[str], display_filter: Optional[str], tshark: bool,
                      progress=None) -> "Analysis":
    """The sessions of ``file`` (no packets table but from standard input), only those with a
    packet ``display_filter`` matches when it is given: the first pass of a command that then
    reads chosen sessions again."""
    from ..pipeline import analyze

    if display_filter is not None and file == "-":
        raise UsageError("-Y needs a second pass over the capture for the sessions it picks: "
                         "give a file, not standard input")
    tshark_needs_filter(display_filter, tshark)
    # standard input is read once: keep every packet for what comes next
    return analyze(file, packets=file == "-", evidence=False, filter=display_filter,
                   filter_engine=filter_engine(tshark), progress=progress)


def chosen_session(file: str, session_id: Optional[int], display_filter: Optional[str], tshark: bool,
                   progress=None) -> int:
    """``pick_session`` for a command that reads the chosen session itself (a pass of
    ``matching_sessions`` first only when there is a display filter)."""
    tshark_needs_filter(display_filter, tshark)
    if display_filter is None:
        return pick_session(session_id, [], None)
    matching = matching_sessions(file, display_filter, tshark, progress).sessions["session_id"].tolist()
    return pick_session(session_id, matching, display_filter)


def pick_session(session_id: Optional[int], matching: list[int], display_filter: Optional[str]) -> int:
    """The session to show: ``session_id``, which must match ``display_filter`` if one is given,
    else the first session that does; UsageError when there is none."""
    if display_filter is None:
        if session_id is None:
            raise UsageError("give a SESSION id, or -Y EXPR for the first session with a matching packet")
        return session_id
    if not matching:
        raise UsageError(f"no session has a packet matching -Y {display_filter!r}")
    if session_id is None:
        return matching[0]
    if session_id not in matching:
        raise UsageError(f"session {session_id} has no packet matching -Y {display_filter!r}")
    return session_id
