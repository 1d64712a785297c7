"""``Engine.snapshot``: records of the live sessions as they stand, without ending them.

At any point of a capture, the snapshot must equal what emitting every live session at that
point gives (a second engine fed the same batches, then ``emit(final=True)``), stashed
one-packet sessions included; and taking snapshots must not change what the engine emits later.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import sample_files

import tcpanalyze
from tcpanalyze.frames import public_sessions
from tcpanalyze import EngineOptions
from tcpanalyze.capture import CaptureReader
from tcpanalyze.decode import Decoder
from tcpanalyze.engine import Engine
from tcpanalyze.errors import CaptureError
from tcpanalyze.flows import SESSION_ID
from tcpanalyze.packets import Accounting, decoded_batches

# Each capture is cut into about this many batches; snapshots are taken after a few of them.
BATCHES = 6
CHECKPOINTS = (0, 2, 4)
OPTIONS = {"file": EngineOptions(), "short_timeouts": EngineOptions(idle_timeout_s=1.0, closed_linger_s=0.5)}


def tcp_batches(path: Path) -> list:
    """The capture's TCP packets in about BATCHES decoded batches."""
    try:
        with CaptureReader(str(path)) as reader:
            records = sum(len(batch) for batch in reader.batches())
        with CaptureReader(str(path)) as reader:
            size = max(1, -(-records // BATCHES))
            return [tcp for _, tcp in decoded_batches(reader, Decoder(), Accounting(), max_records=size)]
    except CaptureError:
        pytest.skip("not readable as a capture")


def fed(batches: list, options: EngineOptions) -> tuple[Engine, list[pd.DataFrame]]:
    """An engine (as live capture runs it) fed ``batches`` one by one, emitting after each, and
    what it emitted."""
    engine = Engine(options, per_packet=False)
    emitted = []
    for batch in batches:
        engine.process(batch)
        emitted.extend(engine.emit())
    return engine, emitted


def plain(sessions: pd.DataFrame) -> pd.DataFrame:
    """Records with addresses as text (chunks carry different categories) and a fresh index."""
    return sessions.assign(orig_addr=sessions["orig_addr"].astype(str),
                           resp_addr=sessions["resp_addr"].astype(str)).reset_index(drop=True)


def concat(chunks: list[pd.DataFrame]) -> pd.DataFrame:
    return plain(pd.concat(chunks, ignore_index=True)) if chunks else None


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_snapshot_equals_the_records_emitted_if_the_capture_ended_there(path, options):
    batches = tcp_batches(path)
    engine = Engine(OPTIONS[options], per_packet=False)
    emitted = []
    for k, batch in enumerate(batches):
        engine.process(batch)
        emitted.extend(engine.emit())
        if k not in CHECKPOINTS:
            continue
        finished, _ = fed(batches[: k + 1], OPTIONS[options])
        expected = concat(list(finished.emit(final=True)))
        snapshot = engine.snapshot()
        if expected is None or not len(expected):
            assert len(snapshot) == 0
            continue
        pd.testing.assert_frame_equal(plain(snapshot), expected)
        # a selection of sessions, in any order, gives their rows (ordered by session id)
        live = np.flatnonzero(engine.flows.state.m["i64"][SESSION_ID] >= 0)[::-1][:3]
        some = engine.snapshot(live)
        pd.testing.assert_frame_equal(plain(some), expected[expected["session_id"].isin(some["session_id"])]
                                      .reset_index(drop=True))
        assert len(some) == min(3, len(expected))
    emitted.extend(engine.emit(final=True))
    # the snapshots left the engine as it was: the same records as an engine that took none
    untouched, untouched_emitted = fed(batches, OPTIONS[options])
    untouched_emitted.extend(untouched.emit(final=True))
    pd.testing.assert_frame_equal(concat(emitted), concat(untouched_emitted))


def test_snapshot_replays_a_stashed_one_packet_session_without_using_its_stash():
    path = Path(__file__).parents[2] / "sample_pcaps" / "anomaly-syn-flood.pcap"
    batches = tcp_batches(path)
    engine, _ = fed(batches, EngineOptions())
    stashed = np.flatnonzero((engine.flows.state.m["i64"][SESSION_ID] >= 0) & (engine.column[: engine.flows.state.capacity] < 0))
    assert stashed.size > 1000  # most flood SYNs were never answered: one packet each, no state
    in_use = engine.sessions.capacity - engine.columns.top
    snapshot = engine.snapshot()
    assert (engine.column[stashed] < 0).all() and (engine.stash.m["i64"][1][stashed] >= 0).all()
    assert engine.sessions.capacity - engine.columns.top == in_use  # the temporary state was given back
    expected = tcpanalyze.analyze(str(path), packets=False).sessions
    pd.testing.assert_frame_equal(plain(public_sessions(snapshot)), plain(expected))  # analyze's public dtypes
    assert (snapshot["handshake"] == "unanswered").sum() == stashed.size
