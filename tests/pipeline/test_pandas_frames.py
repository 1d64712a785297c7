"""The DataFrames as data people expect them: datetimes beside the numbers, <NA> for "none"
(never -1), categoricals for codes, sessions in session_id order, a summary and a join."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import tcpanalyze
from tcpanalyze.frames import CONN_STATES, ENGINE_MISSING, SESSION_CODES, SESSION_MISSING, public_sessions

from helpers import SAMPLE_DIR

LOSSY = str(SAMPLE_DIR / "real-loss-random-sender.pcap")
MANY = str(SAMPLE_DIR / "real-many-short-conns.pcap")


@pytest.fixture(scope="module")
def lossy():
    return tcpanalyze.analyze(LOSSY)


def test_every_timestamp_has_a_utc_datetime_beside_its_number(lossy):
    packets, sessions = lossy.packets, lossy.sessions
    assert str(packets["time"].dtype) == "datetime64[ns, UTC]"
    assert list(packets.columns[packets.columns.get_loc("ts_ns") + 1:][:1]) == ["time"]
    assert (packets["time"].astype("int64").to_numpy() == packets["ts_ns"].to_numpy()).all()
    for name, source in (("start_time", "start"), ("end_time", "end")):
        assert str(sessions[name].dtype) == "datetime64[ns, UTC]"
        assert sessions.columns.get_loc(name) == sessions.columns.get_loc(source) + 1
        micros = sessions[name].astype("int64").to_numpy() / 1e3
        assert np.abs(micros - sessions[source].to_numpy() * 1e6).max() <= 0.5


def test_none_is_na_never_minus_one(lossy):
    packets, sessions = lossy.packets, lossy.sessions
    for name in (*ENGINE_MISSING, "payload_off"):
        column = packets[name]
        assert isinstance(column.dtype, pd.api.extensions.ExtensionDtype), name
        assert not (column.dropna() < 0).any(), name
    assert packets["ack_rtt_ns"].isna().any() and packets["ack_rtt_ns"].notna().any()
    assert str(packets["rst_in_window"].dtype) == "boolean"
    for name in SESSION_MISSING:
        assert str(sessions[name].dtype) == "Int64" and not (sessions[name].dropna() < 0).any()


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_the_mean_rtt_is_the_mean_of_the_samples_as_tshark_has_them(lossy):
    # the example: with -1 for "no sample", .mean() came out far too low
    fields = subprocess.run(["tshark", "-n", "-r", LOSSY, "-Y", "tcp.analysis.ack_rtt", "-T", "fields",
                             "-e", "tcp.analysis.ack_rtt"], capture_output=True, text=True, check=True).stdout
    theirs = np.array([float(v) for v in fields.split()])
    ours = lossy.packets["ack_rtt_ns"]
    assert ours.count() == theirs.size
    assert abs(ours.mean() / 1e9 - theirs.mean()) < 1e-6


def test_codes_are_categoricals_of_every_value_they_take(lossy):
    for name, categories in SESSION_CODES.items():
        assert isinstance(lossy.sessions[name].dtype, pd.CategoricalDtype), name
        if categories is not None:
            assert list(lossy.sessions[name].cat.categories) == list(categories)
    assert list(lossy.sessions["conn_state"].cat.categories) == list(CONN_STATES)
    assert list(lossy.packets["direction"].cat.categories) == ["orig", "resp"]


def test_a_code_the_schema_lacks_is_an_error_not_a_silent_na():
    records = pd.DataFrame({"session_id": [0], "conn_state": ["XX"]})
    with pytest.raises(ValueError, match="conn_state: no category for 'XX'"):
        public_sessions(records)


def test_public_sessions_is_idempotent_and_leaves_its_input_alone(lossy):
    again = public_sessions(lossy.sessions)
    pd.testing.assert_frame_equal(again, lossy.sessions)
    raw = pd.DataFrame({"session_id": [1, 0], "start": [1.5, 1.0], "orig_highest_ack": [-1, 5]})
    public = public_sessions(raw)
    assert list(raw.columns) == ["session_id", "start", "orig_highest_ack"] and raw["orig_highest_ack"][0] == -1
    assert list(public.columns) == ["session_id", "start", "start_time", "orig_highest_ack"]
    assert public["orig_highest_ack"].isna().tolist() == [True, False]


def test_sessions_come_in_session_id_order_with_several_workers():
    result = tcpanalyze.analyze(MANY, workers=2, packets=False)
    assert result.sessions["session_id"].tolist() == list(range(len(result.sessions)))


def test_analyze_columns_may_name_the_datetime_columns():
    result = tcpanalyze.analyze(MANY, packets=False, columns=["start_time", "conn_state"])
    assert list(result.sessions.columns) == ["session_id", "start_time", "conn_state"]
    assert str(result.sessions["start_time"].dtype) == "datetime64[ns, UTC]"


def test_summary_counts_what_the_frames_hold(lossy):
    summary = lossy.summary()
    assert summary["sessions"] == len(lossy.sessions) and summary["packets"] == len(lossy.packets)
    assert summary["records"] == lossy.accounting.records
    assert summary["first_packet"] == lossy.packets["time"].min().floor("us")
    assert summary["conn_state=SF"] == 1 and summary["orig_bytes"] == int(lossy.sessions["orig_bytes"].sum())
    assert summary["anomalies"] == len(lossy.anomalies)


def test_packets_with_sessions_puts_each_packets_session_columns_beside_it():
    result = tcpanalyze.analyze(MANY)
    joined = result.packets_with_sessions(["conn_state", "orig_port"])
    assert len(joined) == len(result.packets)
    assert (joined["frame"].to_numpy() == result.packets["frame"].to_numpy()).all()
    by_id = result.sessions.set_index("session_id")["orig_port"]
    assert (joined["orig_port"].to_numpy() == by_id.loc[joined["session_id"]].to_numpy()).all()
    assert isinstance(joined["conn_state"].dtype, pd.CategoricalDtype)


def test_packets_with_sessions_names_a_column_it_cannot_join(lossy):
    with pytest.raises(tcpanalyze.errors.UsageError, match="no session column 'conn_stat' in this analysis"):
        lossy.packets_with_sessions(["conn_stat"])
    with pytest.raises(tcpanalyze.errors.UsageError, match="kept no packets table"):
        tcpanalyze.analyze(LOSSY, packets=False).packets_with_sessions()


def test_the_public_names_the_readme_shows_need_no_import():
    for name in ("pipeline", "frames", "dfilter", "report", "plot", "detect", "check"):
        assert getattr(tcpanalyze, name).__name__ == f"tcpanalyze.{name}"
