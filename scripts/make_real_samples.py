#!/usr/bin/env python3
"""Capture real TCP sessions between two network namespaces into sample_pcaps/real-*.

Run as root from the repository root:

    python scripts/make_real_samples.py            # every scenario
    python scripts/make_real_samples.py zero-window keepalive   # just these

Each scenario runs a real Python socket server in one namespace and a real client in the
other; the namespaces are joined by a veth pair with MTU 1500 and segmentation/checksum
offloads turned off, so the capture shows what a wire would: Ethernet frames, 1448-byte
segments, valid checksums. tcpdump (or dumpcap) runs in the server's namespace on its
veth end. What the programs did (bytes and sha256 per direction, who closed and how,
stall and idle times, wall-clock event times in the capture's clock) goes to
``sample_pcaps/expected/real-<name>.json`` together with what tshark reads back.

The namespaces, addresses (10.77.0.0/24, fd77::/64) and the veth pair exist only while
the script runs; they are removed on exit, even after an error. Not run in CI.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import hashlib
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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "sample_pcaps"
EXPECTED_DIR = OUT_DIR / "expected"
THIS = Path(__file__).resolve()

NS_CLIENT = "tcpa-client"
NS_SERVER = "tcpa-server"
VETH_CLIENT = "veth-tcpa-c"
VETH_SERVER = "veth-tcpa-s"
MAC_CLIENT = "02:77:00:00:00:01"
MAC_SERVER = "02:77:00:00:00:02"
CLIENT4, SERVER4 = "10.77.0.1", "10.77.0.2"
CLIENT6, SERVER6 = "fd77::1", "fd77::2"
MTU = 1500

# A capture bigger than this is kept headers-only (editcap -s) instead.
MAX_CAPTURE_BYTES = 400_000
HEADERS_ONLY_SNAPLEN = 96  # Ethernet 14 + IPv4 20 + TCP 32 (timestamps) + 30 bytes of payload

# Legacy ethtool ioctls (linux/ethtool.h); used instead of the ethtool binary, which is
# not always installed. Offloads off means the tap sees wire-sized, checksummed segments.
SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17
ETHTOOL_STSO = 0x1F
ETHTOOL_SGSO = 0x24
ETHTOOL_SGRO = 0x2C


# --------------------------------------------------------------------------- helpers


def payload(tag: str, n: int) -> bytes:
    """Deterministic bytes for one direction of one scenario (same sha256 every run)."""
    return random.Random(tag).randbytes(n)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(65536, n - got))
        if not chunk:
            raise ConnectionError(f"peer closed after {got} of {n} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_until_eof(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def endpoint(sock: socket.socket) -> dict:
    local, peer = sock.getsockname(), sock.getpeername()
    return {"local_addr": local[0], "local_port": local[1], "peer_addr": peer[0], "peer_port": peer[1]}


def direction(tag: str, data: bytes) -> dict:
    return {"bytes": len(data), "sha256": sha256(data), "tag": tag}


def listen(family: int, addr: str, port: int, rcvbuf: int | None = None) -> socket.socket:
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf is not None:
        # Must be set before listen(): the accepted socket inherits it and the window
        # scale is chosen from it during the handshake.
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    srv.bind((addr, port))
    srv.listen(16)
    print("READY", flush=True)
    return srv


def connect(family: int, addr: str, port: int, **sockopts) -> socket.socket:
    cli = socket.socket(family, socket.SOCK_STREAM)
    for (level, opt), value in sockopts.get("opts", {}).items():
        cli.setsockopt(level, opt, value)
    cli.connect((addr, port))
    return cli


# ------------------------------------------------------- scenario programs (server, client)
#
# Each server function gets the parameters and returns a dict of what it did; each client
# function likewise. They run in separate processes in separate namespaces.


def server_graceful_close(p: dict) -> dict:
    srv = listen(p["family"], p["server_addr"], p["port"])
    conn, _ = srv.accept()
    ep = endpoint(conn)
    request = recv_exact(conn, p["request_bytes"])
    reply = payload(p["name"] + "/server", p["reply_bytes"])
    conn.sendall(reply)
    tail = recv_until_eof(conn)  # client closes first
    t_close = time.time_ns()
    conn.close()
    srv.close()
    return {"endpoint": ep, "received": direction("client", request + tail),
            "sent": direction("server", reply), "close": "close() after reading client's FIN",
            "close_ns": t_close}


def client_graceful_close(p: dict) -> dict:
    cli = connect(p["family"], p["server_addr"], p["port"])
    ep = endpoint(cli)
    request = payload(p["name"] + "/client", p["request_bytes"])
    cli.sendall(request)
    reply = recv_exact(cli, p["reply_bytes"])
    t_close = time.time_ns()
    cli.close()
    return {"endpoint": ep, "sent": direction("client", request),
            "received": direction("server", reply), "close": "close() after reading the reply",
            "close_ns": t_close}


def server_half_close(p: dict) -> dict:
    srv = listen(p["family"], p["server_addr"], p["port"])
    conn, _ = srv.accept()
    ep = endpoint(conn)
    request = recv_until_eof(conn)  # returns once the client's FIN arrived
    t_fin_seen = time.time_ns()
    reply = payload(p["name"] + "/server", p["reply_bytes"])
    conn.sendall(reply)
    t_close = time.time_ns()
    conn.close()
    srv.close()
    return {"endpoint": ep, "received": direction("client", request),
            "sent": direction("server", reply), "client_fin_seen_ns": t_fin_seen,
            "close": "sent the whole reply after the client's FIN, then close()",
            "close_ns": t_close}


def client_half_close(p: dict) -> dict:
    cli = connect(p["family"], p["server_addr"], p["port"])
    ep = endpoint(cli)
    request = payload(p["name"] + "/client", p["request_bytes"])
    cli.sendall(request)
    t_shut = time.time_ns()
    cli.shutdown(socket.SHUT_WR)
    reply = recv_until_eof(cli)
    t_close = time.time_ns()
    cli.close()
    return {"endpoint": ep, "sent": direction("client", request),
            "received": direction("server", reply), "shutdown_wr_ns": t_shut,
            "close": "shutdown(SHUT_WR) after the request, close() after the server's FIN",
            "close_ns": t_close}


def server_rst_abort(p: dict) -> dict:
    srv = listen(p["family"], p["server_addr"], p["port"])
    conn, _ = srv.accept()
    ep = endpoint(conn)
    request = recv_exact(conn, p["request_bytes"])
    reply = payload(p["name"] + "/server", p["reply_bytes"])
    conn.sendall(reply)
    time.sleep(0.2)  # let the client read and ACK the reply: the RST then aborts an idle connection
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    t_close = time.time_ns()
    conn.close()
    srv.close()
    return {"endpoint": ep, "received": direction("client", request),
            "sent": direction("server", reply),
            "close": "SO_LINGER (1, 0) then close(): RST", "close_ns": t_close}


def client_rst_abort(p: dict) -> dict:
    cli = connect(p["family"], p["server_addr"], p["port"])
    ep = endpoint(cli)
    request = payload(p["name"] + "/client", p["request_bytes"])
    cli.sendall(request)
    reply = recv_exact(cli, p["reply_bytes"])
    try:
        extra = cli.recv(1)
        outcome = f"recv returned {len(extra)} bytes (expected a reset)"
    except ConnectionResetError as exc:
        outcome = f"recv raised ConnectionResetError errno {exc.errno}"
    cli.close()
    return {"endpoint": ep, "sent": direction("client", request),
            "received": direction("server", reply), "after_reply": outcome,
            "close": "close() after the reset (sends nothing)"}


def client_refused(p: dict) -> dict:
    attempts = []
    for _ in range(p["attempts"]):
        cli = socket.socket(p["family"], socket.SOCK_STREAM)
        t0 = time.time_ns()
        try:
            cli.connect((p["server_addr"], p["port"]))
            attempts.append({"result": "connected (unexpected)"})
        except ConnectionRefusedError as exc:
            local = cli.getsockname()
            attempts.append({"local_addr": local[0], "local_port": local[1],
                             "peer_addr": p["server_addr"], "peer_port": p["port"], "result": "ECONNREFUSED",
                             "errno": exc.errno, "connect_ns": t0})
        cli.close()
        time.sleep(0.2)
    return {"attempts": attempts}


def server_zero_window(p: dict) -> dict:
    srv = listen(p["family"], p["server_addr"], p["port"], rcvbuf=p["server_rcvbuf"])
    conn, _ = srv.accept()
    ep = endpoint(conn)
    rcvbuf = conn.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    head = recv_exact(conn, p["read_before_stall"])
    t_stall = time.time_ns()
    time.sleep(p["stall_s"])  # stop reading: the window closes, the sender probes
    t_resume = time.time_ns()
    rest = recv_until_eof(conn)
    data = head + rest
    ack = b"OK " + sha256(data).encode()
    conn.sendall(ack)
    conn.close()
    srv.close()
    return {"endpoint": ep, "received": direction("client", data), "sent": direction("server", ack),
            "so_rcvbuf_requested": p["server_rcvbuf"], "so_rcvbuf_effective": rcvbuf,
            "stall_start_ns": t_stall, "stall_end_ns": t_resume,
            "stall_s": round((t_resume - t_stall) / 1e9, 6),
            "close": "close() after the client's FIN and a short reply"}


def client_zero_window(p: dict) -> dict:
    cli = connect(p["family"], p["server_addr"], p["port"])
    ep = endpoint(cli)
    data = payload(p["name"] + "/client", p["upload_bytes"])
    t0 = time.time_ns()
    cli.sendall(data)  # blocks while the server's window is closed
    t_sent = time.time_ns()
    cli.shutdown(socket.SHUT_WR)
    ack = recv_until_eof(cli)
    cli.close()
    return {"endpoint": ep, "sent": direction("client", data), "received": direction("server", ack),
            "sendall_s": round((t_sent - t0) / 1e9, 6),
            "close": "shutdown(SHUT_WR) after the upload, close() after the server's FIN"}


def server_keepalive(p: dict) -> dict:
    srv = listen(p["family"], p["server_addr"], p["port"])
    conn, _ = srv.accept()
    ep = endpoint(conn)
    request = recv_exact(conn, p["request_bytes"])
    reply = payload(p["name"] + "/server", p["reply_bytes"])
    conn.sendall(reply)
    tail = recv_until_eof(conn)
    conn.close()
    srv.close()
    return {"endpoint": ep, "received": direction("client", request + tail),
            "sent": direction("server", reply), "close": "close() after the client's FIN"}


def client_keepalive(p: dict) -> dict:
    opts = {(socket.SOL_SOCKET, socket.SO_KEEPALIVE): 1,
            (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE): p["keepidle_s"],
            (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL): p["keepintvl_s"]}
    cli = connect(p["family"], p["server_addr"], p["port"], opts=opts)
    ep = endpoint(cli)
    request = payload(p["name"] + "/client", p["request_bytes"])
    cli.sendall(request)
    reply = recv_exact(cli, p["reply_bytes"])
    t_idle = time.time_ns()
    time.sleep(p["idle_s"])  # nothing to send: the kernel sends keep-alives
    t_close = time.time_ns()
    cli.close()
    return {"endpoint": ep, "sent": direction("client", request),
            "received": direction("server", reply),
            "so_keepalive": 1, "tcp_keepidle_s": p["keepidle_s"], "tcp_keepintvl_s": p["keepintvl_s"],
            "idle_start_ns": t_idle, "idle_end_ns": t_close,
            "idle_s": round((t_close - t_idle) / 1e9, 6), "close": "close() after the idle period"}


def server_many_short_conns(p: dict) -> dict:
    srv = listen(p["family"], p["server_addr"], p["port"])
    conns = []
    for i in range(p["connections"]):
        conn, _ = srv.accept()
        ep = endpoint(conn)
        request = recv_exact(conn, p["request_bytes"])
        reply = payload(f"{p['name']}/server/{i}", p["reply_bytes"])
        conn.sendall(reply)
        recv_until_eof(conn)  # client closes first
        conn.close()
        conns.append({"endpoint": ep, "received": direction(f"client/{i}", request),
                      "sent": direction(f"server/{i}", reply)})
    srv.close()
    return {"connections": conns, "close": "each: close() after the client's FIN"}


def client_many_short_conns(p: dict) -> dict:
    conns = []
    for i in range(p["connections"]):
        cli = connect(p["family"], p["server_addr"], p["port"])
        ep = endpoint(cli)
        request = payload(f"{p['name']}/client/{i}", p["request_bytes"])
        cli.sendall(request)
        reply = recv_exact(cli, p["reply_bytes"])
        cli.close()
        conns.append({"endpoint": ep, "sent": direction(f"client/{i}", request),
                      "received": direction(f"server/{i}", reply)})
        time.sleep(0.02)
    return {"connections": conns, "close": "each: close() after reading the reply (client FIN first)"}


SERVERS = {
    "graceful": server_graceful_close,
    "half-close": server_half_close,
    "rst-abort": server_rst_abort,
    "zero-window": server_zero_window,
    "keepalive": server_keepalive,
    "many-short-conns": server_many_short_conns,
}
CLIENTS = {
    "graceful": client_graceful_close,
    "half-close": client_half_close,
    "rst-abort": client_rst_abort,
    "refused": client_refused,
    "zero-window": client_zero_window,
    "keepalive": client_keepalive,
    "many-short-conns": client_many_short_conns,
}


# ------------------------------------------------------------------ namespaces and capture


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True)


def ethtool_off(dev: str) -> None:
    """Turn off TX checksum, TSO, GSO and GRO on ``dev`` (run inside its namespace)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for cmd in (ETHTOOL_STXCSUM, ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO):
        value = ctypes.create_string_buffer(struct.pack("II", cmd, 0))
        ifreq = struct.pack("16sP", dev.encode(), ctypes.addressof(value)).ljust(40, b"\0")
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    sock.close()


