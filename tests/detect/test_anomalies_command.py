"""`tcpanalyze anomalies`: the jsonl contract, csv and table views, thresholds from --config and
--set, and one-line errors with exit code 2."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

from helpers import SAMPLE_DIR

import tcpanalyze

SCANS = SAMPLE_DIR / "anomaly-scans.pcap"
CONTRACT = {"kind": str, "severity": str, "start": float, "end": float, "source_addrs": list, "source_count": int,
            "session_ids": list, "evidence_frames": list, "message": str}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tcpanalyze", "anomalies", *args], capture_output=True, text=True,
                          timeout=300, check=False)


def test_jsonl_contract_fields_and_types():
    result = run_cli(str(SCANS), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    expected = tcpanalyze.analyze(str(SCANS)).anomalies
    assert [r["kind"] for r in rows] == expected["kind"].tolist() == ["port_scan", "port_scan", "address_sweep"]
    for row in rows:
        for name, kind in CONTRACT.items():
            assert isinstance(row[name], kind), (name, row[name])
        assert "target_addr" in row and "target_port" in row
        assert all(isinstance(v, int) for v in row["session_ids"] + row["evidence_frames"])
        assert all(isinstance(v, str) for v in row["source_addrs"])
        assert row["start"] <= row["end"] and row["start"] > 1.6e9
    scan, sweep = rows[0], rows[2]
    assert (scan["target_addr"], scan["target_port"]) == ("198.51.100.30", None)
    assert (sweep["target_addr"], sweep["target_port"]) == (None, 3389)
    assert sweep["source_addrs"] == ["203.0.113.88"] and sweep["source_count"] == 1
    assert len(sweep["session_ids"]) == 40
    assert rows[0]["start"] == expected["start"][0]
    assert "records: 140 TCP" in result.stderr


def test_csv_flattens_lists_and_details(tmp_path):
    out = tmp_path / "a.csv"
    result = run_cli(str(SCANS), "--format", "csv", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["kind"] for r in rows] == ["port_scan", "port_scan", "address_sweep"]
    assert rows[2]["target_addr"] == "" and rows[2]["target_port"] == "3389"
    assert len(rows[2]["session_ids"].split()) == 40
    assert json.loads(rows[2]["details"])["hosts"] == 40


def test_table_is_short_with_the_message_last():
    result = run_cli(str(SCANS))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "start_utc", "dur_s", "kind", "severity", "target", "sources", "sessions",
                                "message"]
    assert "port 3389" in lines[3] and lines[3].rstrip().endswith("(5 answered, 15 refused, 20 unanswered)")


def test_set_and_config_change_the_result(tmp_path):
    result = run_cli(str(SCANS), "--format", "jsonl", "--set", "port_scan.min_ports=31",
                     "--set", "port_scan.min_stealth_ports=9")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["kind"] for line in result.stdout.splitlines()] == ["address_sweep"]
    cfg = tmp_path / "t.toml"
    cfg.write_text("[address_sweep]\nmin_hosts = 41\n")
    result = run_cli(str(SCANS), "--format", "jsonl", "--config", str(cfg), "--set", "port_scan.enabled=false")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    result = run_cli(str(SCANS), "--config", str(cfg), "--set", "port_scan.enabled=false")
    assert result.stdout == "" and "no anomalies with these thresholds" in result.stderr


def test_malformed_toml_is_exit_2_naming_file_and_key(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[port_scan]\nmin_port = 3\n")
    result = run_cli(str(SCANS), "--config", str(cfg))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        (f"tcpanalyze: error: {cfg}: unknown key 'port_scan.min_port'; did you mean 'port_scan.min_ports'? "
         "[port_scan] takes enabled, min_ports, window_s, min_stealth_ports")]
    cfg.write_text("[port_scan\n")
    result = run_cli(str(SCANS), "--config", str(cfg))
    assert result.returncode == 2 and f"{cfg}: not valid TOML" in result.stderr and "Traceback" not in result.stderr


def test_bad_set_is_exit_2():
    result = run_cli(str(SCANS), "--set", "port_scan.min_ports")
    assert result.returncode == 2 and "expected SECTION.KEY=VALUE" in result.stderr
    result = run_cli(str(SCANS), "--set", "port_scan.min_ports=many")
    assert result.returncode == 2 and "'port_scan.min_ports' must be int, got 'many'" in result.stderr


def test_no_packets_still_detects_from_sessions():
    result = run_cli(str(SCANS), "--format", "jsonl", "--no-packets")
    assert result.returncode == 0, result.stderr
    # the stealth scan is found too: the sessions keep each originator's first TCP flags
    assert [json.loads(line)["kind"] for line in result.stdout.splitlines()] == ["port_scan", "port_scan",
                                                                                   "address_sweep"]


def test_parquet_keeps_lists_and_details_as_json(tmp_path):
    import pandas as pd

    out = tmp_path / "a.parquet"
    result = run_cli(str(SCANS), "--format", "parquet", "-o", str(out))
    assert result.returncode == 0, result.stderr
    frame = pd.read_parquet(out)
    assert list(frame["session_ids"][2]) == list(range(38, 78))
    assert json.loads(frame["details"][2])["hosts"] == 40


def test_standard_input_works_and_says_what_it_cannot_check():
    data = (SAMPLE_DIR / "derived-conflict.pcap").read_bytes()
    result = subprocess.run([sys.executable, "-m", "tcpanalyze", "anomalies", "-", "--format", "jsonl"], input=data,
                            capture_output=True, timeout=300, check=False)
    assert result.returncode == 0
    assert [json.loads(line)["kind"] for line in result.stdout.decode().splitlines()] == ["rst_teardown"]
    assert "overlap conflicts (injection) need the capture as a file" in result.stderr.decode()
