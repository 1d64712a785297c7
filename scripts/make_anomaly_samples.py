#!/usr/bin/env python3
"""Capture real stacks misbehaving into sample_pcaps/anomaly-real-*.pcap (for tcpanalyze.detect).

Run as root from the repository root:

    python scripts/make_anomaly_samples.py               # every scenario
    python scripts/make_anomaly_samples.py backlog       # just this one

Same setup as make_real_samples.py (whose helpers it reuses): two network namespaces joined
by a veth pair (MTU 1500, offloads off), real Python socket programs, tcpdump in the server
namespace. Its own namespace and link names (tcpa-anom-*) and addresses (10.78.0.0/24) let
it run beside the other sample scripts. Captures keep headers only (snaplen 96): detection
reads no payload. What the programs did goes to sample_pcaps/expected/anomaly-real-<name>.json.

Scenarios:
  backlog       a listener with listen(4) that never calls accept(); 10 clients connect at once
                (non-blocking connect()s back to back) and 4 more 0.5 s later, each sending
                100 bytes once connected: the first 5 handshakes fill the accept queue
                (backlog + 1), then Linux drops every further SYN and the clients retry them
                every second while the listener answers nobody. On a veth the client's ACK
                reaches the listener before the next SYN, so the other form of overflow
                (handshake ACK dropped, SYN-ACK retransmitted) does not appear here;
                build_anomaly_samples.py builds that one by hand.
  rst-midtransfer  the server streams 300 KiB; the client reads 20 KiB, then closes with
                SO_LINGER (1, 0): a RST while the server's data is in flight
  refused       12 connects, 0.1 s apart, to a port with no listener: RST,ACK each
  retrans-storm a 300 KiB reply while nftables in the client namespace drops 15 % of the
                server's data segments on arrival, at random: the server retransmits (needs
                nft: apt-get install nftables)
  connect-scan  connect() to 40 consecutive ports, 3 of them listening; an open port is
                closed at once with SO_LINGER (1, 0), as nmap's connect scan does
"""

from __future__ import annotations

import argparse
import json
import os
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_real_samples as real

THIS = Path(__file__).resolve()
OUT_DIR, EXPECTED_DIR = real.OUT_DIR, real.EXPECTED_DIR
NS_CLIENT, NS_SERVER = "tcpa-anom-c", "tcpa-anom-s"
VETH_CLIENT, VETH_SERVER = "veth-anom-c", "veth-anom-s"
MAC_CLIENT, MAC_SERVER = "02:78:00:00:00:01", "02:78:00:00:00:02"
CLIENT, SERVER = "10.78.0.1", "10.78.0.2"
SNAPLEN = 96
LINGER_ZERO = struct.pack("ii", 1, 0)


# ------------------------------------------------------- scenario programs (server, client)


def server_backlog(p: dict) -> dict:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((p["server_addr"], p["port"]))
    srv.listen(p["backlog"])
    print("READY", flush=True)
    time.sleep(p["hold_s"])  # never accept()
    srv.close()
    return {"backlog": p["backlog"], "accepted": 0, "held_s": p["hold_s"]}


def client_backlog(p: dict) -> dict:
    """Each wave's connect()s are issued back to back, non-blocking, so that all its SYNs reach
    the listener before any handshake ACK: the SYNs are accepted, the ACKs overflow the queue."""
    socks: list[socket.socket] = []
    for wave, size in enumerate(p["waves"]):
        if wave:
            time.sleep(p["wave_gap_s"])
        for _ in range(size):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((p["server_addr"], p["port"]))
            socks.append(s)
    deadline = time.time() + p["connect_timeout_s"]
    pending = set(range(len(socks)))
    results = {}
    while pending and time.time() < deadline:
        _, writable, _ = select.select([], [socks[k] for k in pending], [], 0.1)
        for s in writable:
            k = socks.index(s)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                s.send(b"x" * p["request_bytes"])
            results[k] = {"client": k, "local_port": s.getsockname()[1], "connected": err == 0,
                          "connected_after_s": round(p["connect_timeout_s"] - (deadline - time.time()), 3),
                          "sent": p["request_bytes"] if err == 0 else 0}
            pending.discard(k)
    for k in pending:
        results[k] = {"client": k, "local_port": socks[k].getsockname()[1], "connected": False}
    time.sleep(max(deadline - time.time(), 0))
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)  # end quietly: RST
        s.close()
    return {"clients": [results[k] for k in sorted(results)]}


def server_rst_midtransfer(p: dict) -> dict:
    srv = real.listen(socket.AF_INET, p["server_addr"], p["port"])
    conn, _ = srv.accept()
    sent = 0
    chunk = real.payload("anomaly-rst-midtransfer", 16384)
    try:
        while sent < p["reply_bytes"]:
            sent += conn.send(chunk)
    except OSError as exc:
        error = exc.strerror
    else:
        error = None
    conn.close()
    return {"sent_bytes": sent, "error": error}


