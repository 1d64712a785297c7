"""`tcpanalyze live -o PATH`: the JSON events (jsonl) or the end-of-capture report (table) go
to the file instead of stdout; a path that cannot be written fails before the capture starts."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import REPO_ROOT, SAMPLE_DIR

CAPTURE = SAMPLE_DIR / "real-pcapng-dumpcap.pcapng"


def run_cli(args: list[str], stdin: bytes) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "tcpanalyze", *args], input=stdin, capture_output=True,
                            cwd=REPO_ROOT, timeout=300)
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(), result.stderr.decode())


def test_jsonl_events_go_to_the_output_file(tmp_path):
    out = tmp_path / "events.jsonl"
    result = run_cli(["live", "--from-stdin", "--format", "jsonl", "-o", str(out)], stdin=CAPTURE.read_bytes())
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    events = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert kinds.count("session_end") == 2 and events[-1]["accounting"]["tcp"] == 64


def test_table_report_goes_to_the_output_file(tmp_path):
    out = tmp_path / "report.txt"
    result = run_cli(["live", "--from-stdin", "-o", str(out)], stdin=CAPTURE.read_bytes())
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    report = out.read_text()
    assert report.startswith("tcpanalyze report: (live)") and "Sessions:       2" in report


def test_unwritable_output_fails_before_reading_the_capture():
    result = run_cli(["live", "--from-stdin", "-o", "/nonexistent-dir/report.txt"], stdin=CAPTURE.read_bytes())
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "tcpanalyze: error: /nonexistent-dir/report.txt: cannot write: No such file or directory"]
