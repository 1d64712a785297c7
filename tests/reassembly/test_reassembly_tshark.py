"""Our reassembled bytes equal Wireshark's Follow TCP Stream on every sample and corpus capture.

``tshark -q -z follow,tcp,raw,N`` prints the payload of tcp.stream N (= our session_id) in
hex, the second node's lines indented by a tab. Compared: every direction of up to
``MAX_SESSIONS`` data-carrying sessions per file where our output is well defined the same
way as Wireshark's, i.e. no gaps and no overlap conflicts. Where the capture has holes,
Wireshark 4.0's follow writes buffered out-of-order bytes once it gives up on the hole
(we leave holes out and list them), and for overlapping copies with different contents its
choice depends on segment boundaries (we keep the first copy, or the last with
``policy="last"``, and report the conflict): those directions are skipped, and counted.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from helpers import corpus_files, sample_files

from tcpanalyze.errors import CaptureError
from tcpanalyze.packets import Accounting
from tcpanalyze.reassembly import SessionCollector, build_streams

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
MAX_SESSIONS = 25
FOLLOW_HEADER = "===================================================================\nFollow: tcp,raw\n"


def tshark_follow(path, session_ids) -> dict[int, tuple[str, bytes, bytes]]:
    """tcp.stream -> (node 0 as "addr:port", node 0's bytes, node 1's bytes), in one tshark run."""
    args = ["tshark", "-r", str(path), "-q"]
    for sid in session_ids:
        args += ["-z", f"follow,tcp,raw,{sid}"]
    # no check: tshark exits 2 on a capture cut off mid-record, after following what it read
    out = subprocess.run(args, capture_output=True, text=True, timeout=600,
                         check=False).stdout
    result = {}
    for block in out.split(FOLLOW_HEADER)[1:]:
        lines = block.splitlines()
        sid = int(lines[0].split()[-1])  # "Filter: tcp.stream eq N"
        node0 = lines[1].split(": ", 1)[1]
        data = [bytearray(), bytearray()]
        for line in lines[3:]:
            if line.startswith("===="):
                break
            data[line.startswith("\t")] += bytes.fromhex(line.strip())
        result[sid] = (node0, bytes(data[0]), bytes(data[1]))
    return result


@pytest.mark.parametrize("path", sample_files() + corpus_files(), ids=lambda p: p.name)
def test_follow_bytes_equal_tshark_follow(path):
    streams = []
    try:
        for records, segments in SessionCollector(str(path), Accounting()):
            streams.extend(s for s in build_streams(records, segments) if s.orig.length or s.resp.length)
    except CaptureError:
        pytest.skip("not a readable capture (tested elsewhere)")
    streams = streams[:MAX_SESSIONS]
    if not streams:
        pytest.skip("no TCP payload")
    theirs = tshark_follow(path, [s.session_id for s in streams])
    compared = 0
    for stream in streams:
        node0, first, second = theirs[stream.session_id]
        by_direction = {"orig": first, "resp": second} if node0 == stream.endpoints("orig")[0] else \
            {"orig": second, "resp": first}
        for name, expected in by_direction.items():
            ours = stream.direction(name)
            if ours.gaps or ours.conflicts:
                continue
            assert ours.data == expected, (stream.session_id, name, len(ours.data), len(expected))
            compared += 1
    assert compared > 0 or all(s.orig.gaps or s.resp.gaps or s.orig.conflicts or s.resp.conflicts for s in streams)
