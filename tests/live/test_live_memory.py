"""A long stream through the live path (a pipe into ``LiveSource`` / ``follow``): sessions are
emitted as they end and memory stays flat, however many sessions went through."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from helpers import REPO_ROOT
from short_sessions import PACKETS_PER_SESSION, short_sessions_pcapng

SESSIONS = 200_000
RATE_PER_S = 100  # sessions per second of capture time: 2000 s in all
# A closed session ends 60 s (closed_linger_s) after its last packet: about 6000 are alive at
# any time, whatever the length of the stream.
ALIVE_BOUND = 10_000
RSS_GROWTH_LIMIT = 20 << 20

# Runs in a fresh interpreter reading the stream on stdin; prints what it measured.
CONSUMER = """
import json, os, sys
from tcpanalyze.capture.live import LiveSource
from tcpanalyze.pipeline.live import LiveAnalysis, follow

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

analysis = LiveAnalysis(wall_clock=False)
ended = max_open = 0
samples = []
with LiveSource(sys.stdin.fileno(), label="<stdin>") as source:
    for step in follow(source, analysis):
        ended += sum(len(chunk) for chunk in step.ended)
        counters = analysis.counters()
        max_open = max(max_open, counters.sessions_open)
        samples.append((counters.records, ended, rss()))
print(json.dumps({"ended": ended, "max_open": max_open, "samples": samples, "counters": counters.as_dict()}))
"""


def test_memory_stays_flat_while_sessions_stream_through_a_pipe():
    consumer = subprocess.Popen([sys.executable, "-c", CONSUMER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=str(REPO_ROOT))
    for piece in short_sessions_pcapng(SESSIONS, RATE_PER_S):
        consumer.stdin.write(piece)
    consumer.stdin.close()
    out, err = consumer.stdout.read(), consumer.stderr.read()
    assert consumer.wait(timeout=60) == 0, err.decode()
    result = json.loads(out)

    packets = SESSIONS * PACKETS_PER_SESSION
    assert result["ended"] == SESSIONS
    assert result["counters"]["records"] == result["counters"]["tcp_packets"] == packets
    assert result["counters"]["sessions_started"] == SESSIONS
    assert result["counters"]["data_pkts"] == SESSIONS  # one request segment each
    assert result["max_open"] <= ALIVE_BOUND
    samples = result["samples"]
    assert len(samples) > 20  # the stream arrived in many batches, sessions emitted along the way
    # Emitted as they go: half-way through the stream most sessions before it were out already.
    half = next(s for s in samples if s[0] >= packets // 2)
    assert half[1] >= SESSIONS // 2 - ALIVE_BOUND
    # One sample's RSS swings by +-25 MB with the allocator's timing: the median of the second
    # quarter of the stream against that of the last (100,000 sessions apart).
    second_quarter, last_quarter = (statistics.median(rss for records, _, rss in samples
                                                      if lo * packets <= records < hi * packets)
                                    for lo, hi in ((0.25, 0.5), (0.75, 1.01)))
    assert last_quarter - second_quarter < RSS_GROWTH_LIMIT, (second_quarter / 2**20, last_quarter / 2**20)