def client_rst_midtransfer(p: dict) -> dict:
    cli = real.connect(socket.AF_INET, p["server_addr"], p["port"])
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    got = len(real.recv_exact(cli, p["read_bytes"]))
    time.sleep(0.05)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)
    ep = real.endpoint(cli)
    cli.close()
    return {"endpoint": ep, "read_bytes": got, "close": "SO_LINGER (1, 0) with unread data: RST"}


def client_refused(p: dict) -> dict:
    attempts = []
    for _ in range(p["attempts"]):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.connect((p["server_addr"], p["port"]))
            attempts.append({"local_port": s.getsockname()[1], "result": "connected"})
        except ConnectionRefusedError:
            attempts.append({"local_port": s.getsockname()[1], "result": "refused"})
        s.close()
        time.sleep(p["gap_s"])
    return {"attempts": attempts}


def server_connect_scan(p: dict) -> dict:
    listeners = []
    for port in p["open_ports"]:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((p["server_addr"], port))
        srv.listen(8)
        listeners.append(srv)
    print("READY", flush=True)
    time.sleep(p["hold_s"])
    for srv in listeners:
        srv.close()
    return {"open_ports": p["open_ports"]}


def client_connect_scan(p: dict) -> dict:
    found = {}
    for port in range(p["first_port"], p["first_port"] + p["ports"]):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1.0)
        try:
            s.connect((p["server_addr"], port))
            found[port] = "open"
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)
        except ConnectionRefusedError:
            found[port] = "refused"
        except OSError as exc:
            found[port] = exc.strerror or "error"
        s.close()
        time.sleep(p["gap_s"])
    return {"ports": found}


# Loss for the retransmission storm: nftables in the client namespace drops a share of the
# server's data segments on arrival, at random, after the capture (on the server's veth end)
# saw them. (Dropping on the server's output instead makes the send fail locally: Linux sends
# the segment again later as if for the first time, and the capture shows no loss.)
LOSS_TABLE = "tcpa_anomaly_loss"


def loss_rules(port: int, percent: int) -> list[list[str]]:
    return [["nft", "add", "table", "inet", LOSS_TABLE],
            ["nft", "add", "chain", "inet", LOSS_TABLE, "in", "{ type filter hook input priority 0; }"],
            ["nft", "add", "rule", "inet", LOSS_TABLE, "in", "tcp", "sport", str(port), "meta", "length", "gt", "200",
             "numgen", "random", "mod", "100", "lt", str(percent), "drop"]]


SCENARIOS = {
    "backlog": {"port": 6001, "server": server_backlog, "client": client_backlog,
                "params": {"backlog": 4, "waves": [10, 4], "wave_gap_s": 0.5, "request_bytes": 100, "hold_s": 9.0,
                           "connect_timeout_s": 7.0},
                "description": "listen(4), never accept(); 10 clients connect at once, 4 more 0.5 s later; "
                               "each sends 100 bytes once connected; all reset after 7 s"},
    "rst-midtransfer": {"port": 6002, "server": server_rst_midtransfer, "client": client_rst_midtransfer,
                        "params": {"reply_bytes": 300 * 1024, "read_bytes": 20 * 1024},
                        "description": "server streams 300 KiB; client reads 20 KiB then closes with "
                                       "SO_LINGER (1, 0): RST from the client mid-transfer"},
    "refused": {"port": 6003, "server": None, "client": client_refused,
                "params": {"attempts": 12, "gap_s": 0.1},
                "description": "12 connects 0.1 s apart to a port with no listener"},
    "retrans-storm": {"port": 6004, "server": real.server_graceful_close, "client": real.client_graceful_close,
                      "params": {"family": int(socket.AF_INET), "name": "anomaly-retrans-storm",
                                 "request_bytes": 200, "reply_bytes": 300 * 1024, "loss_percent": 15},
                      "loss": True,
                      "description": "client sends 200 bytes, server replies 300 KiB and the client closes first; "
                                     "nftables in the client namespace drops 15 % of the server's data "
                                     "segments on arrival (after the capture saw them)"},
    "connect-scan": {"port": 6010, "server": server_connect_scan, "client": client_connect_scan,
                     "params": {"first_port": 6000, "ports": 40, "open_ports": [6010, 6020, 6030],
                                "gap_s": 0.02, "hold_s": 4.0},
                     "description": "connect() to ports 6000-6039 in turn; 6010, 6020, 6030 listen and are "
                                    "closed at once with SO_LINGER (1, 0)"},
}


# ------------------------------------------------------------------------- namespaces, capture


def delete_namespaces() -> None:
    for ns in (NS_CLIENT, NS_SERVER):
        real.sh("ip", "netns", "del", ns, check=False)


