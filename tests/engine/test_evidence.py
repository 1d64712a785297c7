"""``analyze(path, packets=False)`` keeps only the evidence detectors and the report read
(tcpanalyze/engine/evidence.py): anomalies, RTT samples and the report must be exactly what
the full packets table gives, on every sample and corpus capture, however often the
evidence buffer is trimmed during the run. The same holds keeping only the session columns
the report reads (``REPORT_COLUMNS``), as ``tcpanalyze report`` does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import SAMPLE_DIR, corpus_files, sample_files

import tcpanalyze
from tcpanalyze.engine import evidence
from tcpanalyze.errors import TcpanalyzeError
from tcpanalyze.errors import UsageError
from tcpanalyze.report import REPORT_COLUMNS, build_report

CAPTURES = sample_files() + corpus_files()


def _both(path, **kwargs):
    try:
        full = tcpanalyze.analyze(str(path), **kwargs)
    except TcpanalyzeError:
        pytest.skip("not a readable capture (the corpus's malformed files)")
    return full, tcpanalyze.analyze(str(path), packets=False, **kwargs)


def _same_results(full, lean) -> None:
    assert lean.packets is None and lean.evidence is not None
    pd.testing.assert_frame_equal(full.sessions, lean.sessions)
    pd.testing.assert_frame_equal(full.anomalies, lean.anomalies)
    samples = full.packets[full.packets["ack_rtt_ns"] >= 0]
    assert sorted(zip(samples["session_id"], samples["ack_rtt_ns"])) == sorted(
        zip(lean.rtt_samples["session_id"], lean.rtt_samples["ack_rtt_ns"]))
    assert build_report(full).as_dict() == build_report(lean).as_dict()


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_evidence_gives_what_the_packets_table_gives(path):
    full, lean = _both(path)
    _same_results(full, lean)
    narrow = tcpanalyze.analyze(str(path), packets=False, columns=REPORT_COLUMNS)
    assert list(narrow.sessions.columns) == list(REPORT_COLUMNS)
    pd.testing.assert_frame_equal(full.sessions[list(REPORT_COLUMNS)], narrow.sessions)
    pd.testing.assert_frame_equal(full.anomalies, narrow.anomalies)
    assert build_report(full).as_dict() == build_report(narrow).as_dict()


def test_chosen_session_columns():
    """``columns`` keeps those (session_id first, always); an unknown name is a usage error; the
    report and detection refuse a frame without the columns they read, naming them."""
    path = str(SAMPLE_DIR / "real-zero-window.pcap")
    narrow = tcpanalyze.analyze(path, packets=False, columns=["history", "conn_state", "history"], max_records=7)
    assert list(narrow.sessions.columns) == ["session_id", "history", "conn_state"]
    assert narrow.sessions.to_dict("records") == [{"session_id": 0, "history": "ShADawTFdf", "conn_state": "SF"}]
    with pytest.raises(UsageError, match="no session column 'nope'"):
        tcpanalyze.analyze(path, columns=["nope"])
    with pytest.raises(ValueError, match="anomaly detection reads the session columns orig_addr"):
        narrow.anomalies
    with pytest.raises(ValueError, match="the report reads the session columns orig_addr"):
        build_report(narrow)


@pytest.mark.parametrize("name", ["anomaly-rst-injection.pcap", "stream-lossy-ipv4.pcap", "real-zero-window.pcap",
                                  "anomaly-backlog-synack.pcap", "anomaly-rst-storm.pcap"])
def test_trimmed_every_batch_still_the_same(monkeypatch, name):
    """Tiny batches and a trim after every emit: packets of live sessions survive every trim."""
    monkeypatch.setattr(evidence, "MIN_TRIM_ROWS", 1)
    full, lean = _both(SAMPLE_DIR / name, max_records=7)
    _same_results(full, lean)


@pytest.mark.parametrize("name", ["check-lossy.pcap", "real-zero-window.pcap", "anomaly-real-rst-midtransfer.pcap"])
def test_only_the_packets_detectors_read_are_kept(name):
    """One packet per batch: kept packets decided one at a time, as in any batch."""
    full, lean = _both(SAMPLE_DIR / name, max_records=1)
    kept = lean.evidence.packets
    need = dict(zip(lean.sessions["session_id"], evidence.packets_needed(lean.sessions)))
    table = full.packets
    for session_id, level in need.items():
        mine = table[table["session_id"] == session_id]
        flags = mine["tcp_flags"].to_numpy()
        resent = np.isin(mine["resend"].astype(str), ["retransmission", "lost_before_capture"])
        marker = (((flags & 0x07) != 0) | resent
                  | ((mine["payload_len"] > 0) & (mine["payload_caplen"] > 0)).to_numpy())
        hot = ((flags & 0x04) != 0) | ((mine["win_raw"].to_numpy() == 0) & ((flags & 0x06) == 0))
        from_hot = np.cumsum(hot) > 0  # from the session's first RST or zero window on
        frames = mine["frame"].to_numpy()
        expected = {evidence.KEEP_ALL: set(frames[marker | from_hot]),
                    evidence.KEEP_MARKERS: set(frames[marker & ((flags & 0x04) == 0)]),
                    evidence.KEEP_NONE: set()}[level]
        assert set(kept.loc[kept["session_id"] == session_id, "frame"]) == expected, session_id
    assert len(kept) < len(table)
    assert kept["frame"].is_monotonic_increasing
    # the kept rows carry the same values as the packets table
    merged = kept.merge(table, on="frame", suffixes=("", "_full"))
    merged["resend_full"] = merged["resend_full"].cat.codes  # the kept evidence holds the codes
    from tcpanalyze.engine.evidence import PACKET_FIELDS, RESULT_FIELDS

    assert list(kept.columns) == ["session_id", "direction", *PACKET_FIELDS, *RESULT_FIELDS]
    for column in ("session_id", *PACKET_FIELDS[1:], *RESULT_FIELDS):  # merged on the first, frame
        # the packets table has <NA> where the evidence keeps the engine's -1 ("none here")
        full_values = merged[f"{column}_full"].to_numpy(np.int64, na_value=-1)
        assert np.array_equal(merged[column].to_numpy(np.int64), full_values), column
    assert (merged["direction"].astype(str) == merged["direction_full"].astype(str)).all()


def test_the_lossy_capture_has_every_kind_of_session():
    _, lean = _both(SAMPLE_DIR / "check-lossy.pcap")
    # 5 % loss: four sessions only retransmitted, two also reset or stalled
    assert sorted(evidence.packets_needed(lean.sessions)) == [evidence.KEEP_MARKERS] * 4 + [evidence.KEEP_ALL] * 2


def test_clean_sessions_keep_no_packets():
    _, lean = _both(SAMPLE_DIR / "real-graceful-close.pcap")
    assert (evidence.packets_needed(lean.sessions) == evidence.KEEP_NONE).all()
    assert lean.evidence.packets.empty and len(lean.rtt_samples) > 0
