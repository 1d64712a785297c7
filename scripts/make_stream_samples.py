#!/usr/bin/env python3
"""Capture real TCP transfers through an impairing bridge into sample_pcaps/stream-*.

Run as root from the repository root:

    python scripts/make_stream_samples.py                 # every scenario
    python scripts/make_stream_samples.py lossy-ipv4      # just these (file stem without "stream-")
    python scripts/make_stream_samples.py --seed 7        # other application bytes and drop pattern

Two network namespaces each get one end of the path as a TAP device; a small userspace bridge
(this script with ``--bridge``, in the root namespace) reads Ethernet frames from one TAP and
writes them to the other. For each frame that carries TCP payload it draws from a seeded RNG
whether to drop it, duplicate it, swap it with the next frame (reorder) or hold it for a few
milliseconds (delay); handshake, pure ACKs and everything else pass untouched, and neighbours
are static, so no ARP/ND frame is ever needed. Real Python socket programs talk through it
(``ip netns exec``); their application bytes come from the seed and each side records the
sha256 of what it wrote and what it read. tcpdump (full snaplen) runs in the server namespace
on its TAP, so it sees client data after the bridge's impairment (drops then retransmissions,
out-of-order arrivals, duplicates) and server data as sent (every retransmission): every byte
of both directions is in the capture at least once.

Per capture, ``sample_pcaps/expected/stream-<name>.json`` holds per connection (by client and
server port) the byte count and sha256 of what the client wrote (``orig``) and what the server
wrote (``resp``), the impairment rates and what the bridge did, tshark's counts, and the
result of rebuilding every direction with ``tshark -z follow,tcp,raw`` and hashing it.

The namespaces and TAP devices exist only while the script runs; they are removed on exit,
even after an error. Not run in CI.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import heapq
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from make_real_samples import (
    TSHARK_COUNTS,
    direction,
    endpoint,
    listen,
    payload,
    recv_exact,
    recv_until_eof,
    sh,
    wait_for_line,
)

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "sample_pcaps"
EXPECTED_DIR = OUT_DIR / "expected"
THIS = Path(__file__).resolve()

NS_CLIENT = "tcpa-stream-c"
NS_SERVER = "tcpa-stream-s"
TAP_CLIENT = "tap-tcpa-c"
TAP_SERVER = "tap-tcpa-s"
MAC_CLIENT = "02:78:00:00:00:01"
MAC_SERVER = "02:78:00:00:00:02"
CLIENT4, SERVER4 = "10.78.0.1", "10.78.0.2"
CLIENT6, SERVER6 = "fd78::1", "fd78::2"
DEFAULT_SEED = 4

MAX_CAPTURE_BYTES = 300_000
# The default 2 MiB capture buffer lost frames on a busy 2-core machine.
CAPTURE_BUFFER_KIB = 16384
MAX_TOTAL_BYTES = 1_200_000

# linux/if_tun.h
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000

ETH_HEADER = 14
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
IPV6_HEADER = 40
PROTO_TCP = 6

# A reordered frame waits for the next frame of its direction; if none comes (end of a flight)
# it goes out after this long anyway, which is then just a delay.
REORDER_MAX_HOLD_S = 0.002
# A duplicate follows its original this soon: close enough to arrive before the next segment.
DUPLICATE_GAP_S = 0.0002


# ------------------------------------------------------------------------------- the bridge


def tcp_payload_len(frame: bytes) -> int:
    """TCP payload bytes of an Ethernet frame (IPv4 or IPv6 without extension headers), else 0."""
    if len(frame) < ETH_HEADER + 20:
        return 0
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    if ethertype == ETHERTYPE_IPV4:
        ihl = (frame[ETH_HEADER] & 0x0F) * 4
        if frame[ETH_HEADER + 9] != PROTO_TCP:
            return 0
        ip_len = struct.unpack_from("!H", frame, ETH_HEADER + 2)[0]
        tcp_at, ip_payload = ETH_HEADER + ihl, ip_len - ihl
    elif ethertype == ETHERTYPE_IPV6:
        if frame[ETH_HEADER + 6] != PROTO_TCP:
            return 0
        tcp_at, ip_payload = ETH_HEADER + IPV6_HEADER, struct.unpack_from("!H", frame, ETH_HEADER + 4)[0]
    else:
        return 0
    if len(frame) < tcp_at + 13:
        return 0
    return max(0, ip_payload - (frame[tcp_at + 12] >> 4) * 4)


@dataclass
class Impairment:
    """Per-frame probabilities for frames that carry TCP payload (both directions alike)."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0
    delay_ms: tuple[float, float] = (1.0, 6.0)

    def as_dict(self) -> dict:
        return {"drop": self.drop, "duplicate": self.duplicate, "reorder": self.reorder,
                "delay": self.delay, "delay_ms": list(self.delay_ms),
                "applies_to": "frames with TCP payload; SYN, pure ACK, FIN without data untouched",
                "reorder_means": f"held until the next frame of its direction is forwarded "
                                 f"(at most {REORDER_MAX_HOLD_S * 1e3:g} ms)",
                "duplicate_means": f"forwarded, then the identical frame again {DUPLICATE_GAP_S * 1e3:g} ms later"}


