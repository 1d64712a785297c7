"""A check on a damaged capture says so: the readers' warnings travel with the check report."""

from __future__ import annotations

from helpers import SAMPLE_DIR
from tcpanalyze.check import parse_inline, run_check

CUT_BYTES = 30  # inside the last of real-graceful-close.pcap's 180 records


def test_rules_passing_on_a_cut_capture_keep_the_readers_warnings(tmp_path):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((SAMPLE_DIR / "real-graceful-close.pcap").read_bytes()[:-CUT_BYTES])
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    report = run_check(str(cut), [parse_inline("rst_teardowns == 0", "--rule 1")], baseline=str(empty))
    assert report.exit_code == 0
    assert report.warnings == [
        f"{cut}: after 179 records, at byte 223614: file ends inside a record (66 bytes declared, 52 present); "
        "the rest is lost",
        f"{empty}: file is empty (0 bytes), no records",
    ]


def test_clean_capture_has_no_warnings():
    report = run_check(str(SAMPLE_DIR / "check-clean.pcap"), [parse_inline("sessions > 0", "--rule 1")])
    assert report.warnings == []
