"""``tcpanalyze live``: capture on an interface and analyse as packets arrive.

dumpcap (Wireshark's capture engine) writes pcapng files (the ``--write`` file, or a ring in a
temporary directory) and the same kernels and engine as for files follow them in batches, so the
capture never waits for the analysis. Sessions are reported as they close and as they end (or idle
out), with rates, counters, top talkers, anomalies and the capture loss seen in TCP (Zeek's
capture_loss, live); the capture ends with what was lost on the way (dumpcap's drop counts, known
only when it stops) and the report of what was seen.
"""

from __future__ import annotations

import enum
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from ..capture.dumpcap import BUFFER_MIB
from ..errors import UsageError
from .app import EXIT_CODES, OUTPUT_OPT, app, open_text_output, output_path, report_accounting


class LiveFormat(str, enum.Enum):
    table = "table"
    jsonl = "jsonl"


# The loop wakes at least this often without traffic (to start the view, expire idle sessions).
TICK_S = 0.25
# Anomaly detection runs this often (when packets came since) over the most recent sessions:
# the last DETECT_ENDED ended ones and the DETECT_LIVE newest live ones as they stand. Bounded,
# it costs about the same (a fraction of a second) whatever the capture's length or a flood's size.
DETECT_EVERY_S = 2.0
DETECT_ENDED = 20_000
DETECT_LIVE = 20_000


@app.command(epilog=EXIT_CODES)
def live(
    interface: Optional[str] = typer.Option(None, "--interface", "-i", help="Interface to capture on (see `tcpanalyze interfaces`)."),
    bpf: Optional[str] = typer.Option(None, "--capture-filter",
                                      help="Capture filter, in libpcap (tcpdump) syntax, as dumpcap's and tshark's -f "
                                           "(--filter and -Y are display filters in the other commands)."),
    duration: Optional[float] = typer.Option(None, "--duration", min=0.001, help="Stop after this many seconds."),
    count: Optional[int] = typer.Option(None, "--count", "-c", min=1, help="Stop after this many packets (captured, after the filter)."),
    write: Optional[Path] = typer.Option(None, "--write", "-w",
                                         help="dumpcap writes the capture here (pcapng; the analysis reads this file)."),
    ring: Optional[int] = typer.Option(None, "--ring", min=2,
                                       help="With --write: a ring buffer of this many files named after it (dumpcap -b files:N)."),
    ring_size: int = typer.Option(100, "--ring-size", min=1, help="With --ring: megabytes per file (dumpcap -b filesize)."),
    buffer: int = typer.Option(BUFFER_MIB, "--buffer", min=1,
                               help="Kernel capture buffer in MiB (dumpcap -B): room for bursts while dumpcap is not running."),
    fmt: LiveFormat = typer.Option(LiveFormat.table, "--format", "-f",
                                   help="table: a view on the terminal; jsonl: events on stdout (or -o)."),
    output: Optional[Path] = OUTPUT_OPT,
    idle_timeout: float = typer.Option(300.0, "--idle-timeout", min=0.001,
                                       help="A session silent this many seconds ends (frees its memory)."),
    from_stdin: bool = typer.Option(False, "--from-stdin", hidden=True,
                                    help="Read a pcapng stream from stdin instead of capturing (testing)."),
) -> None:
    """Capture on an interface and analyse it live: sessions as they end, counters, anomalies.

    Stops on Ctrl-C, after --duration or --count (whichever comes first), then prints the report of what it saw
    (to stdout, or the -o file).

    --format jsonl writes one JSON object per line to stdout (or the -o file): start, session_closed (as soon as a session closes),
    session_end (its final record, when it ends), anomaly and anomaly_update (warnings and worse; info ones are counted in
    stats), stats (every second: rates, counters, the capture loss seen in TCP, lag behind the capture, top talkers and
    servers), capture_loss (a warning), end (with dumpcap's drop counts).

    Needs dumpcap (Wireshark) and the right to capture: root, or dumpcap's capabilities.

    To narrow what is seen, give a capture filter (--capture-filter 'host 10.0.0.2 and tcp port 443');
    the file commands' --host, --port, --session and --time-range do not apply to a live capture.

    Example: tcpanalyze live -i lo --capture-filter 'tcp port 443' --duration 2 --write incident.pcapng
    """
    # Only the light capture module here: dumpcap starts before pandas and numba load.
    from ..capture.live import LiveSource

    if from_stdin == (interface is not None):
        raise UsageError("live needs an interface: -i IFACE (`tcpanalyze interfaces` lists them)")
    if from_stdin and (bpf or duration or count or ring):
        raise UsageError("--capture-filter, --duration, --count and --ring apply to an interface, not to --from-stdin")
    if ring is not None and write is None:
        raise UsageError("--ring needs --write: the ring's files are named after it")
    write_path = None if write is None else str(write)
    if from_stdin:
        source = LiveSource(sys.stdin.fileno(), label="<stdin>", write_path=write_path)
    else:
        source = LiveSource.capture(interface, bpf=bpf, duration_s=duration, count=count, write_path=write_path,
                                    ring=None if ring is None else (ring, ring_size * 1000), buffer_mib=buffer)
    jsonl = fmt == LiveFormat.jsonl
    # The -o file is opened before the capture starts: a bad path fails now, not after an hour.
    with source, open_text_output(None if jsonl else output) as report_out:
        from ..engine import EngineOptions
        from ..pipeline.live import LiveAnalysis, RecentSessions
        from .live_view import JsonEvents, TerminalView

        analysis = LiveAnalysis(EngineOptions(idle_timeout_s=idle_timeout), wall_clock=not from_stdin)
        recent = RecentSessions()
        view = JsonEvents(source.info.path, output_path(output)) if jsonl else TerminalView(source.info.path)
        try:
            _run(source, analysis, recent, AnomalyWatch(), view)
        finally:
            view.close()
        losses = source.losses()
        source.info.warnings.extend(losses.sentences())
        analysis.accounting.finish(source.info)
        view.end(analysis.counters(), analysis.accounting.as_dict(), losses)
        _summary(analysis, recent, sys.stderr if jsonl else report_out)


