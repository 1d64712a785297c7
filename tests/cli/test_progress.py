"""The progress bar: drawn on a terminal's stderr, never when stderr is a file or a pipe."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys

import pytest
from rich.console import Console

from tcpanalyze.cli.progress import ReadProgress

from helpers import SAMPLE_DIR

SAMPLE = SAMPLE_DIR / "real-zero-window.pcap"
ACCOUNTING = "2195 records: 2195 TCP, 0 other IP, 0 non-IP, 0 malformed"
# Runs the CLI with the bar's delay at 0, so it would show from the first batch on.
NO_DELAY = ("import sys, tcpanalyze.cli.progress as progress; progress.SHOW_AFTER_S = 0; "
            "from tcpanalyze.cli import main; sys.argv[0] = 'tcpanalyze'; main()")


@pytest.mark.parametrize("command", ["sessions", "packets", "plot"])
def test_no_bar_when_stderr_is_not_a_terminal(command, tmp_path):
    extra = ["0", "-o", str(tmp_path / "seq.png")] if command == "plot" else []
    result = subprocess.run([sys.executable, "-c", NO_DELAY, command, str(SAMPLE), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    assert result.returncode == 0
    assert result.stderr.decode() == ACCOUNTING + "\n"


def test_bar_is_drawn_when_stderr_is_a_terminal():
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-c", NO_DELAY, "sessions", str(SAMPLE)],
                                   stdout=subprocess.DEVNULL, stderr=follower)
        os.close(follower)
        output = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=120) == 0
    finally:
        os.close(leader)
    text = output.decode(errors="replace")
    assert "reading" in text and "2,195 records" in text
    assert text.rstrip().endswith(ACCOUNTING)


def test_bar_waits_for_long_runs_and_counts_records():
    out = io.StringIO()
    progress = ReadProgress(Console(file=out, force_terminal=True, width=100), show_after_s=3600)
    with progress:
        progress(100, 1000, 2000)
    assert out.getvalue() == ""
    progress = ReadProgress(Console(file=out, force_terminal=True, width=100), show_after_s=0)
    with progress:
        progress(262_144, 1000, 2000)
    assert "262,144 records" in out.getvalue()
    assert not ReadProgress(Console(file=io.StringIO()), show_after_s=0).enabled  # not a terminal
