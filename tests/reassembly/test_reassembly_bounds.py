"""Reassembly kernels never read out of bounds, on damaged and odd captures.

A subprocess runs ``follow``'s path (SessionCollector + build_streams) over the malformed,
fuzzed and cut-off corpus captures and the samples with truncated, fragmented, edited or
snaplen-cut packets, with the kernels compiled under ``NUMBA_BOUNDSCHECK=1`` (an
out-of-bounds read raises instead of reading garbage). Its digest of every stream (bytes,
gaps, conflicts) must equal the one this process computes without bounds checks, and the
one it computes with the kernels run as plain Python (``tcpanalyze.jit``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import SAMPLE_DIR, boundscheck_env, corpus_files

from tcpanalyze import jit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import stream_digests

ODD_SAMPLES = ["synth-malformed.pcap", "synth-snaplen-70.pcap", "synth-ipv4-frag-overlap.pcap",
               "synth-ipv4-frag-incomplete.pcap", "synth-ipv6-frag.pcap", "derived-segments-removed.pcap",
               "derived-conflict.pcap", "real-zero-window.pcap"]
FILES = [str(p) for p in corpus_files() if p.name.startswith(("malformed", "fuzz", "cutoff"))] + \
        [str(SAMPLE_DIR / name) for name in ODD_SAMPLES]


def test_streams_are_the_same_with_bounds_checks_on_and_as_plain_python():
    with jit.mode(plain=False):
        expected = stream_digests.digests(FILES)
    with jit.mode(plain=True):
        assert stream_digests.digests(FILES) == expected
    result = subprocess.run([sys.executable, str(HERE / "stream_digests.py")], input=json.dumps(FILES).encode(),
                            env={**os.environ, **boundscheck_env()}, capture_output=True, timeout=1200,
                            check=False)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert json.loads(result.stdout) == expected
    assert len(expected) == len(FILES) > 8
