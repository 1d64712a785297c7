"""Byte-exact reassembly: `tcpanalyze follow` rebuilds exactly what the applications wrote.

The captures are real transfers through an impairing bridge (scripts/make_stream_samples.py);
``sample_pcaps/expected/stream-*.json`` holds, per connection, the byte count and sha256 of what
the client wrote (orig) and what the server wrote (resp). The contract under test (issue 4):

    tcpanalyze follow FILE SESSION_ID --direction orig|resp --format raw -o PATH

writes exactly the reconstructed bytes of that direction, nothing else.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from functools import cache

import pytest
from helpers import EXPECTED_DIR, SAMPLE_DIR

import tcpanalyze

MADE_BY = "scripts/make_stream_samples.py"  # other stream-* files are hand-edited (gaps, conflicts)
SPECS = {p.stem: spec for p in sorted(EXPECTED_DIR.glob("stream-*.json"))
         if (spec := json.loads(p.read_text())).get("made_by", "").startswith(MADE_BY)}
LOSSY = ["stream-lossy-ipv4", "stream-lossy-ipv6"]
DIRECTIONS = ("orig", "resp")
CASES = [pytest.param(name, conn, d, id=f"{name}-{conn['orig_port']}-{conn['resp_port']}-{d}")
         for name, spec in SPECS.items() for conn in spec["connections"] for d in DIRECTIONS]


@cache
def _sessions(name: str):
    return tcpanalyze.analyze(str(SAMPLE_DIR / SPECS[name]["file"]), packets=False).sessions


def _session(name: str, conn: dict):
    sessions = _sessions(name)
    match = sessions[(sessions.orig_port == conn["orig_port"]) & (sessions.resp_port == conn["resp_port"])]
    assert len(match) == 1, f"{name}: no single session {conn['orig_port']} -> {conn['resp_port']}"
    return match.iloc[0]


def test_the_four_must_show_captures_are_there():
    assert {"stream-clean-ipv4", "stream-lossy-ipv4", "stream-lossy-ipv6", "stream-half-close"} <= SPECS.keys()
    assert all((SAMPLE_DIR / spec["file"]).is_file() for spec in SPECS.values())


@pytest.mark.parametrize(("name", "conn", "direction"), CASES)
def test_follow_raw_writes_exactly_what_the_application_wrote(tmp_path, name, conn, direction):
    session_id = int(_session(name, conn).session_id)
    out = tmp_path / f"{direction}.bin"
    result = subprocess.run([sys.executable, "-m", "tcpanalyze", "follow", str(SAMPLE_DIR / SPECS[name]["file"]),
                             str(session_id), "--direction", direction, "--format", "raw", "-o", str(out)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert len(data) == conn[f"{direction}_bytes"]
    assert hashlib.sha256(data).hexdigest() == conn[f"{direction}_sha256"]


@pytest.mark.parametrize("name", SPECS)
def test_one_session_per_connection_the_programs_made(name):
    assert len(_sessions(name)) == len(SPECS[name]["connections"])


@pytest.mark.parametrize("name", LOSSY)
def test_lossy_capture_has_retransmissions_and_out_of_order_segments(name):
    """The impairment is really in the capture: our flags count what tshark counts, and it is not zero."""
    (conn,) = SPECS[name]["connections"]
    counts = SPECS[name]["tshark_observed"]["counts"]
    row = _session(name, conn)
    retransmissions = int(row.orig_retransmission + row.resp_retransmission)
    out_of_order = int(row.orig_out_of_order + row.resp_out_of_order)
    assert retransmissions == counts["retransmission"] and row.orig_retransmission > 0 and row.resp_retransmission > 0
    assert out_of_order == counts["out_of_order"] and row.orig_out_of_order > 0
    assert int(row.orig_lost_segment + row.resp_lost_segment) == counts["lost_segment"]
    assert row.orig_lost_segment > 0  # client data the bridge dropped, captured after the bridge


def test_clean_capture_has_no_loss_flags():
    (conn,) = SPECS["stream-clean-ipv4"]["connections"]
    row = _session("stream-clean-ipv4", conn)
    assert [int(row[f"{d}_{flag}"]) for d in DIRECTIONS
            for flag in ("retransmission", "out_of_order", "lost_segment")] == [0] * 6


def test_half_close_capture_is_a_half_close():
    (conn,) = SPECS["stream-half-close"]["connections"]
    row = _session("stream-half-close", conn)
    assert row.half_closed and row.close_type == "fin" and row.closed_by == "orig"
