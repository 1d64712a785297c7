"""sessions --sort COLUMN [--desc] --limit N: the worst sessions first, in bounded memory."""

from __future__ import annotations

import json

import tcpanalyze
from cli_run import run_tcpanalyze
from helpers import SAMPLE_DIR

LOSSY = str(SAMPLE_DIR / "check-lossy.pcap")


def jsonl(*args: str) -> list[dict]:
    result = run_tcpanalyze(["sessions", LOSSY, "-f", "jsonl", *args])
    assert result.returncode == 0, result.stderr.decode()
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_sort_desc_limit_is_the_top_n_with_ties_by_session_id():
    s = tcpanalyze.analyze(LOSSY, packets=False).sessions
    expected = s.sort_values(["orig_retrans_pkts", "session_id"], ascending=[False, True]).head(3)
    rows = jsonl("--sort", "orig_retrans_pkts", "--desc", "--limit", "3", "--columns", "session_id,orig_retrans_pkts")
    assert [r["session_id"] for r in rows] == expected["session_id"].tolist()
    # the same without --limit, cut afterwards: the running top N loses nothing
    everything = jsonl("--sort", "orig_retrans_pkts", "--desc", "--columns", "session_id")
    assert [r["session_id"] for r in everything][:3] == expected["session_id"].tolist() and len(everything) == len(s)


def test_ascending_and_limit_alone():
    rows = jsonl("--sort", "duration", "--columns", "session_id,duration")
    assert [r["duration"] for r in rows] == sorted(r["duration"] for r in rows)
    assert len(jsonl("--limit", "2")) == 2


def test_bad_sort_options_are_one_line_errors():
    for args, message in ((["--sort", "nope"], "no session column 'nope'"),
                          (["--desc"], "--desc orders by --sort COLUMN"),
                          (["--limit", "0"], "Invalid value for '--limit'")):
        result = run_tcpanalyze(["sessions", LOSSY, *args])
        assert result.returncode == 2
        assert result.stderr.decode().startswith(f"tcpanalyze: error: {message}"), result.stderr.decode()
