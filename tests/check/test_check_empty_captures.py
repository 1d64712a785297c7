"""A CI gate never passes on a capture that holds nothing: ``check`` on a capture with no TCP
packet exits 2 with one line saying why, unless a rule on ``tcp_packets`` accepts it; a cut-off
capture is checked up to the cut, with the warning, and ``capture_complete`` can require more."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import SAMPLE_DIR, eth, ipv4, udp, write_pcap, write_pcapng
from tcpanalyze.check import parse_inline, run_check
from tcpanalyze.errors import CaptureError

RULES = ["--rule", "retransmission_rate < 0.02", "--rule", "rst_teardowns == 0"]
SAMPLE = SAMPLE_DIR / "real-graceful-close.pcap"  # 180 records, a clean transfer


def _check(path, *extra: str):
    result = subprocess.run([sys.executable, "-m", "tcpanalyze", "check", str(path), *(extra or RULES)],
                            capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout, result.stderr


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tcpanalyze: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def _empty_captures(tmp_path):
    zero = tmp_path / "zero-bytes.pcap"
    zero.write_bytes(b"")
    udp_only = write_pcap(tmp_path / "udp-only.pcap", [eth(ipv4("10.0.0.1", "10.0.0.2", udp(), proto=17))] * 3)
    first_record_cut = tmp_path / "first-record-cut.pcap"
    first_record_cut.write_bytes(SAMPLE.read_bytes()[:60])  # file header and part of record 1
    return {
        "zero-bytes": (zero, "file is empty (0 bytes), no records"),
        "header-only-pcap": (write_pcap(tmp_path / "header.pcap", []),
                             "capture holds no records (file ends after its header)"),
        "header-only-pcapng": (write_pcapng(tmp_path / "header.pcapng", []),
                               "capture holds no records (file ends after its header)"),
        "udp-only": (udp_only, "3 records: 3 other IP, 0 non-IP, 0 malformed"),
        "first-record-cut": (first_record_cut, "after 0 records, at byte 24: file ends inside a record"),
    }


@pytest.mark.parametrize("kind", ["zero-bytes", "header-only-pcap", "header-only-pcapng", "udp-only",
                                  "first-record-cut"])
def test_check_on_a_capture_with_no_tcp_exits_2_with_one_line(tmp_path, kind):
    path, why = _empty_captures(tmp_path)[kind]
    code, out, err = _check(path)
    assert code == 2 and out == ""
    line = _one_error_line(err)
    assert line.startswith(f"tcpanalyze: error: {path}: no TCP packets to check (")
    assert why in line
    assert line.endswith("The rule 'tcp_packets >= 0' accepts an empty capture")


def test_a_rule_on_tcp_packets_accepts_an_empty_capture(tmp_path):
    path, _ = _empty_captures(tmp_path)["header-only-pcap"]
    code, out, err = _check(path, "--rule", "tcp_packets >= 0", "--rule", "rst_teardowns == 0")
    assert code == 0, err
    assert "PASS  tcp_packets >= 0" in out and out.endswith("2 rules: 2 passed, 0 failed, 0 warnings, 0 skipped\n")
    # ... and one that wants packets fails the job (exit 1), not the input (exit 2)
    code, out, _ = _check(path, "--rule", "tcp_packets > 0")
    assert code == 1 and "FAIL  tcp_packets > 0" in out


def test_check_on_a_file_that_is_not_a_capture_exits_2(tmp_path):
    path = tmp_path / "notes.pcap"
    path.write_text("these are not the packets you are looking for\n")
    code, out, err = _check(path)
    assert code == 2 and out == ""
    assert _one_error_line(err) == (f"tcpanalyze: error: {path}: not a pcap or pcapng capture "
                                    "(starts with 74 68 65 73, expected a pcap or pcapng magic number)")


def test_a_cut_off_capture_is_checked_up_to_the_cut_with_the_warning(tmp_path):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(SAMPLE.read_bytes()[:-30])  # inside the last of 180 records
    code, out, err = _check(cut)
    assert code == 0
    assert out.endswith("2 rules: 2 passed, 0 failed, 0 warnings, 0 skipped\n")
    assert err.startswith(f"warning: {cut}: after 179 records, at byte 223614: file ends inside a record")
    code, out, err = _check(cut, "--rule", "capture_complete == true", "--rule", "rst_teardowns == 0")
    assert code == 1
    assert "FAIL  capture_complete == true  [inline, error]\n      capture: false: not == true\n" in out
    code, out, _ = _check(SAMPLE, "--rule", "capture_complete == true")
    assert code == 0 and "capture: true (limit == true)" in out


def test_an_empty_baseline_is_an_input_error_too(tmp_path):
    empty = write_pcap(tmp_path / "empty.pcap", [])
    with pytest.raises(CaptureError, match="empty.pcap: no TCP packets to check"):
        run_check(str(SAMPLE), [parse_inline("retransmission_rate max_increase=20%")], baseline=str(empty))
