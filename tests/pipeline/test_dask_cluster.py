"""A real Dask cluster: a scheduler and two workers started as their own processes on localhost
(in another directory: they read the capture by its absolute path, as from shared storage).
``report --scheduler`` and ``analyze(client=...)`` run the parts there and say what a local
run says."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pandas as pd
import pytest

import tcpanalyze
from helpers import REPO_ROOT, SAMPLE_DIR, ring_buffer

distributed = pytest.importorskip("distributed")

CAPTURES = ["sample_pcaps/anomaly-scans.pcap", "sample_pcaps/real-zero-window.pcap", "sample_pcaps/stream-lossy-ipv4.pcap"]


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """The scheduler's address, with two workers (one and two threads) registered to it."""
    where = tmp_path_factory.mktemp("cluster")
    address_file = where / "scheduler.json"
    command = [sys.executable, "-m"]
    processes = [subprocess.Popen([*command, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                   "--dashboard-address", ":0", "--scheduler-file", str(address_file)],
                                  cwd=where, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        for threads in (1, 2):
            processes.append(subprocess.Popen(
                [*command, "distributed.cli.dask_worker", "--scheduler-file", str(address_file), "--nthreads",
                 str(threads), "--no-dashboard", "--name", f"worker-{threads}"],
                cwd=where, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        address = json.loads(address_file.read_text())["address"]
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def report(*args: str) -> dict:
    run = subprocess.run([sys.executable, "-m", "tcpanalyze", "report", "--format", "json", *args],
                         capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize("path", CAPTURES)
def test_report_through_the_scheduler_is_the_local_report(scheduler, path):
    assert report(path, "--scheduler", scheduler) == report(path)


def test_analyze_with_a_client_runs_the_parts_on_the_workers(scheduler, tmp_path):
    ring_buffer(SAMPLE_DIR / "anomaly-scans.pcap", tmp_path, 4)
    spec = str(tmp_path / "part_*")
    local = tcpanalyze.analyze(spec, packets=False)
    with distributed.Client(scheduler) as client, distributed.get_task_stream(client) as tasks:
        remote = tcpanalyze.analyze(spec, packets=False, client=client)
    pd.testing.assert_frame_equal(local.sessions, remote.sessions)
    pd.testing.assert_frame_equal(local.anomalies, remote.anomalies)
    assert local.accounting.as_dict() == remote.accounting.as_dict()
    parts = [t for t in tasks.data if t["key"].startswith("analyze_part")]
    assert len(parts) == 3  # one per worker thread
    assert len({t["worker"] for t in parts}) == 2


def test_an_unreachable_scheduler_is_one_line():
    run = subprocess.run([sys.executable, "-m", "tcpanalyze", "report", "sample_pcaps/real-refused.pcap",
                          "--scheduler", "tcp://127.0.0.1:9"], capture_output=True, text=True, timeout=120,
                         cwd=REPO_ROOT)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tcpanalyze: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9")
