#!/usr/bin/env python3
"""Capture a real NFLOG trace (LINKTYPE_NFLOG, 239) into sample_pcaps/real-nflog.pcap.

Run as root from the repository root (needs nft and tcpdump):

    python scripts/make_nflog_sample.py

In a fresh network namespace, an nftables rule logs every TCP packet to or from port 5301 to
netfilter log group 5, and ``tcpdump -i nflog:5`` writes what the kernel logs: each record
is an NFLOG message (family, attributes: prefix, hardware info, timestamps, the packet).
Over the namespace's loopback a real client sends 3000 bytes and the server answers 6000,
once over IPv4 (127.0.0.1) and once over IPv6 (::1); the client closes first. The
namespace, its rules and the processes go when the script ends. Not run in CI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "sample_pcaps" / "real-nflog.pcap"
PORT, GROUP = 5301, 5
REQUEST, REPLY = 3000, 6000
RULES = f"""
table inet tcpanalyze {{
    chain out {{
        type filter hook output priority 0;
        tcp dport {PORT} log group {GROUP} queue-threshold 1
        tcp sport {PORT} log group {GROUP} queue-threshold 1
    }}
}}
"""


def exchange(family: int, address: str) -> None:
    """One connection: the client sends REQUEST bytes, the server answers REPLY, the client closes."""
    server = socket.socket(family)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((address, PORT))
    server.listen()

    def serve() -> None:
        conn, _ = server.accept()
        got = 0
        while got < REQUEST:
            got += len(conn.recv(65536))
        conn.sendall(b"s" * REPLY)
        while conn.recv(65536):
            pass
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    client = socket.create_connection((address, PORT))
    client.sendall(b"c" * REQUEST)
    got = 0
    while got < REPLY:
        got += len(client.recv(65536))
    client.close()
    thread.join()
    server.close()


def in_namespace() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["nft", "-f", "-"], input=RULES.encode(), check=True)
    tcpdump = subprocess.Popen(["tcpdump", "-i", f"nflog:{GROUP}", "-U", "-w", str(OUT)], stderr=subprocess.PIPE)
    time.sleep(1)  # tcpdump is listening
    exchange(socket.AF_INET, "127.0.0.1")
    time.sleep(0.2)
    exchange(socket.AF_INET6, "::1")
    time.sleep(3)  # the kernel hands log messages over in batches: let the last one arrive
    tcpdump.terminate()
    tcpdump.wait()
    OUT.chmod(0o644)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("run as root: it makes a network namespace with nftables rules")
    if len(sys.argv) > 1 and sys.argv[1] == "--inside":
        in_namespace()
        return
    subprocess.run(["unshare", "--net", sys.executable, __file__, "--inside"], check=True)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
