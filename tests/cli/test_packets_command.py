"""`tcpanalyze packets`: formats, the jsonl contract, accounting on stderr, exit codes."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import tcpanalyze

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_pcaps" / "real-graceful-close.pcap"
CONTRACT_FIELDS = {"frame", "ts_ns", "src_addr", "src_port", "dst_addr", "dst_port", "seq_raw", "ack_raw",
                   "tcp_flags", "win_raw", "payload_len"}


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tcpanalyze", *args], input=stdin, capture_output=True, timeout=120)


def test_jsonl_has_contract_fields_for_every_tcp_packet_in_file_order():
    result = run_cli("packets", str(SAMPLE), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    expected = tcpanalyze.read_packets(str(SAMPLE))
    assert len(rows) == len(expected) > 0
    assert all(CONTRACT_FIELDS <= row.keys() for row in rows)
    assert [r["frame"] for r in rows] == expected["frame"].tolist()
    assert [r["seq_raw"] for r in rows] == expected["seq_raw"].tolist()
    assert [r["src_addr"] for r in rows] == expected["src_addr"].astype(str).tolist()
    assert all(isinstance(r["ts_ns"], int) and r["ts_ns"] > 1_000_000_000 * 10**9 for r in rows)


def test_csv_round_trips_the_same_numbers_as_the_api():
    result = run_cli("packets", str(SAMPLE), "--format", "csv")
    assert result.returncode == 0
    frame = pd.read_csv(io.BytesIO(result.stdout))
    expected = tcpanalyze.read_packets(str(SAMPLE))
    assert frame["payload_len"].tolist() == expected["payload_len"].tolist()
    assert frame["ack_raw"].tolist() == expected["ack_raw"].tolist()


def test_table_shows_one_line_per_packet_and_accounting_on_stderr():
    result = run_cli("packets", str(SAMPLE))
    assert result.returncode == 0
    lines = result.stdout.decode().splitlines()
    expected = tcpanalyze.read_packets(str(SAMPLE))
    assert lines[0].split()[:6] == ["frame", "time_s", "session", "source", "destination", "flags"]
    assert len(lines) == len(expected) + 1
    records = expected.attrs["accounting"]["records"]
    assert f"{records} records: {len(expected)} TCP" in result.stderr.decode()


def test_output_option_writes_the_file_and_nothing_to_stdout(tmp_path):
    target = tmp_path / "out.jsonl"
    result = run_cli("packets", str(SAMPLE), "-f", "jsonl", "-o", str(target))
    assert result.returncode == 0 and result.stdout == b""
    assert len(target.read_text().splitlines()) == len(tcpanalyze.read_packets(str(SAMPLE)))


def test_gzip_capture_on_stdin_reads_like_the_file():
    result = run_cli("packets", "-", "-f", "jsonl", stdin=gzip.compress(SAMPLE.read_bytes()))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(tcpanalyze.read_packets(str(SAMPLE)))


def test_all_records_lists_every_record_with_its_class():
    result = run_cli("packets", str(SAMPLE), "--all-records", "-f", "jsonl")
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [r["frame"] for r in rows] == list(range(1, len(rows) + 1))
    assert {r["record_class"] for r in rows} <= {"tcp", "other_ip", "non_ip", "malformed"}


@pytest.mark.parametrize("make_input, message", [
    (lambda d: d / "missing.pcap", "no such file"),
    (lambda d: (d / "notes.txt").write_text("hello, not a capture\n") and d / "notes.txt", "not a pcap or pcapng capture"),
    (lambda d: d, "is a directory"),
])
def test_unreadable_input_is_one_line_error_with_exit_2(tmp_path, make_input, message):
    result = run_cli("packets", str(make_input(tmp_path)))
    assert result.returncode == 2
    err = result.stderr.decode().strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in result.stderr.decode()


def test_bad_option_is_usage_error_with_exit_2():
    result = run_cli("packets", str(SAMPLE), "--format", "xml")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr.decode()


def test_cut_off_capture_prints_records_read_and_a_warning_with_exit_0(tmp_path):
    data = SAMPLE.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 10])
    result = run_cli("packets", str(cut), "-f", "jsonl")
    assert result.returncode == 0
    full = tcpanalyze.read_packets(str(SAMPLE))
    assert len(result.stdout.splitlines()) == len(full) - 1
    assert "warning:" in result.stderr.decode() and "file ends inside a record" in result.stderr.decode()


def test_version_flag_prints_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.decode().strip() == f"tcpanalyze {tcpanalyze.__version__}"


def test_debug_flag_shows_the_traceback(tmp_path):
    result = run_cli("--debug", "packets", str(tmp_path / "missing.pcap"))
    assert result.returncode != 0 and "Traceback" in result.stderr.decode()
