"""The anomalies table built from findings: its columns and cells whatever shape a detector's lists
take, and the findings let go as they are tabled."""

from __future__ import annotations

import numpy as np

from tcpanalyze.detect.frame import ANOMALY_COLUMNS, MAX_LISTED, Finding, anomalies_frame


def test_the_table_has_its_columns_and_plain_python_cells():
    findings = [
        Finding("rst_teardown", "info", 2.0, 3.0, "198.51.100.9", 443, "per session", ["192.0.2.1"], [7], [40],
                {"reset_by": "orig"}),
        Finding("port_scan", "warning", 1.0, 5.0, "198.51.100.9", None, "aggregate",
                np.array(["192.0.2.2", "192.0.2.3", "192.0.2.2"], dtype=object), np.array([9, 3, 9]),
                [np.int64(12), np.int64(11)], {"ports": 2}),
        Finding("zero_window_stall", "warning", 2.0, 2.5, None, None, "unsorted", ["192.0.2.4"], [5, 4], [8, 8, 6]),
    ]
    frame = anomalies_frame(findings)
    assert findings == []  # let go once tabled
    assert [(name, str(dtype)) for name, dtype in frame.dtypes.items()] == [(n, t) for n, t, _ in ANOMALY_COLUMNS]
    assert frame["kind"].tolist() == ["port_scan", "rst_teardown", "zero_window_stall"]  # by start, then kind
    assert frame["anomaly_id"].tolist() == [0, 1, 2]
    assert frame["source_addrs"].tolist() == [["192.0.2.2", "192.0.2.3"], ["192.0.2.1"], ["192.0.2.4"]]
    assert frame["source_count"].tolist() == [2, 1, 1]
    assert frame["session_ids"].tolist() == [[3, 9], [7], [4, 5]]
    assert frame["evidence_frames"].tolist() == [[11, 12], [40], [6, 8]]
    assert frame["target_addr"].tolist() == ["198.51.100.9", "198.51.100.9", None]
    assert frame["target_port"].isna().tolist() == [True, False, True]
    assert frame["details"].tolist() == [{"ports": 2}, {"reset_by": "orig"}, {}]
    for column in ("source_addrs", "session_ids", "evidence_frames"):
        assert all(type(v) is (str if column == "source_addrs" else int) for cell in frame[column] for v in cell)


def test_a_capped_list_puts_its_total_in_a_copy_of_the_details():
    details, small = {"attempts": 1500}, {"attempts": 1}
    flood = Finding("syn_flood", "critical", 0.0, 1.0, "198.51.100.9", 80, "many", [], np.arange(1500),
                    np.arange(1500), details)
    refusal = Finding("rst_teardown", "info", 2.0, 3.0, "198.51.100.9", 80, "one", [], [1], [1], small)
    frame = anomalies_frame([flood, refusal])
    assert len(frame["session_ids"][0]) == MAX_LISTED
    assert frame["details"][0] == {"attempts": 1500, "session_ids_total": 1500, "evidence_frames_total": 1500}
    assert details == {"attempts": 1500}  # the finding's own dict is left as its detector wrote it
    assert frame["details"][1] is small  # nothing to add: not copied


def test_no_findings_make_an_empty_table_with_the_columns():
    frame = anomalies_frame([])
    assert frame.empty
    assert [(name, str(dtype)) for name, dtype in frame.dtypes.items()] == [(n, t) for n, t, _ in ANOMALY_COLUMNS]
