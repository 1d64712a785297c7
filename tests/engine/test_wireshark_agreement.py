"""Per-packet analysis flags agree with tshark's on every capture of the corpus and samples.

For each file we compare the set of (frame, flag) pairs we set with the set tshark sets
(``tshark -T fields -e frame.number -e tcp.analysis.<flag> ...``). The agreement over all
files must be at least 99.5 %, and every pair that differs must be listed, with its
reason, in docs/wireshark-differences.md (so the document cannot go stale).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

import tcpanalyze
from tcpanalyze.engine.flags import FLAG_NAMES
from tcpanalyze.errors import CaptureError
from helpers import REPO_ROOT, corpus_files, sample_files

DIFFERENCES_DOC = REPO_ROOT / "docs" / "wireshark-differences.md"
TARGET_AGREEMENT = 0.995
pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def tshark_pairs(path: Path) -> set[tuple[int, str]]:
    fields = sum((["-e", f"tcp.analysis.{name}"] for name in FLAG_NAMES), [])
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number", *fields],
                         capture_output=True, text=True, timeout=300).stdout
    pairs = set()
    for line in out.splitlines():
        frame, *values = line.split("\t")
        pairs.update((int(frame), name) for name, value in zip(FLAG_NAMES, values) if value)
    return pairs


def our_pairs(path: Path) -> tuple[set[tuple[int, str]], set[int]]:
    packets = tcpanalyze.analyze(str(path)).packets
    pairs = {(int(frame), name) for frame, names in zip(packets.frame, packets.analysis) for name in names}
    return pairs, set(packets.frame.tolist())


@lru_cache(maxsize=1)
def comparison() -> tuple[int, int, list[tuple[str, int, str, str]]]:
    """(agreeing pairs, all pairs, differences as (file, frame, flag, 'ours'|'tshark'))."""
    agree = total = 0
    differences = []
    for path in corpus_files() + sample_files():
        try:
            ours, tcp_frames = our_pairs(path)
        except CaptureError:
            continue  # not readable as a capture: tshark refuses these too
        # tshark also flags TCP headers quoted inside ICMP errors; those are not TCP packets.
        theirs = {p for p in tshark_pairs(path) if p[0] in tcp_frames}
        agree += len(ours & theirs)
        total += len(ours | theirs)
        differences += [(path.name, f, n, "ours") for f, n in ours - theirs]
        differences += [(path.name, f, n, "tshark") for f, n in theirs - ours]
    return agree, total, sorted(differences)


def documented_differences() -> set[tuple[str, int, str, str]]:
    """Rows of the table in docs/wireshark-differences.md: | file | frame | flag | set by | reason |."""
    rows = set()
    for line in DIFFERENCES_DOC.read_text().splitlines():
        m = re.match(r"\|\s*`?([\w.\-]+\.(?:pcap|pcapng|gz))`?\s*\|\s*(\d+)\s*\|\s*(\w+)\s*\|\s*(ours|tshark)\s*\|", line)
        if m:
            rows.add((m[1], int(m[2]), m[3], m[4]))
    return rows


def test_agreement_with_wireshark_is_at_least_99_5_percent():
    agree, total, differences = comparison()
    assert total > 1500, "the corpus should give well over a thousand flagged packets"
    assert agree / total >= TARGET_AGREEMENT, f"{agree}/{total} pairs agree; first differences: {differences[:20]}"


def test_every_difference_from_wireshark_is_documented():
    _, _, differences = comparison()
    documented = documented_differences()
    undocumented = [d for d in differences if d not in documented]
    stale = sorted(documented - set(differences))
    assert not undocumented, f"differences missing from {DIFFERENCES_DOC.name}: {undocumented[:30]}"
    assert not stale, f"{DIFFERENCES_DOC.name} lists differences that no longer occur: {stale[:30]}"


def test_dsack_packets_are_the_ones_wireshark_marks():
    """Our ``dsack`` column agrees with tshark's tcp.options.sack.dsack on every capture."""
    seen = 0
    for path in corpus_files() + sample_files():
        try:
            packets = tcpanalyze.analyze(str(path)).packets
        except CaptureError:
            continue
        ours = set(packets.frame[packets.dsack == 1].tolist())
        out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", "tcp.options.sack.dsack", "-T", "fields",
                              "-e", "frame.number"], capture_output=True, text=True, timeout=300).stdout
        theirs = {int(f) for f in out.split()} & set(packets.frame.tolist())
        assert ours == theirs, f"{path.name}: only ours {sorted(ours - theirs)[:10]}, only tshark {sorted(theirs - ours)[:10]}"
        seen += len(ours)
    assert seen >= 20, "the corpus holds D-SACK blocks; finding none means the check is broken"
