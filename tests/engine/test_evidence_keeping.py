"""``analyze(path, packets=False)`` keeps, besides the marker packets, a session's packets only
from its first RST or zero window on (tcpanalyze/engine/evidence.py), however the capture is cut
into batches, and detection on what it keeps is detection on the packets table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import SAMPLE_DIR

import tcpanalyze
from tcpanalyze.engine import evidence
from tcpanalyze.engine.streaming import _later_of_group
from tcpanalyze.packets import BATCH_RECORDS

# RSTs mid-session, zero windows, and one-packet RST sessions (stashed, replayed when emitted)
CAPTURES = ["real-zero-window.pcap", "real-rst-abort.pcap", "anomaly-rst-injection.pcap", "anomaly-rst-storm.pcap",
            "anomaly-backscatter.pcap", "anomaly-real-rst-midtransfer.pcap"]
BATCHES = [BATCH_RECORDS, 5]  # max_records: each capture in one batch, or its sessions across batches


def _analyses(name: str, max_records: int) -> tuple[tcpanalyze.Analysis, tcpanalyze.Analysis]:
    path = str(SAMPLE_DIR / name)
    return (tcpanalyze.analyze(path, max_records=max_records),
            tcpanalyze.analyze(path, packets=False, max_records=max_records))


def _kept_by_rule(packets: pd.DataFrame) -> np.ndarray:
    """Per row of a packets table (file order): a marker, or at or after its session's first RST
    or zero window (as the kernels count them: a zero window is not on a SYN or a RST)."""
    flags = packets["tcp_flags"].to_numpy()
    marker = (((flags & 0x07) != 0) | np.isin(packets["resend"].astype(str), ["retransmission", "lost_before_capture"])
              | ((packets["payload_len"] > 0) & (packets["payload_caplen"] > 0)).to_numpy())
    rst_or_zero_window = ((flags & 0x04) != 0) | ((packets["win_raw"].to_numpy() == 0) & ((flags & 0x06) == 0))
    seen = pd.Series(rst_or_zero_window).groupby(packets["session_id"].to_numpy()).cummax().to_numpy()
    return marker | seen


@pytest.mark.parametrize("max_records", BATCHES)
@pytest.mark.parametrize("name", CAPTURES)
def test_kept_rows_are_markers_or_from_the_first_rst_or_zero_window(name, max_records):
    full, lean = _analyses(name, max_records)
    table = full.packets
    assert table["frame"].is_monotonic_increasing
    allowed = table[_kept_by_rule(table)]
    kept = lean.evidence.packets
    assert set(kept["frame"]) <= set(allowed["frame"])
    # a session that needs all its packets lost none of them
    needs_all = lean.sessions["session_id"][evidence.packets_needed(lean.sessions) == evidence.KEEP_ALL]
    assert (set(kept.loc[kept["session_id"].isin(needs_all), "frame"])
            == set(allowed.loc[allowed["session_id"].isin(needs_all), "frame"]))


@pytest.mark.parametrize("max_records", BATCHES)
@pytest.mark.parametrize("name", CAPTURES)
def test_detection_on_the_kept_rows_is_detection_on_the_packets_table(name, max_records):
    full, lean = _analyses(name, max_records)
    assert not full.anomalies.empty
    pd.testing.assert_frame_equal(full.anomalies, lean.anomalies)


def test_later_of_group_counts_within_each_group_in_row_order():
    group = np.array([7, 3, 7, 3, 7, 9, 3])
    counted = np.array([True, False, False, True, True, False, True])
    assert _later_of_group(group, counted).tolist() == [1, 2, 1, 1, 0, 0, 0]
    assert _later_of_group(group[:0], counted[:0]).tolist() == []
