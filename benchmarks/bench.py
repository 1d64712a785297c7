"""Side-by-side benchmarks: tcpanalyze against a dpkt loop, tshark and tcptrace on the same file.

    python benchmarks/bench.py                      # decode and engine suites on the generated captures
    python benchmarks/bench.py --suite decode       # decoder vs dpkt loop vs tshark -T fields
    python benchmarks/bench.py --suite engine       # report and sessions vs tcptrace -n -l vs tshark -z conv,tcp
    python benchmarks/bench.py --suite filter       # display filters: packets -Y vs tshark -Y, same expressions
    python benchmarks/bench.py --capture X.pcap     # any capture (mixed-20m.pcap: make_captures.py --which mixed --scale 10)
    python benchmarks/bench.py --skip tshark        # leave a slow tool out

Every tool runs as its own process on the same file; wall time and peak RSS are per process
(os.wait4). Our figures are split: whole process, the decode alone (in-process, warm JIT
cache), and the first-run JIT compile time (a fresh numba cache directory).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CAPTURE = HERE / "data" / "mixed-2m.pcap"
FLOOD_CAPTURE = HERE / "data" / "synflood-1m.pcap"
SMALL_CAPTURE = HERE.parent / "sample_pcaps" / "synth-ipv4-frag-in-order.pcap"  # 10 records

OUR_DECODE = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    from tcpanalyze.packets import decode_capture
    t1 = time.perf_counter()
    decoded = decode_capture(sys.argv[1])
    t2 = time.perf_counter()
    print(json.dumps({"records": decoded.accounting.records, "tcp": len(decoded.packets),
                      "import_s": t1 - t0, "decode_s": t2 - t1}))
""")

OUR_DATAFRAME = textwrap.dedent("""
    import json, sys, time
    import tcpanalyze
    t1 = time.perf_counter()
    frame = tcpanalyze.read_packets(sys.argv[1])
    print(json.dumps({"tcp": len(frame), "frame_s": time.perf_counter() - t1}))
""")

# The same fields our decoder produces, the way a Python user writes it with dpkt.
DPKT_LOOP = textwrap.dedent("""
    import json, sys, time, dpkt
    t1 = time.perf_counter()
    rows = []
    with open(sys.argv[1], "rb") as fh:
        for ts, buf in dpkt.pcap.Reader(fh):
            try:
                eth = dpkt.ethernet.Ethernet(buf)
            except (dpkt.UnpackError, dpkt.NeedData):
                continue
            ip = eth.data
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
                continue
            tcp = ip.data
            if not isinstance(tcp, dpkt.tcp.TCP):
                continue
            mss = wscale = tsval = tsecr = None
            sack = []
            for kind, value in dpkt.tcp.parse_opts(tcp.opts):
                if kind == dpkt.tcp.TCP_OPT_MSS and len(value) == 2:
                    mss = int.from_bytes(value, "big")
                elif kind == dpkt.tcp.TCP_OPT_WSCALE and len(value) == 1:
                    wscale = value[0]
                elif kind == dpkt.tcp.TCP_OPT_TIMESTAMP and len(value) == 8:
                    tsval, tsecr = int.from_bytes(value[:4], "big"), int.from_bytes(value[4:], "big")
                elif kind == dpkt.tcp.TCP_OPT_SACK:
                    sack = [value[k:k + 8] for k in range(0, len(value), 8)]
            payload_len = (ip.len - ip.hl * 4 if isinstance(ip, dpkt.ip.IP) else ip.plen) - tcp.off * 4
            rows.append((ts, ip.src, ip.dst, tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.flags, tcp.win,
                         payload_len, mss, wscale, tsval, tsecr, sack))
    print(json.dumps({"tcp": len(rows), "decode_s": time.perf_counter() - t1}))
""")

TSHARK_FIELDS = ["frame.number", "frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport",
                 "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value", "tcp.len",
                 "tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.timestamp.tsval",
                 "tcp.options.timestamp.tsecr", "tcp.options.sack_le", "tcp.options.sack_re"]


