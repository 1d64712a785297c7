#!/usr/bin/env python3
"""Before/after: the same job on the same capture with two (or more) checkouts of tcpanalyze,
runs interleaved (A B, B A, ...) so that a busy machine slows them alike.

    git worktree add ../before <commit>
    python benchmarks/compare_checkouts.py --job decode ../before .
    python benchmarks/compare_checkouts.py --job report --capture benchmarks/data/mixed-20m.pcap ../before .

``decode``: the decoder alone over the whole file (``decode_capture``, timed inside the process,
so start-up is left out); ``report``: ``tcpanalyze report --format json`` as a user runs it,
whole process (wall time and peak memory). A first round per checkout compiles or loads its
kernels and is not counted. Each checkout runs with this interpreter and its own source first
on the path.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DECODE = """
import json, sys, time
import tcpanalyze
from tcpanalyze.packets import decode_capture
start = time.perf_counter()
decoded = decode_capture(sys.argv[1])
print(json.dumps({"source": tcpanalyze.__file__, "seconds": time.perf_counter() - start, "tcp": len(decoded.packets)}))
"""


def run_once(job: str, checkout: Path, capture: Path) -> dict:
    """One run of ``job`` with ``checkout``'s source: seconds (and peak MB for ``report``)."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    if job == "decode":
        out = subprocess.run([sys.executable, "-c", DECODE, str(capture)], cwd=checkout, env=env,
                             capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if not result["source"].startswith(str(checkout)):
            raise SystemExit(f"{checkout}: ran {result['source']} instead (is tcpanalyze installed non-editable?)")
        return {"seconds": result["seconds"]}
    start = time.perf_counter()
    out = subprocess.run([shutil.which("time") or "/usr/bin/time", "-f", "peak_kb=%M", sys.executable, "-m",
                          "tcpanalyze", "report", str(capture), "--format", "json", "-o", os.devnull],
                         cwd=checkout, env=env, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": int(out.stderr.rsplit("peak_kb=", 1)[1].split()[0]) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", nargs="+", type=Path)
    parser.add_argument("--job", choices=["decode", "report"], default="decode")
    parser.add_argument("--capture", type=Path, default=HERE / "data" / "mixed-2m.pcap")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    checkouts = [c.resolve() for c in args.checkouts]
    args.capture = args.capture.resolve()  # each checkout runs in its own directory
    if not args.capture.exists():
        raise SystemExit(f"{args.capture}: not found (benchmarks/make_captures.py makes it)")
    runs: dict[Path, list[dict]] = {c: [] for c in checkouts}
    for round_number in range(args.rounds + 1):
        for checkout in checkouts if round_number % 2 == 0 else checkouts[::-1]:
            result = run_once(args.job, checkout, args.capture)
            if round_number:  # round 0 compiles or loads the kernels
                runs[checkout].append(result)
    first = statistics.median(r["seconds"] for r in runs[checkouts[0]])
    print(f"{args.job} of {args.capture.name}, {args.rounds} interleaved runs each")
    for checkout, results in runs.items():
        seconds = [r["seconds"] for r in results]
        median = statistics.median(seconds)
        peaks = [r["peak_mb"] for r in results if r.get("peak_mb")]
        memory = f", peak {max(peaks):.0f} MB" if peaks else ""
        print(f"  {checkout}: median {median:.3f} s (min {min(seconds):.3f}){memory}, "
              f"{median / first:.3f}x the first")


if __name__ == "__main__":
    main()
