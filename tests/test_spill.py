"""``tcpanalyze.spill.ColumnSpill``: chunks of columns held up to a budget, then in a temporary
file, read back a column at a time exactly as they were added; and an analysis whose session
records and evidence went through the file is the analysis that kept them in memory."""

from __future__ import annotations

import errno
import gc
import os
import tempfile

import numpy as np
import pandas as pd
import pytest
from helpers import SAMPLE_DIR

import tcpanalyze
from tcpanalyze import spill
from tcpanalyze.engine import EngineOptions
from tcpanalyze.errors import TcpanalyzeError
from tcpanalyze.pipeline import partitions
from tcpanalyze.spill import ColumnSpill


def _chunk(start: int, rows: int) -> dict[str, object]:
    ids = np.arange(start, start + rows, dtype=np.int64)
    return {
        "session_id": ids,
        "start": ids * 0.5,
        "port": (ids % 65536).astype(np.uint16),
        "addr": pd.Categorical([f"10.0.0.{i % 3}" if i % 4 else None for i in ids.tolist()]),
        "state": pd.array([("SF", "REJ", None)[i % 3] for i in ids.tolist()], dtype="str"),
        "ack": pd.array([i if i % 2 else None for i in ids.tolist()], dtype="Int64"),
    }


def _spilled_files() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("tcpanalyze-spill-")}


@pytest.mark.parametrize("budget", [-1, 0, 2000])  # never written, every chunk written, some of each
def test_pieces_come_back_as_added(budget):
    added = [_chunk(0, 7), _chunk(7, 0), _chunk(7, 300), _chunk(307, 1)]
    expected = [{k: v.copy() for k, v in c.items()} for c in added if len(c["session_id"])]
    column_spill = ColumnSpill("test", budget=budget)
    for chunk in added:
        column_spill.add(chunk)
    assert column_spill.rows == 308 and column_spill.chunks == 3
    assert column_spill.names == list(added[0]) and column_spill.dtypes["addr"] == added[0]["addr"].dtype
    for name in column_spill.names:
        for got, want in zip(column_spill.pieces(name), (c[name] for c in expected), strict=True):
            assert type(got) is type(want) and got.dtype == want.dtype
            pd.testing.assert_extension_array_equal(pd.array(got), pd.array(want))
    column_spill.close()


def test_the_file_goes_with_close_and_with_the_spill():
    before = _spilled_files()
    closed, dropped = ColumnSpill("test", budget=0), ColumnSpill("test", budget=0)
    closed.add(_chunk(0, 10))
    dropped.add(_chunk(0, 10))
    assert len(_spilled_files() - before) == 2
    closed.close()
    del dropped
    gc.collect()
    assert _spilled_files() == before


def test_a_file_that_cannot_be_written_is_one_line(monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tempfile, "mkstemp", full_disk)
    column_spill = ColumnSpill("session records'", budget=0)
    with pytest.raises(TcpanalyzeError, match=r"^cannot write the session records' temporary file in .*: "
                                              r"No space left on device \(TMPDIR"):
        column_spill.add(_chunk(0, 3))


CAPTURES = ["real-zero-window.pcap", "anomaly-rst-storm.pcap", "anomaly-syn-flood.pcap", "real-loss-random-sender.pcap"]


@pytest.mark.parametrize("name", CAPTURES)
def test_an_analysis_through_the_file_is_the_analysis_in_memory(name, monkeypatch):
    path = str(SAMPLE_DIR / name)
    # sessions emitted as soon as they close, in 40-record batches: many chunks, ids out of order
    monkeypatch.setattr(partitions, "EMIT_CHUNK", 2)
    settings = {"packets": False, "max_records": 40, "options": EngineOptions(closed_linger_s=0.0)}
    in_memory = tcpanalyze.analyze(path, **settings)
    monkeypatch.setattr(spill, "SPILL_BYTES", 0)
    written = []
    monkeypatch.setattr(ColumnSpill, "_write", lambda self, values, write=ColumnSpill._write: written.append(1)
                        or write(self, values))
    through_file = tcpanalyze.analyze(path, **settings)
    assert written
    if len(in_memory.sessions) > 10:  # several chunks of sessions went to the file
        assert len(written) > 2 * len(in_memory.sessions.columns)
    pd.testing.assert_frame_equal(in_memory.sessions, through_file.sessions)
    pd.testing.assert_frame_equal(in_memory.evidence.packets, through_file.evidence.packets)
    pd.testing.assert_frame_equal(in_memory.anomalies, through_file.anomalies)
    one_batch = tcpanalyze.analyze(path, packets=False, options=settings["options"])
    pd.testing.assert_frame_equal(one_batch.sessions, through_file.sessions)
    pd.testing.assert_frame_equal(one_batch.evidence.packets, through_file.evidence.packets)
