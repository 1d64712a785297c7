"""The drivers: a capture read once, front to back, through the decoder and the engine.

``analyze`` keeps everything (an ``Analysis``), ``iter_sessions`` streams session records as
sessions end (``packet_tables.session_packets`` reads the packets of a few sessions again).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

import pandas as pd

from ..capture import BATCH_RECORDS, CaptureSpec
from ..capture.reader import ProgressCallback
from ..decode import Decoder
from ..engine import Engine, EngineOptions
from ..engine.streaming import session_records_empty
from ..errors import UsageError
from ..packets import Accounting, decoded_batches, open_capture
from .partitions import analyze_part, analyze_parts
from .result import Analysis


def iter_sessions(path: str, accounting: Accounting, *, options: EngineOptions | None = None,
                  max_records: int = BATCH_RECORDS,
                  progress: ProgressCallback | None = None) -> Iterator[pd.DataFrame]:
    """Session records in chunks, as sessions end (streaming: memory follows live sessions).

    ``progress`` is called after each batch read (see ``CaptureReader``).
    """
    engine = Engine(options, per_packet=False)
    with open_capture(path, progress) as reader:
        for _, tcp in decoded_batches(reader, Decoder(), accounting, max_records=max_records):
            engine.process(tcp)
            yield from engine.emit()
        yield from engine.emit(final=True)


def analyze(path: CaptureSpec, *, packets: bool = True, options: EngineOptions | None = None,
            max_records: int = BATCH_RECORDS, progress: ProgressCallback | None = None,
            evidence: bool = True, columns: Iterable[str] | None = None, workers: int = 1,
            client=None) -> Analysis:
    """Analyse a capture: every TCP session and (unless ``packets=False``) every TCP packet.

    Without the packets table, the analysis still keeps what anomaly detection and the report
    read (``Analysis.evidence``): both give the same results, in far less memory and time.
    ``evidence=False`` keeps the sessions alone (detectors then fall back on them).
    ``columns`` keeps only those session columns (and ``session_id``), for captures of millions
    of sessions: ``tcpanalyze.detect.DETECTOR_COLUMNS`` are what anomaly detection reads,
    ``tcpanalyze.report.REPORT_COLUMNS`` what the report reads.
    ``workers`` splits the flows among that many processes, and ``client`` (a
    ``distributed.Client``) among the workers of a Dask cluster: the result is the same
    (``tcpanalyze.pipeline.partitions``).

    >>> result = tcpanalyze.analyze("sample_pcaps/real-graceful-close.pcap")
    >>> result.sessions[["session_id", "conn_state", "history", "orig_bytes", "resp_bytes"]]
    """
    if workers < 1:
        raise UsageError(f"workers must be at least 1, not {workers}")
    wanted = None if columns is None else ["session_id", *(c for c in session_columns(columns) if c != "session_id")]
    parts = workers if client is None else max(workers, _cluster_threads(client))
    kept = wanted if wanted is None or parts == 1 or "first_frame" in wanted else [*wanted, "first_frame"]
    settings = {"packets": packets, "options": options, "evidence": evidence, "columns": kept,
                "max_records": max_records}
    if parts == 1:
        result = analyze_part(path, 0, 1, progress=progress, **settings)
    else:
        result = analyze_parts(path, parts, client=client, progress=progress, **settings)
    sessions = result.sessions if kept == wanted else result.sessions[wanted]
    return Analysis(sessions, result.packets, result.accounting, path, options, result.evidence)


def _cluster_threads(client) -> int:
    """How many tasks a Dask cluster runs at once (one part each)."""
    return max(1, sum(client.nthreads().values()))


def session_columns(names: Iterable[str]) -> list[str]:
    """``names`` in order, each once, checked to be session columns (a UsageError names the unknown ones)."""
    known = list(session_records_empty().columns)
    wanted = list(dict.fromkeys(names))
    unknown = [c for c in wanted if c not in known]
    if unknown:
        close = [m for c in unknown for m in difflib.get_close_matches(c, known, n=3)]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"no session column {', '.join(map(repr, unknown))}{hint} (the README lists all {len(known)}, "
                         "under \"sessions --format jsonl fields\")")
    return wanted
