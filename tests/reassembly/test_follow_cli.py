"""`tcpanalyze follow` and `tcpanalyze export-streams`: formats, gaps, errors, the raw contract, the index."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import pty
import re
import subprocess
import sys

import pytest
from helpers import EXPECTED_DIR, SAMPLE_DIR, Rec, eth, ipv4, tcp, write_pcap

import tcpanalyze

GRACEFUL = SAMPLE_DIR / "real-graceful-close.pcap"
REMOVED = SAMPLE_DIR / "derived-segments-removed.pcap"
MANY = SAMPLE_DIR / "real-many-short-conns.pcap"


def run_cli(*args: str, stdin: bytes | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tcpanalyze", *map(str, args)], input=stdin, capture_output=True, check=False,
                          timeout=300, **kw)


def api_stream(path, session_id=0):
    return tcpanalyze.analyze(str(path)).stream(session_id)


@pytest.fixture(scope="module")
def text_capture(tmp_path_factory):
    """A request with CR LF, a NUL, a 0xff and a backslash; a plain-text reply."""
    c, s = ("10.0.0.1", 40000), ("10.0.0.2", 80)

    def seg(a, b, seq, data, flags="PA"):
        return eth(ipv4(a[0], b[0], tcp(a[1], b[1], seq=seq, flags=flags, payload=data)))

    return write_pcap(tmp_path_factory.mktemp("follow") / "text.pcap", [
        seg(c, s, 100, b"", "S"), seg(s, c, 900, b"", "SA"),
        seg(c, s, 101, b"GET / HTTP/1.1\r\n\x00\xff\\"), seg(s, c, 901, b"OK\n"),
    ])


def test_raw_to_a_file_and_to_a_pipe_is_exactly_the_direction_bytes(tmp_path):
    stream = api_stream(GRACEFUL)
    out = tmp_path / "orig.bin"
    result = run_cli("follow", GRACEFUL, 0, "--direction", "orig", "--format", "raw", "-o", out)
    assert result.returncode == 0 and result.stdout == b""
    assert out.read_bytes() == stream.orig.data
    piped = run_cli("follow", GRACEFUL, 0, "--direction", "resp", "--format", "raw")
    assert piped.returncode == 0 and piped.stdout == stream.resp.data
    assert hashlib.sha256(piped.stdout).hexdigest() == \
        json.loads((EXPECTED_DIR / "real-graceful-close.json").read_text())["connections"][0]["resp_sha256"]


def test_raw_leaves_gaps_out_and_says_so_on_stderr():
    result = run_cli("follow", REMOVED, 0, "-d", "orig", "-f", "raw")
    assert result.returncode == 0
    assert len(result.stdout) == 10240 - 1448 - 2896
    assert "session 0 orig: 4344 of 10240 bytes missing in 2 gap(s)" in result.stderr.decode()


def test_text_escapes_control_bytes_and_labels_turns(text_capture):
    result = run_cli("follow", text_capture, 0)
    assert result.returncode == 0
    assert result.stdout.decode() == (
        "=== orig 10.0.0.1:40000 -> 10.0.0.2:80  offset 0, 19 bytes, frame 3\n"
        "GET / HTTP/1.1\\x0d\n\\x00\\xff\\\\\n"
        "=== resp 10.0.0.2:80 -> 10.0.0.1:40000  offset 0, 3 bytes, frame 4\n"
        "OK\n")


def test_hexdump_shows_offsets_bytes_and_missing_ranges():
    result = run_cli("follow", REMOVED, 0, "--direction", "orig", "--format", "hexdump")
    lines = result.stdout.decode().splitlines()
    assert "[1448 bytes missing]  (orig, offset 1448)" in lines
    assert "[2896 bytes missing]  (orig, offset 7240)" in lines
    dump = [line for line in lines if re.match(r"[0-9a-f]{8}  ", line)]
    data = b"".join(bytes.fromhex(line[10:57]) for line in dump)
    assert data == api_stream(REMOVED).orig.data
    assert dump[0].startswith("00000000  ") and any(line.startswith(f"{2896:08x}  ") for line in dump)


def test_jsonl_chunks_carry_base64_data_and_gap_objects():
    result = run_cli("follow", REMOVED, 0, "--format", "jsonl")
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    stream = api_stream(REMOVED)
    for d in ("orig", "resp"):
        mine = [r for r in rows if r["direction"] == d]
        assert b"".join(base64.b64decode(r["data"]) for r in mine if r["type"] == "data") == stream.direction(d).data
        assert [(r["offset"], r["length"]) for r in mine if r["type"] == "gap"] == stream.direction(d).gaps
    assert {r["session_id"] for r in rows} == {0} and all(isinstance(r["frame"], int) for r in rows)


def test_unknown_session_is_exit_2_with_the_ids_there_are():
    result = run_cli("follow", GRACEFUL, 9)
    assert result.returncode == 2
    assert result.stderr.decode().strip() == \
        "tcpanalyze: error: no session 9 in this capture (ids 0 to 0; see `tcpanalyze sessions`)"


def test_raw_refuses_a_terminal_and_both_directions():
    leader, follower = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "tcpanalyze", "follow", str(GRACEFUL), "0", "-d", "orig",
                                 "-f", "raw"], stdout=follower, stderr=subprocess.PIPE, timeout=120, check=False)
    finally:
        os.close(follower)
        os.close(leader)
    assert result.returncode == 2
    assert "raw capture bytes are not written to a terminal" in result.stderr.decode()
    both = run_cli("follow", GRACEFUL, 0, "-f", "raw")
    assert both.returncode == 2 and "--direction orig or --direction resp" in both.stderr.decode()


def test_follow_reads_standard_input_in_one_pass():
    result = run_cli("follow", "-", 0, "-d", "orig", "-f", "raw", stdin=gzip.compress(GRACEFUL.read_bytes()))
    assert result.returncode == 0 and result.stdout == api_stream(GRACEFUL).orig.data


def test_headers_only_capture_warns_instead_of_an_empty_success(tmp_path):
    full = eth(ipv4("10.0.0.1", "10.0.0.2", tcp(40000, 80, seq=5, flags="PA", payload=bytes(10240))))
    path = write_pcap(tmp_path / "headers.pcap", [Rec(full[:54], origlen=len(full))])
    result = run_cli("follow", path, 0, "-d", "orig", "-f", "raw", "-o", tmp_path / "out.bin")
    assert result.returncode == 0 and (tmp_path / "out.bin").read_bytes() == b""
    assert "session 0 orig: 10240 bytes in flight but none captured (headers-only capture)" in result.stderr.decode()


def test_export_streams_writes_one_file_per_direction_and_an_index(tmp_path):
    result = run_cli("export-streams", MANY, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    index = [json.loads(line) for line in (tmp_path / "out" / "index.jsonl").read_text().splitlines()]
    truth = json.loads((EXPECTED_DIR / "real-many-short-conns.json").read_text())["connections"]
    assert len(index) == 2 * len(truth) == 40
    by_port = {c["orig_port"]: c for c in truth}
    sessions = tcpanalyze.analyze(str(MANY)).sessions.set_index("session_id")
    for row in index:
        data = (tmp_path / "out" / row["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        conn = by_port[int(sessions.loc[row["session_id"], "orig_port"])]
        assert (row["bytes"], row["sha256"]) == (conn[f"{row['direction']}_bytes"], conn[f"{row['direction']}_sha256"])
        assert row["gaps"] == row["conflicts"] == row["missing_bytes"] == 0
    first = index[0]
    port = sessions.loc[0, "orig_port"]
    assert (first["session_id"], first["direction"]) == (0, "orig")
    assert first["file"] == f"s000000_010.077.000.001.{port:05d}-010.077.000.002.{sessions.loc[0, 'resp_port']:05d}"
    assert "40 stream files" in result.stderr.decode()
