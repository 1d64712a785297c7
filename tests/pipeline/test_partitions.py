"""Several workers, one result: the flows of a capture split among processes give exactly what
one engine gives (session ids in order of first packet, every session column, every per-frame
flag, the detectors' evidence, every anomaly, the report), for every sample and corpus capture,
and for a capture cut into ring-buffer files."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import tcpanalyze
from helpers import CORPUS_DIR, SAMPLE_DIR, corpus_files, ring_buffer, sample_files
from tcpanalyze.decode import PacketBatch
from tcpanalyze.decode.columns import allocate
from tcpanalyze.errors import CaptureError
from tcpanalyze.pipeline.partitions import flow_parts

CAPTURES = sample_files() + corpus_files()


def assert_same(one: tcpanalyze.Analysis, many: tcpanalyze.Analysis) -> None:
    pd.testing.assert_frame_equal(one.sessions, many.sessions)
    assert one.accounting.as_dict() == many.accounting.as_dict()
    if one.packets is not None:
        pd.testing.assert_frame_equal(one.packets, many.packets)
    if one.evidence is not None:
        pd.testing.assert_frame_equal(one.evidence.packets, many.evidence.packets)
        # RTT samples: the same ones, each part's in its own packet order
        order = ["session_id", "ack_rtt_ns"]
        pd.testing.assert_frame_equal(one.rtt_samples.sort_values(order, ignore_index=True),
                                      many.rtt_samples.sort_values(order, ignore_index=True))
    pd.testing.assert_frame_equal(one.anomalies, many.anomalies)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_two_and_four_workers_give_what_one_gives(path):
    try:
        one = tcpanalyze.analyze(str(path), packets=False)
    except CaptureError as error:  # a capture we cannot read: the same error, whatever the workers
        for workers in (2, 4):
            with pytest.raises(CaptureError, match=re.escape(str(error))):
                tcpanalyze.analyze(str(path), packets=False, workers=workers)
        return
    for workers in (2, 4):
        assert_same(one, tcpanalyze.analyze(str(path), packets=False, workers=workers))


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_the_packets_table_of_three_workers_is_one_workers(path):
    assert_same(tcpanalyze.analyze(str(path)), tcpanalyze.analyze(str(path), workers=3))


@pytest.mark.parametrize("path", [SAMPLE_DIR / "real-many-short-conns.pcap", SAMPLE_DIR / "stream-lossy-ipv4.pcap",
                                  SAMPLE_DIR / "synth-ipv4-frag-out-of-order.pcap",
                                  CORPUS_DIR / "tcp-sack-fastretrans-http-206.pcap"], ids=lambda p: p.name)
def test_a_ring_buffer_analysed_by_several_workers_is_the_capture_it_was_cut_from(path, tmp_path):
    whole = tcpanalyze.analyze(str(path), packets=False)
    ring_buffer(path, tmp_path, 5)
    one = tcpanalyze.analyze(str(tmp_path / "part_*"), packets=False)
    pd.testing.assert_frame_equal(whole.sessions, one.sessions)
    pd.testing.assert_frame_equal(whole.anomalies, one.anomalies)
    # the evidence kept depends on where batches end (it may keep a few packets more), which
    # the files change; the workers do not
    for workers in (2, 4):
        assert_same(one, tcpanalyze.analyze(str(tmp_path / "part_*"), packets=False, workers=workers))


def test_the_sessions_really_are_split(tmp_path):
    """Each part keeps its own flows: the parts' sessions add up to the capture's, none twice."""
    from tcpanalyze.pipeline.partitions import analyze_part

    path = SAMPLE_DIR / "anomaly-scans.pcap"
    whole = tcpanalyze.analyze(str(path), packets=False).sessions
    parts = [analyze_part(str(path), k, 3, packets=False).sessions for k in range(3)]
    assert sum(len(p) for p in parts) == len(whole)
    assert all(len(p) for p in parts)  # 42 address pairs: every part gets some
    frames = np.sort(np.concatenate([p["first_frame"].to_numpy() for p in parts]))
    assert frames.tolist() == sorted(whole["first_frame"].tolist())


def _batch(src: tuple[int, int], dst: tuple[int, int], version: int) -> PacketBatch:
    matrices = allocate(1)
    batch = PacketBatch.empty()
    batch = PacketBatch({k: np.zeros(1, v.dtype) for k, v in batch.records.items()}, matrices)
    batch["src_hi"][0], batch["src_lo"][0] = src
    batch["dst_hi"][0], batch["dst_lo"][0] = dst
    batch["ip_version"][0] = version
    return batch


def test_both_directions_share_a_part_and_the_ip_version_counts():
    a, b = (0, 0xFFFF0A000001), (0, 0xFFFF0A000002)
    for parts in (2, 3, 4, 7):
        forward = [int(flow_parts(_batch(a, (0, 0xFFFF0A000000 + k), 4), parts)[0]) for k in range(64)]
        backward = [int(flow_parts(_batch((0, 0xFFFF0A000000 + k), a, 4), parts)[0]) for k in range(64)]
        assert forward == backward
        assert set(forward) == set(range(parts))  # 64 address pairs reach every part
    v4, v6 = (int(flow_parts(_batch(a, b, version), 1 << 20)[0]) for version in (4, 6))
    assert v4 != v6  # an IPv6 session between IPv4-mapped addresses is not the IPv4 one


def test_the_report_command_says_the_same_with_two_workers():
    path = str(SAMPLE_DIR / "real-many-short-conns.pcap")

    def report(*extra: str) -> dict:
        run = subprocess.run([sys.executable, "-m", "tcpanalyze", "report", path, "--format", "json", *extra],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    assert report("--workers", "2") == report()


def test_standard_input_is_read_once_and_split_all_the_same():
    path = SAMPLE_DIR / "anomaly-scans.pcap"

    def report(source: str, *extra: str) -> dict:
        run = subprocess.run([sys.executable, "-m", "tcpanalyze", "report", source, "--format", "json", *extra],
                             input=path.read_bytes(), capture_output=True, timeout=300)
        assert run.returncode == 0, run.stderr
        found = json.loads(run.stdout)
        found["capture"]["file"] = None  # "(stdin)" or the file's name
        return found

    assert report("-", "--workers", "2") == report(str(path))


def test_a_script_that_starts_workers_unguarded_gets_one_error_saying_what_to_do(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text("import tcpanalyze\n"
                      f"tcpanalyze.analyze({str(SAMPLE_DIR / 'anomaly-scans.pcap')!r}, packets=False, workers=2)\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("tcpanalyze.errors.TcpanalyzeError: a worker process (in a script, start them under "
                           '`if __name__ == "__main__":`) failed')
