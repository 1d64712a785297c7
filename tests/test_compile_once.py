"""Kernels compile once per machine: the first command compiles them all (and says so on
stderr), and afterwards no command on any kind of capture compiles anything again.

Runs in a fresh numba cache directory, as a new machine would: the README's first command,
then every kind of capture through every compiled kernel (file formats, link and IP layers,
fragments, a lossy real-stack transfer, a flood, several files merged, stream reassembly), with numba's cache
debugging on. Each kernel must be loaded from the cache (dispatcher statistics: cache hits,
no misses) and nothing may be saved to it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import dpkt
import pytest

from helpers import CORPUS_DIR, REPO_ROOT, SAMPLE_DIR, Rec, write_pcapng
from tcpanalyze import jit

KINDS = {
    "classic pcap, Ethernet, lossy (SACK, zero windows)": CORPUS_DIR / "tcp-ooo-zerowindow-sack-http-206.pcap",
    "pcapng from dumpcap": SAMPLE_DIR / "real-pcapng-dumpcap.pcapng",
    "gzip, 82k packets (the parallel decoder)": CORPUS_DIR / "gzip-loopback-echo-500-conns.pcap.gz",
    "IPv6": SAMPLE_DIR / "real-ipv6-transfer.pcap",
    "IPv4 fragments": CORPUS_DIR / "ipv4-frag-every-segment-socks-http.pcap",
    "lossy real-stack transfer": SAMPLE_DIR / "stream-lossy-ipv4.pcap",
    "SYN flood": SAMPLE_DIR / "anomaly-syn-flood.pcap",
    "nanosecond big-endian pcap": SAMPLE_DIR / "synth-container-be-nsec.pcap",
    "Linux cooked SLL2": CORPUS_DIR / "sll2-http-2-conns.pcap",
}

# Each capture through the analysis, detection, the report and stream reassembly, every kernel
# compiled (no plain-Python shortcut for small files); then each entry kernel's cache record.
ANALYSE_ALL = """
import json, sys
import tcpanalyze
from tcpanalyze import jit
from tcpanalyze.report import build_report
with jit.mode(plain=False):
    for path in [*sys.argv[1:], sys.argv[1:3]]:  # the last: two files merged as one capture
        # the first with checksums verified (the decoder's second pass)
        analysis = tcpanalyze.analyze(path, options=tcpanalyze.EngineOptions(verify_checksums=path == sys.argv[1]))
        build_report(analysis)
        for session_id in analysis.sessions["session_id"].head(3):
            analysis.stream(int(session_id))
print(json.dumps({k.__qualname__ + "@" + k.__module__: [sum(k.dispatcher.stats.cache_hits.values()),
                  sum(k.dispatcher.stats.cache_misses.values())] for k in jit._entry_points if k._dispatcher}))
"""

SAVED = re.compile(r"^\[cache\] (data|index) saved to", re.MULTILINE)


@pytest.fixture(scope="module")
def fresh_cache(tmp_path_factory):
    """A new machine's numba cache: empty until the README's first command fills it."""
    return {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path_factory.mktemp("numba-cache")), "NUMBA_DEBUG_CACHE": "1",
            "PYTHONPATH": str(REPO_ROOT)}


def _run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def first_command(fresh_cache):
    return _run(["-m", "tcpanalyze", "report", "sample_pcaps/real-zero-window.pcap"], fresh_cache)


def test_first_command_compiles_every_kernel_and_says_so(first_command):
    assert first_command.returncode == 0, first_command.stderr
    assert first_command.stdout.count("Problems, worst first") == 1
    announced = [line for line in first_command.stderr.splitlines() if line.startswith("tcpanalyze: ")]
    assert announced[0] == "tcpanalyze: compiling analysis kernels, first run only (about a minute)..."
    assert re.fullmatch(rf"tcpanalyze: {_entry_count()} kernels ready in [\d.]+ s "
                        rf"\({_entry_count()} compiled, the rest loaded from the cache\)", announced[1]), announced
    assert SAVED.search(first_command.stdout + first_command.stderr)  # into the fresh cache


def test_after_the_first_command_no_capture_compiles_anything(first_command, fresh_cache, tmp_path):
    assert first_command.returncode == 0
    pcapng = _as_pcapng(KINDS["classic pcap, Ethernet, lossy (SACK, zero windows)"], tmp_path)
    paths = [str(p) for p in KINDS.values()] + [str(pcapng)]
    result = _run(["-c", ANALYSE_ALL, *paths], fresh_cache)
    assert result.returncode == 0, result.stderr[-3000:]
    assert SAVED.search(result.stdout + result.stderr) is None, "a kernel was compiled and saved again"
    assert "compiling" not in result.stderr
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(stats) == _entry_count(), f"not every kernel ran: {sorted(stats)}"  # so the check is not vacuous
    assert {name: hits_misses for name, hits_misses in stats.items() if hits_misses != [1, 0]} == {}


@pytest.mark.parametrize("command", [
    ["sessions", "{capture}"], ["packets", "{capture}", "-f", "csv"], ["anomalies", "{capture}"],
    ["check", "{capture}", "--rule", "retransmission_rate < 0.5"], ["follow", "{capture}", "0"],
    ["plot", "{capture}", "0", "-o", "{tmp}/seq.png"], ["export-streams", "{capture}", "{tmp}/streams"],
    ["report", "{capture}", "--format", "html", "-o", "{tmp}/report.html"],
])
def test_no_command_compiles_after_the_first(first_command, fresh_cache, tmp_path, command):
    capture = KINDS["gzip, 82k packets (the parallel decoder)"]  # compressed: always the compiled path
    args = [part.format(capture=capture, tmp=tmp_path) for part in command]
    result = _run(["-m", "tcpanalyze", *args], fresh_cache)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert SAVED.search(result.stdout + result.stderr) is None
    assert "compiling" not in result.stderr
    assert "[cache] data loaded from" in result.stdout + result.stderr  # it did run compiled kernels


def _entry_count() -> int:
    for name in jit.KERNEL_MODULES:
        __import__(name)
    return len(jit._entry_points)


def _as_pcapng(path, tmp_path):
    """The same packets in a pcapng file (one interface, microsecond stamps)."""
    with open(path, "rb") as handle:
        records = [Rec(bytes(data), ts_ns=int(ts * 1e9)) for ts, data in dpkt.pcap.Reader(handle)]
    return write_pcapng(tmp_path / "converted.pcapng", records)
