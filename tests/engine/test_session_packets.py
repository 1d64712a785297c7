"""``session_packets`` and ``Analysis.with_session_packets``: the packets table of a few sessions
from a second pass, row for row what the whole packets table holds for them."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import SAMPLE_DIR

import tcpanalyze
from tcpanalyze.errors import UsageError

MANY = ["stream-concurrent.pcap", "anomaly-real-backlog.pcap", "check-lossy.pcap", "real-many-short-conns.pcap"]


@pytest.mark.parametrize("name", MANY)
def test_the_rows_of_the_whole_table(name):
    path = str(SAMPLE_DIR / name)
    full = tcpanalyze.analyze(path).packets
    ids = sorted(full["session_id"].unique())
    for chosen in ([ids[0]], [ids[-1]], ids[1::2] or ids[:1]):
        expected = full[full["session_id"].isin(chosen)].reset_index(drop=True)
        got = tcpanalyze.session_packets(path, chosen, max_records=5)  # tiny batches: sessions end mid-file
        for frame in (got, expected):  # the address categories are those of the rows kept
            for column in ("src_addr", "dst_addr"):
                frame[column] = frame[column].astype(str)
        pd.testing.assert_frame_equal(got, expected)


def test_unknown_sessions_give_an_empty_table_with_every_column():
    path = str(SAMPLE_DIR / "real-refused.pcap")
    got = tcpanalyze.session_packets(path, [999])
    assert got.empty and list(got.columns) == list(tcpanalyze.analyze(path).packets.columns)


def test_with_session_packets_leaves_detection_on_the_evidence():
    path = str(SAMPLE_DIR / "anomaly-rst-injection.pcap")
    lean = tcpanalyze.analyze(path, packets=False)
    one = lean.with_session_packets([0])
    assert set(one.packets["session_id"]) == {0} and one.packets_of == frozenset({0})
    assert one.detector_packets is lean.evidence.packets
    pd.testing.assert_frame_equal(one.rtt_samples, lean.evidence.rtt.frame())
    pd.testing.assert_frame_equal(one.anomalies, tcpanalyze.analyze(path).anomalies)
    full = tcpanalyze.analyze(path)
    assert full.with_session_packets([0]) is full  # the whole table is already there


def test_standard_input_cannot_be_read_twice(monkeypatch):
    lean = tcpanalyze.analyze(str(SAMPLE_DIR / "real-refused.pcap"), packets=False)
    import dataclasses

    with pytest.raises(UsageError, match="standard input"):
        dataclasses.replace(lean, path="-").with_session_packets([0])
