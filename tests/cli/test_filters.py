"""--host, --port, --session, --time-range on `sessions` and `packets`: exactly the rows that match.

Expected rows are worked out here from the API's frames with plain pandas and Python, not
with the filter code under test.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime, timezone

import pandas as pd
import pytest

import tcpanalyze
from tcpanalyze.cli.filters import Filters
from tcpanalyze.pipeline import EngineOptions, iter_sessions
from tcpanalyze.packets import Accounting

from helpers import SAMPLE_DIR

MANY = SAMPLE_DIR / "real-many-short-conns.pcap"  # 20 sequential connections 10.77.0.1 -> 10.77.0.2
IPV6 = SAMPLE_DIR / "real-ipv6-transfer.pcap"  # fd77::1 -> fd77::2


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tcpanalyze", *args], capture_output=True, timeout=120)


def jsonl(*args: str) -> list[dict]:
    result = run_cli(*args, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


@pytest.fixture(scope="module")
def many():
    return tcpanalyze.analyze(str(MANY))


def test_port_keeps_the_one_session_with_that_client_port(many):
    port = int(many.sessions.orig_port[7])
    rows = jsonl("sessions", str(MANY), "--port", str(port))
    assert [r["session_id"] for r in rows] == [7]
    frames = [r["frame"] for r in jsonl("packets", str(MANY), "--port", str(port))]
    expected = [int(f) for f, s, d in zip(many.packets.frame, many.packets.src_port, many.packets.dst_port)
                if port in (s, d)]
    assert frames == expected and len(frames) == 10


def test_host_matches_either_endpoint(many):
    server = str(many.sessions.resp_addr[0])
    assert len(jsonl("sessions", str(MANY), "--host", server)) == len(many.sessions) == 20
    assert jsonl("sessions", str(MANY), "--host", "10.77.0.9") == []


def test_host_is_compared_as_an_address_not_as_text():
    packets = tcpanalyze.read_packets(str(IPV6))
    rows = jsonl("packets", str(IPV6), "--host", "FD77:0:0::2")
    assert len(rows) == len(packets) > 0


def test_repeated_session_and_port_combine(many):
    rows = jsonl("packets", str(MANY), "--session", "2", "--session", "5", "--port", str(many.sessions.orig_port[5]))
    expected = many.packets.frame[many.packets.session_id == 5].tolist()
    assert [r["frame"] for r in rows] == expected
    assert [r["session_id"] for r in jsonl("sessions", str(MANY), "--session", "5", "--session", "2")] == [2, 5]


def test_relative_time_range_on_packets_and_sessions(many):
    t0 = int(many.packets.ts_ns.iloc[0])
    start, end = t0 + 100_000_000, t0 + 200_000_000
    expected_frames = [int(f) for f, ts in zip(many.packets.frame, many.packets.ts_ns) if start <= ts < end]
    assert [r["frame"] for r in jsonl("packets", str(MANY), "--time-range", "0.1:0.2")] == expected_frames
    # A session is kept when any part of it (first to last packet) falls in the range.
    spans = many.packets.groupby("session_id").ts_ns.agg(["min", "max"])
    expected_ids = [int(s) for s, lo, hi in zip(spans.index, spans["min"], spans["max"]) if hi >= start and lo < end]
    assert [r["session_id"] for r in jsonl("sessions", str(MANY), "--time-range", "0.1:0.2")] == expected_ids
    assert 0 < len(expected_ids) < 20


def test_iso_time_range_selects_the_same_packets_as_seconds(many):
    t0 = int(many.packets.ts_ns.iloc[0])

    def iso(ns: int) -> str:
        return datetime.fromtimestamp(ns // 1000 / 1e6, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    # Microsecond timestamps: the bounds below are exact.
    by_iso = jsonl("packets", str(MANY), "--time-range", f"{iso(t0 + 300_000_000)}:{iso(t0 + 350_000_000)}")
    by_seconds = jsonl("packets", str(MANY), "--time-range", "0.3:0.35")
    assert [r["frame"] for r in by_iso] == [r["frame"] for r in by_seconds] != []


def test_open_ended_time_range_and_table_time_stays_relative_to_the_capture(many):
    result = run_cli("packets", str(MANY), "--time-range", "0.39:")
    lines = result.stdout.decode().splitlines()[1:]
    t0 = int(many.packets.ts_ns.iloc[0])
    kept = many.packets[many.packets.ts_ns >= t0 + 390_000_000]
    assert [int(line.split()[0]) for line in lines] == kept.frame.tolist()
    assert lines[0].split()[1] == f"{(kept.ts_ns.iloc[0] - t0) / 1e9:.6f}"  # not 0.000000


def test_streamed_session_chunks_filter_like_the_whole_frame(many):
    filters = Filters.parse(None, None, None, "0.05:0.25")
    # Small batches and no linger: closed sessions come out a few at a time, as in a long capture.
    options = EngineOptions(closed_linger_s=0.0)
    accounting = Accounting()
    chunks = [filters.sessions(chunk, accounting.first_tcp_ts_ns)
              for chunk in iter_sessions(str(MANY), accounting, max_records=16, options=options)]
    assert len(chunks) > 5
    streamed = sorted(pd.concat(chunks).session_id)
    whole = tcpanalyze.analyze(str(MANY), packets=False, options=options).sessions
    assert streamed == filters.sessions(whole, int(many.packets.ts_ns.iloc[0])).session_id.tolist() != []


@pytest.mark.parametrize("args, message", [
    (("--host", "server.example"), "--host 'server.example': not an IPv4 or IPv6 address"),
    (("--time-range", "3:1"), "--time-range '3:1': the end comes before the start"),
    (("--time-range", "soon"), "--time-range 'soon': expected START:END in seconds"),
    (("--all-records", "--session", "1"), "--session needs the session analysis"),
])
def test_bad_filters_are_one_line_and_exit_2(args, message):
    result = run_cli("packets", str(MANY), *args)
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tcpanalyze: error: {message}")


def test_filters_on_all_records_use_the_record_addresses():
    records = tcpanalyze.read_packets(str(SAMPLE_DIR / "synth-mixed-non-tcp.pcap"), all_records=True)
    host = str(records.src_addr.dropna().iloc[0])
    result = run_cli("packets", str(SAMPLE_DIR / "synth-mixed-non-tcp.pcap"), "--all-records", "--host", host,
                     "--format", "csv")
    frame = pd.read_csv(io.BytesIO(result.stdout))
    expected = records[(records.src_addr.astype(str) == host) | (records.dst_addr.astype(str) == host)]
    assert frame.frame.tolist() == expected.frame.tolist()
    assert 0 < len(expected) < len(records)


# --- the other commands that read a whole capture: anomalies, check, export-streams -------------

SCANS = SAMPLE_DIR / "anomaly-scans.pcap"  # a port scan of .30, a stealth scan of .31, a sweep of port 3389
LOSSY = SAMPLE_DIR / "check-lossy.pcap"  # 6 uploads to 10.78.0.2:5201, each with retransmissions


@pytest.fixture(scope="module")
def scans():
    return tcpanalyze.analyze(str(SCANS))


def expected_anomaly_ids(scans, *, host=None, port=None, session=None, span=None) -> list[int]:
    """Worked out from the API frames: the anomaly's target or one of its sessions matches, and its window
    overlaps the span (seconds since the first packet)."""
    sessions = scans.sessions.set_index("session_id")
    t0 = int(scans.packets.ts_ns.iloc[0]) / 1e9
    kept = []
    for row in scans.anomalies.itertuples():
        ends = [(str(sessions.orig_addr[s]), str(sessions.resp_addr[s]), int(sessions.orig_port[s]),
                 int(sessions.resp_port[s]), s) for s in row.session_ids]
        by_session = any((host is None or host in e[:2]) and (port is None or port in e[2:4])
                         and (session is None or session == e[4]) for e in ends)
        by_target = session is None and (host is None or host == row.target_addr) and \
            (port is None or (not pd.isna(row.target_port) and port == int(row.target_port)))
        in_span = span is None or (row.end >= t0 + span[0] and row.start < t0 + span[1])
        if (by_session or by_target) and in_span:
            kept.append(row.anomaly_id)
    return kept


@pytest.mark.parametrize("args, expected", [
    (("--host", "198.51.100.31"), {"host": "198.51.100.31"}),
    (("--host", "203.0.113.88"), {"host": "203.0.113.88"}),
    (("--port", "3389"), {"port": 3389}),
    (("--session", "0"), {"session": 0}),
    (("--time-range", "2.5:"), {"span": (2.5, float("inf"))}),
    (("--time-range", ":0.1", "--port", "3389"), {"span": (0, 0.1), "port": 3389}),
])
def test_anomalies_keep_those_whose_sessions_target_and_time_match(scans, args, expected):
    ids = [r["anomaly_id"] for r in jsonl("anomalies", str(SCANS), *args)]
    assert ids == expected_anomaly_ids(scans, **expected)
    assert len(ids) < len(scans.anomalies)


def test_anomalies_none_match_says_so_on_stderr():
    result = run_cli("anomalies", str(SCANS), "--host", "192.0.2.99")
    assert result.returncode == 0 and result.stdout == b""
    assert result.stderr.decode().splitlines()[-1] == "no anomalies with these thresholds and filters"


def check_json(*args: str) -> tuple[int, dict]:
    result = run_cli("check", str(LOSSY), "--format", "json", *args)
    return result.returncode, json.loads(result.stdout)


def test_check_filters_narrow_the_capture_before_the_rules():
    lossy = tcpanalyze.analyze(str(LOSSY)).sessions
    assert len(lossy) == 6
    code, report = check_json("--rule", "sessions == 2", "--session", "0", "--session", "3")
    assert (code, report["rules"][0]["scopes"][0]["value"]) == (0, 2)
    t0 = lossy.start.min()
    inside = lossy[lossy.start < t0 + 0.2]
    code, report = check_json("--rule", "retransmissions < 1000 scope=session", "--time-range", ":0.2")
    scopes = sorted((s["scope"], s["value"]) for s in report["rules"][0]["scopes"])
    retransmissions = inside[["orig_retrans_pkts", "resp_retrans_pkts"]]
    assert scopes == list(zip(inside.session_id, retransmissions.sum(axis=1)))
    assert 0 < len(scopes) < len(lossy)


def test_export_streams_writes_only_the_sessions_that_pass(many, tmp_path):
    port = int(many.sessions.orig_port[4])
    result = run_cli("export-streams", str(MANY), str(tmp_path / "out"), "--port", str(port), "--time-range", ":10")
    assert result.returncode == 0, result.stderr
    index = [json.loads(line) for line in (tmp_path / "out" / "index.jsonl").read_text().splitlines()]
    assert [(r["session_id"], r["direction"]) for r in index] == [(4, "orig"), (4, "resp")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([r["file"] for r in index] + ["index.jsonl"])
    result = run_cli("export-streams", str(MANY), str(tmp_path / "none"), "--time-range", "100:")
    assert result.returncode == 0 and (tmp_path / "none" / "index.jsonl").read_text() == ""