@contextmanager
def veth_namespaces():
    """Two namespaces joined by a veth pair; removed on exit whatever happens."""
    delete_namespaces()
    try:
        real.sh("ip", "netns", "add", NS_CLIENT)
        real.sh("ip", "netns", "add", NS_SERVER)
        real.sh("ip", "link", "add", VETH_CLIENT, "netns", NS_CLIENT, "address", MAC_CLIENT, "mtu", "1500",
                "type", "veth", "peer", "name", VETH_SERVER, "netns", NS_SERVER, "address", MAC_SERVER, "mtu", "1500")
        for ns, dev, addr in ((NS_CLIENT, VETH_CLIENT, CLIENT), (NS_SERVER, VETH_SERVER, SERVER)):
            real.sh("ip", "-n", ns, "link", "set", "lo", "up")
            real.sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            real.sh("ip", "netns", "exec", ns, sys.executable, str(real.THIS), "--ethtool-off", dev)
            real.sh("ip", "-n", ns, "link", "set", dev, "up")
        real.sh("ip", "-n", NS_CLIENT, "neigh", "replace", SERVER, "lladdr", MAC_SERVER, "dev", VETH_CLIENT)
        real.sh("ip", "-n", NS_SERVER, "neigh", "replace", CLIENT, "lladdr", MAC_CLIENT, "dev", VETH_SERVER)
        time.sleep(0.5)
        yield
    finally:
        delete_namespaces()


@contextmanager
def capture(path: Path, filt: str):
    """tcpdump on the server's veth end, headers only."""
    cmd = ["tcpdump", "-i", VETH_SERVER, "-s", str(SNAPLEN), "-w", str(path), "-U", "--immediate-mode", "-n", filt]
    proc = subprocess.Popen(["ip", "netns", "exec", NS_SERVER, *cmd],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    real.wait_for_line(proc, proc.stderr, "listening on")
    time.sleep(0.3)
    try:
        yield
    finally:
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        proc.stderr.read()
        proc.wait(timeout=10)


def spawn(ns: str, role: str, name: str, params: dict) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(THIS), "--role", role,
                             "--scenario", name, "--params", json.dumps(params)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(name: str) -> dict:
    sc = SCENARIOS[name]
    params = {"server_addr": SERVER, "port": sc["port"], **sc["params"]}
    file = f"anomaly-real-{name}.pcap"
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp) / file
        ports = (f"portrange {params['first_port']}-{params['first_port'] + params['ports'] - 1}"
                 if name == "connect-scan" else f"port {sc['port']}")
        if sc.get("loss"):
            for rule in loss_rules(sc["port"], params["loss_percent"]):
                real.sh("ip", "netns", "exec", NS_CLIENT, *rule)
        with capture(tmp_path, f"tcp {ports}"):
            server = None
            if sc["server"]:
                server = spawn(NS_SERVER, "server", name, params)
                real.wait_for_line(server, server.stdout, "READY")
            try:
                client_result = real.finish(spawn(NS_CLIENT, "client", name, params))
                server_result = real.finish(server) if server else {"note": "no listener on this port"}
            finally:
                if server and server.poll() is None:
                    server.kill()
                    server.wait()
        if sc.get("loss"):
            real.sh("ip", "netns", "exec", NS_CLIENT, "nft", "delete", "table", "inet", LOSS_TABLE)
        shutil.copyfile(tmp_path, OUT_DIR / file)
    expected = {
        "file": file, "made_by": f"scripts/make_anomaly_samples.py {name}",
        "capture": {"tool": "tcpdump", "namespace": NS_SERVER, "interface": VETH_SERVER, "snaplen": SNAPLEN,
                    "headers_only": True, "link_type": "EN10MB (1)", "filter": f"tcp {ports}"},
        "description": sc["description"], "client_addr": CLIENT, "server_addr": SERVER,
        "parameters": sc["params"], "programs": {"server": server_result, "client": client_result},
        "tshark_observed": real.read_back(OUT_DIR / file),
    }
    (EXPECTED_DIR / f"anomaly-real-{name}.json").write_text(json.dumps(expected, indent=2) + "\n")
    return expected


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("only", nargs="*", help=f"scenarios to run: {', '.join(SCENARIOS)}")
    ap.add_argument("--role", choices=["server", "client"], help=argparse.SUPPRESS)
    ap.add_argument("--scenario", help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role:
        result = SCENARIOS[args.scenario][args.role](json.loads(args.params))
        print(json.dumps(result), flush=True)
        return
    if os.geteuid() != 0:
        sys.exit("make_anomaly_samples.py needs root (network namespaces and packet capture)")
    for tool in ("ip", "tcpdump", "tshark", "capinfos", "nft"):
        if shutil.which(tool) is None:
            sys.exit(f"make_anomaly_samples.py needs {tool} on PATH")
    chosen = args.only or list(SCENARIOS)
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        sys.exit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    with veth_namespaces():
        for name in chosen:
            expected = run(name)
            counts = expected["tshark_observed"]["counts"]
            print(f"anomaly-real-{name}.pcap: {counts['packets']} packets, {counts['syn']} SYN, "
                  f"{counts['syn_ack']} SYN-ACK, {counts['rst']} RST, {counts['retransmission']} retransmissions")


if __name__ == "__main__":
    main()
