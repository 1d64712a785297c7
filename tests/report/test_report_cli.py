"""`tcpanalyze report`: formats through the command line, -o, stdout/stderr, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import SAMPLE_DIR

SAMPLE = SAMPLE_DIR / "real-rst-abort.pcap"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tcpanalyze", "report", *args], capture_output=True, timeout=300)


def test_json_on_stdout_and_the_accounting_on_stderr():
    result = run_cli(str(SAMPLE), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema_version"] == 2 and data["capture"]["file"] == SAMPLE.name
    records = data["capture"]["packets"]["records"]
    assert result.stderr.decode().splitlines() == [f"{records} records: {records} TCP, 0 other IP, 0 non-IP, 0 malformed"]


@pytest.mark.parametrize("fmt, opening", [("text", "tcpanalyze report: real-rst-abort.pcap\n"),
                                          ("markdown", "# tcpanalyze report: real-rst-abort.pcap\n"),
                                          ("json", "{\n"), ("html", "<!DOCTYPE html>\n")])
def test_output_option_writes_each_format_to_the_file(tmp_path, fmt, opening):
    target = tmp_path / f"report.{fmt}"
    result = run_cli(str(SAMPLE), "-f", fmt, "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    text = target.read_text()
    assert text.startswith(opening)
    assert "reset its session with 10.77.0.1:44804 after 10,240 bytes from the originator" in text
    assert "\x1b[" not in text  # no colour in a file


def test_text_to_a_pipe_is_plain_and_the_progress_bar_stays_away():
    result = run_cli(str(SAMPLE))
    assert result.returncode == 0
    assert b"\x1b[" not in result.stdout and b"\x1b[" not in result.stderr
    assert b"Analysing" not in result.stderr


def test_missing_file_is_a_one_line_error_with_exit_2(tmp_path):
    result = run_cli(str(tmp_path / "nope.pcap"))
    assert result.returncode == 2
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("tcpanalyze: error:") and "nope.pcap" in line


def test_a_file_that_is_not_a_capture_is_a_one_line_error_with_exit_2(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("these are not packets\n" * 10)
    result = run_cli(str(notes))
    assert result.returncode == 2
    [line] = result.stderr.decode().splitlines()
    assert line.startswith("tcpanalyze: error:") and "Traceback" not in line


@pytest.mark.parametrize("args", [["--format", "pdf"], ["--bogus"]])
def test_bad_option_is_a_usage_error_with_exit_2(args):
    result = run_cli(str(SAMPLE), *args)
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr and result.stdout == b""


def test_unwritable_output_is_a_one_line_error(tmp_path):
    result = run_cli(str(SAMPLE), "-o", str(tmp_path / "no-such-dir" / "report.txt"))
    assert result.returncode == 2
    [line] = result.stderr.decode().splitlines()
    assert "cannot write" in line


def test_help_has_an_example():
    result = run_cli("--help")
    assert result.returncode == 0
    assert b"Example: tcpanalyze report" in result.stdout


def test_filters_narrow_the_report_to_the_sessions_that_pass_them():
    truth = json.loads((SAMPLE_DIR / "expected" / "real-many-short-conns.json").read_text())
    picked = [truth["connections"][3], truth["connections"][4]]
    result = run_cli(str(SAMPLE_DIR / "real-many-short-conns.pcap"), "-f", "json", "--session", "3", "--session", "4")
    assert result.returncode == 0, result.stderr
    capture = json.loads(result.stdout)["capture"]
    assert capture["selection"] == "--session 3 --session 4"
    assert capture["sessions"] == 2
    assert capture["total_bytes"] == sum(c["orig_bytes"] + c["resp_bytes"] for c in picked)
    assert capture["packets"]["records"] == truth["tshark_observed"]["counts"]["packets"]  # still the whole file


def test_a_bad_filter_is_a_usage_error():
    result = run_cli(str(SAMPLE), "--host", "not-an-address")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == ["tcpanalyze: error: --host 'not-an-address': not an IPv4 or IPv6 address"]


def test_readme_shows_what_the_report_command_prints():
    readme = (SAMPLE_DIR.parent / "README.md").read_text()
    command = "$ tcpanalyze report sample_pcaps/real-zero-window.pcap\n"
    shown = readme.split(command, 1)[1].split("\n```", 1)[0]
    result = run_cli(str(SAMPLE_DIR / "real-zero-window.pcap"))
    assert result.returncode == 0
    assert shown == (result.stdout + result.stderr).decode().rstrip("\n")
