"""`tcpanalyze live` on loopback: real sockets exchange known byte counts while dumpcap captures
them; the live report must name those sessions and bytes, and the written capture, analysed
as a file, must give the very same session records."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import pytest
from live_helpers import LiveRun, exchange, listening_socket, require_loopback_capture

import tcpanalyze
from tcpanalyze.output import Format, FrameWriter

# (client -> server bytes, server -> client bytes) per connection
TRANSFERS = [(1000, 5000), (150_000, 70_000), (0, 300)]
REFUSED = 40


@pytest.fixture(scope="module", autouse=True)
def loopback_capture():
    require_loopback_capture()


def records_as_json(frame, directory) -> list[dict]:
    """Session records as ``--format jsonl`` writes them (the writer live events use)."""
    path = directory / "records.jsonl"
    with FrameWriter(Format.jsonl, str(path)) as out:
        out.write(frame)
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_live_capture_reports_the_sessions_and_bytes_the_programs_exchanged(tmp_path):
    written = tmp_path / "live.pcapng"
    server = listening_socket()
    port = server.getsockname()[1]
    run = LiveRun("-i", "lo", "--capture-filter", f"tcp port {port}", "--duration", "10", "--write", str(written),
                  "--format", "jsonl")
    run.wait_for("start")
    connections = exchange(server, TRANSFERS)
    server.close()
    code, stderr = run.finish()
    assert code == 0, stderr

    ended = sorted(run.of_kind("session_end"), key=lambda e: e["session_id"])
    assert [(e["orig_port"], e["resp_port"]) for e in ended] == [(c.client_port, port) for c in connections]
    assert [(e["orig_bytes"], e["resp_bytes"]) for e in ended] == [(c.sent, c.received) for c in connections]
    assert [(e["orig_addr"], e["resp_addr"], e["conn_state"], e["close_type"]) for e in ended] == \
        [("127.0.0.1", "127.0.0.1", "SF", "fin")] * len(TRANSFERS)
    assert all(e["orig_retrans_pkts"] == 0 and e["handshake"] == "complete" for e in ended)

    # The written file is what dumpcap produced: analysed as a file, the same records.
    result = tcpanalyze.analyze(str(written), packets=False)
    live_records = [{k: v for k, v in e.items() if k != "event"} for e in ended]
    assert records_as_json(result.sessions, tmp_path) == live_records
    end = run.of_kind("end")[0]
    assert end["records"] == result.accounting.records == end["tcp_packets"]
    assert end["sessions_started"] == end["sessions_ended"] == len(TRANSFERS)
    assert end["data_pkts"] == int(result.sessions["orig_data_pkts"].sum() + result.sessions["resp_data_pkts"].sum())
    assert "tcpanalyze report: (live)" in stderr  # the end-of-capture report (stderr: stdout is events)


def test_ctrl_c_ends_the_capture_with_every_session_it_saw(tmp_path):
    server = listening_socket()
    port = server.getsockname()[1]
    run = LiveRun("-i", "lo", "--capture-filter", f"tcp port {port}", "--format", "jsonl")
    run.wait_for("start")
    [connection] = exchange(server, [(4321, 1234)])
    server.close()
    run.process.send_signal(signal.SIGINT)
    code, stderr = run.finish()
    assert code == 0, stderr
    [ended] = run.of_kind("session_end")
    assert (ended["orig_port"], ended["orig_bytes"], ended["resp_bytes"]) == (connection.client_port, 4321, 1234)
    assert run.of_kind("end")[0]["sessions_ended"] == 1


def test_table_format_prints_the_report_of_what_it_saw_on_stdout():
    server = listening_socket()
    port = server.getsockname()[1]
    result = subprocess.run([sys.executable, "-m", "tcpanalyze", "live", "-i", "lo", "--capture-filter", f"tcp port {port}",
                             "--duration", "1"], capture_output=True, text=True, timeout=60)
    server.close()
    assert result.returncode == 0, result.stderr
    # nothing crossed the port: an empty report, and the accounting line on stderr
    assert result.stdout.startswith("tcpanalyze report: (live)\n")
    assert "Sessions:       0" in result.stdout
    assert result.stderr.splitlines()[-1] == "0 records: 0 TCP, 0 other IP, 0 non-IP, 0 malformed"


def test_no_lag_is_reported_while_the_filter_matches_nothing():
    # dumpcap's file holds its header only: no packet is waiting, so nothing is behind.
    server = listening_socket()
    port = server.getsockname()[1]
    run = LiveRun("-i", "lo", "--capture-filter", f"tcp port {port}", "--duration", "3", "--format", "jsonl")
    code, stderr = run.finish()
    server.close()
    assert code == 0, stderr
    progress = [e["capture"] for e in run.of_kind("stats")]
    assert len(progress) >= 2
    assert all((p["written"], p["analysed"], p["behind_bytes"], p["behind_s"]) == (0, 0, 0, 0.0) for p in progress), \
        progress


def test_anomalies_are_reported_while_the_sessions_are_still_lingering():
    # A port nobody listens on: every connection is refused (SYN, RST-ACK).
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    run = LiveRun("-i", "lo", "--capture-filter", f"tcp port {port}", "--format", "jsonl")
    run.wait_for("start")
    for _ in range(REFUSED):
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
            pass
    anomaly = run.wait_for("anomaly")
    # refused sessions end 60 s (closed_linger_s) after their RST: none has ended yet
    assert run.of_kind("session_end") == []
    assert (anomaly["kind"], anomaly["target_addr"], anomaly["target_port"]) == ("handshake_failures", "127.0.0.1", port)
    assert len(anomaly["session_ids"]) == REFUSED
    run.process.send_signal(signal.SIGINT)
    code, stderr = run.finish()
    assert code == 0, stderr
    assert len(run.of_kind("session_end")) == REFUSED and len(run.of_kind("anomaly")) == 1
    assert {e["conn_state"] for e in run.of_kind("session_end")} == {"REJ"}


def test_a_ring_buffer_is_followed_file_after_file_and_is_the_written_capture(tmp_path):
    # 10 MB through a ring of 1 MB files: the analysis reads each file dumpcap fills, then the next.
    transfers = [(300_000, 700_000)] * 10
    server = listening_socket()
    port = server.getsockname()[1]
    run = LiveRun("-i", "lo", "--capture-filter", f"tcp port {port}", "--write", str(tmp_path / "ring.pcapng"),
                  "--ring", "30", "--ring-size", "1", "--format", "jsonl")
    run.wait_for("start")
    connections = exchange(server, transfers)
    server.close()
    run.process.send_signal(signal.SIGINT)
    code, stderr = run.finish()
    assert code == 0, stderr

    ring = sorted(tmp_path.glob("ring_*.pcapng"))
    assert len(ring) >= 10
    ended = sorted(run.of_kind("session_end"), key=lambda e: e["session_id"])
    assert [(e["orig_port"], e["orig_bytes"], e["resp_bytes"]) for e in ended] == \
        [(c.client_port, c.sent, c.received) for c in connections]
    capture = run.of_kind("end")[0]["capture"]
    assert capture["captured"] == capture["analysed"] and capture["files_missed"] == 0
    # The ring's files, analysed as one capture, give the same sessions.
    from_files = tcpanalyze.analyze(str(tmp_path / "ring_*.pcapng"), packets=False)
    assert from_files.accounting.records == capture["analysed"]
    assert list(zip(from_files.sessions["orig_port"], from_files.sessions["orig_bytes"],
                    from_files.sessions["resp_bytes"])) == [(c.client_port, c.sent, c.received) for c in connections]


def test_an_analysis_that_stalls_catches_up_and_says_how_far_behind_it_was():
    # The analysis is frozen (SIGSTOP) while 20 MB cross: dumpcap, in its own process, writes on
    # regardless; resumed, the analysis reports the backlog, works through it and misses nothing.
    transfers = [(1_000_000, 0)] * 20
    server = listening_socket()
    port = server.getsockname()[1]
    run = LiveRun("-i", "lo", "--capture-filter", f"tcp port {port}", "--format", "jsonl")
    run.wait_for("start")
    run.process.send_signal(signal.SIGSTOP)
    try:
        connections = exchange(server, transfers)
        time.sleep(1.0)
    finally:
        run.process.send_signal(signal.SIGCONT)
    server.close()
    behind = run.wait_for("stats", where=lambda e: e["capture"]["behind_bytes"] > 0)
    assert behind["capture"]["behind_s"] > 0
    assert behind["capture"]["analysed"] < run.wait_for("stats", where=lambda e: e["capture"]["behind_bytes"] == 0
                                                        and e["capture"]["analysed"] > 0)["capture"]["analysed"]
    run.process.send_signal(signal.SIGINT)
    code, stderr = run.finish()
    assert code == 0, stderr
    ended = sorted(run.of_kind("session_end"), key=lambda e: e["session_id"])
    assert [(e["orig_port"], e["orig_bytes"]) for e in ended] == [(c.client_port, c.sent) for c in connections]
    capture = run.of_kind("end")[0]["capture"]
    assert capture["captured"] == capture["analysed"] and capture["dropped"] == 0
