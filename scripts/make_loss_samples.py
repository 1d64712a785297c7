#!/usr/bin/env python3
"""Capture real TCP loss, with the Linux kernel's own TCP counters as truth, into
sample_pcaps/real-loss-*.pcap (for testing a retransmission count).

Run as root from the repository root:

    python scripts/make_loss_samples.py              # every scenario
    python scripts/make_loss_samples.py tail syn     # just these

Three network namespaces in a line, created afresh for every scenario so that their
/proc/net/snmp and /proc/net/netstat TCP counters start at zero: client (tcpa-loss-c,
10.79.0.1) -- router (tcpa-loss-r) -- server (tcpa-loss-s, 10.79.0.2), joined by two veth
pairs (MTU 1500, TX checksum, TSO, GSO and GRO off on all four ends, so every frame is one
TCP segment of at most 1448 bytes: the kernel's RetransSegs counts such segments). The router
position is a userspace forwarder (this script with ``--forwarder``, in the router namespace)
copying Ethernet frames between its two veth ends over AF_PACKET; it impairs them as the
scenario says and logs every frame it drops or holds back (sequence number relative to the
ISN, length, flags). The congestion scenario puts a tbf qdisc on the router's veth toward the
server instead; a frame tbf refuses makes the forwarder's send() fail with ENOBUFS, so those
drops are logged frame by frame too.

tcpdump (headers only, snaplen 96) runs at both ends at once: on the data sender's veth
(``real-loss-<name>-sender.pcap``: every segment the sender emitted, loss happens after the
capture point) and on the receiver's (``real-loss-<name>-receiver.pcap``: holes, then the
retransmissions that fill them). A run whose tcpdump or forwarder lost a frame is repeated.

Scenarios (the client sends the data unless said otherwise):
  random      400 KB upload; the forwarder drops 2.5 % of the client's data segments (seeded
              RNG), the transfer ends with a clean FIN exchange
  tail        five request/response rounds on one connection, the server sends the data; the
              forwarder drops the last 1, 2 or 3 segments of four responses the first time they
              pass, and in one round also the tail loss probe: recovery by TLP and by RTO
  congestion  400 KB upload through tbf 20 Mbit/s with a 12000-byte queue: the sender's own
              window growth overflows the queue (congestion drops)
  reorder     400 KB upload; the forwarder holds 6 % of the client's data segments back until
              1-3 later ones have passed (at most 4 ms); nothing is dropped
  syn         the client's first SYN is dropped, the retransmitted one (1 s later) passes;
              then a 100 KB upload

``sample_pcaps/expected/real-loss-<name>.json`` (one for both captures) holds the topology
and impairment, the complete Tcp and TcpExt counters of the client and server namespaces
read after the connection closed, what the forwarder (and tbf) did with every dropped frame,
tcpdump's statistics, what the programs wrote and read (bytes and sha256) and tshark's flag
counts per capture. The namespaces are removed on exit, even after an error. Not run in CI.
"""

from __future__ import annotations

import argparse
import errno
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
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_real_samples as real  # noqa: E402  (namespaces, ethtool_off, program helpers)
import make_stream_samples as stream  # noqa: E402  (request/response programs, tshark counts)
from make_check_samples import tcp_summary  # noqa: E402

THIS = Path(__file__).resolve()
OUT_DIR, EXPECTED_DIR = real.OUT_DIR, real.EXPECTED_DIR
NS_CLIENT, NS_ROUTER, NS_SERVER = "tcpa-loss-c", "tcpa-loss-r", "tcpa-loss-s"
VETH_CLIENT, VETH_ROUTER_C = "tcpa-loss-c0", "tcpa-loss-rc"  # client <-> router
VETH_ROUTER_S, VETH_SERVER = "tcpa-loss-rs", "tcpa-loss-s0"  # router <-> server
MAC_CLIENT, MAC_SERVER = "02:79:00:00:00:01", "02:79:00:00:00:02"
MAC_ROUTER_C, MAC_ROUTER_S = "02:79:00:00:01:01", "02:79:00:00:01:02"
CLIENT4, SERVER4 = "10.79.0.1", "10.79.0.2"
SEED = 79
SNAPLEN = 96
# The default 2 MiB capture buffer lost frames on a busy 2-core machine (make_stream_samples.py).
CAPTURE_BUFFER_KIB = 16384
ATTEMPTS = 3
MAX_TOTAL_BYTES = 1_400_000
# What the sender's kernel puts in a full segment: MSS 1460 minus the 12-byte timestamp option.
SEGMENT_BYTES = 1448

