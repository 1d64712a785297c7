"""Reassembly of the sample captures against what made them.

- real-*: the sha256 of every direction equals the sha256 of what the program wrote
  (``expected/real-*.json``); real-zero-window is cut at 96 bytes a packet, so its gaps
  are exactly the cut bytes.
- derived-segments-removed: the gaps are exactly the removed segments' ranges, and the
  never-captured bytes equal the session record's missed bytes.
- derived-conflict: the changed retransmission is reported with both frames, and the
  policy decides which copy is delivered (sha256 of both outcomes in the truth file).
"""

from __future__ import annotations

import hashlib
import json

import pytest
from helpers import EXPECTED_DIR, SAMPLE_DIR, matching_sessions

import tcpanalyze
from tcpanalyze.reassembly import Conflict

REAL = sorted(EXPECTED_DIR.glob("real-*.json"))


def spec(name: str) -> dict:
    return json.loads((EXPECTED_DIR / f"{name}.json").read_text())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# zero-window is cut by the snaplen (tested below); refused carries no data; real-loss-* keep headers only
@pytest.mark.parametrize("spec_path", [p for p in REAL if p.stem not in ("real-zero-window", "real-refused")
                                       and not p.stem.startswith("real-loss-")],
                         ids=lambda p: p.stem)
def test_real_captures_rebuild_what_the_programs_wrote(spec_path):
    truth = json.loads(spec_path.read_text())
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / truth["file"]))
    sessions = analysis.sessions
    checked = 0
    for conn, row in zip(truth["connections"], matching_sessions(sessions, truth["connections"])):
        stream = analysis.stream(int(row.session_id))
        for d in ("orig", "resp"):
            assert (len(stream.direction(d).data), sha(stream.direction(d).data)) == (conn[f"{d}_bytes"], conn[f"{d}_sha256"])
            assert stream.direction(d).gaps == []
            checked += 1
    assert checked >= 2


def test_snaplen_96_capture_has_gaps_exactly_where_the_snaplen_cut():
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "real-zero-window.pcap"))
    stream = analysis.stream(0)
    packets = analysis.packets
    data = packets[(packets["direction"] == "orig") & (packets["payload_len"] > 0)]
    cut = (data["payload_len"] - data["payload_caplen"]).sum()
    orig = stream.orig
    assert orig.length == spec("real-zero-window")["connections"][0]["orig_bytes"]
    assert orig.missing_bytes == orig.truncated_bytes > 0
    assert orig.unseen_bytes == analysis.sessions["orig_missed_bytes"].iloc[0] == 0
    # every segment contributes its captured head; retransmissions cut the same way add nothing
    assert len(orig.data) + orig.missing_bytes == orig.length and cut >= orig.missing_bytes


def test_removed_segments_are_exactly_the_gaps_and_agree_with_missed_bytes():
    truth = spec("derived-segments-removed")
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / truth["file"]))
    stream = analysis.stream(truth["session_id"])
    record = analysis.sessions.iloc[0]
    for d in ("orig", "resp"):
        direction = stream.direction(d)
        assert direction.gaps == [tuple(g) for g in truth["gaps"][d]]
        assert direction.unseen_bytes == direction.missing_bytes == record[f"{d}_missed_bytes"] > 0
        assert len(direction.data) == truth["written"][f"{d}_bytes"] - direction.missing_bytes
    gaps = stream.chunks[stream.chunks["missing"]]
    assert gaps[["direction", "offset", "length"]].values.tolist() == \
        [[d, o, n] for d in ("orig", "resp") for o, n in truth["gaps"][d]]


def test_conflicting_retransmission_names_both_frames_and_policy_picks_the_bytes():
    truth = spec("derived-conflict")
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / truth["file"]))
    first, last = analysis.stream(0), analysis.stream(0, policy="last")
    expected = Conflict(**truth["conflict"])
    assert first.orig.conflicts == last.orig.conflicts == [expected]
    assert sha(first.orig.data) == truth["orig_sha256_first"] == truth["written"]["orig_sha256"]
    assert sha(last.orig.data) == truth["orig_sha256_last"] != truth["orig_sha256_first"]
    assert first.resp.conflicts == [] and sha(first.resp.data) == truth["written"]["resp_sha256"]
