"""`sessions` writes sessions in session_id order however they end; start_utc shows the date
of a session on another day than the capture's first packet."""

from __future__ import annotations

import json

import pandas as pd

from tcpanalyze.cli.sessions import _InIdOrder
from tcpanalyze.cli.tables import utc_text

from cli_run import run_tcpanalyze
from helpers import SAMPLE_DIR

MANY = str(SAMPLE_DIR / "real-many-short-conns.pcap")


def chunk(*ids: int) -> pd.DataFrame:
    return pd.DataFrame({"session_id": list(ids), "orig_bytes": [10 * i for i in ids]})


def test_a_session_waits_until_every_earlier_one_has_ended():
    ended = [chunk(1, 2), chunk(5), chunk(0), chunk(3, 6), chunk(4)]  # as sessions end
    released = [part["session_id"].tolist() for part in _InIdOrder().reordered(iter(ended))]
    assert released == [[0, 1, 2], [3], [4, 5, 6]]


def test_a_gap_in_the_numbering_still_writes_every_session_last():
    released = [part["session_id"].tolist() for part in _InIdOrder().reordered(iter([chunk(0), chunk(2, 3)]))]
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
