"""The drivers: a capture read once, front to back, through the decoder and the engine.

``analyze`` keeps everything (an ``Analysis``), ``iter_sessions`` streams session records as
sessions end (``packet_tables.session_packets`` reads the packets of a few sessions again).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

import pandas as pd

from .. import malloc
from ..capture import BATCH_RECORDS
from ..capture.reader import ProgressCallback
from ..decode import Decoder
from ..engine import Engine, EngineOptions
from ..engine.evidence import Evidence
from ..engine.streaming import session_records_empty, sessions_frame
from ..errors import UsageError
from ..frames import packets_frame
from ..packets import Accounting, decoded_batches, open_capture
from .packet_tables import no_packet_rows, packet_rows, packets_table
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


def analyze(path: str, *, packets: bool = True, options: EngineOptions | None = None,
            max_records: int = BATCH_RECORDS, progress: ProgressCallback | None = None,
            evidence: bool = True, columns: Iterable[str] | None = None) -> Analysis:
    """Analyse a capture: every TCP session and (unless ``packets=False``) every TCP packet.

    Without the packets table, the analysis still keeps what anomaly detection and the report
    read (``Analysis.evidence``): both give the same results, in far less memory and time.
    ``evidence=False`` keeps the sessions alone (detectors then fall back on them).
    ``columns`` keeps only those session columns (and ``session_id``), for captures of millions
    of sessions: ``tcpanalyze.detect.DETECTOR_COLUMNS`` are what anomaly detection reads,
    ``tcpanalyze.report.REPORT_COLUMNS`` what the report reads.

    >>> result = tcpanalyze.analyze("sample_pcaps/real-graceful-close.pcap")
    >>> result.sessions[["session_id", "conn_state", "history", "orig_bytes", "resp_bytes"]]
    """
    accounting = Accounting()
    collector = Evidence() if evidence and not packets else None
    kept_columns = None if columns is None else ["session_id", *(c for c in session_columns(columns)
                                                                 if c != "session_id")]
    engine = Engine(options, per_packet=packets, evidence=collector, session_columns=kept_columns)
    chunks: list[pd.DataFrame] = []
    packet_frames: list[pd.DataFrame] = []
    with open_capture(path, progress) as reader:
        for _, tcp in decoded_batches(reader, Decoder(), accounting, max_records=max_records):
            results = engine.process(tcp)
            if packets:
                packet_frames.append(packet_rows(packets_frame(tcp), results))
            chunks.extend(engine.emit())
        chunks.extend(engine.emit(final=True))
        if packets and not packet_frames:  # no records at all: still the same columns
            packet_frames.append(no_packet_rows(engine))
    del engine  # its flow table and stash go before the sessions frame is built
    kept = collector.frames() if collector is not None else None
    table = packets_table(packet_frames) if packets else None
    sessions = sessions_frame(chunks)
    if kept_columns is not None:
        sessions = sessions[kept_columns]  # the chunks kept these already; an empty frame has them all
    malloc.trim()  # what the engine and the emitted chunks held, for whatever comes next
    return Analysis(sessions, table, accounting, path, options, kept)


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
