#!/usr/bin/env python3
"""Stream reassembly throughput: tcpanalyze follow / export-streams next to tshark's follow.

    python benchmarks/bench_streams.py                 # 64 MiB of payload, 4 sessions
    python benchmarks/bench_streams.py --mib 256 --sessions 8 --no-tshark

Writes ``benchmarks/data/streams-<N>mib.pcap`` (git-ignored) if missing: each session is a
handshake, a small request, a large reply in 1448-byte segments with an ACK every second
segment, every 97th pair of segments swapped (out of order) and every 499th segment sent
twice (a retransmission), then FIN both ways. Random payload, fixed seed. Times are whole
processes (start-up included); MB/s counts the bytes of the streams rebuilt.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
MSS = 1448
REQUEST = 512


def _frame(src: int, dst: int, sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + tcp + payload


def _record_of(record, src: int, dst: int, sport: int, dport: int, seq: int, ack: int, flags: int,
               data: bytes = b"") -> bytes:
    return record(_frame(src, dst, sport, dport, seq, ack, flags, data))


def make_capture(path: Path, mib: int, sessions: int, seed: int = 1) -> list[str]:
    """Write the capture; returns the sha256 of each session's reply, in session order."""
    rng = np.random.default_rng(seed)
    reply_len = mib * (1 << 20) // sessions
    digests = []
    ts = [1_700_000_000, 0]

    def record(frame: bytes) -> bytes:
        ts[1] += 10
        sec, usec = ts[0] + ts[1] // 1_000_000, ts[1] % 1_000_000
        return struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame

    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for k in range(sessions):
            cli, srv, cport, sport = 0xC6120001 + k, 0xC6130001, 40000 + k, 80
            cisn, sisn = int(rng.integers(0, 2**32)), int(rng.integers(0, 2**32))
            c = functools.partial(_record_of, record, cli, srv, cport, sport)
            s = functools.partial(_record_of, record, srv, cli, sport, cport)
            request = rng.bytes(REQUEST)
            reply = rng.bytes(reply_len)
            digests.append(hashlib.sha256(reply).hexdigest())
            out.write(c(cisn, 0, 0x02) + s(sisn, cisn + 1, 0x12) + c(cisn + 1, sisn + 1, 0x10))
            out.write(c(cisn + 1, sisn + 1, 0x18, request))
            cack = cisn + 1 + REQUEST
            offsets = list(range(0, reply_len, MSS))
            for i in range(0, len(offsets) - 1, 97):
                offsets[i], offsets[i + 1] = offsets[i + 1], offsets[i]
            chunk = []
            for n, off in enumerate(offsets):
                seg = s(sisn + 1 + off, cack, 0x10, reply[off : off + MSS])
                chunk.append(seg)
                if n % 499 == 0:
                    chunk.append(seg)
                if n % 2:
                    chunk.append(c(cack, sisn + 1 + off + MSS, 0x10))
                if len(chunk) > 4096:
                    out.write(b"".join(chunk))
                    chunk = []
            out.write(b"".join(chunk))
            end = sisn + 1 + reply_len
            out.write(s(end, cack, 0x11) + c(cack, end + 1, 0x11) + s(end + 1, cack + 1, 0x10))
    return digests


def timed(argv: list[str], stdout=subprocess.DEVNULL) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=stdout, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64, help="payload MiB in the capture (default 64)")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--no-tshark", action="store_true")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    capture = DATA / f"streams-{args.mib}mib-{args.sessions}s.pcap"
    digests_file = capture.with_suffix(".sha256")
    if not capture.exists() or not digests_file.exists():
        digests_file.write_text("\n".join(make_capture(capture, args.mib, args.sessions)) + "\n")
    digests = digests_file.read_text().split()
    one_mb = (args.mib << 20) / args.sessions / 1e6
    all_mb = (args.mib << 20) / 1e6
    print(f"{capture.name}: {capture.stat().st_size / 1e6:.0f} MB file, {args.sessions} sessions, "
          f"{one_mb:.1f} MB reply each")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "reply.bin"
        cli = [sys.executable, "-m", "tcpanalyze"]
        t = timed(cli + ["follow", str(capture), "0", "-d", "resp", "-f", "raw", "-o", str(out)])
        assert hashlib.sha256(out.read_bytes()).hexdigest() == digests[0], "follow rebuilt the wrong bytes"
        rows.append(("tcpanalyze follow (1 session, raw)", t, one_mb))
        t = timed(cli + ["export-streams", str(capture), str(Path(tmp) / "all")])
        rows.append(("tcpanalyze export-streams (all)", t, all_mb))
        if not args.no_tshark and shutil.which("tshark"):
            t = timed(["tshark", "-r", str(capture), "-q", "-z", "follow,tcp,raw,0"])
            rows.append(("tshark -z follow,tcp,raw,0 (1 session)", t, one_mb))
    for name, seconds, mb in rows:
        print(f"{name:42s} {seconds:7.2f} s  {mb / seconds:7.1f} MB/s of stream bytes")


if __name__ == "__main__":
    main()
