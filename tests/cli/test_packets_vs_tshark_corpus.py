"""The packets view's relative seq/ack, calculated window and its scale factor equal tshark's
``tcp.seq``, ``tcp.ack``, ``tcp.window_size`` (and ``tcp.window_size_scalefactor``) on every
TCP packet of every capture in tests/corpus: one tshark run and one analysis per file."""

from __future__ import annotations

import shutil
import subprocess

import pytest

import tcpanalyze
from helpers import corpus_files
from tcpanalyze.cli.tables import packet_table

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")

# Files neither reader opens: there is nothing to compare.
UNREADABLE = {
    "malformed-pcap-invalid-version.pcap": "pcap major version 1: tshark and we refuse the file",
    "malformed-pcapng-shb-option-too-long.pcapng": "the section header block's lengths disagree: unreadable",
}
# tshark prints every whole packet of these and then exits 2 on the cut-off record.
CUT_SHORT = {"cutoff-mid-packet-data.pcap", "cutoff-mid-record-header.pcap", "fuzz-cutoff-huge-caplen-null-nsec.pcap"}
FIELDS = ("frame.number", "tcp.seq", "tcp.ack", "tcp.window_size", "tcp.window_size_scalefactor", "icmp.type",
          "icmpv6.type")


def tshark_tcp(path) -> dict[int, list[str]]:
    args = ["tshark", "-n", "-r", str(path), "-T", "fields"] + [a for f in FIELDS for a in ("-e", f)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 or (path.name in CUT_SHORT and "cut short" in done.stderr), done.stderr
    rows = (line.split("\t") for line in done.stdout.splitlines())
    # frames with a TCP header, but not one quoted in an ICMP error (tshark reads those as TCP
    # packets, we do not: docs/wireshark-differences.md)
    return {int(f[0]): f[1:5] for f in rows if f[1] and not (f[5] or f[6])}


@needs_tshark
@pytest.mark.parametrize("path", [p for p in corpus_files() if p.name not in UNREADABLE], ids=lambda p: p.name)
def test_relative_numbers_and_calculated_window_are_tsharks_on_every_tcp_packet(path):
    view = packet_table(tcpanalyze.analyze(str(path)).packets, columns=["frame", "seq", "ack", "win", "ws"])
    theirs = tshark_tcp(path)
    assert sorted(view["frame"]) == sorted(theirs)
    ours = {int(r.frame): [str(r.seq), str(r.ack), str(r.win)] for r in view.itertuples()}
    assert ours == {frame: values[:3] for frame, values in theirs.items()}
    # the scale factor, where Wireshark knows one (-1 unknown, -2 none: we show 1 or nothing)
    for r in view.itertuples():
        factor = theirs[int(r.frame)][3]
        if r.ws and factor and int(factor) > 0:
            assert r.ws == factor, (path.name, r.frame)


def test_every_capture_is_compared_or_named():
    names = {p.name for p in corpus_files()}
    assert set(UNREADABLE) <= names and CUT_SHORT <= names
