"""Several files read as one capture: a ring buffer, a directory, a glob or a list gives exactly
what the single file they were cut from gives, and overlapping files are merged in time order
as mergecap merges them."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import tcpanalyze
from helpers import CORPUS_DIR, SAMPLE_DIR, Rec, capture_records, ring_buffer, split_capture, write_pcap
from tcpanalyze.capture import CaptureReader, MergedReader, capture_files
from tcpanalyze.capture.records import FILE_SHIFT
from tcpanalyze.errors import CaptureError

CAPTURES = [SAMPLE_DIR / name for name in ("real-many-short-conns.pcap", "stream-lossy-ipv4.pcap",
                                           "real-ipv6-transfer.pcap", "synth-ipv4-frag-out-of-order.pcap",
                                           "anomaly-syn-flood.pcap", "real-pcapng-dumpcap.pcapng")] + \
           [CORPUS_DIR / "tcp-sack-fastretrans-http-206.pcap", CORPUS_DIR / "gzip-http-iso-download.pcap.gz"]
# Columns that say where a record sits: its offset and interface in its own (part) file.
WHERE = ["rec_off", "iface"]


def assert_same_analysis(one: tcpanalyze.Analysis, many: tcpanalyze.Analysis) -> None:
    pd.testing.assert_frame_equal(one.sessions, many.sessions)
    keep = [c for c in one.packets.columns if c not in WHERE]
    pd.testing.assert_frame_equal(one.packets[keep], many.packets[keep])
    assert (one.accounting.records, one.accounting.by_class) == (many.accounting.records, many.accounting.by_class)
    pd.testing.assert_frame_equal(one.anomalies, many.anomalies)
    for session_id in one.sessions["session_id"].head(5):
        mine, theirs = one.stream(int(session_id)), many.stream(int(session_id))
        assert (mine.orig.data, mine.resp.data) == (theirs.orig.data, theirs.resp.data)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_a_ring_buffer_reads_as_the_capture_it_was_cut_from(path, tmp_path):
    parts = ring_buffer(path, tmp_path, 7)
    one = tcpanalyze.analyze(str(path))
    for spec in (str(tmp_path / "part_*"), [str(p) for p in reversed(parts)], str(tmp_path)):
        many = tcpanalyze.analyze(spec)
        assert_same_analysis(one, many)
    # each record's position names its part file (in the order the files are named) and its offset there
    files = many.packets["rec_off"].to_numpy() >> FILE_SHIFT
    assert np.all(np.diff(files) >= 0) and files[-1] == 6


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_overlapping_files_merge_in_time_order(path, tmp_path):
    """Records dealt round-robin into three files, each spanning the whole capture (records that
    share a timestamp go to one file together: across files their order would be the merge's)."""
    stamps = np.array([rec.ts_ns for rec, _ in capture_records(path)])
    run = np.concatenate([[0], np.cumsum(np.diff(stamps) != 0)])
    parts = split_capture(path, tmp_path, lambda i: run[i] % 3, 3)
    assert_same_analysis(tcpanalyze.analyze(str(path)), tcpanalyze.analyze([str(p) for p in parts]))


def test_equal_timestamps_go_to_the_file_named_first_and_each_file_keeps_its_order(tmp_path):
    """mergecap's rule: the earliest head record first, ties to the first file; a file whose
    clock steps back is not reordered."""
    recs = capture_records(SAMPLE_DIR / "real-refused.pcap")  # four records
    a = write_pcap(tmp_path / "a.pcap", [Rec(recs[0][0].data, 10), Rec(recs[1][0].data, 30), Rec(recs[2][0].data, 20)],
                   nanosecond=True)
    b = write_pcap(tmp_path / "b.pcap", [Rec(recs[3][0].data, 10), Rec(recs[3][0].data, 25)], nanosecond=True)
    with MergedReader([str(b), str(a)]) as reader:
        batches = list(reader.batches(2))
    stamps = np.concatenate([batch.ts_ns for batch in batches])
    files = np.concatenate([batch.stream_positions() >> FILE_SHIFT for batch in batches])
    assert stamps.tolist() == [10, 10, 25, 30, 20]
    assert files.tolist() == [0, 1, 0, 1, 1]  # b is file 0: named first
    assert np.concatenate([batch.frame for batch in batches]).tolist() == [1, 2, 3, 4, 5]


def test_a_long_ring_buffer_keeps_one_or_two_files_open(tmp_path):
    path = SAMPLE_DIR / "real-many-short-conns.pcap"
    split_capture(path, tmp_path, lambda i: i // 4, 50)
    most = 0
    with MergedReader(capture_files(str(tmp_path))) as reader:
        for _ in reader.batches(3):
            most = max(most, len(reader._active))
    assert most <= 2
    assert reader.info.records == 200 and len(reader.info.interfaces) == 50


def test_damage_and_empty_files_among_many_are_reported(tmp_path):
    path = SAMPLE_DIR / "real-graceful-close.pcap"
    parts = split_capture(path, tmp_path, lambda i: i // 100, 2)
    parts[1].write_bytes(parts[1].read_bytes()[:-30])  # the second file ends inside its last record
    write_pcap(tmp_path / "part_99999.pcap", [])
    many = tcpanalyze.analyze(str(tmp_path))
    assert many.accounting.records == 179 and not many.accounting.complete
    assert [w.split(": ", 1)[1][:20] for w in many.warnings] == ["after 79 records, at", "capture holds no rec"]


def test_what_is_not_a_capture_set_fails_in_one_line(tmp_path):
    with pytest.raises(CaptureError, match="no file matches this pattern"):
        tcpanalyze.analyze(str(tmp_path / "ring_*.pcapng"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CaptureError, match="is a directory without capture files"):
        tcpanalyze.analyze(str(tmp_path))
    (tmp_path / "bad.pcap").write_text("not a capture at all")
    write_pcap(tmp_path / "good.pcap", [])
    with pytest.raises(CaptureError, match="bad.pcap: not a pcap or pcapng capture"):
        tcpanalyze.analyze(str(tmp_path))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tcpanalyze", *args], capture_output=True, text=True, timeout=300)


def test_commands_take_several_files_a_directory_or_a_glob(tmp_path):
    path = SAMPLE_DIR / "stream-lossy-ipv4.pcap"
    parts = [str(p) for p in split_capture(path, tmp_path, lambda i: i // 40, 6)]
    single = _cli("sessions", str(path), "-f", "csv")
    assert single.returncode == 0
    for args in (parts, [str(tmp_path)], [str(tmp_path / "part_*")]):
        assert _cli("sessions", *args, "-f", "csv").stdout == single.stdout
    report = _cli("report", *parts)
    assert report.returncode == 0 and report.stdout.startswith("tcpanalyze report: part_00000.pcap and 5 more files\n")
    assert _cli("follow", str(tmp_path), "0").stdout == _cli("follow", str(path), "0").stdout
    mixed = _cli("sessions", "-", parts[0])
    assert mixed.returncode == 2
    assert mixed.stderr == "tcpanalyze: error: standard input (-) cannot be read together with other files\n"


@pytest.mark.skipif(shutil.which("editcap") is None, reason="needs editcap (apt-get install tshark)")
def test_a_ring_buffer_written_by_wiresharks_tools(tmp_path):
    """editcap -c cuts a capture the way dumpcap -b packets:N rotates its ring buffer."""
    path = SAMPLE_DIR / "real-pcapng-dumpcap.pcapng"
    subprocess.run(["editcap", "-c", "20", str(path), str(tmp_path / "ring.pcapng")], check=True)
    assert len(list(tmp_path.iterdir())) >= 3
    assert_same_analysis(tcpanalyze.analyze(str(path)), tcpanalyze.analyze(str(tmp_path)))
