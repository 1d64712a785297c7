"""Thresholds from defaults, TOML and overrides; the sliding-window counting; the table's schema."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from helpers import SAMPLE_DIR

import tcpanalyze
from tcpanalyze.detect import ANOMALY_COLUMNS, DETECTORS, DetectConfig, detect_anomalies
from tcpanalyze.detect.inputs import ROWS_CHUNK, Inputs, _among, one_of
from tcpanalyze.detect.windows import busy_episodes
from tcpanalyze.engine.streaming import session_records_empty
from tcpanalyze.errors import UsageError


def test_every_detector_has_a_config_section_and_every_threshold_a_default():
    cfg = DetectConfig()
    assert [f.name for f in dataclasses.fields(cfg)] == list(DETECTORS)
    for section in dataclasses.fields(cfg):
        values = dataclasses.asdict(getattr(cfg, section.name))
        assert values["enabled"] is True
        assert all(isinstance(v, (int, float, bool)) for v in values.values())


def test_toml_sets_fields_and_keeps_other_defaults(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("[syn_flood]\nmin_rate_per_s = 50\nmin_sources = 3\n\n[rst_teardown]\nenabled = false\n")
    cfg = DetectConfig.from_toml(str(path))
    assert (cfg.syn_flood.min_rate_per_s, cfg.syn_flood.min_sources) == (50.0, 3)
    assert isinstance(cfg.syn_flood.min_rate_per_s, float)
    assert cfg.rst_teardown.enabled is False
    assert cfg.port_scan == DetectConfig().port_scan


@pytest.mark.parametrize("text, words", [
    ("[syn_flood]\nmin_rate = 5\n", ["unknown key 'syn_flood.min_rate'",
                                      "did you mean 'syn_flood.min_rate_per_s'"]),
    ("[synflood]\nmin_rate_per_s = 5\n", ["unknown section 'synflood'", "did you mean 'syn_flood'"]),
    ("min_rate_per_s = 5\n", ["'min_rate_per_s' must be a [section]"]),
    ("[syn_flood]\nmin_sources = 'many'\n", ["'syn_flood.min_sources' must be int"]),
    ("[syn_flood]\nenabled = 1\n", ["'syn_flood.enabled' must be bool"]),
    ("[syn_flood\nmin_sources = 3\n", ["not valid TOML", "line 1"]),
])
def test_bad_toml_names_file_key_and_what_is_allowed(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        DetectConfig.from_toml(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}:")
    for word in words:
        assert word in message


def test_overrides_parse_text_values_and_return_a_copy():
    base = DetectConfig()
    cfg = base.with_overrides({"port_scan.min_ports": "10", "zero_window_stall.min_stall_s": "1.5",
                               "injection.enabled": "off", "idle_exhaustion.min_concurrent": 7})
    assert (cfg.port_scan.min_ports, cfg.zero_window_stall.min_stall_s) == (10, 1.5)
    assert cfg.injection.enabled is False and cfg.idle_exhaustion.min_concurrent == 7
    assert base.port_scan.min_ports == 15 and base.injection.enabled is True
    with pytest.raises(UsageError, match="'port_scan.min_ports' must be int, got 'ten'"):
        base.with_overrides({"port_scan.min_ports": "ten"})
    hint = r"--set: unknown key 'port_scan.ports'; did you mean 'port_scan.min_ports'\? \[port_scan\] takes enabled"
    with pytest.raises(UsageError, match=hint):
        base.with_overrides({"port_scan.ports": "3"})


def test_thresholds_change_results():
    result = tcpanalyze.analyze(str(SAMPLE_DIR / "anomaly-scans.pcap"))
    assert sorted(result.anomalies.kind) == ["address_sweep", "port_scan", "port_scan"]
    stricter = result.detect(DetectConfig().with_overrides({"port_scan.min_ports": 31,
                                                            "port_scan.min_stealth_ports": 9,
                                                            "address_sweep.min_hosts": 41}))
    assert stricter.empty
    looser = result.detect(DetectConfig().with_overrides({"handshake_failures.min_failures": 10,
                                                          "handshake_failures.window_s": 1}))
    # 29 refusals on one scanned host, but spread over ports: no port gets 10
    assert "handshake_failures" not in set(looser.kind)
    real = tcpanalyze.analyze(str(SAMPLE_DIR / "real-refused.pcap"))
    two = real.detect(DetectConfig().with_overrides({"handshake_failures.min_failures": 2}))
    assert list(two.kind) == ["handshake_failures"] and two.details[0]["refused"] == 2
    assert real.anomalies.empty  # the cached default result is unchanged


def test_empty_input_gives_the_columns_and_dtypes():
    frame = detect_anomalies(session_records_empty())
    assert list(frame.columns) == [name for name, _, _ in ANOMALY_COLUMNS] and frame.empty
    empty_capture = tcpanalyze.analyze(str(SAMPLE_DIR / "synth-mixed-non-tcp.pcap"))
    assert empty_capture.anomalies.empty


def test_table_dtypes_and_order():
    frame = tcpanalyze.analyze(str(SAMPLE_DIR / "anomaly-scans.pcap")).anomalies
    assert frame["anomaly_id"].tolist() == [0, 1, 2]
    assert frame["start"].is_monotonic_increasing
    dtypes = {name: str(frame[name].dtype) for name, _, _ in ANOMALY_COLUMNS}
    assert dtypes["target_port"] == "Int64" and dtypes["source_count"] == "int64" and dtypes["start"] == "float64"
    assert frame["target_addr"].tolist()[2] is None and pd.isna(frame["target_port"][0])
    assert all(isinstance(v, list) for v in frame["session_ids"]) and isinstance(frame["details"][0], dict)
    assert set(frame["severity"]) <= {"info", "warning", "critical"}


def test_busy_episodes_per_group_and_merged_runs():
    # group 0: 5 events 0.1 s apart, then one 10 s later; group 1: 3 events
    times = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 10.0, 0.0, 0.05, 0.5])
    groups = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1])
    episodes = busy_episodes(times, groups, window_s=1.0, threshold=4)
    assert [(e.group, sorted(e.rows.tolist()), e.peak) for e in episodes] == [(0, [0, 1, 2, 3, 4], 5)]
    episodes = busy_episodes(times, groups, window_s=1.0, threshold=3)
    assert [(e.group, sorted(e.rows.tolist())) for e in episodes] == [(0, [0, 1, 2, 3, 4]), (1, [6, 7, 8])]
    assert busy_episodes(times, groups, window_s=0.01, threshold=2) == []


def test_busy_episodes_leave_small_groups_out_without_changing_the_busy_ones():
    # group 7 has 3 events within 0.2 s, too few for a threshold of 4; group 2 has 4 in 0.3 s
    times = np.array([5.0, 0.0, 5.1, 0.1, 5.2, 0.2, 0.3])
    groups = np.array([7, 2, 7, 2, 7, 2, 2])
    episodes = busy_episodes(times, groups, window_s=1.0, threshold=4)
    assert [(e.group, e.rows.tolist(), e.peak) for e in episodes] == [(2, [1, 3, 5, 6], 4)]
    assert busy_episodes(times, groups, window_s=1.0, threshold=5) == []


def test_one_of_matches_pandas_isin_for_categorical_and_text_columns():
    values = ["complete", None, "refused", "unanswered", "complete"]
    for column in (pd.Series(values, dtype="category"), pd.Series(values, dtype=object)):
        wanted = ("refused", "complete", "no_such_outcome")
        assert one_of(column, wanted).tolist() == column.isin(wanted).tolist() == [True, False, True, False, True]


@pytest.mark.parametrize("seed", range(20))
def test_busy_episodes_match_a_brute_force_count(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    times = np.round(rng.uniform(0, 20, n), 3)
    groups = rng.integers(0, 3, n)
    window, threshold = float(rng.choice([0.5, 1.0, 3.0])), int(rng.integers(1, 6))
    hot = set()
    for i in range(n):  # every event of a window [t_i, t_i + w] that holds >= threshold of its group
        inside = [j for j in range(n) if groups[j] == groups[i] and times[i] <= times[j] <= times[i] + window]
        if len(inside) >= threshold:
            hot.update(inside)
    episodes = busy_episodes(times, groups, window, threshold)
    found = [j for e in episodes for j in e.rows.tolist()]
    assert sorted(found) == sorted(hot) and len(found) == len(set(found))
    for e in episodes:
        assert set(groups[e.rows]) == {e.group}
        assert np.all(np.diff(times[e.rows]) <= window)  # runs split at gaps longer than a window


def test_a_filtered_or_shuffled_sessions_frame_is_read_correctly():
    result = tcpanalyze.analyze(str(SAMPLE_DIR / "anomaly-scans.pcap"))
    sessions = result.sessions
    stealth = sessions[sessions.resp_addr == "198.51.100.31"].sample(frac=1.0, random_state=1)
    frame = detect_anomalies(stealth, result.packets)
    assert list(frame.kind) == ["port_scan"] and frame.target_addr[0] == "198.51.100.31"
    assert frame.details[0]["stealth"] == {"null": 2, "fin": 2, "xmas": 2, "syn_fin": 2}


@pytest.mark.parametrize("contiguous", [True, False])
@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_packets_of_known_sessions_match_numpy_isin(n, contiguous):
    # Inputs keeps the packets of the sessions it was given (a filtered frame: not all of them)
    rng = np.random.default_rng(n)
    sessions = np.arange(n) if contiguous else np.sort(rng.choice(3 * n + 1, n, replace=False))
    ids = rng.integers(-2, 3 * n + 3, 3 * ROWS_CHUNK + 5)
    np.testing.assert_array_equal(_among(ids, sessions), np.isin(ids, sessions))


@pytest.mark.parametrize("every_session", [True, False])
def test_packet_rows_are_the_rows_of_the_packets_sessions(every_session):
    # the evidence's ids as stored when the session ids are the rows, looked up in a filtered frame
    result = tcpanalyze.analyze(str(SAMPLE_DIR / "anomaly-rst-storm.pcap"), packets=False)
    sessions = result.sessions if every_session else result.sessions.iloc[1:]
    inp = Inputs(sessions, result.detector_packets)
    assert inp.packets is not None and len(inp.packets) > 0
    np.testing.assert_array_equal(inp.session_ids[inp.packet_rows], inp.packets["session_id"])
