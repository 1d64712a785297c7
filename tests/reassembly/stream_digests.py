"""A digest of every reassembled stream of some captures; run by test_reassembly_bounds.py.

Not collected by pytest. ``python stream_digests.py < files.json`` prints the digests as
JSON; run under ``NUMBA_BOUNDSCHECK=1`` it checks the kernels' reads.
"""

from __future__ import annotations

import hashlib
import json
import sys

from tcpanalyze import jit
from tcpanalyze.errors import CaptureError
from tcpanalyze.packets import Accounting
from tcpanalyze.reassembly import SessionCollector, build_streams


def digests(files: list[str]) -> dict[str, str]:
    """path -> sha256 over each stream's bytes, gaps, conflicts and lengths (or the error)."""
    out = {}
    for path in files:
        h = hashlib.sha256()
        try:
            for records, segments in SessionCollector(path, Accounting()):
                for stream in build_streams(records, segments):
                    for d in (stream.orig, stream.resp):
                        h.update(d.data + repr((d.gaps, d.conflicts, d.length, d.seen_bytes)).encode())
        except CaptureError as exc:
            h.update(str(exc).encode())
        out[path] = h.hexdigest()
    return out


if __name__ == "__main__":
    with jit.mode(plain=False):  # small captures too: the kernels must run compiled, with the checks
        print(json.dumps(digests(json.loads(sys.stdin.read()))))
