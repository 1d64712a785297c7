"""Every command fails the same way on bad input: exit 2 and one line on stderr, never a traceback.

A missing file, a file that is not a capture, a bad filter value: ``tcpanalyze: error: ...``
(one line). A bad option value: typer's usage error (usage line, hint, message). ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import shutil

import pytest

from helpers import REPO_ROOT

from cli_run import run_tcpanalyze

# After FILE: what each file-reading command needs to get as far as reading it.
FILE_COMMANDS = {
    "anomalies": [],
    "check": ["--rule", "sessions >= 0"],
    "export-streams": ["{tmp}/streams"],
    "follow": ["0"],
    "packets": [],
    "plot": ["0", "-o", "{tmp}/seq.png"],
    "report": [],
    "sessions": [],
    "stats": [],
}
FILTER_COMMANDS = ["anomalies", "check", "export-streams", "packets", "report", "sessions"]
ALL_COMMANDS = [*FILE_COMMANDS, "interfaces", "live"]


def args_for(command: str, file: str, tmp_path) -> list[str]:
    return [command, file, *(a.format(tmp=tmp_path) for a in FILE_COMMANDS[command])]


def assert_one_line_error(result, message: str) -> None:
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert stderr.splitlines() == [f"tcpanalyze: error: {message}"]


def assert_usage_error(result, option: str) -> None:
    """One line naming the option, and where to read about it."""
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    [line] = stderr.splitlines()
    assert line.startswith(f"tcpanalyze: error: Invalid value for '{option}'") and line.endswith(" --help')")


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_missing_file(command, tmp_path):
    result = run_tcpanalyze(args_for(command, str(tmp_path / "nope.pcap"), tmp_path))
    assert_one_line_error(result, f"{tmp_path / 'nope.pcap'}: no such file")


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_file_that_is_not_a_capture(command, tmp_path):
    result = run_tcpanalyze(args_for(command, str(REPO_ROOT / "README.md"), tmp_path))
    assert_one_line_error(result, f"{REPO_ROOT / 'README.md'}: not a pcap or pcapng capture (starts with 23 20 74 63, "
                                  f"expected a pcap or pcapng magic number)")


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_bad_format_value_is_a_usage_error(command, tmp_path):
    args = args_for(command, str(REPO_ROOT / "sample_pcaps" / "real-refused.pcap"), tmp_path) \
        if command in FILE_COMMANDS else [command]
    assert_usage_error(run_tcpanalyze([*args, "--format", "nonsense"]), "--format")


@pytest.mark.parametrize("command", FILTER_COMMANDS)
def test_bad_filter_values(command, tmp_path):
    args = args_for(command, str(REPO_ROOT / "sample_pcaps" / "real-refused.pcap"), tmp_path)
    assert_one_line_error(run_tcpanalyze([*args, "--host", "10.0.0"]), "--host '10.0.0': not an IPv4 or IPv6 address")
    assert_one_line_error(run_tcpanalyze([*args, "--time-range", "3:1"]),
                          "--time-range '3:1': the end comes before the start")
    assert_usage_error(run_tcpanalyze([*args, "--port", "70000"]), "--port")


@pytest.mark.skipif(shutil.which("dumpcap") is None, reason="needs dumpcap")
def test_live_on_an_unknown_interface():
    result = run_tcpanalyze(["live", "-i", "no-such-if0", "--duration", "1"])
    assert_one_line_error(result, "unknown interface 'no-such-if0': `tcpanalyze interfaces` lists the ones that "
                                  "can be captured")


def test_live_stream_that_is_not_a_capture():
    result = run_tcpanalyze(["live", "--from-stdin", "--format", "jsonl"], stdin=(REPO_ROOT / "README.md").read_bytes())
    assert_one_line_error(result, "<stdin>: the live stream is not pcapng (starts with 23 20 74 63)")


def test_debug_shows_the_traceback(tmp_path):
    result = run_tcpanalyze(["--debug", "sessions", str(tmp_path / "nope.pcap")])
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr.decode()


@pytest.mark.parametrize("args, message", [
    (["sessions", "--bogus"], "No such option: --bogus"),
    (["sessions"], "Missing argument 'files'."),
    (["no-such-command"], "No such command 'no-such-command'."),
])
def test_usage_errors_are_one_line(args, message):
    result = run_tcpanalyze(args)
    [line] = result.stderr.decode().splitlines()
    assert result.returncode == 2 and line.startswith(f"tcpanalyze: error: {message}")


@pytest.mark.parametrize("command", [["packets"], ["sessions", "-f", "jsonl"], ["report"]])
def test_a_reader_that_stops_early_is_not_an_error(command):
    """`tcpanalyze ... | head -1` exits 0, so `set -o pipefail` scripts go on."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "tcpanalyze", command[0], str(REPO_ROOT / "sample_pcaps" /
                                                                                  "real-zero-window.pcap"),
                             *command[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT)
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
