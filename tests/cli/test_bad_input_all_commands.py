"""Every file-reading command on every kind of bad input: the exact exit code and stderr line.

Unreadable input (missing, a directory, not a capture, gzip with nothing readable inside) is
one ``tcpanalyze: error: ...`` line and exit 2. Input that is readable but damaged or useless
(an empty file, a tail cut mid-record, an absurd record length, no TCP, headers only) gives
what could be read, a ``warning: ...`` line where something was lost, and exit 0; asking
``follow``/``plot`` for a session such a file does not have is exit 2, and so is ``check`` on
a file without TCP (a gate must not pass on nothing). Never a traceback.

Runs ``tcpanalyze.cli.main`` in-process (the same entry point as the console script), so the
command x input matrix costs seconds, not minutes; the bad files are built from sample_pcaps/.
"""

from __future__ import annotations

import gzip
import struct
import sys
from pathlib import Path

import dpkt
import pytest

from helpers import SAMPLE_DIR

from test_errors import FILE_COMMANDS, args_for

BASE = SAMPLE_DIR / "real-graceful-close.pcap"  # one session, 180 records (sample_pcaps/README.md)
PCAP_HEADER = 24
RECORD_HEADER = 16
ABSURD_RECORD = 3  # the 4th record's length field is made absurd: 3 records, session 0, survive
CUT_BYTES = 30  # cut from the end of the file: inside the last record


def _record_offsets(data: bytes) -> list[int]:
    offsets, pos = [], PCAP_HEADER
    while pos < len(data):
        offsets.append(pos)
        pos += RECORD_HEADER + struct.unpack_from("<I", data, pos + 8)[0]
    return offsets


def _udp_only(path: Path) -> None:
    """The UDP records of the mixed sample: a valid capture without one TCP packet."""
    with open(SAMPLE_DIR / "synth-mixed-non-tcp.pcap", "rb") as src, open(path, "wb") as out:
        writer = dpkt.pcap.Writer(out)
        for ts, frame in dpkt.pcap.Reader(src):
            ip = dpkt.ethernet.Ethernet(frame).data
            if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.udp.UDP):
                writer.writepkt(frame, ts)


def _headers_only(data: bytes) -> bytes:
    """Every record cut after its TCP header (orig_len kept), as a headers-only snaplen leaves it."""
    out = bytearray(data[:PCAP_HEADER])
    for pos in _record_offsets(data):
        sec, usec, caplen, orig_len = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + RECORD_HEADER: pos + RECORD_HEADER + caplen]
        ip = dpkt.ethernet.Ethernet(frame).data
        keep = 14 + ip.hl * 4 + ip.data.off * 4
        out += struct.pack("<IIII", sec, usec, keep, orig_len) + frame[:keep]
    return bytes(out)


def build_input(kind: str, tmp_path: Path) -> Path:
    data = BASE.read_bytes()
    path = tmp_path / f"{kind}.pcap"
    if kind == "missing":
        return path
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a capture at all\n")
    elif kind == "gzip-of-text":
        path = tmp_path / "text.pcap.gz"
        path.write_bytes(gzip.compress(b"not a capture at all\n"))
    elif kind == "gzip-garbage":
        path = tmp_path / "garbage.pcap.gz"
        path.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4)
    elif kind == "gzip-header-only":
        path = tmp_path / "cut.pcap.gz"
        path.write_bytes(gzip.compress(data)[:10])
    elif kind == "truncated":
        path.write_bytes(data[:-CUT_BYTES])
    elif kind == "absurd-caplen":
        damaged = bytearray(data)
        struct.pack_into("<I", damaged, _record_offsets(data)[ABSURD_RECORD] + 8, 0x7FFFFFFF)
        path.write_bytes(bytes(damaged))
    elif kind == "udp-only":
        _udp_only(path)
    elif kind == "headers-only":
        path.write_bytes(_headers_only(data))
    return path


