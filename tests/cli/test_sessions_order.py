"""`sessions` writes sessions in session_id order however they end; start_utc shows the date
of a session on another day than the capture's first packet."""

from __future__ import annotations

import json

import re

import pandas as pd

import tcpanalyze
from tcpanalyze.cli.filters import SESSION_FILTER_OPT
from tcpanalyze.pipeline.id_order import InIdOrder
from tcpanalyze.cli.tables import utc_text

from cli_run import run_tcpanalyze
from helpers import CORPUS_DIR, SAMPLE_DIR

MANY = str(SAMPLE_DIR / "real-many-short-conns.pcap")
# 500 echo sessions on loopback, 499 of which end out of session_id order.
ECHO = str(CORPUS_DIR / "gzip-loopback-echo-500-conns.pcap.gz")


def chunk(*ids: int) -> pd.DataFrame:
    return pd.DataFrame({"session_id": list(ids), "orig_bytes": [10 * i for i in ids]})


def test_a_session_waits_until_every_earlier_one_has_ended():
    ended = [chunk(1, 2), chunk(5), chunk(0), chunk(3, 6), chunk(4)]  # as sessions end
    released = [part["session_id"].tolist() for part in InIdOrder().reordered(iter(ended))]
    assert released == [[0, 1, 2], [3], [4, 5, 6]]


def test_a_gap_in_the_numbering_still_writes_every_session_last():
    released = [part["session_id"].tolist() for part in InIdOrder().reordered(iter([chunk(0), chunk(2, 3)]))]
    assert released == [[0], [2, 3]]


def test_every_format_lists_sessions_by_id():
    for fmt in ("jsonl", "csv"):
        for extra in ([], ["--as-they-end"]):
            result = run_tcpanalyze(["sessions", MANY, "-f", fmt, "--columns", "session_id", *extra])
            assert result.returncode == 0, result.stderr.decode()
            lines = result.stdout.decode().split()
            ids = [json.loads(v)["session_id"] for v in lines] if fmt == "jsonl" else [int(v) for v in lines[1:]]
            assert ids == list(range(len(ids))) and ids


def test_start_utc_shows_the_date_on_another_day_than_the_first_packet():
    day0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC
    seconds = pd.Series([day0 + 0.5, day0 + 3600.25, day0 + 86400])
    assert utc_text(seconds, day0 * 10**9).tolist() == ["22:13:20.500", "23:13:20.250",
                                                        "2023-11-15 22:13:20.000"]
    assert utc_text(seconds).tolist() == utc_text(seconds, day0 * 10**9).tolist()


def ids_written(path: str, fmt: str, *extra: str, tmp_path=None) -> list[int]:
    if fmt == "parquet":
        out = tmp_path / f"s{len(extra)}.parquet"
        result = run_tcpanalyze(["sessions", path, "-f", fmt, "-o", str(out), *extra])
        assert result.returncode == 0, result.stderr.decode()
        return pd.read_parquet(out)["session_id"].tolist()
    result = run_tcpanalyze(["sessions", path, "-f", fmt, "--columns", "session_id", *extra])
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().split()
    return [json.loads(v)["session_id"] for v in lines] if fmt == "jsonl" else [int(v) for v in lines[1:]]


def test_sessions_that_end_out_of_id_order_are_listed_by_id(tmp_path):
    sessions = tcpanalyze.analyze(ECHO, packets=False).sessions
    by_end = sessions.sort_values(["end", "session_id"])["session_id"].to_numpy()
    assert (by_end != range(len(by_end))).sum() > 400  # the capture is what this test needs
    assert sessions["session_id"].tolist() == list(range(500))
    for fmt in ("csv", "jsonl", "parquet"):
        assert ids_written(ECHO, fmt, tmp_path=tmp_path) == list(range(500)), fmt


# The engine emits a session of these when it ends, after later ones (timestamps years apart).
EMITTED_OUT_OF_ORDER = [CORPUS_DIR / "pcapng-eth-and-sll-snaplen-truncated.pcapng",
                        CORPUS_DIR / "vlan-mpls-mixed.pcap"]


def test_as_they_end_differs_where_sessions_are_emitted_out_of_id_order(tmp_path):
    for path in map(str, EMITTED_OUT_OF_ORDER):
        ids = sorted(tcpanalyze.analyze(path, packets=False).sessions["session_id"])
        for fmt in ("csv", "jsonl", "parquet"):
            assert ids_written(path, fmt, tmp_path=tmp_path) == ids, (path, fmt)
        as_they_end = ids_written(path, "csv", "--as-they-end")
        assert sorted(as_they_end) == ids and as_they_end != ids, path


def test_the_sessions_filter_example_in_help_runs_on_sessions():
    example = re.search(r"e\.g\. '([^']+)'", SESSION_FILTER_OPT.help).group(1)
    assert "tcp." not in example
    result = run_tcpanalyze(["sessions", MANY, "-Y", example])
    assert result.returncode == 0, result.stderr.decode()
    assert run_tcpanalyze(["sessions", MANY, "-Y", "tcp.port == 443"]).returncode == 2  # a packet field
