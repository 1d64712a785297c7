"""What a notebook user meets first: the subpackages one attribute away, a one-line repr."""

from __future__ import annotations

import subprocess
import sys

import tcpanalyze
from helpers import REPO_ROOT, SAMPLE_DIR


def test_subpackages_need_no_import_of_their_own():
    code = ("import tcpanalyze; a = tcpanalyze.analyze('sample_pcaps/real-zero-window.pcap'); "
            "r = tcpanalyze.report.build_report(a); f = tcpanalyze.plot.session_figure; "
            "print(type(r).__name__, callable(f), callable(tcpanalyze.check.run_check))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().split() == ["Report", "True", "True"]


def test_repr_is_one_line_not_two_dataframes():
    path = str(SAMPLE_DIR / "check-lossy.pcap")
    full, lean = tcpanalyze.analyze(path), tcpanalyze.analyze(path, packets=False)
    assert repr(full) == f"<Analysis of {path}: 6 sessions, 817 packets, 817 records>"
    assert repr(lean) == f"<Analysis of {path}: 6 sessions, no packets table, 817 records>"
    assert "\n" not in repr(full.with_session_packets([0]))
