"""A check on a damaged capture says so: the readers' warnings travel with the check report."""

from __future__ import annotations

from helpers import SAMPLE_DIR
from tcpanalyze.check import parse_inline, run_check

CUT_BYTES = 30  # inside the last of real-graceful-close.pcap's 180 records


def test_rules_passing_on_a_cut_capture_keep_the_readers_warnings(tmp_path):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((SAMPLE_DIR / "real-graceful-close.pcap").read_bytes()[:-CUT_BYTES])
    cut_baseline = tmp_path / "cut-baseline.pcap"
    cut_baseline.write_bytes((SAMPLE_DIR / "check-clean.pcap").read_bytes()[:-CUT_BYTES])
    report = run_check(str(cut), [parse_inline("rst_teardowns == 0", "--rule 1")], baseline=str(cut_baseline))
    assert report.exit_code == 0
    assert [w.split(": file ends")[0] for w in report.warnings] == [
        f"{cut}: after 179 records, at byte 223614", f"{cut_baseline}: after 713 records, at byte 71366"]
    assert report.warnings[0].endswith("file ends inside a record (66 bytes declared, 52 present); the rest is lost")


def test_clean_capture_has_no_warnings():
    report = run_check(str(SAMPLE_DIR / "check-clean.pcap"), [parse_inline("sessions > 0", "--rule 1")])
    assert report.warnings == []
