"""`--format` and `-o` on the commands whose formats are their own: plot, check, export-streams;
and `sessions --columns` in every format."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from helpers import SAMPLE_DIR

from cli_run import run_tcpanalyze

ZERO_WINDOW = str(SAMPLE_DIR / "real-zero-window.pcap")
LOSSY = str(SAMPLE_DIR / "check-lossy.pcap")
MANY = str(SAMPLE_DIR / "real-many-short-conns.pcap")
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "pdf": b"%PDF-"}


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_plot_format_to_stdout(fmt):
    result = run_tcpanalyze(["plot", ZERO_WINDOW, "0", "--format", fmt])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(MAGIC[fmt])


@pytest.mark.parametrize("args, fmt", [
    (["-o", "{tmp}/seq.pdf"], "pdf"),                      # the suffix
    (["-o", "{tmp}/seq.image", "-f", "svg"], "svg"),       # --format, the suffix says nothing
    (["-o", "{tmp}/seq.svg", "-f", "svg"], "svg"),         # both, agreeing
    ([], "png"),                                           # neither: PNG
])
def test_plot_format_from_option_suffix_or_default(tmp_path, args, fmt):
    args = [a.format(tmp=tmp_path) for a in args]
    result = run_tcpanalyze(["plot", ZERO_WINDOW, "0", *args])
    assert result.returncode == 0, result.stderr
    image = (tmp_path / args[1].rsplit("/", 1)[1]).read_bytes() if args else result.stdout
    assert image.startswith(MAGIC[fmt])


def test_plot_format_and_suffix_that_disagree_fail_before_reading(tmp_path):
    result = run_tcpanalyze(["plot", ZERO_WINDOW, "0", "--format", "pdf", "-o", str(tmp_path / "seq.svg")])
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        f"tcpanalyze: error: --format pdf but {tmp_path / 'seq.svg'} ends in .svg: give one or make them agree"]


RULE = "retransmission_rate < 0.02 scope=server"


def test_check_format_json_is_what_json_writes(tmp_path):
    result = run_tcpanalyze(["check", LOSSY, "--rule", RULE, "--format", "json", "--json", str(tmp_path / "side.json")])
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report == json.loads((tmp_path / "side.json").read_text())
    assert (report["exit_code"], report["rules"][0]["status"], report["rules"][0]["scope_counts"]["fail"]) == (1, "fail", 1)


def test_check_format_junit_to_a_file_and_the_summary_nowhere(tmp_path):
    result = run_tcpanalyze(["check", LOSSY, "--rule", RULE, "--format", "junit", "-o", str(tmp_path / "check.xml")])
    assert (result.returncode, result.stdout) == (1, b"")
    suite = ET.parse(tmp_path / "check.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("1", "1")


def test_check_format_github_prints_the_annotations_once():
    result = run_tcpanalyze(["check", LOSSY, "--rule", RULE, "--format", "github", "--github"])
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("::error title=tcpanalyze check%3A retransmission_rate < 0.02 per server::")


def test_export_streams_csv_index_on_stdout(tmp_path):
    result = run_tcpanalyze(["export-streams", MANY, str(tmp_path / "out"), "--format", "csv", "-o", "-"])
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout.decode())))
    assert len(rows) == 40 and not (tmp_path / "out" / "index.csv").exists()
    for row in rows:
        assert (tmp_path / "out" / row["file"]).stat().st_size == int(row["bytes"])
    assert "(index: stdout)" in result.stderr.decode()


def test_sessions_columns_in_every_format(tmp_path):
    """--columns keeps those columns in that order; filters still see every column (here
    --time-range, on start and end, which the chosen columns leave out); the table shows the
    columns as they are."""
    base = ["sessions", MANY, "--columns", "history,session_id,resp_bytes",
            "--time-range", "0.1:0.15"]
    csv = run_tcpanalyze([*base, "-f", "csv"])
    assert csv.returncode == 0, csv.stderr
    lines = csv.stdout.decode().splitlines()
    assert lines == ['"history","session_id","resp_bytes"', '"ShADadFf",5,1024', '"ShADadFf",6,1024', '"ShADadFf",7,1024']
    rows = [json.loads(line) for line in run_tcpanalyze([*base, "-f", "jsonl"]).stdout.decode().splitlines()]
    assert rows and all(list(row) == ["history", "session_id", "resp_bytes"] for row in rows)
    assert [str(r["session_id"]) for r in rows] == [line.split(",")[1] for line in lines[1:]]
    table = run_tcpanalyze(base).stdout.decode().splitlines()
    assert table[0].split() == ["history", "session_id", "resp_bytes"] and len(table) == len(lines)
    run_tcpanalyze([*base, "-f", "parquet", "-o", str(tmp_path / "s.parquet")])
    assert list(pd.read_parquet(tmp_path / "s.parquet").columns) == ["history", "session_id", "resp_bytes"]


@pytest.mark.parametrize("names, message", [
    ("conn_stat,orig_bytes", "tcpanalyze: error: no session column 'conn_stat'; did you mean conn_state"),
    (" , ", "tcpanalyze: error: --columns: give one or more session column names, separated by commas"),
])
def test_sessions_unknown_columns_fail_in_one_line_before_reading(names, message):
    result = run_tcpanalyze(["sessions", "no-such-file.pcap", "--columns", names])
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.startswith(message) and err.count("\n") == 1
