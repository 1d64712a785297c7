"""Kernels give the same results run as plain Python (tiny captures) and compiled by numba.

``tcpanalyze.jit`` runs the kernels of a small capture as plain Python, to save numba's
start-up; every session and packet column must come out exactly as the compiled kernels
make them, on every capture small enough to take that path.
"""

from __future__ import annotations

import pandas as pd
import pytest

import tcpanalyze
from tcpanalyze import jit
from tcpanalyze.errors import CaptureError
from helpers import corpus_files, run_python, sample_files

SMALL_CAPTURES = [p for p in sample_files() + corpus_files() if p.stat().st_size <= jit.PLAIN_PYTHON_MAX_BYTES]


def analyse(path, plain: bool):
    with jit.mode(plain):
        try:
            analysis = tcpanalyze.analyze(str(path))
            analysis.anomalies  # detection runs kernels too (streams rebuilt to compare retransmitted bytes)
            return analysis
        except CaptureError as exc:
            return str(exc)


@pytest.mark.parametrize("path", SMALL_CAPTURES, ids=lambda p: p.name)
def test_plain_python_kernels_match_compiled(path):
    compiled, plain = analyse(path, plain=False), analyse(path, plain=True)
    if isinstance(compiled, str):
        assert plain == compiled
        return
    pd.testing.assert_frame_equal(plain.sessions, compiled.sessions, check_exact=True)
    pd.testing.assert_frame_equal(plain.packets, compiled.packets, check_exact=True)
    assert plain.accounting == compiled.accounting
    pd.testing.assert_frame_equal(plain.anomalies, compiled.anomalies, check_exact=True)


def test_small_capture_does_not_load_numba():
    code = ("import sys, tcpanalyze; r = tcpanalyze.analyze('sample_pcaps/real-refused.pcap'); "
            "print(len(r.sessions), len(r.packets), 'numba' in sys.modules)")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split() == ["2", "4", "False"]


def test_small_capture_report_does_not_load_numba():
    """The report's analysis (its columns), and detection after it (here: the overlap conflict,
    which rebuilds the streams) stay plain too."""
    code = ("import sys, tcpanalyze; from tcpanalyze.report import REPORT_COLUMNS, build_report; "
            "a = tcpanalyze.analyze('sample_pcaps/derived-conflict.pcap', packets=False, columns=REPORT_COLUMNS); "
            "build_report(a); print('injection' in set(a.anomalies['kind']), 'numba' in sys.modules)")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split() == ["True", "False"]


def test_each_thread_runs_kernels_in_its_own_mode():
    """A thread running kernels beside another (live capture's reader) neither takes the other's
    plain-Python block for its own nor sees it end in the middle of a kernel."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as other, jit.mode(plain=True):
        assert jit.running_plain()
        assert other.submit(jit.running_plain).result() is False
        with jit.mode(plain=False):
            assert not jit.running_plain()
        assert jit.running_plain()