class Bridge:
    """Forwards frames between two TAP fds, impairing TCP data frames with a seeded RNG."""

    def __init__(self, fd_client: int, fd_server: int, impairment: Impairment, seed: str):
        self.peer = {fd_client: fd_server, fd_server: fd_client}
        self.name = {fd_client: "orig", fd_server: "resp"}  # direction by the fd a frame came from
        self.imp = impairment
        # One RNG per direction: each direction's pattern depends only on its own frame sequence.
        self.rng = {fd_client: random.Random(f"{seed}/orig"), fd_server: random.Random(f"{seed}/resp")}
        self.timed: list[tuple[float, int, int, bytes]] = []  # (due, order, out fd, frame)
        self.waiting: dict[int, list[tuple[float, bytes]]] = {fd_client: [], fd_server: []}  # by out fd
        self.order = 0
        keys = ("frames", "data_frames", "dropped", "duplicated", "reordered", "delayed")
        self.stats = {"orig": dict.fromkeys(keys, 0), "resp": dict.fromkeys(keys, 0)}

    def later(self, due: float, out: int, frame: bytes) -> None:
        self.order += 1
        heapq.heappush(self.timed, (due, self.order, out, frame))

    def forward(self, out: int, frame: bytes) -> None:
        os.write(out, frame)
        for _, held in self.waiting[out]:  # a reordered frame goes right after the one that overtook it
            os.write(out, held)
        self.waiting[out].clear()

    def on_frame(self, src: int, frame: bytes) -> None:
        out, stats, now = self.peer[src], self.stats[self.name[src]], time.monotonic()
        stats["frames"] += 1
        if not tcp_payload_len(frame):
            self.forward(out, frame)
            return
        stats["data_frames"] += 1
        imp, rng = self.imp, self.rng[src]
        u = rng.random()
        if u < imp.drop:
            stats["dropped"] += 1
        elif u < imp.drop + imp.duplicate:
            stats["duplicated"] += 1
            self.forward(out, frame)
            self.later(now + DUPLICATE_GAP_S, out, frame)
        elif u < imp.drop + imp.duplicate + imp.reorder:
            stats["reordered"] += 1
            self.waiting[out].append((now + REORDER_MAX_HOLD_S, frame))
        elif u < imp.drop + imp.duplicate + imp.reorder + imp.delay:
            stats["delayed"] += 1
            self.later(now + rng.uniform(*imp.delay_ms) / 1e3, out, frame)
        else:
            self.forward(out, frame)

    def release_due(self) -> float | None:
        """Write what is due; return the seconds until the next deadline (None: nothing held)."""
        now = time.monotonic()
        while self.timed and self.timed[0][0] <= now:
            _, _, out, frame = heapq.heappop(self.timed)
            self.forward(out, frame)
        for out, held in self.waiting.items():
            if held and held[0][0] <= now:
                self.forward(out, held.pop(0)[1])
        deadlines = [self.timed[0][0]] if self.timed else []
        deadlines += [held[0][0] for held in self.waiting.values() if held]
        return max(0.0, min(deadlines) - now) if deadlines else None

    def run(self, stop_fd: int) -> None:
        """Forward until ``stop_fd`` (our stdin) reaches end of file."""
        fds = [*self.peer, stop_fd]
        while True:
            ready, _, _ = select.select(fds, [], [], self.release_due())
            for fd in ready:
                if fd == stop_fd:
                    if not os.read(stop_fd, 4096):
                        return
                    continue
                self.on_frame(fd, os.read(fd, 65536))


