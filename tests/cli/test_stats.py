"""stats: per-interval counts, packets, bytes, RSTs and zero windows equal to tshark -z io,stat's;
a capture whose timestamps span years gets its non-empty intervals, not one row per second."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

import tcpanalyze
from cli_run import run_tcpanalyze
from helpers import CORPUS_DIR, SAMPLE_DIR
from tcpanalyze.pipeline import io_stats
from tcpanalyze.pipeline.io_stats import MAX_DENSE_INTERVALS

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def tshark_io_stat(path, interval: float) -> list[tuple[int, int]]:
    out = subprocess.run(["tshark", "-q", "-n", "-r", str(path), "-z", f"io,stat,{interval},tcp"],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    return [(int(f), int(b)) for f, b in re.findall(r"<>\s*[\d.]+\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", out)]


@needs_tshark
@pytest.mark.parametrize("name, interval", [("check-lossy.pcap", 0.25), ("real-loss-congestion-sender.pcap", 0.1),
                                            ("stream-concurrent.pcap", 1.0), ("real-loss-tail-receiver.pcap", 0.05)])
def test_packets_and_bytes_are_tsharks(name, interval):
    """(Two differences, on purpose: tshark counts TCP headers quoted inside ICMP errors as TCP,
    docs/wireshark-differences.md; and puts a last packet that falls exactly on an interval's
    end into that interval, where we start the next.)"""
    path = SAMPLE_DIR / name
    ours = io_stats(str(path), interval)
    assert list(zip(ours["packets"], ours["bytes"])) == tshark_io_stat(path, interval)


def test_session_figures_add_up_to_the_sessions():
    path = str(SAMPLE_DIR / "check-lossy.pcap")
    table = io_stats(path, 0.1)
    s = tcpanalyze.analyze(path, packets=False).sessions
    assert table["new_sessions"].sum() == len(s)
    assert table["retransmissions"].sum() == (s["orig_retrans_pkts"] + s["resp_retrans_pkts"]).sum()
    assert table["rsts"].sum() == (s["orig_rst_pkts"] + s["resp_rst_pkts"]).sum()
    assert table["zero_windows"].sum() == (s["orig_zero_window"] + s["resp_zero_window"]).sum()
    assert table["packets"].sum() == (s["orig_pkts"] + s["resp_pkts"]).sum()
    assert (table["end_s"] - table["start_s"]).round(9).eq(0.1).all()


def test_command_formats_and_bad_interval():
    path = str(SAMPLE_DIR / "check-lossy.pcap")
    result = run_tcpanalyze(["stats", path, "--interval", "0.5", "-f", "jsonl"])
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert result.returncode == 0 and [r["packets"] for r in rows] == io_stats(path, 0.5)["packets"].tolist()
    bad = run_tcpanalyze(["stats", path, "--interval", "0"])
    assert bad.returncode == 2
    assert bad.stderr.decode().splitlines() == ["tcpanalyze: error: the interval must be a positive number of seconds, not 0.0"]


def test_chart_as_image_and_as_a_self_contained_page(tmp_path):
    from PIL import Image

    path = str(SAMPLE_DIR / "real-loss-congestion-sender.pcap")
    for name in ("io.png", "io.html"):
        result = run_tcpanalyze(["stats", path, "--interval", "0.05", "--chart", str(tmp_path / name)])
        assert result.returncode == 0, result.stderr.decode()
    with Image.open(tmp_path / "io.png") as image:
        assert image.size[0] > 400 and image.getextrema() != ((255, 255), (255, 255), (255, 255), (255, 255))
    page = (tmp_path / "io.html").read_text()
    assert page.count("Plotly.newPlot") == 1 and "retransmissions" in page
    assert not re.search(r"<script[^>]+src=\"https?:", page)
    bad = run_tcpanalyze(["stats", path, "--chart", str(tmp_path / "io.txt")])
    assert bad.returncode == 2 and b"use a .png, .svg, .pdf or .html file name" in bad.stderr


# tshark's columns: TCP frames (not TCP headers quoted in ICMP errors), RSTs, zero windows.
RST_AND_ZERO_WINDOW = "io,stat,1,tcp && !icmp,tcp.flags.reset==1 && !icmp,tcp.analysis.zero_window && !icmp"


def tshark_frames_per_column(path, spec: str) -> list[tuple[int, ...]]:
    """Per interval row of ``tshark -z spec``, the Frames figure of each column."""
    out = subprocess.run(["tshark", "-q", "-n", "-r", str(path), "-z", spec],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    rows = re.findall(r"^\|\s*[\d.]+\s*<>\s*(?:[\d.]+|Dur)\s*\|(.*)\|\s*$", out, re.M)
    return [tuple(int(v) for v in row.split("|")[::2]) for row in rows]


@needs_tshark
@pytest.mark.parametrize("path", [SAMPLE_DIR / "anomaly-rst-storm.pcap", SAMPLE_DIR / "real-zero-window.pcap",
                                  SAMPLE_DIR / "real-rst-abort.pcap", SAMPLE_DIR / "check-lossy.pcap",
                                  CORPUS_DIR / "tcp-window-full-zero-window-ipp.pcap",
                                  CORPUS_DIR / "tcp-zero-window-probes.pcap",
                                  CORPUS_DIR / "tcp-synack-reflection-backscatter.pcap"], ids=lambda p: p.name)
def test_rsts_and_zero_windows_are_tsharks_per_second(path):
    ours = io_stats(str(path), 1.0)
    theirs = tshark_frames_per_column(path, RST_AND_ZERO_WINDOW)
    assert ours["rsts"].sum() + ours["zero_windows"].sum() > 0
    assert list(zip(ours["packets"], ours["rsts"], ours["zero_windows"])) == theirs


@pytest.mark.parametrize("name", ["rawip-lt101-mixed-v4-v6.pcap", "vlan-mpls-mixed.pcap",
                                  "pcapng-eth-and-sll-snaplen-truncated.pcapng",
                                  "pcapng-3-ifaces-mixed-tsresol-keepalive.pcapng"])
def test_timestamps_years_apart_give_the_non_empty_seconds_only(name):
    """(tshark -z io,stat,1 allocates every second of such a file and is killed for memory.)"""
    path = CORPUS_DIR / name
    table = io_stats(str(path), 1.0)
    packets = tcpanalyze.analyze(str(path), packets=False).sessions
    assert table["start_s"].max() > MAX_DENSE_INTERVALS and len(table) < 200
    assert (table["packets"] > 0).all() and table["start_s"].is_monotonic_increasing
    assert table["packets"].sum() == (packets["orig_pkts"] + packets["resp_pkts"]).sum()
    result = run_tcpanalyze(["stats", str(path), "-f", "csv"])
    assert result.returncode == 0 and len(result.stdout.splitlines()) == len(table) + 1, result.stderr.decode()


def test_a_capture_within_the_bound_lists_its_empty_intervals_too():
    table = io_stats(str(SAMPLE_DIR / "anomaly-rst-storm.pcap"), 1.0)
    assert table["start_s"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and (table["packets"] == 0).sum() == 3
