"""The drivers: a capture read once, front to back, through the decoder and the engine.

``analyze`` keeps everything (an ``Analysis``), ``iter_sessions`` streams session records as
sessions end (``packet_tables.session_packets`` reads the packets of a few sessions again).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Iterator

import pandas as pd

from .. import malloc
from ..capture import BATCH_RECORDS, CaptureSpec
from ..capture.reader import ProgressCallback
from ..dfilter import DisplayFilter, TsharkFilter, packet_filter
from ..engine import Engine, EngineOptions
from ..engine.streaming import session_records_empty
from ..errors import UsageError
from ..frames import SESSION_TIMES, public_sessions
from ..packets import Accounting, decoded_batches, open_capture, read_ahead
from .partitions import analyze_part, analyze_parts
from .result import Analysis
from .decoding import decoder_for


def iter_sessions(path: str, accounting: Accounting, *, options: EngineOptions | None = None,
                  max_records: int = BATCH_RECORDS,
                  progress: ProgressCallback | None = None) -> Iterator[pd.DataFrame]:
    """Session records in chunks, as sessions end (streaming: memory follows live sessions).

    ``progress`` is called after each batch read (see ``CaptureReader``).
    """
    engine = Engine(options, per_packet=False)
    with open_capture(path, progress) as reader:
        for _, tcp in read_ahead(decoded_batches(reader, decoder_for(options), accounting, max_records=max_records)):
            engine.process(tcp)
            yield from map(public_sessions, engine.emit())
        yield from map(public_sessions, engine.emit(final=True))


def analyze(path: CaptureSpec, *, packets: bool = True, options: EngineOptions | None = None,
            max_records: int = BATCH_RECORDS, progress: ProgressCallback | None = None,
            evidence: bool = True, columns: Iterable[str] | None = None, workers: int = 1,
            client=None, filter: str | None = None, filter_engine: str = "builtin") -> Analysis:
    """Analyse a capture: every TCP session and (unless ``packets=False``) every TCP packet.

    Without the packets table, the analysis still keeps what anomaly detection and the report
    read (``Analysis.evidence``): both give the same results, in far less memory and time.
    ``evidence=False`` keeps the sessions alone (detectors then fall back on them).
    ``columns`` keeps only those session columns (and ``session_id``), for captures of millions
    of sessions: ``tcpanalyze.detect.DETECTOR_COLUMNS`` are what anomaly detection reads,
    ``tcpanalyze.report.REPORT_COLUMNS`` what the report reads.
    ``filter`` (a Wireshark display filter, ``tcpanalyze.dfilter``) keeps the packets it matches and
    the sessions with at least one of them (their columns still count all their packets); the
    packets table is then partial (``packets_of``), so anomalies are found from the sessions alone.
    ``filter_engine="tshark"`` has tshark evaluate it on the file (any Wireshark field, slower).
    ``workers`` splits the flows among that many processes, and ``client`` (a
    ``distributed.Client``) among the workers of a Dask cluster: the result is the same
    (``tcpanalyze.pipeline.partitions``).

    >>> result = tcpanalyze.analyze("sample_pcaps/real-graceful-close.pcap")
    >>> result.sessions[["session_id", "conn_state", "history", "orig_bytes", "resp_bytes"]]
    """
    if workers < 1:
        raise UsageError(f"workers must be at least 1, not {workers}")
    display_filter = None if filter is None else packet_filter(filter, path, filter_engine)  # before reading
    wanted = None if columns is None else ["session_id", *(c for c in session_columns(columns) if c != "session_id")]
    parts = workers if client is None else max(workers, _cluster_threads(client))
    computed = None if wanted is None else list(dict.fromkeys(SESSION_TIMES.get(c, c) for c in wanted))
    kept = computed if computed is None or parts == 1 or "first_frame" in computed else [*computed, "first_frame"]
    settings = {"packets": packets or display_filter is not None, "options": options, "evidence": evidence,
                "columns": kept, "max_records": max_records}
    if parts == 1:
        result = analyze_part(path, 0, 1, progress=progress, **settings)
    else:
        result = analyze_parts(path, parts, client=client, progress=progress, **settings)
    # codes as categoricals, <NA> for none, datetimes (not made only to be dropped: a selection copies the frame)
    sessions = public_sessions(result.sessions, times=wanted is None or any(t in wanted for t in SESSION_TIMES))
    sessions = sessions if wanted is None or list(sessions.columns) == wanted else sessions[wanted]
    analysis = Analysis(sessions, result.packets, result.accounting, path, options, result.evidence)
    del result  # the records as the engine made them: the public frame replaces them
    malloc.trim()
    return analysis if display_filter is None else _filtered(analysis, display_filter, keep_packets=packets)


def _filtered(analysis: Analysis, display_filter: DisplayFilter | TsharkFilter, keep_packets: bool) -> Analysis:
    """The packets ``display_filter`` matches and the sessions they belong to."""
    frame = analysis.packets
    matched = frame[display_filter.mask(frame, analysis.accounting.first_tcp_ts_ns)].reset_index(drop=True)
    ids = frozenset(matched["session_id"].tolist())
    sessions = analysis.sessions[analysis.sessions["session_id"].isin(ids)].reset_index(drop=True)
    return dataclasses.replace(analysis, sessions=sessions, packets=matched if keep_packets else None,
                               packets_of=ids if keep_packets else None)


def _cluster_threads(client) -> int:
    """How many tasks a Dask cluster runs at once (one part each)."""
    return max(1, sum(client.nthreads().values()))


def session_columns(names: Iterable[str]) -> list[str]:
    """``names`` in order, each once, checked to be session columns (a UsageError names the unknown ones)."""
    known = list(public_sessions(session_records_empty()).columns)
    wanted = list(dict.fromkeys(names))
    unknown = [c for c in wanted if c not in known]
    if unknown:
        close = [m for c in unknown for m in difflib.get_close_matches(c, known, n=3)]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"no session column {', '.join(map(repr, unknown))}{hint} (the README lists all {len(known)}, "
                         "under \"sessions --format jsonl fields\")")
    return wanted