# linux/if_packet.h
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_IGNORE_OUTGOING = 23
SO_RCVBUFFORCE = 33  # asm-generic/socket.h; Python's socket module does not name it
FORWARDER_RCVBUF = 8 << 20

TCP_FIN, TCP_SYN, TCP_ACK = 0x01, 0x02, 0x10
SYSCTLS = ("net.ipv4.tcp_congestion_control", "net.ipv4.tcp_sack", "net.ipv4.tcp_timestamps",
           "net.ipv4.tcp_early_retrans", "net.ipv4.tcp_recovery", "net.ipv4.tcp_frto",
           "net.ipv4.tcp_dsack", "net.ipv4.tcp_syn_retries")


# ------------------------------------------------------------------------- the forwarder


def flag_names(flags: int) -> str:
    return ",".join(name for bit, name in ((TCP_SYN, "SYN"), (TCP_FIN, "FIN"), (0x04, "RST"), (0x08, "PSH"),
                                           (TCP_ACK, "ACK")) if flags & bit)


def tail_drop_spans(rounds: list[dict]) -> list[tuple[int, int, int]]:
    """(first dropped offset, response end, copies) per round of the tail scenario; offsets count
    from ISN + 1 and assume the response is cut into SEGMENT_BYTES segments from its start."""
    spans, start = [], 0
    for r in rounds:
        end = start + r["response_bytes"]
        if r["drop_last_segments"]:
            full = (r["response_bytes"] - 1) // SEGMENT_BYTES  # full segments before the last one
            spans.append((start + (full + 1 - r["drop_last_segments"]) * SEGMENT_BYTES, end, r["copies"]))
        start = end
    return spans


