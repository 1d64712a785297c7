"""RTT samples kept out of memory: the same samples, in order, from memory or the spill file;
the file goes with the last reader; a selection, a merge's renumbering and another process
all see the same samples."""

from __future__ import annotations

import errno
import gc
import glob
import os
import pickle
import tempfile

import numpy as np
import pandas as pd
import pytest
from helpers import SAMPLE_DIR

import tcpanalyze
from tcpanalyze.engine import rtt_samples
from tcpanalyze.engine.rtt_samples import RttSamples
from tcpanalyze.errors import TcpanalyzeError

LOSSY = str(SAMPLE_DIR / "real-loss-random-sender.pcap")


def _spill_files() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "tcpanalyze-rtt-*.arrow")))


def test_spilled_samples_are_the_samples_of_the_packets_table(monkeypatch):
    expected = tcpanalyze.analyze(LOSSY).rtt_samples
    assert len(expected) > 30
    before = _spill_files()
    monkeypatch.setattr(rtt_samples, "SPILL_ROWS", 7)
    lean = tcpanalyze.analyze(LOSSY, packets=False)
    spilled = _spill_files() - before
    assert len(spilled) == 1  # the samples past 7 went to one temporary file
    batches = list(lean.rtt_sample_batches())
    pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), expected)
    pd.testing.assert_frame_equal(lean.rtt_samples, expected)
    assert len(lean.evidence.rtt) == len(expected)
    del lean, batches
    gc.collect()
    assert not spilled & _spill_files()  # removed with its last reader


def test_a_selection_a_renumbering_and_another_process_read_the_same_samples(monkeypatch):
    monkeypatch.setattr(rtt_samples, "SPILL_ROWS", 5)
    samples = tcpanalyze.analyze(LOSSY, packets=False).evidence.rtt
    frame = samples.frame()
    assert set(frame["session_id"]) == {0}
    assert samples.of_sessions(np.array([0])).frame().equals(frame)
    assert samples.of_sessions(np.array([3])).frame().empty
    renumbered = samples.renumbered(np.array([5]))
    assert set(renumbered.frame()["session_id"]) == {5}
    both = RttSamples.joined([samples, renumbered])
    pd.testing.assert_frame_equal(both.frame(), pd.concat([frame, frame.assign(session_id=5)], ignore_index=True))
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(both)).frame(), both.frame())
    pd.testing.assert_frame_equal(both.of_sessions(np.array([5])).frame(), frame.assign(session_id=5))


def test_samples_sent_by_name_keep_their_file_until_the_receiver_is_done(monkeypatch):
    monkeypatch.setattr(rtt_samples, "SPILL_ROWS", 5)
    before = _spill_files()
    sender = tcpanalyze.analyze(LOSSY, packets=False).evidence.rtt
    expected = sender.frame()
    (spilled,) = _spill_files() - before
    sent = pickle.dumps(sender.by_name())
    assert len(sent) < len(pickle.dumps(sender))  # the file's rows are not in the message
    del sender
    gc.collect()
    assert os.path.exists(spilled)  # the sender let it go to the receiver
    received = pickle.loads(sent)
    pd.testing.assert_frame_equal(received.frame(), expected)
    del received
    gc.collect()
    assert not os.path.exists(spilled)


def test_a_temporary_file_that_cannot_be_written_is_one_line_of_error(monkeypatch):
    monkeypatch.setattr(rtt_samples, "SPILL_ROWS", 5)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tempfile, "mkstemp", full_disk)
    with pytest.raises(TcpanalyzeError, match=r"cannot write the RTT samples' temporary file in .*: No space left"):
        tcpanalyze.analyze(LOSSY, packets=False)
