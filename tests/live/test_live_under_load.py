"""`tcpanalyze live` keeps every packet while the machine is busy: ten captures on loopback, each
of ten sessions sending known bytes as fast as loopback goes, with a busy-looping process on
every core. The live session records and the capture dumpcap wrote (analysed as a file) both
hold the exact bytes, nothing was lost between dumpcap and the analysis, the drop counts
reported are dumpcap's own (the Interface Statistics Block it closed its file with), and the
capture loss seen in TCP raises no false alarm."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from live_helpers import (Connection, CpuHogs, LiveRun, exchange, isb_counters, listening_socket,
                          require_loopback_capture)

import tcpanalyze

RUNS = 10
# Runs at a time: five captures with their transfers and the busy loops share the cores (and the
# whole test takes about a minute instead of three).
AT_ONCE = 5
# (client -> server, server -> client) bytes of each of a run's sessions
TRANSFERS = [(300_000, 700_000)] * 10


@dataclass
class Run:
    connections: list[Connection]
    live: LiveRun
    code: int
    stderr: str
    written: Path


def capture_run(directory: Path) -> Run:
    """One `live` capture on loopback while TRANSFERS cross a port of their own."""
    written = directory / "live.pcapng"
    server = listening_socket()
    port = server.getsockname()[1]
    live = LiveRun("-i", "lo", "--capture-filter", f"tcp port {port}", "--write", str(written), "--format", "jsonl")
    live.wait_for("start")
    connections = exchange(server, TRANSFERS)
    server.close()
    live.process.send_signal(signal.SIGINT)
    code, stderr = live.finish()
    return Run(connections, live, code, stderr, written)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Run]:
    require_loopback_capture()
    # made here, not in the threads: pytest's first mktemp creates the base directory, and
    # threads racing to do so get different ones
    directories = [tmp_path_factory.mktemp(f"run{i}") for i in range(RUNS)]
    with CpuHogs(), ThreadPoolExecutor(AT_ONCE) as pool:
        return list(pool.map(capture_run, directories))


@pytest.mark.parametrize("run", range(RUNS))
def test_every_byte_is_analysed_and_written_while_every_core_is_busy(runs, run):
    connections, live, written = runs[run].connections, runs[run].live, runs[run].written
    assert runs[run].code == 0, runs[run].stderr

    ended = sorted(live.of_kind("session_end"), key=lambda e: e["session_id"])
    assert [(e["orig_port"], e["orig_bytes"], e["resp_bytes"], e["conn_state"]) for e in ended] == \
        [(c.client_port, c.sent, c.received, "SF") for c in connections]
    assert [(c.sent, c.received) for c in connections] == TRANSFERS

    from_file = tcpanalyze.analyze(str(written), packets=False).sessions
    assert list(zip(from_file["orig_port"], from_file["orig_bytes"], from_file["resp_bytes"])) == \
        [(c.client_port, c.sent, c.received) for c in connections]

    end = live.of_kind("end")[0]
    capture = end["capture"]
    [isb] = isb_counters(written)
    assert capture["captured"] == isb["isb_ifrecv"] == capture["analysed"] == end["records"]
    assert capture["kernel_dropped"] == isb["isb_ifdrop"]
    assert capture["isb"] == [{"interface": 0, **isb}]
    assert capture["lost_before_analysis"] == 0 and capture["files_missed"] == 0
    # dumpcap's statistics line and the ISB it closed its file with tell the same total
    assert capture["matched"] == isb["isb_ifrecv"] + isb["isb_ifdrop"]

    # Live, the packets written (read back from dumpcap's file) grow, are never fewer than those
    # analysed nor more than dumpcap says it wrote; with nothing dropped the capture loss seen in
    # TCP stays at 0: no false alarm while every core is busy.
    written = [e["capture"]["written"] for e in live.of_kind("stats")]
    assert written == sorted(written) and written[-1] <= capture["captured"]
    assert all(e["capture"]["analysed"] <= e["capture"]["written"] for e in live.of_kind("stats"))
    assert capture["dropped"] == 0 and end["ack_lost_segment_pkts"] == 0 and live.of_kind("capture_loss") == []
    assert end["advancing_ack_pkts"] > 0
