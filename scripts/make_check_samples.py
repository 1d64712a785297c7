#!/usr/bin/env python3
"""Capture the same real traffic twice, once clean and once with 5 % packet loss, into
sample_pcaps/check-clean.pcap and sample_pcaps/check-lossy.pcap (for `tcpanalyze check
--baseline`).

Run as root from the repository root:

    python scripts/make_check_samples.py

Three network namespaces in a line: client -- bridge -- server, joined by two veth pairs
(MTU 1500, offloads off). The bridge namespace runs a small userspace forwarder that copies
Ethernet frames between its two veth ends through AF_PACKET sockets. For the lossy capture
it drops each client->server frame with probability 5 % (seeded: the n-th frame's fate is
the same every run), which is what `tc qdisc add dev <client veth> root netem loss 5%`
would do; sch_netem and iptables are not available on the machine these were made on, so
the loss is injected in userspace instead. tcpdump captures headers only (snaplen 96) on
the client's veth, so every frame the client sent is in the file, dropped or not, followed
by its retransmission.

The workload is the same both times: CONNECTIONS sequential connections, each uploading
UPLOAD_BYTES and reading back REPLY_BYTES, client closes first. What the programs did and
what the forwarder dropped go to sample_pcaps/expected/check-<clean|lossy>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
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
import make_real_samples as real  # noqa: E402  (helpers shared with the real-* samples)

THIS = Path(__file__).resolve()
NS_CLIENT, NS_BRIDGE, NS_SERVER = "tcpc-client", "tcpc-bridge", "tcpc-server"
VETH_CLIENT, VETH_BRIDGE_C = "vtc-cli", "vtc-bc"
VETH_BRIDGE_S, VETH_SERVER = "vtc-bs", "vtc-srv"
MAC_CLIENT, MAC_SERVER = "02:78:00:00:00:01", "02:78:00:00:00:02"
CLIENT4, SERVER4 = "10.78.0.1", "10.78.0.2"
PORT = 5201

CONNECTIONS = 6
UPLOAD_BYTES = 96 * 1024
REPLY_BYTES = 4 * 1024
LOSS = 0.05
LOSS_SEED = 7
SNAPLEN = 96

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


# ----------------------------------------------------------------- the lossy forwarder


def tcp_summary(frame: bytes) -> dict | None:
    """Ports, seq, flags and payload length of an Ethernet/IPv4/TCP frame (None otherwise)."""
    if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0F) * 4
    total = struct.unpack_from("!H", frame, 16)[0]
    tcp = 14 + ihl
    sport, dport, seq = struct.unpack_from("!HHI", frame, tcp)
    data_offset = (frame[tcp + 12] >> 4) * 4
    return {"src_port": sport, "dst_port": dport, "seq_raw": seq, "tcp_flags": frame[tcp + 13],
            "payload_len": total - ihl - data_offset}


def forward(loss: float, seed: int) -> None:
    """Copy frames between the bridge's veth ends until SIGTERM; drop client->server frames
    with probability ``loss``. Prints READY, then at the end one JSON line of what it did."""
    rng = random.Random(seed)
    socks = {}
    for dev in (VETH_BRIDGE_C, VETH_BRIDGE_S):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((dev, 0))
        socks[dev] = s
    peer = {VETH_BRIDGE_C: socks[VETH_BRIDGE_S], VETH_BRIDGE_S: socks[VETH_BRIDGE_C]}
    stats = {"forwarded": {"to_server": 0, "to_client": 0}, "dropped_frames": []}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    print("READY", flush=True)
    while not stop:
        try:
            ready, _, _ = select.select(list(socks.values()), [], [], 0.1)
        except InterruptedError:
            continue
        for dev, s in socks.items():
            if s not in ready:
                continue
            frame, addr = s.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:  # our own copy going out of this end
                continue
            to_server = dev == VETH_BRIDGE_C
            if to_server and rng.random() < loss:
                stats["dropped_frames"].append(tcp_summary(frame) or {"non_tcp_bytes": len(frame)})
                continue
            peer[dev].send(frame)
            stats["forwarded"]["to_server" if to_server else "to_client"] += 1
    print(json.dumps(stats), flush=True)


# ------------------------------------------------------------------- the workload


def server(p: dict) -> dict:
    srv = real.listen(socket.AF_INET, SERVER4, PORT)
    conns = []
    for i in range(p["connections"]):
        conn, _ = srv.accept()
        ep = real.endpoint(conn)
        request = real.recv_exact(conn, p["upload_bytes"])
        reply = real.payload(f"check/server/{i}", p["reply_bytes"])
        conn.sendall(reply)
        real.recv_until_eof(conn)
        conn.close()
        conns.append({"endpoint": ep, "received": real.direction(f"client/{i}", request),
                      "sent": real.direction(f"server/{i}", reply)})
    srv.close()
    return {"connections": conns}


def client(p: dict) -> dict:
    conns = []
    for i in range(p["connections"]):
        cli = real.connect(socket.AF_INET, SERVER4, PORT)
        ep = real.endpoint(cli)
        upload = real.payload(f"check/client/{i}", p["upload_bytes"])
        cli.sendall(upload)
        reply = real.recv_exact(cli, p["reply_bytes"])
        cli.close()
        conns.append({"endpoint": ep, "sent": real.direction(f"client/{i}", upload),
                      "received": real.direction(f"server/{i}", reply)})
        time.sleep(0.05)
    return {"connections": conns}


ROLES = {"server": server, "client": client}


# -------------------------------------------------------------- namespaces and capture


def delete_namespaces() -> None:
    for ns in (NS_CLIENT, NS_BRIDGE, NS_SERVER):
        real.sh("ip", "netns", "del", ns, check=False)


@contextmanager
def line_of_namespaces():
    """client -- bridge -- server; the bridge ends carry no address, only the forwarder."""
    delete_namespaces()
    try:
        for ns in (NS_CLIENT, NS_BRIDGE, NS_SERVER):
            real.sh("ip", "netns", "add", ns)
            real.sh("ip", "-n", ns, "link", "set", "lo", "up")
        real.sh("ip", "link", "add", VETH_CLIENT, "netns", NS_CLIENT, "address", MAC_CLIENT, "mtu", str(real.MTU),
                "type", "veth", "peer", "name", VETH_BRIDGE_C, "netns", NS_BRIDGE, "mtu", str(real.MTU))
        real.sh("ip", "link", "add", VETH_SERVER, "netns", NS_SERVER, "address", MAC_SERVER, "mtu", str(real.MTU),
                "type", "veth", "peer", "name", VETH_BRIDGE_S, "netns", NS_BRIDGE, "mtu", str(real.MTU))
        for ns, dev in ((NS_CLIENT, VETH_CLIENT), (NS_BRIDGE, VETH_BRIDGE_C), (NS_BRIDGE, VETH_BRIDGE_S),
                        (NS_SERVER, VETH_SERVER)):
            real.sh("ip", "netns", "exec", ns, sys.executable, str(real.THIS), "--ethtool-off", dev)
            real.sh("ip", "-n", ns, "link", "set", dev, "up")
        real.sh("ip", "-n", NS_CLIENT, "addr", "add", f"{CLIENT4}/24", "dev", VETH_CLIENT)
        real.sh("ip", "-n", NS_SERVER, "addr", "add", f"{SERVER4}/24", "dev", VETH_SERVER)
        real.sh("ip", "-n", NS_CLIENT, "neigh", "replace", SERVER4, "lladdr", MAC_SERVER, "dev", VETH_CLIENT)
        real.sh("ip", "-n", NS_SERVER, "neigh", "replace", CLIENT4, "lladdr", MAC_CLIENT, "dev", VETH_SERVER)
        time.sleep(0.5)
        yield
    finally:
        delete_namespaces()


def spawn(ns: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(THIS), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@contextmanager
def tcpdump(path: Path):
    proc = subprocess.Popen(["ip", "netns", "exec", NS_CLIENT, "tcpdump", "-i", VETH_CLIENT, "-s", str(SNAPLEN),
                             "-w", str(path), "-U", "--immediate-mode", "-n", f"tcp port {PORT}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    real.wait_for_line(proc, proc.stderr, "listening on")
    time.sleep(0.3)
    try:
        yield
    finally:
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def record(name: str, loss: float) -> dict:
    """Run the workload through the forwarder with ``loss``; write the capture and its JSON."""
    file = f"check-{name}.pcap"
    params = {"connections": CONNECTIONS, "upload_bytes": UPLOAD_BYTES, "reply_bytes": REPLY_BYTES}
    bridge = spawn(NS_BRIDGE, "--forward", str(loss))
    real.wait_for_line(bridge, bridge.stdout, "READY")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp) / file
        with tcpdump(tmp_path):
            srv = spawn(NS_SERVER, "--role", "server", "--params", json.dumps(params))
            real.wait_for_line(srv, srv.stdout, "READY")
            cli = spawn(NS_CLIENT, "--role", "client", "--params", json.dumps(params))
            client_result, server_result = real.finish(cli, 120), real.finish(srv, 30)
        bridge.send_signal(signal.SIGTERM)
        out, err = bridge.communicate(timeout=10)
        forwarder = json.loads(out.strip().splitlines()[-1])
        (real.OUT_DIR / file).write_bytes(tmp_path.read_bytes())
    path = real.OUT_DIR / file
    dropped = forwarder["dropped_frames"]
    expected = {
        "file": file,
        "made_by": "scripts/make_check_samples.py",
        "capture": {"tool": "tcpdump", "namespace": NS_CLIENT, "interface": VETH_CLIENT,
                    "filter": f"tcp port {PORT}", "snaplen": SNAPLEN, "link_type": "EN10MB (1)",
                    "note": "headers only, captured on the client side of the lossy forwarder"},
        "parameters": {**params, "loss": loss, "loss_seed": LOSS_SEED,
                       "loss_direction": "client -> server frames"},
        "connections": real.connections("many-short-conns", server_result, client_result),
        "forwarder": {"forwarded": forwarder["forwarded"], "dropped": len(dropped),
                      "dropped_data_segments": sum(1 for f in dropped if f.get("payload_len", 0) > 0),
                      "dropped_frames": dropped},
        "tshark_observed": real.read_back(path),
    }
    (real.EXPECTED_DIR / f"check-{name}.json").write_text(json.dumps(expected, indent=2) + "\n")
    return expected


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", choices=list(ROLES), help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    ap.add_argument("--forward", type=float, metavar="LOSS", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.forward is not None:
        forward(args.forward, LOSS_SEED)
        return
    if args.role:
        result = ROLES[args.role](json.loads(args.params))
        print(json.dumps(result), flush=True)
        return
    if os.geteuid() != 0:
        sys.exit("make_check_samples.py needs root (network namespaces and packet capture)")
    with line_of_namespaces():
        for name, loss in (("clean", 0.0), ("lossy", LOSS)):
            expected = record(name, loss)
            counts = expected["tshark_observed"]["counts"]
            size = (real.OUT_DIR / expected["file"]).stat().st_size
            print(f"{expected['file']:20s} {counts['packets']:5d} packets {size:7d} bytes, "
                  f"{counts['retransmission']} retransmissions (tshark), "
                  f"{expected['forwarder']['dropped']} frames dropped")


if __name__ == "__main__":
    main()