@dataclass
class Run:
    tool: str
    wall_s: float
    peak_rss_mb: float
    cpu_s: float  # user + system CPU time: steadier than wall time on a shared machine
    packets: int
    detail: dict

    @property
    def rate(self) -> float:
        return self.packets / self.wall_s if self.wall_s else float("nan")


def run_process(tool: str, argv: list[str], packets: int | None = None, env: dict | None = None) -> Run:
    """Run one tool to completion: wall time, CPU of it and its children, and peak memory: the
    process's own peak RSS (GNU time's %M) or, when it starts worker processes, the highest sum
    of the proportional set sizes of all its processes at once (sampled every 50 ms with
    psutil: shared pages divided among the processes sharing them), whichever is higher."""
    time_cmd = shutil.which("time") or "/usr/bin/time"
    start = time.perf_counter()
    child = subprocess.Popen([time_cmd, "-f", "peak_kb=%M cpu=%U+%S", *argv], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
    tree_peak = [0]
    sampler = threading.Thread(target=_sample_tree_rss, args=(child, tree_peak), daemon=True)
    sampler.start()
    stdout, stderr = child.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    proc = subprocess.CompletedProcess(argv, child.returncode, stdout, stderr)
    if proc.returncode != 0:
        raise SystemExit(f"{tool} failed: {' '.join(argv)}")
    timing = proc.stderr.decode(errors="replace").rsplit("peak_kb=", 1)[1].split()
    peak_kb = max(int(timing[0]), tree_peak[0] // 1024)
    cpu = sum(float(part) for part in timing[1].removeprefix("cpu=").split("+"))
    out = proc.stdout
    detail = {"stdout_lines": out.count(b"\n")}
    if out.strip().startswith(b"{"):
        detail = json.loads(out.strip().splitlines()[-1])
    count = packets if packets is not None else int(detail.get("tcp", 0))
    return Run(tool, wall, peak_kb / 1024, cpu, count, detail)


def _sample_tree_rss(child: subprocess.Popen, peak: list[int]) -> None:
    """Keep in ``peak[0]`` the highest total PSS (bytes) of ``child``'s descendants seen."""
    try:
        import psutil
    except ImportError:
        return
    try:
        root = psutil.Process(child.pid)
    except psutil.Error:
        return
    while child.poll() is None:
        total = 0
        try:
            for process in root.children(recursive=True):
                try:  # PSS: pages the workers share with their fork server count once
                    total += process.memory_full_info().pss
                except psutil.Error:
                    pass
        except psutil.Error:
            return
        peak[0] = max(peak[0], total)
        time.sleep(0.05)


def decode_suite(capture: Path, skip: set[str]) -> list[Run]:
    py = sys.executable
    runs = []
    with tempfile.TemporaryDirectory() as cache:
        # First run with an empty numba cache: the compile cost a new install pays once.
        cold = run_process("tcpanalyze (cold JIT cache)", [py, "-c", OUR_DECODE, str(capture)],
                           env={**os.environ, "NUMBA_CACHE_DIR": cache})
    runs.append(cold)
    run_process("warm-up", [py, "-c", OUR_DECODE, str(capture)])
    ours = run_process("tcpanalyze decode", [py, "-c", OUR_DECODE, str(capture)])
    runs.append(ours)
    runs.append(run_process("tcpanalyze read_packets", [py, "-c", OUR_DATAFRAME, str(capture)]))
    packets = ours.packets
    if "dpkt" not in skip:
        runs.append(run_process("dpkt loop", [py, "-c", DPKT_LOOP, str(capture)]))
    if "tshark" not in skip and shutil.which("tshark"):
        fields = sum((["-e", f] for f in TSHARK_FIELDS), [])
        runs.append(run_process("tshark -T fields", ["tshark", "-n", "-r", str(capture), "-Y", "tcp", "-T", "fields",
                                                     *fields], packets=packets))
    return runs


def engine_suite(capture: Path, skip: set[str]) -> list[Run]:
    """Session analysis of a whole capture, as each tool's users run it: our report (sessions,
    anomalies, servers, diagnoses) and our sessions table (every session record as CSV)."""
    packets = _packet_count(capture)
    report = ["tcpanalyze", "report", str(capture), "-o", os.devnull]
    sessions = ["tcpanalyze", "sessions", str(capture), "-f", "csv", "-o", os.devnull]
    run_process("warm-up", sessions)  # compiles the kernels if the numba cache is stale
    runs = [run_process("tcpanalyze report", report, packets=packets),
            run_process("tcpanalyze report --workers 2", [*report, "--workers", "2"], packets=packets),
            run_process("tcpanalyze anomalies", ["tcpanalyze", "anomalies", str(capture), "-o", os.devnull],
                        packets=packets),
            run_process("tcpanalyze sessions (CSV)", sessions, packets=packets)]
    if "tcptrace" not in skip and shutil.which("tcptrace"):
        runs.append(run_process("tcptrace -n -l", ["tcptrace", "-n", "-l", str(capture)], packets=packets))
    if "tshark" not in skip and shutil.which("tshark"):
        runs.append(run_process("tshark -q -z conv,tcp", ["tshark", "-n", "-q", "-z", "conv,tcp", "-r", str(capture)],
                                packets=packets))
    return runs


# Display filters as users write them: an analysis flag, ports and flags, an address range and length.
FILTER_EXPRESSIONS = (
    "tcp.analysis.retransmission",
    "tcp.port == 443 && tcp.flags.reset == 1",
    "ip.src == 198.18.0.0/15 and tcp.len > 1000",
)


def filter_suite(capture: Path, skip: set[str]) -> list[tuple[str, Run, Run | None]]:
    """Each of FILTER_EXPRESSIONS applied to the whole capture: ``packets -Y EXPR`` (the matching
    frames' numbers as CSV) against ``tshark -Y EXPR -T fields -e frame.number``; both must
    select the same number of frames (AssertionError if not). tshark's filter is ANDed with
    ``tcp && !icmp``: the packets table holds neither other protocols nor TCP inside ICMP errors."""
    packets = _packet_count(capture)
    results = []
    for expression in FILTER_EXPRESSIONS:
        with tempfile.TemporaryDirectory() as tmp:
            ours_out = Path(tmp) / "ours.csv"
            ours = run_process("tcpanalyze packets -Y", ["tcpanalyze", "packets", str(capture), "-Y", expression,
                                                          "--columns", "frame", "-f", "csv", "-o", str(ours_out)],
                               packets=packets)
            ours.detail["matched"] = max(len(ours_out.read_text().splitlines()) - 1, 0)
            theirs = None
            if "tshark" not in skip and shutil.which("tshark"):
                theirs = run_process("tshark -Y", ["tshark", "-n", "-r", str(capture), "-Y",
                                                   f"({expression}) && tcp && !icmp", "-T", "fields", "-e",
                                                   "frame.number"], packets=packets)
                theirs.detail["matched"] = theirs.detail["stdout_lines"]
                if theirs.detail["matched"] != ours.detail["matched"]:
                    raise AssertionError(f"display filter {expression!r} on {capture.name}: we select "
                                         f"{ours.detail['matched']:,} frames, tshark {theirs.detail['matched']:,}")
        results.append((expression, ours, theirs))
    return results


def filter_report(capture: Path, skip: set[str]) -> None:
    print(f"\nDisplay filters: {capture.name}")
    print(f"{'expression':44} {'ours s':>8} {'tshark s':>9} {'tshark/ours':>11} {'frames':>10} {'tshark frames':>14}")
    for expression, ours, theirs in filter_suite(capture, skip):
        their_s = f"{theirs.wall_s:9.2f}" if theirs else f"{'-':>9}"
        ratio = f"{theirs.wall_s / ours.wall_s:10.1f}x" if theirs else f"{'-':>11}"
        their_n = f"{theirs.detail['matched']:14,}" if theirs else f"{'-':>14}"
        print(f"{expression:44} {ours.wall_s:8.2f} {their_s} {ratio} {ours.detail['matched']:10,} {their_n}")


def _packet_count(capture: Path) -> int:
    from tcpanalyze.capture import CaptureReader

    with CaptureReader(str(capture)) as reader:
        return sum(len(batch) for batch in reader.batches())


def small_file_run(command: list[str], repeats: int = 5) -> Run:
    """The fastest of ``repeats`` whole-process runs of ``tcpanalyze <command>`` on a 10-record file."""
    argv = ["tcpanalyze", command[0], str(SMALL_CAPTURE), *command[1:], "-o", os.devnull]
    run_process("warm-up", argv, packets=10)
    return min((run_process(command[0], argv, packets=10) for _ in range(repeats)), key=lambda run: run.wall_s)


def print_table(title: str, runs: list[Run], baseline: str) -> None:
    base = next(r for r in runs if r.tool == baseline)
    print(f"\n{title}")
    print(f"{'tool':32} {'wall s':>9} {'cpu s':>9} {'packets/s':>12} {'peak MB':>9} {'time vs ours':>13}")
    for run in runs:
        ratio = run.wall_s / base.wall_s
        print(f"{run.tool:32} {run.wall_s:9.2f} {run.cpu_s:9.2f} {run.rate:12,.0f} {run.peak_rss_mb:9.0f} "
              f"{ratio:12.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--skip", action="append", default=[], help="tool to leave out: dpkt, tshark, tcptrace")
    parser.add_argument("--suite", choices=["decode", "engine", "filter", "all"], default="all")
    args = parser.parse_args()
    if not args.capture.exists() or (args.suite in ("engine", "all") and not FLOOD_CAPTURE.exists()):
        if args.capture != DEFAULT_CAPTURE:
            raise SystemExit(f"{args.capture}: no such file")
        subprocess.run([sys.executable, str(HERE / "make_captures.py"), "--which", "all"], check=True)
    skip = set(args.skip)
    if args.suite in ("engine", "all"):
        captures = [args.capture] + ([FLOOD_CAPTURE] if args.capture == DEFAULT_CAPTURE else [])
        for capture in captures:
            runs = engine_suite(capture, skip)
            print_table(f"Sessions: {capture.name} ({runs[0].packets} packets)", runs, "tcpanalyze report")
        print("\n10-record file, whole process, warm JIT cache:")
        for small in (small_file_run(["report"]), small_file_run(["sessions", "-f", "csv"])):
            print(f"  tcpanalyze {small.tool:10} {small.wall_s:.2f} s wall, {small.cpu_s:.2f} s CPU, "
                  f"{small.peak_rss_mb:.0f} MB")
    if args.suite in ("decode", "all"):
        decode_report(args.capture, skip)
    if args.suite in ("filter", "all"):
        filter_report(args.capture, skip)


def decode_report(capture: Path, skip: set[str]) -> None:
    runs = decode_suite(capture, skip)
    print_table(f"Decode: {capture.name} ({runs[1].detail.get('records')} records, {runs[1].packets} TCP)",
                runs, "tcpanalyze decode")
    ours = runs[1]
    cold = runs[0]
    print(f"\nJIT compile on first run (cold cache minus warm run): {cold.wall_s - ours.wall_s:.1f} s")
    print(f"In-process decode alone (warm cache): {ours.detail['decode_s']:.2f} s = "
          f"{ours.packets / ours.detail['decode_s']:,.0f} packets/s; import {ours.detail['import_s']:.2f} s")
    for run in runs[2:]:
        print(f"  {run.tool}: tcpanalyze whole-process is {run.wall_s / ours.wall_s:.1f}x faster")


if __name__ == "__main__":
    main()