def delete_namespaces() -> None:
    for ns in (NS_CLIENT, NS_SERVER):
        sh("ip", "netns", "del", ns, check=False)


@contextmanager
def veth_namespaces():
    """Two namespaces joined by a veth pair; removed on exit whatever happens."""
    delete_namespaces()
    try:
        sh("ip", "netns", "add", NS_CLIENT)
        sh("ip", "netns", "add", NS_SERVER)
        sh("ip", "link", "add", VETH_CLIENT, "netns", NS_CLIENT, "address", MAC_CLIENT, "mtu", str(MTU),
           "type", "veth", "peer", "name", VETH_SERVER, "netns", NS_SERVER, "address", MAC_SERVER,
           "mtu", str(MTU))
        for ns, dev, a4, a6 in ((NS_CLIENT, VETH_CLIENT, CLIENT4, CLIENT6),
                                (NS_SERVER, VETH_SERVER, SERVER4, SERVER6)):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", f"{a4}/24", "dev", dev)
            sh("ip", "-n", ns, "addr", "add", f"{a6}/64", "dev", dev, "nodad")
            sh("ip", "netns", "exec", ns, sys.executable, str(THIS), "--ethtool-off", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        # Static neighbours: no ARP/ND exchange at the start of the first connection.
        sh("ip", "-n", NS_CLIENT, "neigh", "replace", SERVER4, "lladdr", MAC_SERVER, "dev", VETH_CLIENT)
        sh("ip", "-n", NS_SERVER, "neigh", "replace", CLIENT4, "lladdr", MAC_CLIENT, "dev", VETH_SERVER)
        sh("ip", "-n", NS_CLIENT, "neigh", "replace", SERVER6, "lladdr", MAC_SERVER, "dev", VETH_CLIENT)
        sh("ip", "-n", NS_SERVER, "neigh", "replace", CLIENT6, "lladdr", MAC_CLIENT, "dev", VETH_SERVER)
        time.sleep(0.5)
        yield
    finally:
        delete_namespaces()


def wait_for_line(proc: subprocess.Popen, stream, needle: str, timeout: float = 10.0) -> str:
    """Read ``stream`` until a line containing ``needle``; return what was read."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            line = stream.readline()
            if not line:
                break
            seen.append(line)
            if needle in line:
                return "".join(seen)
    proc.kill()
    raise RuntimeError(f"{proc.args[:6]} never printed {needle!r}: {''.join(seen)!r}")


@contextmanager
def capture(path: Path, tool: str, filt: str, ifaces: list[str]):
    """tcpdump (one interface) or dumpcap (one or more) in the server namespace."""
    if tool == "tcpdump":
        (iface,) = ifaces
        # --immediate-mode: without it packets still in libpcap's TPACKET_V3 block when
        # SIGINT arrives (up to one block timeout, 1 s) are lost.
        cmd = ["tcpdump", "-i", iface, "-w", str(path), "-U", "--immediate-mode", "-n", filt]
        needle = "listening on"
    else:
        cmd = ["dumpcap", "-q"]
        for iface in ifaces:
            cmd += ["-i", iface, "-f", filt]
        cmd += ["-w", str(path)]
        needle = "Capturing on"
    proc = subprocess.Popen(["ip", "netns", "exec", NS_SERVER, *cmd],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_line(proc, proc.stderr, needle)
    time.sleep(0.3)
    try:
        yield
    finally:
        time.sleep(1.5)  # longer than libpcap's 1 s block timeout (dumpcap has no immediate mode)
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
        proc.wait(timeout=10)
    dropped = re.search(r"^(\d+) packets dropped by kernel", err, re.M)
    if dropped and int(dropped.group(1)):
        raise RuntimeError(f"{tool} dropped packets: {err}")


def spawn(ns: str, role: str, params: dict) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(THIS),
                             "--role", role, "--params", json.dumps(params)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 60.0) -> dict:
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{proc.args[-3]} failed ({proc.returncode}): {err}")
    return json.loads(out.strip().splitlines()[-1])


def run_programs(params: dict, server_ns: str = NS_SERVER, client_ns: str = NS_CLIENT) -> tuple[dict, dict]:
    """Start the scenario's server (if any), wait until it listens, run the client."""
    server = None
    if params["scenario"] in SERVERS:
        server = spawn(server_ns, "server", params)
        wait_for_line(server, server.stdout, "READY")
    try:
        client = spawn(client_ns, "client", params)
        client_result = finish(client)
        server_result = finish(server) if server else {"note": "no listener on this port"}
    finally:
        if server and server.poll() is None:  # the client failed: don't leave the server waiting
            server.kill()
            server.wait()
    return server_result, client_result


# ----------------------------------------------------------------------- reading it back


def tshark_fields(path: Path, fields: list[str], display_filter: str = "") -> list[list[str]]:
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    if display_filter:
        cmd += ["-Y", display_filter]
    out = sh(*cmd).stdout
    return [line.split("\t") for line in out.splitlines()]


def tshark_count(path: Path, display_filter: str) -> int:
    return len(tshark_fields(path, ["frame.number"], display_filter))


TSHARK_COUNTS = {
    "packets": "",
    "syn": "tcp.flags.syn==1 && tcp.flags.ack==0",
    "syn_ack": "tcp.flags.syn==1 && tcp.flags.ack==1",
    "fin": "tcp.flags.fin==1",
    "rst": "tcp.flags.reset==1",
    "zero_window": "tcp.analysis.zero_window",
    "zero_window_probe": "tcp.analysis.zero_window_probe",
    "zero_window_probe_ack": "tcp.analysis.zero_window_probe_ack",
    "window_full": "tcp.analysis.window_full",
    "window_update": "tcp.analysis.window_update",
    "keep_alive": "tcp.analysis.keep_alive",
    "keep_alive_ack": "tcp.analysis.keep_alive_ack",
    "retransmission": "tcp.analysis.retransmission",
    "duplicate_ack": "tcp.analysis.duplicate_ack",
    "frames_over_1514_bytes": "frame.len > 1514",
    "bad_tcp_checksum": "tcp.checksum.status == 0",
}


def read_back(path: Path) -> dict:
    """What capinfos/tshark (4.0) see in the file: a check, not the truth."""
    info = sh("capinfos", "-M", "-c", "-E", "-t", "-l", "-s", str(path)).stdout
    facts = {}
    for line in info.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in {"File type", "File encapsulation", "Number of packets", "Packet size limit",
                           "File size"}:
            facts[key.strip()] = value.strip()
    counts = {name: tshark_count(path, f) for name, f in TSHARK_COUNTS.items()}
    # tshark only verifies checksums when asked to.
    # Loopback frames legitimately carry checksums the kernel never filled in
    # (CHECKSUM_PARTIAL); only the veth frames must all be valid.
    cmd = ["tshark", "-n", "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-Y", "tcp.checksum.status==0",
           "-T", "fields", "-e", "frame.interface_name"]
    bad = sh(*cmd).stdout.split()
    counts["bad_tcp_checksum"] = sum(1 for name in bad if name != "lo")
    counts["bad_tcp_checksum_on_lo"] = sum(1 for name in bad if name == "lo")
    convs = sh("tshark", "-n", "-r", str(path), "-q", "-z", "conv,tcp").stdout
    counts["tcp_conversations"] = sum(1 for line in convs.splitlines() if "<->" in line)
    return {"reader": "tshark 4.0 / capinfos; Wireshark's heuristics, not ground truth",
            "capinfos": facts, "counts": counts}


def make_headers_only(path: Path) -> None:
    tmp = path.with_suffix(".full" + path.suffix)
    path.rename(tmp)
    sh("editcap", "-F", "pcap", "-s", str(HEADERS_ONLY_SNAPLEN), str(tmp), str(path))
    tmp.unlink()


# ------------------------------------------------------------------------------ scenarios


@dataclass
class Scenario:
    """One capture: which programs run with which parameters, and what it is for."""

    file: str
    program: str
    port: int
    description: str
    family: int = socket.AF_INET
    params: dict | None = None
    tool: str = "tcpdump"
    require: dict | None = None  # tshark counts: at least this many (0: none at all)
    evidence: dict | None = None  # name -> display filter; the frames must exist and are recorded
    notes: str = ""

    @property
    def name(self) -> str:
        return self.file.split(".")[0]


SCENARIOS = [
    Scenario("real-graceful-close.pcap", "graceful", 5101,
             "client sends a 4 KiB request, server replies 200 KiB; client closes (FIN), then server",
             params={"request_bytes": 4096, "reply_bytes": 200 * 1024},
             require={"fin": 2, "rst": 0, "syn": 1}),
    Scenario("real-half-close.pcap", "half-close", 5102,
             "client sends 8 KiB then shutdown(SHUT_WR); server sends 100 KiB after the client's FIN, then closes",
             params={"request_bytes": 8192, "reply_bytes": 100 * 1024},
             require={"fin": 2, "rst": 0}),
    Scenario("real-rst-abort.pcap", "rst-abort", 5103,
             "10 KiB each way, then the server sets SO_LINGER (1, 0) and closes: RST from the server",
             params={"request_bytes": 10 * 1024, "reply_bytes": 10 * 1024},
             require={"rst": 1, "fin": 0},
             evidence={"rst": "tcp.flags.reset == 1"}),
    Scenario("real-refused.pcap", "refused", 5104,
             "two connects to a port with no listener; each SYN is answered with RST,ACK",
             params={"attempts": 2}, require={"syn": 2, "rst": 2}),
    Scenario("real-zero-window.pcap", "zero-window", 5105,
             "server (SO_RCVBUF 4096 before listen) stops reading for 1.5 s while the client uploads 2 MiB",
             params={"server_rcvbuf": 4096, "upload_bytes": 2 * 1024 * 1024,
                     "read_before_stall": 64 * 1024, "stall_s": 1.5},
             require={"zero_window": 1},
             evidence={"zero_window_adverts": "tcp.analysis.zero_window",
                       "zero_window_probes": "tcp.srcport != 5105 && tcp.len == 0 && tcp.analysis.keep_alive",
                       "window_reopened": "tcp.srcport == 5105 && tcp.analysis.window_update"},
             notes=("Linux probes a zero window with seq = SND.UNA - 1 and no data "
                    "(tcp_xmit_probe_skb); Wireshark 4.0 labels those tcp.analysis.keep_alive, "
                    "not zero_window_probe (which wants one byte at the next sequence number). "
                    "They are listed under evidence.zero_window_probes.")),
    Scenario("real-keepalive.pcap", "keepalive", 5106,
             "client with SO_KEEPALIVE, TCP_KEEPIDLE=1, TCP_KEEPINTVL=1 idles 3.5 s after one exchange, then closes",
             params={"request_bytes": 512, "reply_bytes": 2048, "keepidle_s": 1, "keepintvl_s": 1,
                     "idle_s": 3.5},
             require={"keep_alive": 2, "keep_alive_ack": 2, "fin": 2},
             evidence={"keep_alives": "tcp.analysis.keep_alive",
                       "keep_alive_acks": "tcp.analysis.keep_alive_ack"}),
    Scenario("real-ipv6-transfer.pcap", "graceful", 5107,
             "IPv6 (fd77::1 -> fd77::2): 50 KiB request, 50 KiB reply, client closes then server",
             family=socket.AF_INET6, params={"request_bytes": 50 * 1024, "reply_bytes": 50 * 1024},
             require={"fin": 2, "rst": 0}),
    Scenario("real-many-short-conns.pcap", "many-short-conns", 5108,
             "20 sequential connections to one server port: 200-byte request, 1 KiB reply, client closes first",
             params={"connections": 20, "request_bytes": 200, "reply_bytes": 1024},
             require={"syn": 20, "fin": 40, "tcp_conversations": 20}),
    Scenario("real-pcapng-dumpcap.pcapng", "graceful", 5109,
             "dumpcap on two interfaces (veth and the namespace's loopback): the same 2 KiB/30 KiB "
             "exchange over the veth (IPv4) and over ::1 inside the server namespace",
             params={"request_bytes": 2048, "reply_bytes": 30 * 1024}, tool="dumpcap",
             require={"syn": 2, "fin": 4}),
]


# How each program ends its connections: who closes first and with what, per side.
CLOSES = {
    "graceful": {"first_closer": "orig", "orig_close": "fin", "resp_close": "fin"},
    "half-close": {"first_closer": "orig", "orig_close": "fin", "resp_close": "fin",
                   "half_close": "orig shutdown(SHUT_WR); resp keeps sending after the orig FIN"},
    "rst-abort": {"first_closer": "resp", "orig_close": "none", "resp_close": "rst"},
    "refused": {"first_closer": "resp", "orig_close": "none", "resp_close": "rst",
                "refused": "RST,ACK answers the SYN; no listener"},
    "zero-window": {"first_closer": "orig", "orig_close": "fin", "resp_close": "fin"},
    "keepalive": {"first_closer": "orig", "orig_close": "fin", "resp_close": "fin"},
    "many-short-conns": {"first_closer": "orig", "orig_close": "fin", "resp_close": "fin"},
}


def connections(program: str, server: dict, client: dict) -> list[dict]:
    """One flat row per TCP connection, in orig_/resp_ terms (orig = the client)."""
    if program == "refused":
        return [{"orig_addr": a["local_addr"], "orig_port": a["local_port"],
                 "resp_addr": a["peer_addr"], "resp_port": a["peer_port"],
                 "orig_bytes": 0, "resp_bytes": 0, **CLOSES[program]} for a in client["attempts"]]
    pairs = (zip(server["connections"], client["connections"]) if "connections" in client
             else [(server, client)])
    rows = []
    for srv, cli in pairs:
        ep = cli["endpoint"]
        if srv["received"]["sha256"] != cli["sent"]["sha256"] or srv["sent"]["sha256"] != cli["received"]["sha256"]:
            raise RuntimeError(f"{program}: bytes sent and received differ")
        rows.append({"orig_addr": ep["local_addr"], "orig_port": ep["local_port"],
                     "resp_addr": ep["peer_addr"], "resp_port": ep["peer_port"],
                     "orig_bytes": cli["sent"]["bytes"], "orig_sha256": cli["sent"]["sha256"],
                     "resp_bytes": srv["sent"]["bytes"], "resp_sha256": srv["sent"]["sha256"],
                     **CLOSES[program]})
    return rows


def addresses(family: int) -> tuple[str, str]:
    return (CLIENT6, SERVER6) if family == socket.AF_INET6 else (CLIENT4, SERVER4)


def record(sc: Scenario) -> dict:
    """Run one scenario under capture; write its file and its expected JSON."""
    path = OUT_DIR / sc.file
    path.unlink(missing_ok=True)
    client_addr, server_addr = addresses(sc.family)
    params = {"name": sc.name, "scenario": sc.program, "port": sc.port, "family": int(sc.family),
              "server_addr": server_addr, **(sc.params or {})}
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        # dumpcap runs as root here but writes through a child; a world-writable dir keeps it happy.
        os.chmod(tmp, 0o777)
        tmp_path = Path(tmp) / sc.file
        ifaces = [VETH_SERVER, "lo"] if sc.tool == "dumpcap" else [VETH_SERVER]
        with capture(tmp_path, sc.tool, f"tcp port {sc.port}", ifaces):
            server, client = run_programs(params)
            runs.append({"path": f"{client_addr} -> {server_addr} over veth",
                         "server": server, "client": client})
            if sc.tool == "dumpcap":
                lo = {**params, "family": int(socket.AF_INET6), "server_addr": "::1"}
                server, client = run_programs(lo, client_ns=NS_SERVER)
                runs.append({"path": "::1 -> ::1 over lo in the server namespace",
                             "server": server, "client": client})
        shutil.copyfile(tmp_path, path)
    headers_only = path.stat().st_size > MAX_CAPTURE_BYTES
    if headers_only:
        make_headers_only(path)
    observed = read_back(path)
    check(sc, observed["counts"])
    evidence = {}
    for key, filt in (sc.evidence or {}).items():
        rows = tshark_fields(path, ["frame.number", "frame.time_epoch"], filt)
        if not rows:
            raise RuntimeError(f"{sc.file}: no frame matches {key} ({filt})")
        evidence[key] = {"display_filter": filt, "frames": [int(r[0]) for r in rows]}
    expected = {
        "file": sc.file,
        "made_by": f"scripts/make_real_samples.py scenario {sc.program!r}",
        "capture": {"tool": sc.tool, "namespace": NS_SERVER, "interfaces": ifaces,
                    "filter": f"tcp port {sc.port}", "link_type": "EN10MB (1)", "mtu": MTU,
                    "offloads": "tx checksum, TSO, GSO, GRO off on both veth ends",
                    "headers_only": headers_only,
                    "snaplen": HEADERS_ONLY_SNAPLEN if headers_only else 262144,
                    "note": ("captured in full, then cut with editcap -s "
                             f"{HEADERS_ONLY_SNAPLEN} to stay small: payload bytes are not in the file"
                             if headers_only else "full packets")},
        "description": sc.description,
        "server_port": sc.port,
        "client_addr": client_addr,
        "server_addr": server_addr,
        "parameters": sc.params,
        "connections": [row for run in runs
                        for row in connections(sc.program, run["server"], run["client"])],
        "programs": runs,
        "tshark_observed": observed,
    }
    if evidence:
        expected["evidence"] = evidence
    if sc.notes:
        expected["notes"] = sc.notes
    (EXPECTED_DIR / f"{sc.name}.json").write_text(json.dumps(expected, indent=2) + "\n")
    return expected


def check(sc: Scenario, counts: dict) -> None:
    problems = []
    for key, want in (sc.require or {}).items():
        got = counts[key]
        if (want == 0 and got != 0) or (want and got < want):
            problems.append(f"{key}: want {'0' if want == 0 else f'>= {want}'}, got {got}")
    if counts["frames_over_1514_bytes"] and sc.tool != "dumpcap":
        problems.append(f"{counts['frames_over_1514_bytes']} frames exceed the 1500 MTU (offload still on?)")
    if counts["bad_tcp_checksum"]:
        problems.append(f"{counts['bad_tcp_checksum']} bad TCP checksums (offload still on?)")
    if problems:
        raise RuntimeError(f"{sc.file}: " + "; ".join(problems))


# ---------------------------------------------------------------------------------- main


def child_main(role: str, params: dict) -> None:
    fn = (SERVERS if role == "server" else CLIENTS)[params["scenario"]]
    result = fn(params)
    print(json.dumps(result), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("only", nargs="*", help="scenario names (file stems without 'real-') to run")
    ap.add_argument("--role", choices=["server", "client"], help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    ap.add_argument("--ethtool-off", metavar="DEV", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ethtool_off:
        ethtool_off(args.ethtool_off)
        return
    if args.role:
        child_main(args.role, json.loads(args.params))
        return
    if os.geteuid() != 0:
        sys.exit("make_real_samples.py needs root (network namespaces and packet capture)")
    for tool in ("ip", "tcpdump", "dumpcap", "editcap", "capinfos", "tshark"):
        if shutil.which(tool) is None:
            sys.exit(f"make_real_samples.py needs {tool} on PATH")
    EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
    chosen = [sc for sc in SCENARIOS if not args.only or sc.name.removeprefix("real-") in args.only]
    if not chosen:
        sys.exit(f"no scenario matches {args.only}")
    with veth_namespaces():
        for sc in chosen:
            expected = record(sc)
            counts = expected["tshark_observed"]["counts"]
            size = (OUT_DIR / sc.file).stat().st_size
            print(f"{sc.file:32s} {counts['packets']:5d} packets {size:8d} bytes"
                  f"{'  (headers only)' if expected['capture']['headers_only'] else ''}")


if __name__ == "__main__":
    main()