def bridge_main(params: dict) -> None:
    imp = params["impairment"]
    bridge = Bridge(params["fd_client"], params["fd_server"],
                    Impairment(imp["drop"], imp["duplicate"], imp["reorder"], imp["delay"], tuple(imp["delay_ms"])),
                    params["seed"])
    bridge.run(sys.stdin.fileno())
    print(json.dumps(bridge.stats), flush=True)


def open_tap(name: str) -> int:
    """A TAP device in the current (root) namespace; it lives as long as the fd is open."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def delete_namespaces() -> None:
    for ns in (NS_CLIENT, NS_SERVER):
        sh("ip", "netns", "del", ns, check=False)


@contextmanager
def tap_namespaces():
    """Two namespaces, each with a TAP whose fd stays here; yields (client fd, server fd)."""
    delete_namespaces()
    fds = []
    try:
        for ns, tap, mac, a4, a6 in ((NS_CLIENT, TAP_CLIENT, MAC_CLIENT, CLIENT4, CLIENT6),
                                     (NS_SERVER, TAP_SERVER, MAC_SERVER, SERVER4, SERVER6)):
            sh("ip", "netns", "add", ns)
            fds.append(open_tap(tap))
            sh("ip", "link", "set", tap, "netns", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", tap, "address", mac, "mtu", "1500")
            sh("ip", "-n", ns, "addr", "add", f"{a4}/24", "dev", tap)
            sh("ip", "-n", ns, "addr", "add", f"{a6}/64", "dev", tap, "nodad")
            sh("ip", "-n", ns, "link", "set", tap, "up")
        # Static neighbours: no ARP/ND, so the bridge only ever has to carry the test traffic.
        for ns, tap, peer4, peer6, mac in ((NS_CLIENT, TAP_CLIENT, SERVER4, SERVER6, MAC_SERVER),
                                           (NS_SERVER, TAP_SERVER, CLIENT4, CLIENT6, MAC_CLIENT)):
            sh("ip", "-n", ns, "neigh", "replace", peer4, "lladdr", mac, "dev", tap)
            sh("ip", "-n", ns, "neigh", "replace", peer6, "lladdr", mac, "dev", tap)
        time.sleep(0.3)
        yield fds[0], fds[1]
    finally:
        delete_namespaces()
        for fd in fds:
            os.close(fd)


@contextmanager
def namespace_sysctls(values: dict[str, str]):
    """Set sysctls in both namespaces; put the previous values back on exit."""
    before = {(ns, key): sh("ip", "netns", "exec", ns, "sysctl", "-n", key).stdout.strip()
              for ns in (NS_CLIENT, NS_SERVER) for key in values}
    try:
        for (ns, key) in before:
            sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={values[key]}")
        yield
    finally:
        for (ns, key), value in before.items():
            sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={value}", check=False)


@contextmanager
def bridge_running(fds: tuple[int, int], impairment: Impairment, seed: str):
    """The bridge as a child process holding both TAP fds; yields a dict filled with its stats."""
    params = {"fd_client": fds[0], "fd_server": fds[1], "impairment": impairment.as_dict(), "seed": seed}
    proc = subprocess.Popen([sys.executable, str(THIS), "--bridge", json.dumps(params)], pass_fds=fds,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stats: dict = {}
    try:
        yield stats
    finally:
        out, err = proc.communicate(input="", timeout=10)  # end of stdin stops it
        if proc.returncode != 0:
            raise RuntimeError(f"bridge failed ({proc.returncode}): {err}")
        stats.update(json.loads(out))


@contextmanager
def tcpdump(path: Path, filt: str):
    """Full-snaplen tcpdump on the server's TAP, inside the server namespace."""
    # --immediate-mode: otherwise packets still in libpcap's buffer at SIGINT can be lost.
    proc = subprocess.Popen(["ip", "netns", "exec", NS_SERVER, "tcpdump", "-i", TAP_SERVER, "-s", "0", "-B", str(CAPTURE_BUFFER_KIB), "-w",
                             str(path), "-U", "--immediate-mode", "-n", filt],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_line(proc, proc.stderr, "listening on")
    time.sleep(0.3)
    try:
        yield
    finally:
        time.sleep(1.0)  # let the last FIN/ACK and any retransmission reach the capture
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
        proc.wait(timeout=10)
    dropped = re.search(r"^(\d+) packets dropped by kernel", err, re.MULTILINE)
    if dropped and int(dropped.group(1)):
        raise RuntimeError(f"tcpdump dropped packets: {err}")


# ------------------------------------------------------- scenario programs (server, client)
#
# A program runs one or more connections at once (one thread each). A connection is a list
# of turns [client bytes, server bytes]: the client writes its part, the server reads it all
# and writes its part, the client reads that. The half-close program is the exception.


def part(p: dict, conn: int, side: str, turn: int, n: int) -> bytes:
    return payload(f"{p['seed']}/{p['name']}/conn{conn}/{side}/turn{turn}", n)


def summary(ep: dict, sent: list[bytes], received: list[bytes], side: str) -> dict:
    peer = "server" if side == "client" else "client"
    return {"endpoint": ep, "sent": direction(side, b"".join(sent)), "received": direction(peer, b"".join(received))}


def serve_turns(p: dict, conn: socket.socket, i: int) -> dict:
    ep = endpoint(conn)
    sent, received = [], []
    for t, (ask, answer) in enumerate(p["turns"]):
        received.append(recv_exact(conn, ask))
        sent.append(part(p, i, "server", t, answer))
        conn.sendall(sent[-1])
    received.append(recv_until_eof(conn))  # the client closes first
    conn.close()
    return summary(ep, sent, received, "server")


def talk_turns(p: dict, i: int) -> dict:
    cli = socket.create_connection((p["server_addr"], p["port"]))
    ep = endpoint(cli)
    sent, received = [], []
    for t, (ask, answer) in enumerate(p["turns"]):
        sent.append(part(p, i, "client", t, ask))
        cli.sendall(sent[-1])
        received.append(recv_exact(cli, answer))
    cli.close()
    return summary(ep, sent, received, "client")


def serve_half_close(p: dict, conn: socket.socket, i: int) -> dict:
    ep = endpoint(conn)
    request = recv_until_eof(conn)  # returns once the client's FIN arrived
    sent = []
    for t in range(p["reply_chunks"]):
        sent.append(part(p, i, "server", t, p["chunk_bytes"]))
        conn.sendall(sent[-1])
        time.sleep(p["chunk_gap_s"])
    conn.close()
    return summary(ep, sent, [request], "server")


def talk_half_close(p: dict, i: int) -> dict:
    cli = socket.create_connection((p["server_addr"], p["port"]))
    ep = endpoint(cli)
    request = part(p, i, "client", 0, p["request_bytes"])
    cli.sendall(request)
    cli.shutdown(socket.SHUT_WR)
    reply = recv_until_eof(cli)
    cli.close()
    return summary(ep, [request], [reply], "client")


PROGRAMS = {"turns": (serve_turns, talk_turns), "half-close": (serve_half_close, talk_half_close)}


def in_threads(fn, count: int) -> list[dict]:
    """fn(i) for i in range(count), all at once; results in index order (a failure re-raises)."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(fn, range(count)))


def server_main(p: dict) -> dict:
    serve, _ = PROGRAMS[p["program"]]
    srv = listen(p["family"], p["server_addr"], p["port"])
    accepted = [srv.accept()[0] for _ in range(p["connections"])]
    srv.close()
    return {"connections": in_threads(lambda i: serve(p, accepted[i], i), p["connections"])}


def client_main(p: dict) -> dict:
    _, talk = PROGRAMS[p["program"]]
    return {"connections": in_threads(lambda i: talk(p, i), p["connections"])}


def spawn(ns: str, role: str, params: dict) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(THIS), "--role", role,
                             "--params", json.dumps(params)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 60.0) -> dict:
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{proc.args[-3]} failed ({proc.returncode}): {err}")
    return json.loads(out.strip().splitlines()[-1])


def run_programs(params: dict) -> tuple[dict, dict]:
    server = spawn(NS_SERVER, "server", params)
    try:
        wait_for_line(server, server.stdout, "READY")
        client = finish(spawn(NS_CLIENT, "client", params))
        return finish(server), client
    finally:
        if server.poll() is None:  # the client failed: don't leave the server waiting
            server.kill()
            server.wait()


# ----------------------------------------------------------------------- reading it back

# What tshark counts in each capture (frames matching each display filter). The flag counts
# extend make_real_samples.TSHARK_COUNTS with the ones a lossy transfer shows.
COUNTS = {
    **TSHARK_COUNTS,
    "packets": "frame",
    "out_of_order": "tcp.analysis.out_of_order",
    "fast_retransmission": "tcp.analysis.fast_retransmission",
    "spurious_retransmission": "tcp.analysis.spurious_retransmission",
    "lost_segment": "tcp.analysis.lost_segment",
    "ack_lost_segment": "tcp.analysis.ack_lost_segment",
    "sack": "tcp.options.sack_le",
}


def tshark_counts(path: Path) -> dict[str, int]:
    """Frames matching each of COUNTS, in a single tshark pass (io,stat over one interval)."""
    names = list(COUNTS)
    out = sh("tshark", "-n", "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-q",
             "-z", "io,stat,0," + ",".join(COUNTS[n] for n in names)).stdout
    row = next(line for line in out.splitlines() if "<>" in line)
    cells = [c.strip() for c in row.strip().strip("|").split("|")][1:]  # after the interval
    frames = [int(c) for c in cells[0::2]]  # columns are (Frames, Bytes) per filter
    return dict(zip(names, frames, strict=True))


def capinfos(path: Path) -> dict[str, str]:
    wanted = {"File type", "File encapsulation", "Number of packets", "Packet size limit", "File size"}
    facts = {}
    for line in sh("capinfos", "-M", "-t", "-E", "-c", "-l", "-s", str(path)).stdout.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in wanted:
            facts[key.strip()] = value.strip()
    return facts


def exact_duplicate_frames(path: Path, server_port: int) -> dict[str, int]:
    """Frames byte-identical to an earlier frame, per direction (bridge duplicates are exact copies;
    a TCP retransmission differs at least in the IPv4 ID or the timestamp option)."""
    import dpkt

    seen: set[bytes] = set()
    dups = {"orig": 0, "resp": 0}
    with path.open("rb") as f:
        for _, frame in dpkt.pcap.Reader(f):
            if frame in seen:
                tcp_at = ETH_HEADER + (IPV6_HEADER if struct.unpack_from("!H", frame, 12)[0] == ETHERTYPE_IPV6
                                       else (frame[ETH_HEADER] & 0x0F) * 4)
                sport = struct.unpack_from("!H", frame, tcp_at)[0]
                dups["resp" if sport == server_port else "orig"] += 1
            seen.add(frame)
    return dups


def tshark_streams(path: Path) -> dict[tuple[int, int], int]:
    """tcp.stream index of each (client port, server port), from the SYNs."""
    out = sh("tshark", "-n", "-r", str(path), "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0", "-T", "fields",
             "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.dstport").stdout
    return {(int(s), int(d)): int(i) for i, s, d in (line.split("\t") for line in out.splitlines())}


FOLLOW_RULE = "=" * 67


def tshark_follow(path: Path, streams: list[int]) -> dict[int, dict[str, bytes]]:
    """Both directions of each TCP stream as tshark's follow rebuilds them, in one pass.

    Per stream: ``node0`` (the "ip:port" of the first packet's sender), ``node0_bytes`` and
    ``node1_bytes`` (tab-indented lines in tshark's output)."""
    cmd = ["tshark", "-n", "-r", str(path), "-q"]
    for index in streams:
        cmd += ["-z", f"follow,tcp,raw,{index}"]
    result = {}
    for block in sh(*cmd).stdout.split(FOLLOW_RULE)[1::2]:
        index = int(re.search(r"^Filter: tcp.stream eq (\d+)$", block, re.MULTILINE).group(1))
        node0 = re.search(r"^Node 0: (.*)$", block, re.MULTILINE).group(1)
        data = {0: [], 1: []}
        for line in block.splitlines():
            if line and not line.startswith(("Follow:", "Filter:", "Node ")):
                data[1 if line.startswith("\t") else 0].append(bytes.fromhex(line.strip()))
        result[index] = {"node0": node0, "node0_bytes": b"".join(data[0]), "node1_bytes": b"".join(data[1])}
    return result


def follow_check(path: Path, connections: list[dict]) -> dict:
    """Rebuild each direction with tshark and compare its sha256 with what the program wrote."""
    streams = tshark_streams(path)
    followed = tshark_follow(path, [streams[(c["orig_port"], c["resp_port"])] for c in connections])
    rows = []
    for conn in connections:
        index = streams[(conn["orig_port"], conn["resp_port"])]
        f = followed[index]
        client_first = f["node0"].endswith(f":{conn['orig_port']}")
        data = {"orig": f["node0_bytes" if client_first else "node1_bytes"],
                "resp": f["node1_bytes" if client_first else "node0_bytes"]}
        row = {"orig_port": conn["orig_port"], "resp_port": conn["resp_port"], "tcp_stream": index}
        for d in ("orig", "resp"):
            row[f"{d}_bytes"] = len(data[d])
            row[f"{d}_sha256_matches"] = hashlib.sha256(data[d]).hexdigest() == conn[f"{d}_sha256"]
        rows.append(row)
    return {"tool": "tshark -q -z follow,tcp,raw,N (4.0)", "all_match": all(
        r["orig_sha256_matches"] and r["resp_sha256_matches"] for r in rows), "streams": rows}


# ------------------------------------------------------------------------------ scenarios


@dataclass
class Scenario:
    """One capture: the program, its parameters, the bridge's impairment and what must show."""

    name: str
    program: str
    port: int
    description: str
    family: int = socket.AF_INET
    connections: int = 1
    params: dict = field(default_factory=dict)
    impairment: Impairment = field(default_factory=Impairment)
    require: dict = field(default_factory=dict)  # tshark/measured counts: at least this many (0: none)
    sysctls: dict = field(default_factory=dict)  # set in both namespaces for this scenario only

    @property
    def file(self) -> str:
        return f"stream-{self.name}.pcap"


LOSSY = Impairment(drop=0.04, duplicate=0.04, reorder=0.08, delay=0.03, delay_ms=(1.0, 6.0))
LIGHT = Impairment(drop=0.02, duplicate=0.02, reorder=0.02)
# Request/response sizes that give segments of every size, not only full ones.
LOSSY_TURNS = [[3000, 20000], [25000, 9000], [700, 30000], [14000, 14000], [33000, 1200], [5000, 26000]]
# What a lossy capture must show. bridge_* are what the bridge did; client data passes the bridge
# before the capture point, so its drops, copies and swaps are all visible there.
LOSS_EVIDENCE = {"retransmission": 1, "out_of_order": 1, "lost_segment": 1, "exact_duplicates_orig": 1,
                 "bridge_orig_dropped": 1, "bridge_orig_duplicated": 1, "bridge_orig_reordered": 1,
                 "bridge_resp_dropped": 1}
# Every capture: wire-sized frames with valid checksums (the TAPs have no offloads).
WIRE_LIKE = {"bad_tcp_checksum": 0, "frames_over_1514_bytes": 0}

SCENARIOS = [
    Scenario("clean-ipv4", "turns", 5201,
             "IPv4, no impairment: five request/response turns on one connection, client closes first",
             params={"turns": [[500, 12000], [8000, 300], [2000, 20000], [16000, 16000], [90, 4000]]},
             # The bridge can lag a burst by a few ms, enough for a tail loss probe (PTO = 2 x SRTT,
             # tiny here) to resend a segment that was not lost; a clean capture should have none.
             sysctls={"net.ipv4.tcp_early_retrans": "0"},
             require={"retransmission": 0, "out_of_order": 0, "lost_segment": 0, "exact_duplicates_orig": 0}),
    Scenario("lossy-ipv4", "turns", 5202,
             "IPv4 through drops, duplicates, reordering and delays of data frames in both directions: "
             "six request/response turns, client closes first",
             params={"turns": LOSSY_TURNS}, impairment=LOSSY, require=LOSS_EVIDENCE),
    Scenario("lossy-ipv6", "turns", 5203,
             "the lossy-ipv4 exchange and impairment over IPv6 (fd78::1 -> fd78::2)",
             family=socket.AF_INET6, params={"turns": LOSSY_TURNS}, impairment=LOSSY, require=LOSS_EVIDENCE),
    Scenario("half-close", "half-close", 5204,
             "client writes 20000 bytes and shutdown(SHUT_WR); after the client's FIN the server writes "
             "12 chunks of 6000 bytes 40 ms apart, then closes; light impairment",
             params={"request_bytes": 20000, "reply_chunks": 12, "chunk_bytes": 6000, "chunk_gap_s": 0.04},
             impairment=LIGHT, require={"fin": 2, "rst": 0}),
    Scenario("concurrent", "turns", 5205,
             "four connections at once to one server port, three turns each, light impairment",
             connections=4, params={"turns": [[1500, 9000], [7000, 2500], [400, 12000]]},
             impairment=LIGHT, require={"syn": 4, "tcp_conversations": 4}),
]


def connection_rows(server: dict, client: dict) -> list[dict]:
    """One row per connection in orig_/resp_ terms (orig = client), checked across both programs."""
    by_port = {srv["endpoint"]["peer_port"]: srv for srv in server["connections"]}
    rows = []
    for cli in client["connections"]:
        ep, srv = cli["endpoint"], by_port[cli["endpoint"]["local_port"]]
        if srv["received"]["sha256"] != cli["sent"]["sha256"] or srv["sent"]["sha256"] != cli["received"]["sha256"]:
            raise RuntimeError(f"connection from port {ep['local_port']}: bytes sent and received differ")
        rows.append({"orig_addr": ep["local_addr"], "orig_port": ep["local_port"],
                     "resp_addr": ep["peer_addr"], "resp_port": ep["peer_port"],
                     "orig_bytes": cli["sent"]["bytes"], "orig_sha256": cli["sent"]["sha256"],
                     "resp_bytes": srv["sent"]["bytes"], "resp_sha256": srv["sent"]["sha256"]})
    return sorted(rows, key=lambda r: r["orig_port"])


def check(sc: Scenario, counts: dict, bridge: dict, follow: dict) -> None:
    measured = {**counts, **{f"bridge_{d}_{k}": v for d, stats in bridge.items() for k, v in stats.items()}}
    problems = []
    for key, want in {**WIRE_LIKE, **sc.require}.items():
        got = measured[key]
        if (want == 0 and got != 0) or (want and got < want):
            problems.append(f"{key}: want {'0' if want == 0 else f'>= {want}'}, got {got}")
    if not follow["all_match"]:
        problems.append(f"tshark's follow does not rebuild what the programs wrote: {follow['streams']}")
    if problems:
        raise RuntimeError(f"{sc.file}: " + "; ".join(problems))


def record(sc: Scenario, fds: tuple[int, int], seed: int) -> dict:
    """Run one scenario under capture; write its file and its expected JSON."""
    path = OUT_DIR / sc.file
    path.unlink(missing_ok=True)
    six = sc.family == socket.AF_INET6
    client_addr, server_addr = (CLIENT6, SERVER6) if six else (CLIENT4, SERVER4)
    params = {"name": sc.name, "seed": seed, "program": sc.program, "port": sc.port, "family": int(sc.family),
              "server_addr": server_addr, "connections": sc.connections, **sc.params}
    bridge_seed = f"{seed}/{sc.name}/bridge"
    filt = f"tcp port {sc.port}"
    with namespace_sysctls(sc.sysctls), tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp) / sc.file
        with bridge_running(fds, sc.impairment, bridge_seed) as bridge_stats, tcpdump(tmp_path, filt):
            started = time.monotonic()
            server, client = run_programs(params)
            took = time.monotonic() - started
        shutil.copyfile(tmp_path, path)
    connections = connection_rows(server, client)
    counts = tshark_counts(path)
    counts["tcp_conversations"] = len(tshark_streams(path))
    dups = exact_duplicate_frames(path, sc.port)
    counts.update({"exact_duplicates_orig": dups["orig"], "exact_duplicates_resp": dups["resp"]})
    follow = follow_check(path, connections)
    check(sc, counts, bridge_stats, follow)
    size = path.stat().st_size
    if size > MAX_CAPTURE_BYTES:
        raise RuntimeError(f"{sc.file}: {size} bytes, over the {MAX_CAPTURE_BYTES} limit")
    expected = {
        "file": sc.file,
        "made_by": f"scripts/make_stream_samples.py {sc.name} --seed {seed}",
        "description": sc.description,
        "seed": seed,
        "capture": {"tool": "tcpdump", "namespace": NS_SERVER, "interface": TAP_SERVER, "filter": filt,
                    "snaplen": 262144, "link_type": "EN10MB (1)", "mtu": 1500,
                    "point": "server side, after the bridge: client data as it arrived, server data as sent"},
        "server_port": sc.port,
        "client_addr": client_addr,
        "server_addr": server_addr,
        "program": sc.program,
        "parameters": sc.params,
        "sysctls": sc.sysctls,
        "impairment": {"seed": bridge_seed, **sc.impairment.as_dict()},
        "bridge_did": bridge_stats,
        "transfer_s": round(took, 3),
        "connections": connections,
        "tshark_observed": {"reader": "tshark 4.0 / capinfos; Wireshark's heuristics, not ground truth",
                            "capinfos": capinfos(path), "counts": counts},
        "tshark_follow": follow,
        "notes": ("orig_* is what the client wrote, resp_* what the server wrote (byte count and sha256 of "
                  "everything, all turns in order). exact_duplicates_* count frames byte-identical to an "
                  "earlier frame (the bridge's duplicates; client data only, since server data is captured "
                  "before the bridge). Ports, ISNs, timing and the packet pattern change at every "
                  "regeneration; the bytes and their sha256 depend only on the seed."),
    }
    (EXPECTED_DIR / f"stream-{sc.name}.json").write_text(json.dumps(expected, indent=2) + "\n")
    return expected


# ---------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("only", nargs="*", help="scenario names (file stems without 'stream-') to run")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="application bytes and impairment pattern")
    ap.add_argument("--role", choices=["server", "client"], help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    ap.add_argument("--bridge", metavar="PARAMS", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bridge:
        bridge_main(json.loads(args.bridge))
        return
    if args.role:
        fn = server_main if args.role == "server" else client_main
        print(json.dumps(fn(json.loads(args.params))), flush=True)
        return
    if os.geteuid() != 0:
        sys.exit("make_stream_samples.py needs root (network namespaces, TAP devices, packet capture)")
    for tool in ("ip", "tcpdump", "tshark", "capinfos"):
        if shutil.which(tool) is None:
            sys.exit(f"make_stream_samples.py needs {tool} on PATH")
    chosen = [sc for sc in SCENARIOS if not args.only or sc.name in args.only]
    if not chosen:
        sys.exit(f"no scenario matches {args.only}")
    EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
    with tap_namespaces() as fds:
        for sc in chosen:
            expected = record(sc, fds, args.seed)
            c = expected["tshark_observed"]["counts"]
            print(f"{sc.file:28s} {c['packets']:4d} packets {(OUT_DIR / sc.file).stat().st_size:7d} bytes  "
                  f"retrans {c['retransmission']:3d}  ooo {c['out_of_order']:3d}  "
                  f"dups {c['exact_duplicates_orig']:2d}  {expected['transfer_s']:.1f} s")
    total = sum(p.stat().st_size for p in OUT_DIR.glob("stream-*.pcap"))
    if total > MAX_TOTAL_BYTES:
        sys.exit(f"stream-*.pcap total {total} bytes, over the {MAX_TOTAL_BYTES} limit")


if __name__ == "__main__":
    main()