def _run(source, analysis, recent, detector, view) -> None:
    """The capture loop: every step's sessions to the view, counters and detection on a timer."""
    from ..pipeline.live import follow

    next_refresh = next_detect = time.monotonic()
    detected_at = None  # the counters the last detection saw
    announced = False
    interval = _Interval(analysis)
    with _stop_on_signals(source):
        for step in follow(source, analysis, tick_s=TICK_S):
            if not announced and source.started.is_set():
                view.started()
                announced = True
            view.opened(step.opened)
            view.closed(step.closed)
            for chunk in step.ended:
                recent.add(chunk)
                view.ended(chunk)
            now = time.monotonic()
            if now >= next_detect:
                counters = analysis.counters()
                if counters != detected_at:
                    view.anomalies(*detector.update(recent.frame(analysis.newest_live(DETECT_LIVE), last=DETECT_ENDED)))
                    detected_at = counters
                next_detect = now + DETECT_EVERY_S
            if now >= next_refresh:
                view.refresh(interval.status(source.progress()))
                next_refresh = now + view.refresh_s
    if analysis.counters() != detected_at:
        view.anomalies(*detector.update(recent.frame()))


class _Interval:
    """The view's status at each refresh: rates and top talkers over the time since the last one."""

    def __init__(self, analysis) -> None:
        self._analysis = analysis
        self._counters = analysis.counters()
        self._at = time.monotonic()

    def status(self, progress):
        from .live_view import TOP, LiveStatus

        counters, now = self._analysis.counters(), time.monotonic()
        talkers, servers = self._analysis.traffic.take(TOP)
        status = LiveStatus(counters, counters.rates_since(self._counters, now - self._at), progress, talkers, servers)
        self._counters, self._at = counters, now
        return status


class AnomalyWatch:
    """Runs anomaly detection over sessions again and again, and says what changed: anomalies
    not reported before, and reported ones that grew (a flood that goes on).

    An anomaly is the same one as a reported anomaly of its kind and target when their times
    overlap (a detection window that slides cuts an ongoing one at different starts); it keeps
    the ``anomaly_id`` it was first reported with, and is reported again when its end moves on.
    """

    def __init__(self) -> None:
        self._reported: dict[tuple, list[list]] = {}  # (kind, target) -> [anomaly_id, start, end] each
        self._next_id = 0

    def update(self, sessions):
        """Detect over ``sessions``: (new anomalies, grown ones), each with its stable ``anomaly_id``."""
        import numpy as np

        from ..detect import detect_anomalies

        found = detect_anomalies(sessions, None)
        ids, new, grown = [], [], []
        for kind, addr, port, start, end in zip(found["kind"], found["target_addr"], found["target_port"],
                                                found["start"], found["end"]):
            spans = self._reported.setdefault((kind, str(addr), str(port)), [])
            span = next((s for s in spans if start <= s[2] and end >= s[1]), None)
            if span is None:
                span = [self._next_id, start, end]
                spans.append(span)
                self._next_id += 1
                is_new, has_grown = True, False
            else:
                is_new, has_grown = False, end > span[2]
                span[1], span[2] = min(span[1], start), max(span[2], end)
            ids.append(span[0])
            new.append(is_new)
            grown.append(has_grown)
        found = found.assign(anomaly_id=np.array(ids, np.int64))
        return found.loc[np.array(new, bool)], found.loc[np.array(grown, bool)]


@contextmanager
def _stop_on_signals(source):
    """Ctrl-C (or SIGTERM) ends the capture cleanly, once; a second one aborts."""
    stopping = []

    def stop(signum, frame):
        if stopping:
            raise KeyboardInterrupt
        stopping.append(signum)
        source.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _summary(analysis, recent, out) -> None:
    """The end-of-capture report (as ``tcpanalyze report`` prints it) of the sessions kept, then
    the record accounting and warnings on stderr."""
    from ..pipeline import Analysis
    from ..report import build_report
    from ..report.text import write_text

    sessions = recent.frame()
    write_text(build_report(Analysis(sessions, None, analysis.accounting, None, analysis.options)), out)
    if recent.dropped:
        print(f"note: the report covers the last {len(sessions)} sessions; {recent.dropped} earlier ones were "
              f"reported as they ended", file=sys.stderr)
    report_accounting(analysis.accounting.as_dict())
