"""The live path without dumpcap: pcapng bytes on a pipe, through ``LiveSource`` and ``follow``."""

from __future__ import annotations

import os
import threading

import pandas as pd
import pytest
from helpers import sample_files

import tcpanalyze
from tcpanalyze.capture.live import LiveSource
from tcpanalyze.engine import EngineOptions
from tcpanalyze.frames import public_sessions
from tcpanalyze.pipeline.live import LiveAnalysis, follow

PCAPNG_SAMPLES = [p for p in sample_files() if p.name.endswith(".pcapng")]


def piped(data: bytes, pieces: int = 7) -> int:
    """A pipe's read end, written by a thread in ``pieces`` uneven pieces (blocks cut anywhere)."""
    read_fd, write_fd = os.pipe()
    cuts = [len(data) * k * k // (pieces * pieces) for k in range(pieces + 1)]

    def write() -> None:
        with os.fdopen(write_fd, "wb") as out:
            for a, b in zip(cuts, cuts[1:]):
                out.write(data[a:b])
                out.flush()

    threading.Thread(target=write, daemon=True).start()
    return read_fd


def live_records(data: bytes, analysis: LiveAnalysis) -> tuple[pd.DataFrame, list]:
    read_fd = piped(data)
    with LiveSource(read_fd, label="pipe") as source:
        steps = list(follow(source, analysis, tick_s=0.05))
    os.close(read_fd)
    chunks = [chunk for step in steps for chunk in step.ended]
    return pd.concat(chunks, ignore_index=True) if chunks else None, steps


@pytest.mark.parametrize("path", PCAPNG_SAMPLES, ids=lambda p: p.name)
def test_sessions_from_a_pipe_equal_the_file_analysis(path):
    sessions, steps = live_records(path.read_bytes(), LiveAnalysis(wall_clock=False))
    expected = tcpanalyze.analyze(str(path), packets=False).sessions
    if not len(expected):
        assert sessions is None
        return
    # as users get them (analyze's sessions are in that form)
    pd.testing.assert_frame_equal(public_sessions(sessions.sort_values("session_id", ignore_index=True)), expected,
                                  check_categorical=False)
    opened = pd.concat([s.opened for s in steps if s.opened is not None], ignore_index=True)
    assert opened["session_id"].tolist() == expected["session_id"].tolist()  # few sessions: each one reported
    assert opened["orig_port"].tolist() == expected["orig_port"].tolist()


def alive(analysis: LiveAnalysis) -> int:
    """Sessions not ended yet: open, or closed and lingering."""
    counters = analysis.counters()
    return counters.sessions_open + counters.sessions_lingering


def test_quiet_ticks_end_idle_sessions_by_the_wall_clock_only_for_interfaces():
    # The sample's packets are hours old: by the wall clock, both its sessions are long idle.
    data = (PCAPNG_SAMPLES[0].parent / "real-pcapng-dumpcap.pcapng").read_bytes()
    options = EngineOptions(idle_timeout_s=60.0, closed_linger_s=3600.0)
    for wall_clock, emitted in ((True, 2), (False, 0)):
        analysis = LiveAnalysis(options, wall_clock=wall_clock)
        read_fd = piped(data)
        with LiveSource(read_fd, label="pipe") as source:
            for batch in source.batches(tick_s=0.05):
                if batch is not None:
                    assert analysis.add(batch).ended == []
        os.close(read_fd)
        assert alive(analysis) == 2
        assert sum(len(chunk) for chunk in analysis.tick().ended) == emitted
        assert alive(analysis) == 2 - emitted
