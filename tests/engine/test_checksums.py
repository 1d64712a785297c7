"""Checksums verified (``EngineOptions(verify_checksums=True)``, ``--verify-checksums``): a packet
with a wrong IPv4 header or TCP checksum is marked in the packets table, counted per session
(``bad_checksum_pkts``) and in the record accounting, gives Zeek's C/c history letters, and is
left out of the analysis: every other packet and every session figure is what the same capture
without it gives. Off by default: then nothing is marked and nothing changes.

The captures: a real transfer (correct checksums) with three packets damaged here, and a real
NFLOG capture, taken before the kernel filled the checksums in (every one wrong, says tshark).
"""

from __future__ import annotations

import json
import subprocess
import sys

import dpkt
import numpy as np
import pandas as pd
import pytest

import tcpanalyze
from helpers import SAMPLE_DIR, Rec, pcap_bytes

CLEAN = SAMPLE_DIR / "real-graceful-close.pcap"
BAD_TCP = {6: "orig", 20: "resp"}  # frame -> the side that sent it: a data segment each way
BAD_IP = {25: "orig"}  # an ACK whose IPv4 header checksum is wrong
BAD = {**BAD_TCP, **BAD_IP}
VERIFY = tcpanalyze.EngineOptions(verify_checksums=True)
FRAME_COLUMNS = ("dupack_frame", "acks_frame", "rto_frame")
COMPARED = ("analysis_flags", "resend", "seq_rel", "ack_rel", "window", "bytes_in_flight", "ack_rtt_ns", "dupack_num",
            "rto_ns", *FRAME_COLUMNS)


def _frames() -> list[tuple[int, bytes]]:
    """(microsecond timestamp in ns, bytes) of each frame of CLEAN."""
    with open(CLEAN, "rb") as handle:
        return [(round(ts * 1e6) * 1000, bytes(buf)) for ts, buf in dpkt.pcap.Reader(handle)]


def _damaged(frame: int, data: bytes) -> bytes:
    """The frame with its TCP checksum (or, for BAD_IP, its IPv4 header checksum) made wrong."""
    eth = dpkt.ethernet.Ethernet(data)
    offset = 14 + 10 if frame in BAD_IP else 14 + eth.data.hl * 4 + 16
    raw = bytearray(data)
    raw[offset] ^= 0x5A
    return bytes(raw)


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    """(the capture with BAD damaged, the capture without BAD's frames)."""
    frames = _frames()
    folder = tmp_path_factory.mktemp("checksums")
    damaged, removed = folder / "damaged.pcap", folder / "removed.pcap"
    damaged.write_bytes(pcap_bytes([Rec(_damaged(i, data) if i in BAD else data, ts)
                                    for i, (ts, data) in enumerate(frames, start=1)]))
    removed.write_bytes(pcap_bytes([Rec(data, ts) for i, (ts, data) in enumerate(frames, start=1) if i not in BAD]))
    return damaged, removed


def test_bad_packets_are_marked_counted_and_lettered(captures):
    result = tcpanalyze.analyze(str(captures[0]), options=VERIFY)
    packets = result.packets.set_index("frame")
    assert set(packets.index[packets["bad_tcp_checksum"]]) == set(BAD_TCP)
    assert set(packets.index[packets["bad_ip_checksum"]]) == set(BAD_IP)
    assert result.accounting.tcp_bad_checksum == len(BAD)
    (session,) = result.sessions.itertuples()
    sides = list(BAD.values())
    assert (session.orig_bad_checksum_pkts, session.resp_bad_checksum_pkts) == (sides.count("orig"), sides.count("resp"))
    assert "C" in session.history and "c" in session.history  # Zeek: a bad checksum from the originator, the responder
    left_out = packets.loc[list(BAD)]
    assert (left_out["analysis_flags"] == 0).all() and left_out["ack_rtt_ns"].isna().all()