# Unreadable input: (stderr message after "tcpanalyze: error: {path}: ", exact or a prefix).
UNREADABLE = {
    "missing": "no such file",
    "directory": "is a directory without capture files (*.pcap, *.pcapng, *.cap, *.pcap.gz, *.pcapng.gz, *.cap.gz)",
    "text": "not a pcap or pcapng capture (starts with 6e 6f 74 20, expected a pcap or pcapng magic number)",
    "gzip-of-text": "gzip data that is not a pcap or pcapng capture (starts with 6e 6f 74 20, "
                    "expected a pcap or pcapng magic number)",
    "gzip-garbage": "input stream failed after byte 0: Error -3 while decompressing data: ",
    "gzip-header-only": "input stream failed after byte 0: Compressed file ended before the end-of-stream "
                        "marker was reached",
}
# Readable input: the warning line it must give ({path} filled in), or None for no warning.
READABLE = {
    "empty": "warning: {path}: file is empty (0 bytes), no records",
    "truncated": "warning: {path}: after 179 records, at byte 223614: file ends inside a record "
                 "(66 bytes declared, 52 present); the rest is lost",
    "absurd-caplen": "warning: {path}: after 3 records, at byte 286: record declares 2147483647 bytes, more than "
                     "the 262144-byte maximum; the file is corrupt from here and reading stopped",
    "udp-only": None,
    "headers-only": None,
}
NO_SESSIONS = {"empty", "udp-only"}
NO_SESSION_ERROR = {
    "follow": "no session 0 in this capture (no TCP sessions at all; see `tcpanalyze sessions`)",
    "plot": "no session 0 in {path}: it has no TCP sessions",
    "check": "{path}: no TCP packets to check ({why}); every rule would pass on nothing. "
             "The rule 'tcp_packets >= 0' accepts an empty capture",
}
NO_TCP_WHY = {"empty": "file is empty (0 bytes), no records",
              "udp-only": "2 records: 2 other IP, 0 non-IP, 0 malformed"}


def run_main(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """``tcpanalyze ARGS`` through the console-script entry point: (exit code, stdout, stderr)."""
    from tcpanalyze.cli import main

    monkeypatch.setattr(sys, "argv", ["tcpanalyze", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    out, err = capsys.readouterr()
    return exited.value.code or 0, out, err


@pytest.mark.parametrize("kind", UNREADABLE)
@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_unreadable_input_is_one_error_line_and_exit_2(command, kind, tmp_path, monkeypatch, capsys):
    path = build_input(kind, tmp_path)
    code, _, err = run_main(args_for(command, str(path), tmp_path), monkeypatch, capsys)
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"tcpanalyze: error: {path}: {UNREADABLE[kind]}"), err


@pytest.mark.parametrize("kind", READABLE)
@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_damaged_or_useless_input_gives_results_and_its_warning(command, kind, tmp_path, monkeypatch, capsys):
    path = build_input(kind, tmp_path)
    code, _, err = run_main(args_for(command, str(path), tmp_path), monkeypatch, capsys)
    assert "Traceback" not in err
    if kind in NO_SESSIONS and command in NO_SESSION_ERROR:
        assert code == 2, err
        expected_error = NO_SESSION_ERROR[command].format(path=path, why=NO_TCP_WHY[kind])
        assert err.splitlines() == [f"tcpanalyze: error: {expected_error}"]
        return
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    expected = READABLE[kind]
    if expected is not None:
        assert expected.format(path=path) in warnings, err
    if kind == "headers-only" and command == "follow":
        assert warnings == ["warning: session 0 orig: 4096 bytes in flight but none captured (headers-only capture)",
                            "warning: session 0 resp: 204800 bytes in flight but none captured "
                            "(headers-only capture)"]


@pytest.mark.parametrize("kind, records", [("truncated", 179), ("absurd-caplen", 3)])
def test_damaged_tail_keeps_the_records_before_it(kind, records, tmp_path, monkeypatch, capsys):
    path = build_input(kind, tmp_path)
    code, out, err = run_main(["packets", str(path), "--all-records", "--format", "csv"], monkeypatch, capsys)
    assert code == 0
    assert len(out.splitlines()) == 1 + records  # the header, then each record read before the damage
    assert err.splitlines()[0] == f"{records} records: {records} TCP, 0 other IP, 0 non-IP, 0 malformed"


def test_packets_of_a_capture_with_no_tcp_is_an_empty_table(tmp_path, monkeypatch, capsys):
    path = build_input("udp-only", tmp_path)
    code, out, err = run_main(["packets", str(path)], monkeypatch, capsys)
    assert (code, out) == (0, "")
    assert err.splitlines() == ["2 records: 0 TCP, 2 other IP, 0 non-IP, 0 malformed"]
