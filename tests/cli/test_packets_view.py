"""The packets command's view reads like Wireshark's packet list: relative sequence and ACK
numbers, the calculated window and relative SACK edges, checked against tshark per frame."""

from __future__ import annotations

import shutil
import subprocess

import pytest

import tcpanalyze
from cli_run import run_tcpanalyze
from helpers import SAMPLE_DIR
from tcpanalyze.cli.tables import packet_table

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def tshark_rows(path) -> dict[int, list[str]]:
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e", "tcp.seq",
                          "-e", "tcp.ack", "-e", "tcp.window_size", "-e", "tcp.options.sack_le",
                          "-e", "tcp.options.sack_re"], capture_output=True, text=True, check=True, timeout=300).stdout
    return {int(f[0]): f[1:] for f in (line.split("\t") for line in out.splitlines())}


@needs_tshark
@pytest.mark.parametrize("name", ["stream-lossy-ipv4.pcap", "real-refused.pcap", "real-zero-window.pcap",
                                  "stream-lossy-ipv6.pcap"])
def test_relative_numbers_window_and_sack_edges_are_wiresharks(name):
    path = SAMPLE_DIR / name
    table = packet_table(tcpanalyze.analyze(str(path)).packets)
    theirs = tshark_rows(path)
    for row in table.itertuples():
        seq, ack, win, sack_le, sack_re = theirs[row.frame]
        assert (row.seq, row.ack, row.win) == (int(seq), int(ack), int(win)), row.frame
        edges = [f"sack={le}-{re}" for le, re in zip(sack_le.split(","), sack_re.split(",")) if le]
        assert [o for o in row.options.split() if o.startswith("sack=")] == edges, row.frame


def test_raw_shows_the_numbers_on_the_wire_and_columns_pick():
    path = str(SAMPLE_DIR / "real-refused.pcap")
    raw = run_tcpanalyze(["packets", path, "--raw", "--columns", "frame,seq,ack"]).stdout.decode().split()
    assert raw[:6] == ["frame", "seq", "ack", "1", "2609656564", "0"]
    relative = run_tcpanalyze(["packets", path, "--columns", "frame,session,seq,ack"]).stdout.decode().split()
    assert relative[:8] == ["frame", "session", "seq", "ack", "1", "0", "0", "0"]
    csv = run_tcpanalyze(["packets", path, "-f", "csv", "--columns", "frame,resend"]).stdout.decode().splitlines()
    assert csv[:2] == ['"frame","resend"', '1,"none"']
    bad = run_tcpanalyze(["packets", path, "--columns", "frame,nope"])
    assert bad.returncode == 2 and bad.stderr.decode().startswith("tcpanalyze: error: --columns: no column nope")