def test_bad_packets_are_left_out_of_the_analysis(captures):
    damaged = tcpanalyze.analyze(str(captures[0]), options=VERIFY)
    removed = tcpanalyze.analyze(str(captures[1]))
    # frame numbers of the capture without the bad frames -> the damaged capture's
    kept = np.array([i for i in range(1, len(damaged.packets) + 1) if i not in BAD])
    ours = damaged.packets[~damaged.packets["frame"].isin(list(BAD))].reset_index(drop=True)
    theirs = removed.packets.copy()
    for column in FRAME_COLUMNS:
        values = theirs[column]
        theirs[column] = pd.array([pd.NA if pd.isna(v) else int(kept[int(v) - 1]) for v in values], dtype="Int64")
    for column in COMPARED:
        assert ours[column].astype(object).tolist() == theirs[column].astype(object).tolist(), column
    with_bad, without = damaged.sessions.iloc[0], removed.sessions.iloc[0]
    assert with_bad["history"].replace("C", "").replace("c", "") == without["history"]
    differ = {c for c in damaged.sessions.columns if c not in ("first_frame", "last_frame", "history")
              and not _same(with_bad[c], without[c])}
    assert differ == {"orig_bad_checksum_pkts", "resp_bad_checksum_pkts"}


def _same(a, b) -> bool:
    return bool(pd.isna(a) and pd.isna(b)) or (not pd.isna(a) and not pd.isna(b) and a == b)


def test_checksums_are_not_checked_by_default(captures):
    plain = tcpanalyze.analyze(str(captures[0]))
    assert not plain.packets["bad_tcp_checksum"].any() and not plain.packets["bad_ip_checksum"].any()
    assert plain.accounting.tcp_bad_checksum == 0
    assert "C" not in plain.sessions["history"].iloc[0]
    clean = tcpanalyze.analyze(str(CLEAN), options=VERIFY)  # a capture with correct checksums: nothing changes
    pd.testing.assert_frame_equal(clean.sessions, tcpanalyze.analyze(str(CLEAN)).sessions)


def test_several_workers_leave_out_the_same_packets(captures):
    one = tcpanalyze.analyze(str(captures[0]), options=VERIFY, packets=False)
    two = tcpanalyze.analyze(str(captures[0]), options=VERIFY, packets=False, workers=2)
    pd.testing.assert_frame_equal(one.sessions, two.sessions)


def test_a_capture_taken_before_the_checksums_were_filled_in():
    """NFLOG hands the packets to the capture before the stack computes their checksums: tshark
    finds every one wrong, and so do we; verified, nothing is left to analyse."""
    path = SAMPLE_DIR / "real-nflog.pcap"
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-T", "fields",
                          "-e", "frame.number", "-e", "tcp.checksum.status"], capture_output=True, text=True, check=True)
    tshark_bad = {int(f) for f, s in (line.split("\t") for line in out.stdout.splitlines()) if s == "0"}
    result = tcpanalyze.analyze(str(path), options=VERIFY)
    assert set(result.packets["frame"][result.packets["bad_tcp_checksum"]]) == tshark_bad
    assert len(tshark_bad) == len(result.packets)
    assert set(result.sessions["history"]) == {"Cc"} and (result.sessions["orig_pkts"] == 0).all()


def test_the_commands_take_verify_checksums(captures, tmp_path):
    run = [sys.executable, "-m", "tcpanalyze"]
    report = subprocess.run([*run, "report", str(captures[0]), "--verify-checksums", "-f", "json"],
                            capture_output=True, text=True)
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["capture"]["packets"]["tcp_bad_checksum"] == len(BAD)
    assert f"{len(BAD)} with a wrong checksum, left out of the analysis" in report.stderr
    text = subprocess.run([*run, "report", str(captures[0]), "--verify-checksums"], capture_output=True, text=True)
    assert f"{len(BAD)} TCP packets with a wrong IPv4 or TCP checksum, left out of the analysis" in text.stdout
    sessions = subprocess.run([*run, "sessions", str(captures[0]), "--verify-checksums", "-f", "csv", "--columns",
                               "orig_bad_checksum_pkts,resp_bad_checksum_pkts"], capture_output=True, text=True)
    assert sessions.stdout.splitlines()[1] == "2,1", sessions.stderr
    packets = subprocess.run([*run, "packets", str(captures[0]), "--verify-checksums", "-f", "csv", "--columns",
                              "frame,bad_tcp_checksum"], capture_output=True, text=True)
    assert [line.split(",")[0] for line in packets.stdout.splitlines() if line.endswith("true")] == ["6", "20"]