class Forwarder:
    """Copies frames between the router's veth ends and impairs them as ``impairment`` says.

    ``impairment["kind"]``: ``none``, ``random`` (drop client data with probability ``drop``),
    ``tail`` (drop the last segments of server responses, see tail_drop_spans), ``syn`` (drop the
    client's first SYN) or ``reorder`` (hold client data back until ``depth`` later data
    segments passed). ENOBUFS from send() (a qdisc refused the frame) is logged as a drop."""

    def __init__(self, impairment: dict, seed: str):
        self.imp = impairment
        self.rng = random.Random(seed)
        self.socks: dict[str, socket.socket] = {}
        for direction, dev in (("orig", VETH_ROUTER_C), ("resp", VETH_ROUTER_S)):  # by where frames come in
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, FORWARDER_RCVBUF)
            s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            s.bind((dev, 0))
            self.socks[direction] = s
        self.out = {"orig": self.socks["resp"], "resp": self.socks["orig"]}
        self.isn: dict[str, int] = {}
        self.seen: dict[tuple[str, int], int] = {}  # (direction, relative seq) -> data segments seen
        self.held: list[dict] = []  # reordered frames: frame, direction, passes_left, due
        self.tail = tail_drop_spans(impairment.get("rounds", []))
        keys = ("frames", "data_frames", "dropped", "reordered", "send_failed")
        self.stats = {"orig": dict.fromkeys(keys, 0), "resp": dict.fromkeys(keys, 0)}
        self.dropped: list[dict] = []
        self.reordered: list[dict] = []
        self.t0 = time.monotonic_ns()

    def describe(self, direction: str, seg: dict, reason: str, copy: int) -> dict:
        rel = (seg["seq_raw"] - self.isn.get(direction, seg["seq_raw"])) % (1 << 32)
        return {"direction": direction, "rel_seq": rel, "payload_len": seg["payload_len"],
                "flags": flag_names(seg["tcp_flags"]), "reason": reason, "copy": copy,
                "t_ms": round((time.monotonic_ns() - self.t0) / 1e6, 3)}

    def decide(self, direction: str, seg: dict | None) -> tuple[str, int]:
        """('pass' | 'drop' | 'hold', copies of this segment seen before)."""
        if seg is None:
            return "pass", 0
        kind, flags = self.imp["kind"], seg["tcp_flags"]
        if flags & TCP_SYN:
            self.isn.setdefault(direction, seg["seq_raw"])
            key = (direction, -1)  # SYNs counted apart from data
            copy = self.seen.get(key, 0)
            self.seen[key] = copy + 1
            if kind == "syn" and direction == "orig" and not flags & TCP_ACK and copy == 0:
                return "drop", copy
            return "pass", copy
        if not seg["payload_len"] or direction not in self.isn:
            return "pass", 0
        offset = (seg["seq_raw"] - self.isn[direction] - 1) % (1 << 32)
        copy = self.seen.get((direction, offset), 0)
        self.seen[(direction, offset)] = copy + 1
        if kind == "random" and direction == "orig" and self.rng.random() < self.imp["drop"]:
            return "drop", copy
        if kind == "tail" and direction == "resp":
            if any(first <= offset < end and copy < copies for first, end, copies in self.tail):
                return "drop", copy
        if kind == "reorder" and direction == "orig" and self.rng.random() < self.imp["reorder"]:
            return "hold", copy
        return "pass", copy

    def send(self, direction: str, frame: bytes, seg: dict | None, copy: int) -> None:
        try:
            self.out[direction].send(frame)
        except OSError as exc:
            if exc.errno != errno.ENOBUFS:
                raise
            self.stats[direction]["send_failed"] += 1
            if seg:
                self.dropped.append(self.describe(direction, seg, "qdisc_full", copy))

    def on_frame(self, direction: str, frame: bytes) -> None:
        stats, seg = self.stats[direction], tcp_summary(frame)
        stats["frames"] += 1
        data = bool(seg and seg["payload_len"])
        stats["data_frames"] += data
        action, copy = self.decide(direction, seg)
        if action == "drop":
            stats["dropped"] += 1
            self.dropped.append(self.describe(direction, seg, self.imp["kind"], copy))
            return
        if action == "hold":
            stats["reordered"] += 1
            depth = self.rng.randint(*self.imp["depth"])
            self.held.append({"frame": frame, "direction": direction, "passes_left": depth, "seg": seg,
                              "copy": copy, "due": time.monotonic() + self.imp["max_hold_ms"] / 1e3})
            self.reordered.append({**self.describe(direction, seg, "reorder", copy), "behind": depth})
            return
        self.send(direction, frame, seg, copy)
        if data:
            self.release(direction)

    def release(self, direction: str | None) -> None:
        """After a data frame of ``direction`` passed: send the held frames it was the last to overtake.
        With ``None``: send the frames whose hold time is up."""
        now, keep = time.monotonic(), []
        for h in self.held:
            if direction is not None and h["direction"] == direction:
                h["passes_left"] -= 1
            if h["passes_left"] <= 0 or now >= h["due"]:
                self.send(h["direction"], h["frame"], h["seg"], h["copy"])
            else:
                keep.append(h)
        self.held = keep

    def run(self, stop_fd: int) -> None:
        """Forward until ``stop_fd`` (our stdin) reaches end of file."""
        by_fd = {s.fileno(): d for d, s in self.socks.items()}
        while True:
            timeout = max(0.0, min(h["due"] for h in self.held) - time.monotonic()) if self.held else None
            ready, _, _ = select.select([*by_fd, stop_fd], [], [], timeout)
            for fd in ready:
                if fd == stop_fd:
                    if not os.read(stop_fd, 4096):
                        self.release(None)
                        return
                    continue
                direction = by_fd[fd]
                self.on_frame(direction, self.socks[direction].recv(65535))
            self.release(None)

    def report(self) -> dict:
        lost = {}
        for direction, s in self.socks.items():
            packets, drops = struct.unpack("II", s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
            lost[direction] = {"socket_packets": packets, "socket_drops": drops}
        return {"per_direction": self.stats, "receive_sockets": lost, "dropped": self.dropped,
                "reordered": self.reordered}


def forwarder_main(params: dict) -> None:
    fwd = Forwarder(params["impairment"], params["seed"])
    print("READY", flush=True)
    fwd.run(sys.stdin.fileno())
    print(json.dumps(fwd.report()), flush=True)


# ------------------------------------------------------------------------ namespaces


def ns_exec(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return real.sh("ip", "netns", "exec", ns, *args, check=check)


def delete_namespaces() -> None:
    for ns in (NS_CLIENT, NS_ROUTER, NS_SERVER):
        real.sh("ip", "netns", "del", ns, check=False)


@contextmanager
def line_of_namespaces():
    """Fresh client -- router -- server namespaces (zeroed TCP counters); removed on exit."""
    delete_namespaces()
    try:
        for ns in (NS_CLIENT, NS_ROUTER, NS_SERVER):
            real.sh("ip", "netns", "add", ns)
            # No IPv6 at all: no router solicitations or MLD reports through the forwarder.
            ns_exec(ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1")
            real.sh("ip", "-n", ns, "link", "set", "lo", "up")
        real.sh("ip", "link", "add", VETH_CLIENT, "netns", NS_CLIENT, "address", MAC_CLIENT, "mtu", str(real.MTU),
                "type", "veth", "peer", "name", VETH_ROUTER_C, "netns", NS_ROUTER, "address", MAC_ROUTER_C,
                "mtu", str(real.MTU))
        real.sh("ip", "link", "add", VETH_SERVER, "netns", NS_SERVER, "address", MAC_SERVER, "mtu", str(real.MTU),
                "type", "veth", "peer", "name", VETH_ROUTER_S, "netns", NS_ROUTER, "address", MAC_ROUTER_S,
                "mtu", str(real.MTU))
        for ns, dev in INTERFACES:
            ns_exec(ns, sys.executable, str(real.THIS), "--ethtool-off", dev)
            real.sh("ip", "-n", ns, "link", "set", dev, "up")
        real.sh("ip", "-n", NS_CLIENT, "addr", "add", f"{CLIENT4}/24", "dev", VETH_CLIENT)
        real.sh("ip", "-n", NS_SERVER, "addr", "add", f"{SERVER4}/24", "dev", VETH_SERVER)
        # Static neighbours: no ARP, the forwarder only ever carries the test connection.
        real.sh("ip", "-n", NS_CLIENT, "neigh", "replace", SERVER4, "lladdr", MAC_SERVER, "dev", VETH_CLIENT)
        real.sh("ip", "-n", NS_SERVER, "neigh", "replace", CLIENT4, "lladdr", MAC_CLIENT, "dev", VETH_SERVER)
        time.sleep(0.3)
        yield
    finally:
        delete_namespaces()


INTERFACES = ((NS_CLIENT, VETH_CLIENT), (NS_ROUTER, VETH_ROUTER_C), (NS_ROUTER, VETH_ROUTER_S),
              (NS_SERVER, VETH_SERVER))


def offload_features() -> dict[str, dict[str, str]]:
    """The offload features ethtool reads on every interface (empty without the ethtool binary)."""
    if shutil.which("ethtool") is None:
        return {}
    wanted = ("tx-checksumming", "tx-tcp-segmentation", "tx-tcp6-segmentation", "generic-segmentation-offload",
              "generic-receive-offload", "rx-gro-list")
    result = {}
    for ns, dev in INTERFACES:
        lines = ns_exec(ns, "ethtool", "-k", dev).stdout.splitlines()
        features = dict(line.strip().split(": ", 1) for line in lines if ": " in line)
        result[dev] = {name: features.get(name, "?") for name in wanted}
    return result


def tcp_counters(ns: str) -> dict[str, dict[str, int]]:
    """Every Tcp (/proc/net/snmp) and TcpExt (/proc/net/netstat) counter of ``ns``."""
    counters = {}
    for path, prefix in (("/proc/net/snmp", "Tcp:"), ("/proc/net/netstat", "TcpExt:")):
        names, values = [line.split()[1:] for line in ns_exec(ns, "cat", path).stdout.splitlines()
                         if line.startswith(prefix)]
        counters[prefix.rstrip(":")] = {n: int(v) for n, v in zip(names, values, strict=True)}
    return counters


def interface_drops() -> dict[str, dict[str, int]]:
    """RX/TX dropped of every veth end (a frame lost where neither capture nor log sees it)."""
    result = {}
    for ns, dev in INTERFACES:
        stats = json.loads(real.sh("ip", "-n", ns, "-s", "-j", "link", "show", dev).stdout)[0]["stats64"]
        result[dev] = {"rx_dropped": stats["rx"]["dropped"], "tx_dropped": stats["tx"]["dropped"]}
    return result


def qdisc_stats(dev: str) -> dict:
    (q,) = [q for q in json.loads(ns_exec(NS_ROUTER, "tc", "-s", "-j", "qdisc", "show", "dev", dev).stdout)
            if q.get("root")]
    return {key: q.get(key) for key in ("kind", "options", "bytes", "packets", "drops", "overlimits", "requeues",
                                        "backlog", "qlen")}


def wait_until_closed(port: int, timeout_s: float = 15.0) -> None:
    """Wait until no socket on ``port`` is in a state that may still send (TIME-WAIT is quiet)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        busy = [line for ns in (NS_CLIENT, NS_SERVER)
                for line in ns_exec(ns, "ss", "-Htan", f"( sport = :{port} or dport = :{port} )").stdout.splitlines()
                if not line.startswith("TIME-WAIT")]
        if not busy:
            return
        time.sleep(0.1)
    raise RuntimeError(f"connections on port {port} still open after {timeout_s} s: {busy}")


# --------------------------------------------------------------------------- capture


@contextmanager
def tcpdump(ns: str, dev: str, path: Path, filt: str):
    """Headers-only tcpdump on ``dev`` in ``ns``; yields a dict filled with its statistics."""
    # --immediate-mode: packets still in libpcap's buffer at SIGINT are otherwise lost.
    proc = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", dev, "-s", str(SNAPLEN),
                             "-B", str(CAPTURE_BUFFER_KIB), "-w", str(path), "-U", "--immediate-mode", "-n", filt],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    real.wait_for_line(proc, proc.stderr, "listening on")
    stats: dict = {}
    try:
        yield stats
    finally:
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
        proc.wait(timeout=10)
        for key in ("captured", "received by filter", "dropped by kernel"):
            found = re.search(rf"^(\d+) packets? {key}$", err, re.MULTILINE)
            stats[f"packets_{key.replace(' ', '_')}"] = int(found.group(1)) if found else None
        stats["stderr_lines"] = [line for line in err.splitlines() if "packet" in line]


@contextmanager
def forwarder(impairment: dict, seed: str):
    """The forwarder in the router namespace; yields a dict filled with its report."""
    params = {"impairment": impairment, "seed": seed}
    proc = subprocess.Popen(["ip", "netns", "exec", NS_ROUTER, sys.executable, str(THIS), "--forwarder",
                             json.dumps(params)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        real.wait_for_line(proc, proc.stdout, "READY")
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}; forwarder stderr: {proc.stderr.read()}") from None
    report: dict = {}
    try:
        yield report
    finally:
        out, err = proc.communicate(input="", timeout=10)  # end of stdin stops it
        if proc.returncode != 0:
            raise RuntimeError(f"forwarder failed ({proc.returncode}): {err}")
        report.update(json.loads(out.strip().splitlines()[-1]))


def spawn(ns: str, role: str, params: dict) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(THIS), "--role", role,
                             "--params", json.dumps(params)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_programs(params: dict) -> tuple[dict, dict]:
    """make_stream_samples' request/response programs: server in its namespace, then the client."""
    server = spawn(NS_SERVER, "server", params)
    try:
        real.wait_for_line(server, server.stdout, "READY")
        client = real.finish(spawn(NS_CLIENT, "client", params), timeout=90)
        return real.finish(server, timeout=30), client
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


# ------------------------------------------------------------------------- scenarios


@dataclass
class Scenario:
    """One run: the request/response turns, who sends the data, and what the router does."""

    name: str
    port: int
    description: str
    turns: list[list[int]]
    impairment: dict
    sender: str = "client"
    qdisc: list[str] = field(default_factory=list)  # tc qdisc arguments on the router's veth toward the server
    require: dict = field(default_factory=dict)  # measured name -> at least this many (0: none at all)

    @property
    def receiver(self) -> str:
        return "server" if self.sender == "client" else "client"


UPLOAD = [[400_000, 64]]
TAIL_ROUNDS = [
    {"request_bytes": 300, "response_bytes": 60_000, "drop_last_segments": 1, "copies": 1},
    {"request_bytes": 300, "response_bytes": 45_000, "drop_last_segments": 2, "copies": 1},
    {"request_bytes": 300, "response_bytes": 70_000, "drop_last_segments": 1, "copies": 2},
    {"request_bytes": 300, "response_bytes": 50_000, "drop_last_segments": 3, "copies": 1},
    {"request_bytes": 300, "response_bytes": 40_000, "drop_last_segments": 0, "copies": 0},
]
TBF = ["tbf", "rate", "20mbit", "burst", "4500", "limit", "12000"]

SCENARIOS = [
    Scenario("random", 5301, "400 KB upload, 2.5 % of the client's data segments dropped at random in the router; "
             "clean close (client FIN first)",
             UPLOAD, {"kind": "random", "drop": 0.025, "applies_to": "client -> server frames with TCP payload"},
             require={"forwarder_drops": 1}),
    Scenario("tail", 5302, "five request/response rounds on one connection; the router drops the last 1, 2, 1 "
             "(and its first retransmission) and 3 segments of the first four responses once: tail loss "
             "recovered by tail loss probe and RTO",
             [[r["request_bytes"], r["response_bytes"]] for r in TAIL_ROUNDS],
             {"kind": "tail", "rounds": TAIL_ROUNDS, "segment_bytes": SEGMENT_BYTES,
              "applies_to": "server -> client frames with TCP payload; a round's last drop_last_segments "
                            "segments are dropped the first `copies` times they pass"},
             sender="server", require={"forwarder_drops": 1, "tail_probe_or_timeout": 1}),
    Scenario("congestion", 5303, "400 KB upload through a 20 Mbit/s tbf bottleneck with a 12000-byte queue on the "
             "router's veth toward the server: the sender's window growth overflows the queue",
             UPLOAD, {"kind": "none", "qdisc": " ".join(TBF),
                      "applies_to": "every frame the router sends toward the server"},
             qdisc=TBF, require={"qdisc_drops": 1}),
    Scenario("reorder", 5304, "400 KB upload; the router holds 6 % of the client's data segments back until 1-3 "
             "later data segments have passed (at most 4 ms); nothing is dropped",
             UPLOAD, {"kind": "reorder", "reorder": 0.06, "depth": [1, 3], "max_hold_ms": 4,
                      "applies_to": "client -> server frames with TCP payload"},
             require={"reordered": 1, "no_drops": 0}),
    Scenario("syn", 5305, "the client's first SYN is dropped in the router, the retransmitted SYN passes; "
             "then a 100 KB upload, clean close",
             [[100_000, 64]], {"kind": "syn", "applies_to": "the first client SYN"},
             require={"forwarder_drops": 1, "sender_retrans_segs": 1}),
]
CLOSE = {"first_closer": "orig", "orig_close": "fin", "resp_close": "fin"}
# The counters a retransmission count is checked against (sender) and what loss does at the receiver.
KEY_COUNTERS = {
    "sender": ("RetransSegs", "OutSegs", "TCPLossProbes", "TCPLossProbeRecovery", "TCPTimeouts", "TCPSynRetrans",
               "TCPFastRetrans", "TCPSlowStartRetrans", "TCPLostRetransmit", "TCPSackRecovery", "TCPSACKReorder",
               "TCPTSReorder", "TCPDSACKRecv", "TCPDSACKRecvSegs", "TCPDSACKUndo", "TCPLossUndo", "TCPFullUndo",
               "TCPPartialUndo", "TCPSpuriousRTOs", "TCPSpuriousRtxHostQueues", "TCPRetransFail"),
    "receiver": ("InSegs", "OutSegs", "RetransSegs", "TCPOFOQueue", "TCPOFODrop", "TCPOFOMerge", "TCPDSACKOldSent",
                 "TCPDSACKOfoSent"),
}


class CaptureLost(RuntimeError):
    """A frame went missing outside the impairment (tcpdump, a socket or a veth queue): run again."""


def run_once(sc: Scenario, tmp: Path) -> dict:
    """One run in fresh namespaces: captures in ``tmp``, and everything measured."""
    params = {"name": f"real-loss-{sc.name}", "seed": SEED, "program": "turns", "port": sc.port,
              "family": int(socket.AF_INET), "server_addr": SERVER4, "connections": 1, "turns": sc.turns}
    vantage = {sc.sender: "sender", sc.receiver: "receiver"}
    where = {"client": (NS_CLIENT, VETH_CLIENT), "server": (NS_SERVER, VETH_SERVER)}
    filt = f"tcp port {sc.port}"
    with line_of_namespaces():
        if sc.qdisc:
            ns_exec(NS_ROUTER, "tc", "qdisc", "replace", "dev", VETH_ROUTER_S, "root", *sc.qdisc)
        offloads = offload_features()
        sysctls = {ns: {key: ns_exec(ns, "sysctl", "-n", key).stdout.strip() for key in SYSCTLS}
                   for ns in (NS_CLIENT, NS_SERVER)}
        captures = {}
        with ExitStack() as stack:
            fwd = stack.enter_context(forwarder(sc.impairment, f"{SEED}/{sc.name}/router"))
            for side in ("client", "server"):
                ns, dev = where[side]
                path = tmp / f"real-loss-{sc.name}-{vantage[side]}.pcap"
                captures[side] = {"file": path.name, "vantage": vantage[side], "namespace": ns, "interface": dev,
                                  "side": side, "snaplen": SNAPLEN, "filter": filt,
                                  "tcpdump": stack.enter_context(tcpdump(ns, dev, path, filt))}
            time.sleep(0.3)
            started = time.monotonic()
            server, client = run_programs(params)
            took = time.monotonic() - started
            wait_until_closed(sc.port)
            time.sleep(0.3)
            counters = {"client": tcp_counters(NS_CLIENT), "server": tcp_counters(NS_SERVER)}
            router_counters = tcp_counters(NS_ROUTER)
        qdisc = qdisc_stats(VETH_ROUTER_S) if sc.qdisc else None
        drops = interface_drops()
    lost = [f"tcpdump {c['namespace']}: {c['tcpdump']['packets_dropped_by_kernel']} dropped by kernel"
            for c in captures.values() if c["tcpdump"]["packets_dropped_by_kernel"] != 0]
    lost += [f"forwarder socket {d}: {s['socket_drops']} dropped"
             for d, s in fwd["receive_sockets"].items() if s["socket_drops"]]
    lost += [f"{dev}: {d}" for dev, d in drops.items() if d["rx_dropped"] or d["tx_dropped"]]
    if lost:
        raise CaptureLost("; ".join(lost))
    if router_counters["Tcp"]["InSegs"] or router_counters["Tcp"]["OutSegs"]:
        raise RuntimeError(f"the router namespace did TCP: {router_counters['Tcp']}")
    return {"server": server, "client": client, "took": took, "captures": captures, "counters": counters,
            "forwarder": fwd, "qdisc": qdisc, "interface_drops": drops, "offloads": offloads, "sysctls": sysctls}


def check(sc: Scenario, run: dict, counts: dict[str, dict]) -> None:
    """Stop with an error if the scenario did not produce what it is for."""
    fwd, sender = run["forwarder"], run["counters"][sc.sender]
    measured = {
        "forwarder_drops": sum(s["dropped"] for s in fwd["per_direction"].values()),
        "qdisc_drops": (run["qdisc"] or {}).get("drops", 0),
        "reordered": sum(s["reordered"] for s in fwd["per_direction"].values()),
        "no_drops": len(fwd["dropped"]) + (run["qdisc"] or {}).get("drops", 0),
        "tail_probe_or_timeout": sender["TcpExt"]["TCPLossProbes"] + sender["TcpExt"]["TCPTimeouts"],
        "sender_retrans_segs": sender["Tcp"]["RetransSegs"],
    }
    problems = [f"{key}: want {'0' if want == 0 else f'>= {want}'}, got {measured[key]}"
                for key, want in sc.require.items()
                if (want == 0 and measured[key] != 0) or (want and measured[key] < want)]
    if sc.name == "tail":
        want = sum(r["drop_last_segments"] * r["copies"] for r in TAIL_ROUNDS)
        if measured["forwarder_drops"] != want:
            problems.append(f"tail: {measured['forwarder_drops']} segments dropped, want {want} "
                            f"(responses not cut into {SEGMENT_BYTES}-byte segments?)")
    if sc.qdisc and measured["qdisc_drops"] != sum(s["send_failed"] for s in fwd["per_direction"].values()):
        problems.append(f"tbf dropped {measured['qdisc_drops']}, the forwarder saw "
                        f"{sum(s['send_failed'] for s in fwd['per_direction'].values())} ENOBUFS")
    for file, c in counts.items():
        if c["frames_over_1514_bytes"]:
            problems.append(f"{file}: {c['frames_over_1514_bytes']} frames over 1514 bytes (offload still on?)")
    if problems:
        raise RuntimeError(f"real-loss-{sc.name}: " + "; ".join(problems))


def record(sc: Scenario) -> dict:
    """Run one scenario (again if a capture lost a frame); write both captures and the JSON."""
    for attempt in range(1, ATTEMPTS + 1):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                run = run_once(sc, Path(tmp))
            except CaptureLost as exc:
                print(f"real-loss-{sc.name}: attempt {attempt}: {exc}; again", file=sys.stderr)
                continue
            captures = sorted(run["captures"].values(), key=lambda c: c["vantage"] != "sender")
            counts = {c["file"]: stream.tshark_counts(Path(tmp) / c["file"]) for c in captures}
            check(sc, run, counts)  # before the files replace the committed ones
            for c in captures:
                shutil.copyfile(Path(tmp) / c["file"], OUT_DIR / c["file"])
        break
    else:
        raise RuntimeError(f"real-loss-{sc.name}: frames lost outside the impairment in {ATTEMPTS} attempts")
    flat = {side: {**c["Tcp"], **c["TcpExt"]} for side, c in run["counters"].items()}
    key_counters = {role: {"side": side, **{name: flat[side][name] for name in KEY_COUNTERS[role]}}
                    for role, side in (("sender", sc.sender), ("receiver", sc.receiver))}
    fwd = run["forwarder"]
    expected = {
        "scenario": sc.name,
        "description": sc.description,
        "made_by": f"scripts/make_loss_samples.py {sc.name}",
        "files": [c["file"] for c in captures],
        "topology": {
            "client": {"namespace": NS_CLIENT, "interface": VETH_CLIENT, "addr": CLIENT4, "mac": MAC_CLIENT},
            "router": {"namespace": NS_ROUTER, "interfaces": [VETH_ROUTER_C, VETH_ROUTER_S],
                       "what": "userspace forwarder (AF_PACKET) copying Ethernet frames between its two veth "
                               "ends; no addresses, no kernel forwarding"},
            "server": {"namespace": NS_SERVER, "interface": VETH_SERVER, "addr": SERVER4, "mac": MAC_SERVER,
                       "port": sc.port},
            "sender": sc.sender, "receiver": sc.receiver,
            "impairment_at": (f"router: tbf qdisc on {VETH_ROUTER_S} (toward the server)" if sc.qdisc
                              else "router: the forwarder"),
            "mtu": real.MTU, "segment_bytes": SEGMENT_BYTES,
            "offloads": "tx checksum, TSO, GSO, GRO off on all four veth ends (ethtool ioctls)",
            "offload_features": run["offloads"],
            "sysctls": run["sysctls"],
            "fresh_namespaces": "created for this scenario: the counters below are absolute counts",
        },
        "impairment": {**sc.impairment, "seed": f"{SEED}/{sc.name}/router"},
        "impairment_did": {
            "dropped_by_direction": {d: sum(1 for x in fwd["dropped"] if x["direction"] == d)
                                     for d in ("orig", "resp")},
            "forwarder": fwd["per_direction"],
            "forwarder_receive_sockets": fwd["receive_sockets"],
            "dropped": fwd["dropped"],
            "reordered": fwd["reordered"],
            "qdisc": run["qdisc"],
            "interface_drops": run["interface_drops"],
            "notes": ("orig = client -> server. rel_seq counts from the direction's ISN (a SYN is 0, the first "
                      "data byte 1); copy is how many times the forwarder had already seen that sequence number "
                      "(0: first transmission). reason qdisc_full: tbf refused the frame (send() got ENOBUFS)."),
        },
        "captures": [{k: v for k, v in c.items() if k != "side"} for c in captures],
        "connections": [{**row, **CLOSE} for row in stream.connection_rows(run["server"], run["client"])],
        "programs": {"client": run["client"], "server": run["server"]},
        "transfer_s": round(run["took"], 3),
        "kernel_counters": run["counters"],
        "key_counters": key_counters,
        "tshark_observed": {"reader": "tshark 4.0; Wireshark's heuristics, not ground truth",
                            **{file: {"capinfos": stream.capinfos(OUT_DIR / file), "counts": c}
                               for file, c in counts.items()}},
        "notes": ("kernel_counters are the Tcp (/proc/net/snmp) and TcpExt (/proc/net/netstat) counters of the "
                  "client and server namespaces, read after the connection closed (only TIME-WAIT left) and "
                  "before the captures stopped; the router namespace sends and receives no TCP (checked). Every "
                  "frame is one segment (no TSO/GSO), so the sender's RetransSegs is the number of its segments "
                  "in the sender-vantage capture that re-send sequence space (SYN, data, FIN) sent before, and "
                  "OutSegs + RetransSegs is the number of segments it sent (Linux leaves retransmissions out of "
                  "OutSegs). key_counters repeats the counters that matter here, for the sender and the receiver. "
                  "Ports, ISNs, timing and the drop pattern change at every regeneration; the application bytes "
                  "and their sha256 do not."),
    }
    (EXPECTED_DIR / f"real-loss-{sc.name}.json").write_text(json.dumps(expected, indent=2) + "\n")
    return expected


# ------------------------------------------------------------------------------ main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("only", nargs="*", help=f"scenarios to run: {', '.join(sc.name for sc in SCENARIOS)}")
    ap.add_argument("--role", choices=["server", "client"], help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    ap.add_argument("--forwarder", metavar="PARAMS", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.forwarder:
        forwarder_main(json.loads(args.forwarder))
        return
    if args.role:
        fn = stream.server_main if args.role == "server" else stream.client_main
        print(json.dumps(fn(json.loads(args.params))), flush=True)
        return
    if os.geteuid() != 0:
        sys.exit("make_loss_samples.py needs root (network namespaces and packet capture)")
    for tool in ("ip", "tc", "ss", "tcpdump", "tshark", "capinfos"):
        if shutil.which(tool) is None:
            sys.exit(f"make_loss_samples.py needs {tool} on PATH")
    unknown = set(args.only) - {sc.name for sc in SCENARIOS}
    if unknown:
        sys.exit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    chosen = [sc for sc in SCENARIOS if not args.only or sc.name in args.only]
    EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
    for sc in chosen:
        expected = record(sc)
        k = expected["key_counters"]["sender"]
        sizes = " ".join(f"{(OUT_DIR / f).stat().st_size:6d}" for f in expected["files"])
        print(f"real-loss-{sc.name:10s} bytes {sizes}  RetransSegs {k['RetransSegs']:3d}  "
              f"TLP {k['TCPLossProbes']:2d}  RTO {k['TCPTimeouts']:2d}  "
              f"dropped {sum(expected['impairment_did']['dropped_by_direction'].values()):3d}  "
              f"{expected['transfer_s']:.1f} s")
    total = sum(p.stat().st_size for p in OUT_DIR.glob("real-loss-*.pcap"))
    if total > MAX_TOTAL_BYTES:
        sys.exit(f"real-loss-*.pcap total {total} bytes, over the {MAX_TOTAL_BYTES} limit")


if __name__ == "__main__":
    main()
