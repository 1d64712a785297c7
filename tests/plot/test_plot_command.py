"""`tcpanalyze plot`: image formats by suffix, PNG on a pipe, refusals with exit code 2."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys

import pytest
from matplotlib.image import imread

import tcpanalyze.plot
from tcpanalyze.cli.plot import Kind

from helpers import SAMPLE_DIR

SAMPLE = SAMPLE_DIR / "real-zero-window.pcap"
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<?xml", ".pdf": b"%PDF-"}


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tcpanalyze", *args], capture_output=True, timeout=180, **kwargs)


@pytest.mark.parametrize("suffix", list(MAGIC))
def test_output_suffix_picks_the_image_format(tmp_path, suffix):
    target = tmp_path / f"seq{suffix}"
    result = run_cli("plot", str(SAMPLE), "0", "--kind", "seq", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert target.read_bytes().startswith(MAGIC[suffix])
    assert result.stderr.decode().startswith("2195 records: 2195 TCP")


def test_png_goes_to_stdout_when_it_is_a_pipe():
    result = run_cli("plot", str(SAMPLE), "0", "--kind", "window")
    assert result.returncode == 0, result.stderr
    image = imread(io.BytesIO(result.stdout), format="png")
    assert image.shape[:2] == (480, 900)


def test_png_to_a_terminal_is_refused_with_a_hint():
    leader, follower = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "tcpanalyze", "plot", str(SAMPLE), "0"], stdout=follower,
                                stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(follower)
        os.close(leader)
    assert result.returncode == 2
    assert result.stderr.decode().strip() == ("tcpanalyze: error: a PNG image would go to the terminal: write it "
                                              "to a file with -o FILE.png (or .svg, .pdf), or pipe the output")


def test_unknown_session_is_exit_2_with_one_line():
    result = run_cli("plot", str(SAMPLE), "3", "-o", "never-written.png")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        f"tcpanalyze: error: no session 3 in {SAMPLE}: its only session is 0"]


def test_unknown_image_suffix_is_exit_2_before_reading(tmp_path):
    result = run_cli("plot", str(SAMPLE), "0", "-o", str(tmp_path / "seq.gif"))
    assert result.returncode == 2
    assert "use a .png, .svg or .pdf file name" in result.stderr.decode()
    assert "records" not in result.stderr.decode()  # failed before the capture was read


def test_cli_kinds_are_the_library_kinds():
    assert [k.value for k in Kind] == list(tcpanalyze.plot.KINDS)


def test_size_sets_the_png_pixels_and_time_range_the_span(tmp_path):
    target = tmp_path / "tail.png"
    result = run_cli("plot", str(SAMPLE), "0", "--time-range", "1.5:", "--size", "1200x600", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert imread(str(target)).shape[:2] == (600, 1200)


@pytest.mark.parametrize("args, message", [
    (["--time-range", "2:1"], "--time-range '2:1': the end comes before the start"),
    (["--time-range", "soon"], "--time-range 'soon': expected START:END in seconds"),
    (["--time-range", "2024-05-01T10:00:00:2024-05-01T10:00:05"], "plot takes seconds since the session's first packet"),
    (["--size", "1200"], "--size '1200': expected WIDTHxHEIGHT in pixels, e.g. 1600x800"),
    (["--size", "50x50"], "--size '50x50': width and height must each be 200 to 10000 pixels"),
])
def test_bad_time_range_or_size_is_one_line_exit_2_before_reading(args, message):
    result = run_cli("plot", str(SAMPLE), "0", *args, "-o", "never-written.png")
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tcpanalyze: error: ") and message in lines[0]


def test_time_range_after_the_session_is_one_line_exit_2():
    result = run_cli("plot", str(SAMPLE), "0", "--time-range", "3:", "-o", "never-written.png")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        "tcpanalyze: error: time range 3:1.60506 s starts after session 0 ends (1.60506 s after its first packet)"]


def test_bad_direction_is_a_usage_error():
    result = run_cli("plot", str(SAMPLE), "0", "--direction", "up", "-o", "never-written.png")
    assert result.returncode == 2
    assert "Invalid value for '--direction'" in " ".join(result.stderr.decode().replace("│", "").split())
