"""The packets command's view reads like Wireshark's packet list: relative sequence and ACK
numbers, the calculated window and relative SACK edges, checked against tshark per frame."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess

import pytest

import tcpanalyze
from cli_run import run_tcpanalyze
from helpers import SAMPLE_DIR, corpus_files, sample_files
from tcpanalyze.cli.tables import TABLE_WIDTH, packet_table
from tcpanalyze.errors import CaptureError
from tcpanalyze.output import Format, FrameWriter

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
    table = packet_table(tcpanalyze.analyze(str(path)).packets, columns=["frame", "seq", "ack", "win", "options"])
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


def printed(frame, **view) -> list[str]:
    """The lines ``tcpanalyze packets`` prints for ``frame`` (header first)."""
    text = io.StringIO()
    with contextlib.redirect_stdout(text), FrameWriter(Format.table, None, lambda f: packet_table(f, **view)) as out:
        out.write(frame)
    return text.getvalue().splitlines()


@pytest.mark.parametrize("path", sample_files() + corpus_files(), ids=lambda p: p.name)
def test_the_default_view_fits_a_120_column_terminal(path):
    try:
        frame = tcpanalyze.analyze(str(path)).packets
    except CaptureError:
        pytest.skip("not a readable capture")
    lines = printed(frame)
    assert max(map(len, lines), default=0) <= TABLE_WIDTH
    assert len(lines) == (len(frame) + 1 if len(frame) else 0)


def test_compact_columns_and_the_whole_ones_on_request():
    lossy = packet_table(tcpanalyze.analyze(str(SAMPLE_DIR / "stream-lossy-ipv6.pcap")).packets)
    assert list(lossy.columns) == ["frame", "time_s", "session", "source", "destination", "flags", "seq", "ack", "win",
                                   "ws", "len", "info"]
    assert lossy.iloc[2][["flags", "win", "ws"]].tolist() == ["A", 65536, "1024"]  # 64 on the wire, scaled by 1024
    teredo = tcpanalyze.analyze(str(SAMPLE_DIR / "real-tunnel-teredo.pcap")).packets
    first = packet_table(teredo).iloc[0]
    assert first["source"] == "[2001:…:fdfe]:38932" and first["flags"] == "S"
    assert max(map(len, printed(teredo))) <= TABLE_WIDTH
    whole = packet_table(teredo, columns=["src", "flag_names", "options", "tunnel"]).iloc[:2].to_numpy().tolist()
    assert whole == [["[2001:0:c000:263:0:63be:3fff:fdfe]:38932", "SYN", "mss=1220 ws=1024 sack_perm", "teredo"],
                     ["[2001:db8:82::2]:5201", "SYN,ACK", "mss=1220 ws=1024 sack_perm", "teredo"]]


def test_info_counts_further_sack_blocks_and_names_a_fast_retransmission_once():
    frame = tcpanalyze.analyze(str(SAMPLE_DIR / "anomaly-real-retrans-storm.pcap")).packets
    view = packet_table(frame, columns=["info", "options", "analysis"])
    three = view[frame["sack_count"].to_numpy() == 3].iloc[0]
    assert three["options"].count("sack=") == 3 and three["info"].endswith(three["options"].split()[0] + " +2")
    fast = view[view["analysis"].str.startswith("retransmission,fast_retransmission")]
    assert len(fast) and not fast["info"].str.contains(r"(?<!_)retransmission,", regex=True).any()


def test_no_scale_column_when_no_window_is_scaled():
    frame = tcpanalyze.analyze(str(SAMPLE_DIR / "real-refused.pcap")).packets
    assert "ws" not in packet_table(frame) and "ws" in packet_table(frame, columns=["ws"])
