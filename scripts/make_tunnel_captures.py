#!/usr/bin/env python3
"""Capture real TCP sessions carried through tunnels into sample_pcaps/real-tunnel-*.pcap.

Run as root from the repository root:

    python scripts/make_tunnel_captures.py              # every capture
    python scripts/make_tunnel_captures.py gre vxlan    # just these (file names without "real-tunnel-")

For each capture three network namespaces are made afresh: tt-a (tunnel end A, the client),
tt-m (the underlay's middle) and tt-b (tunnel end B, the server), joined by two veth pairs
(MTU 1500, TX checksum, TSO, GSO and GRO off). In tt-m a userspace bridge copies Ethernet
frames between its two veth ends and drops a seeded fraction (LOSS_RATE) of the frames long
enough to carry TCP data (DATA_FRAME_MIN), and always the FORCED_DROP-th of them each way:
the loss is on the underlay, below the tunnel.

Each tunnel end is Linux's own device when ``ip link add ... type <kind>`` works on this
kernel (vxlan, geneve, gre, gretap, ip6gre, erspan, ipip, sit, ip6tnl), and otherwise a
userspace endpoint: this script with ``--endpoint``, holding a TUN (layer-3 tunnels) or TAP
(layer-2 tunnels) device and an underlay socket (raw IP for GRE/IP-in-IP, UDP for the UDP
tunnels), wrapping and unwrapping packets as scripts/tunnel_encaps.py writes them (Linux's
and the standards' formats). GTP-U, Teredo and AYIYA have no Linux device that ``ip link``
can drive and are always userspace. Two captures stack or multiply tunnels: ``vxlan-in-gre``
(Linux vxlan whose underlay is the GRE tunnel) and ``vxlan-two-tenants`` (two VNIs whose
devices live in four more namespaces, both tenants using the same inner addresses and ports).
PBB and VN-Tag have no tunnel device: the gretap run also captures its TAP device in tt-a
(the inner Ethernet frames of the same real sessions) and those frames are rewritten with an
802.1ah B-TAG/I-TAG or a VN-Tag inserted.

tcpdump captures in tt-a on its underlay veth (full frames; ARP, plain ICMPv6 and hop-by-hop
(MLD) frames of the underlay itself filtered out). The sessions are real Python socket programs:
a transfer (UPLOAD_BYTES up, DOWNLOAD_BYTES down, the client closes first, FIN both ways) and
an abort (ABORT_BYTES each way, then the server resets with SO_LINGER 0). What they sent and
received, the tunnel chain and how each end was made, the bridge's drops and what tshark reads
back go to ``sample_pcaps/expected/real-tunnel-<name>.json``. The namespaces are removed on
exit, even after an error. Not run in CI.
"""

from __future__ import annotations

import argparse
import fcntl
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
import termios
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import dpkt

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_loss_samples as loss  # noqa: E402  (AF_PACKET constants of its bridge)
import make_real_samples as real  # noqa: E402  (payloads, socket helpers, ethtool, tshark read-back)
import tunnel_encaps as enc  # noqa: E402

THIS = Path(__file__).resolve()
OUT_DIR, EXPECTED_DIR = real.OUT_DIR, real.EXPECTED_DIR
NS_A, NS_M, NS_B = "tt-a", "tt-m", "tt-b"
VETH_A, VETH_MA, VETH_MB, VETH_B = "tt-a0", "tt-ma", "tt-mb", "tt-b0"
MAC_A, MAC_B = "02:80:00:00:00:01", "02:80:00:00:00:02"
MAC_MA, MAC_MB = "02:80:00:00:01:01", "02:80:00:00:01:02"
INNER_MAC_A, INNER_MAC_B = "02:80:00:00:0a:01", "02:80:00:00:0a:02"
UNDER4 = ("192.0.2.1", "192.0.2.2")
UNDER6 = ("2001:db8:80::a", "2001:db8:80::b")
INNER4 = ("10.80.0.1", "10.80.0.2")
INNER6 = ("fd80::1", "fd80::2")
UNDERLAY_MTU = 1500
TUNNEL_DEV = "tt-t0"

LOSS_RATE = 0.02
# Also always dropped: this data frame of each direction, so that every capture shows loss
# (a few dozen data frames at 2 % can all pass).
FORCED_DROP = 10
# Frames at least this long carry TCP data (a data-less segment through any tunnel here is
# under 200 bytes): only those are dropped, so handshakes, ACKs, FINs and RSTs all pass.
DATA_FRAME_MIN = 600
UPLOAD_BYTES, DOWNLOAD_BYTES, ABORT_BYTES = 24 * 1024, 48 * 1024, 4 * 1024
TRANSFER_PORT, ABORT_PORT, TENANT_CLIENT_PORT = 5201, 5202, 40100
# MLD reports and the like follow a new address for about a second; capture after that.
SETTLE_S = 3.0
CAPTURE_FILTER = "not arp and not icmp6 and not ip6 proto 0"
CAPTURE_BUFFER_KIB = 16384
MAX_TOTAL_BYTES = 2_000_000

TUNSETIFF, IFF_TUN, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0001, 0x0002, 0x1000
SIOCOUTQ = termios.TIOCOUTQ  # unsent plus unacknowledged bytes of a TCP socket (Linux)


# ---------------------------------------------------------------------------- what to build


@dataclass(frozen=True)
class Layer:
    """One tunnel between A and B.

    ``kind`` names an entry of KINDS; ``ends`` are the outer addresses (A, B); ``inner`` the
    address/prefix each end's device gets; ``routes`` extra prefixes routed into the device on
    (A, B); ``ids`` the tunnel identifiers (key, VNI, TEID, session...); ``netns`` the
    namespaces the devices are moved into after creation (their underlay stays in tt-a/tt-b).
    """

    kind: str
    ends: tuple[str, str] = UNDER4
    inner: tuple[str, str] = (f"{INNER4[0]}/24", f"{INNER4[1]}/24")
    ids: dict = field(default_factory=dict)
    routes: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    netns: tuple[str, str] = (NS_A, NS_B)
    dev: str = TUNNEL_DEV


@dataclass(frozen=True)
class Session:
    """One TCP connection: client in ``netns[0]``, server in ``netns[1]``."""

    client: str
    server: str
    port: int
    up: int
    down: int
    close: str  # "fin": the client closes first, then the server; "rst": the server resets
    netns: tuple[str, str] = (NS_A, NS_B)
    client_port: int = 0  # 0: an ephemeral port


@dataclass(frozen=True)
class Capture:
    name: str
    description: str
    layers: tuple[Layer, ...]  # in creation order: a layer whose ends are another's inner comes later
    sessions: tuple[Session, ...]
    expect_protocols: tuple[str, ...]  # what tshark's frame.protocols must show on every frame

    @property
    def file(self) -> str:
        return f"real-tunnel-{self.name}.pcap"


def two_sessions(client: str, server: str) -> tuple[Session, ...]:
    """The transfer (FIN) and the abort (RST) every plain tunnel capture carries."""
    return (Session(client, server, TRANSFER_PORT, UPLOAD_BYTES, DOWNLOAD_BYTES, "fin"),
            Session(client, server, ABORT_PORT, ABORT_BYTES, ABORT_BYTES, "rst"))


V4, V6 = two_sessions(*INNER4), two_sessions(*INNER6)
INNER6_PREFIX = (f"{INNER6[0]}/64", f"{INNER6[1]}/64")
TEREDO_CLIENT_PORT = 40001
TEREDO_CLIENT = enc.teredo_address("192.0.2.99", UNDER4[0], TEREDO_CLIENT_PORT)
TEREDO_PEER = "2001:db8:82::2"
AYIYA_INNER = ("2001:db8:83::2", "2001:db8:83::1")  # the tunnel's client, and the PoP
TENANT_NS = {100: ("tt-a1", "tt-b1"), 200: ("tt-a2", "tt-b2")}
GRE_OVERLAY = ("172.16.80.1", "172.16.80.2")

CAPTURES = [
    Capture("vxlan", "VXLAN VNI 42 (UDP 4789), Ethernet inside", (Layer("vxlan", ids={"vni": 42}),), V4,
            ("udp", "vxlan", "eth", "tcp")),
    Capture("geneve", "Geneve VNI 43 (UDP 6081) with one option, Ethernet inside",
            (Layer("geneve", ids={"vni": 43}),), V4, ("udp", "geneve", "eth", "tcp")),
    Capture("gre", "GRE with key 44 and sequence numbers, IPv4 inside IPv4",
            (Layer("gre", ids={"key": 44}),), V4, ("gre", "ip", "tcp")),
    Capture("gretap", "GRE key 45, transparent Ethernet bridging (0x6558)",
            (Layer("gretap", ids={"key": 45}),), V4, ("gre", "eth", "tcp")),
    Capture("ip6gre", "GRE over IPv6 (with Linux's encapsulation-limit option), IPv6 inside",
            (Layer("ip6gre", ends=UNDER6, inner=INNER6_PREFIX),), V6, ("ipv6", "gre", "ipv6", "tcp")),
    Capture("erspan-v0", "ERSPAN type I (Linux erspan_ver 0): GRE 0x88BE without sequence numbers, no ERSPAN header",
            (Layer("erspan-v0"),), V4, ("gre", "erspan", "eth", "tcp")),
    Capture("erspan-v1", "ERSPAN type II (Linux erspan_ver 1): session 46, index 7",
            (Layer("erspan-v1", ids={"session": 46, "index": 7}),), V4, ("gre", "erspan", "eth", "tcp")),
    Capture("erspan-v2", "ERSPAN type III (Linux erspan_ver 2): session 47, hardware id 5",
            (Layer("erspan-v2", ids={"session": 47, "hwid": 5}),), V4, ("gre", "erspan", "eth", "tcp")),
    Capture("ipip", "IPv4 in IPv4 (protocol 4)", (Layer("ipip"),), V4, ("ip", "ip", "tcp")),
    Capture("sit", "IPv6 in IPv4 (6in4, protocol 41)", (Layer("sit", inner=INNER6_PREFIX),), V6,
            ("ip", "ipv6", "tcp")),
    Capture("ip6tnl", "IPv6 in IPv6 (next header 41, Linux's encapsulation-limit option)",
            (Layer("ip6tnl", ends=UNDER6, inner=INNER6_PREFIX),), V6, ("ipv6", "ipv6", "tcp")),
    Capture("gtpu", "GTP-U: uplink TEID 0x1001, downlink TEID 0x2002, PDU session container on every G-PDU",
            (Layer("gtpu", ids={"teid_uplink": 0x1001, "teid_downlink": 0x2002}),), V4,
            ("udp", "gtp", "ip", "tcp")),
    Capture("teredo", "Teredo (UDP 3544): client at a Teredo address, relay adds an origin indication to SYNs",
            (Layer("teredo", inner=(f"{TEREDO_CLIENT}/32", f"{TEREDO_PEER}/64"),
                   routes=(("2001:db8:82::/64",), ("2001::/32",))),),
            two_sessions(TEREDO_CLIENT, TEREDO_PEER), ("udp", "teredo", "ipv6", "tcp")),
    Capture("ayiya", "AYIYA (UDP 5072) with SHA-1 signatures, IPv6 inside",
            (Layer("ayiya", inner=(f"{AYIYA_INNER[0]}/64", f"{AYIYA_INNER[1]}/64")),),
            two_sessions(*AYIYA_INNER), ("udp", "ayiya", "ipv6", "tcp")),
    Capture("vxlan-in-gre", "Linux VXLAN VNI 4242 whose underlay is a GRE tunnel (key 48, sequence numbers)",
            (Layer("gre", inner=(f"{GRE_OVERLAY[0]}/30", f"{GRE_OVERLAY[1]}/30"), ids={"key": 48}, dev="tt-g0"),
             Layer("vxlan", ends=GRE_OVERLAY, ids={"vni": 4242})), V4,
            ("gre", "ip", "udp", "vxlan", "eth", "tcp")),
    Capture("vxlan-two-tenants",
            "VXLAN VNIs 100 and 200 on one underlay; each tenant's client (10.80.0.1:40100) opens the "
            "same connection to its server (10.80.0.2:5201), tenant 100 first",
            tuple(Layer("vxlan", ids={"vni": vni}, netns=ns, dev=f"tt-vx{vni}") for vni, ns in TENANT_NS.items()),
            tuple(Session(*INNER4, TRANSFER_PORT, UPLOAD_BYTES, DOWNLOAD_BYTES, "fin", netns=ns,
                          client_port=TENANT_CLIENT_PORT) for ns in TENANT_NS.values()),
            ("udp", "vxlan", "eth", "tcp")),
]
# Link layers rewritten from the gretap run's TAP capture: name -> description.
REWRITES = {
    "pbb": "802.1ah PBB: B-DA/B-SA, B-TAG (0x88A8, B-VID 100), I-TAG (0x88E7, I-SID 0x10203), then the "
           "customer frame",
    "vntag": "VN-Tag (0x8926): frames toward the host with the destination VIF 5, from it with the source VIF 5",
}
REWRITE_SOURCE = "gretap"
PBB_B_DA, PBB_B_SA = bytes.fromhex("020080000b02"), bytes.fromhex("020080000b01")
PBB_B_VID, PBB_ISID, VNTAG_VIF = 100, 0x10203, 5


# ------------------------------------------------------------------------ the tunnel kinds


@dataclass(frozen=True)
class Kind:
    """How one tunnel type is made: ``layer2`` (TAP / an Ethernet device) or not; its header
    bytes on top of the underlay's (sets the device MTU); the ``ip link add`` arguments after
    ``type`` for Linux's device (None: there is none); the userspace encapsulation."""

    layer2: bool
    overhead: int
    kernel: Callable[[Layer, int], list[str]] | None
    userspace: Callable[[Layer, int], enc.Encap]


def _remote(layer: Layer, side: int) -> tuple[str, str]:
    return layer.ends[side], layer.ends[1 - side]


def _kernel_args(kind: str, *extra: str):
    """``ip link add`` arguments after ``type``: local and remote, then ``extra`` with ``{id}``
    placeholders filled from the layer's ids."""
    def args(layer: Layer, side: int) -> list[str]:
        local, remote = _remote(layer, side)
        return [kind, "local", local, "remote", remote, *(a.format(**layer.ids) for a in extra)]
    return args


def _erspan3(layer: Layer, side: int) -> enc.Encap:
    return enc.ErspanIII(layer.ids["session"], layer.ids["hwid"], direction=side)


def _gtpu(layer: Layer, side: int) -> enc.Encap:
    up, down = layer.ids["teid_uplink"], layer.ids["teid_downlink"]
    return enc.GtpU(up, down, True) if side == 0 else enc.GtpU(down, up, False)


def _teredo(layer: Layer, side: int) -> enc.Encap:
    if side == 0:
        return enc.Teredo(TEREDO_CLIENT_PORT, enc.TEREDO_PORT, None)
    return enc.Teredo(enc.TEREDO_PORT, TEREDO_CLIENT_PORT, (layer.ends[1], enc.TEREDO_PORT))


KINDS: dict[str, Kind] = {
    "vxlan": Kind(True, 20 + 8 + 8 + 14, _kernel_args("vxlan", "id", "{vni}", "dstport", "4789"),
                  lambda layer, side: enc.Vxlan(layer.ids["vni"])),
    "geneve": Kind(True, 20 + 8 + 8 + len(enc.GENEVE_OPTION) + 14,
                   lambda layer, side: ["geneve", "id", str(layer.ids["vni"]), "remote", layer.ends[1 - side]],
                   lambda layer, side: enc.Geneve(layer.ids["vni"])),
    "gre": Kind(False, 20 + 12, _kernel_args("gre", "key", "{key}", "seq"),
                lambda layer, side: enc.Gre(layer.ids["key"], True)),
    "gretap": Kind(True, 20 + 8 + 14, _kernel_args("gretap", "key", "{key}"),
                   lambda layer, side: enc.Gre(layer.ids["key"], False, enc.ETH_TEB)),
    "ip6gre": Kind(False, 40 + 8 + 4, _kernel_args("ip6gre"),
                   lambda layer, side: enc.Gre(None, False, None, socket.AF_INET6, encap_limit=True)),
    "erspan-v0": Kind(True, 20 + 4 + 14, _kernel_args("erspan", "erspan_ver", "0"), lambda layer, side: enc.ErspanI()),
    "erspan-v1": Kind(True, 20 + 8 + 8 + 14,
                      _kernel_args("erspan", "seq", "key", "{session}", "erspan_ver", "1", "erspan", "{index}"),
                      lambda layer, side: enc.ErspanII(layer.ids["session"], layer.ids["index"])),
    "erspan-v2": Kind(True, 20 + 8 + 12 + 14,
                      _kernel_args("erspan", "seq", "key", "{session}", "erspan_ver", "2", "erspan_hwid", "{hwid}"),
                      _erspan3),
    "ipip": Kind(False, 20, _kernel_args("ipip"),
                 lambda layer, side: enc.IpInIp(enc.IPPROTO_IPIP, socket.AF_INET, False)),
    "sit": Kind(False, 20, _kernel_args("sit"),
                lambda layer, side: enc.IpInIp(enc.IPPROTO_IPV6, socket.AF_INET, False)),
    "ip6tnl": Kind(False, 40 + 8, _kernel_args("ip6tnl", "mode", "ip6ip6"),
                   lambda layer, side: enc.IpInIp(enc.IPPROTO_IPV6, socket.AF_INET6, True)),
    "gtpu": Kind(False, 20 + 8 + 16, None, _gtpu),
    # Teredo and AYIYA clients use the IPv6 minimum MTU (miredo, AICCU).
    "teredo": Kind(False, UNDERLAY_MTU - 1280, None, _teredo),
    "ayiya": Kind(False, UNDERLAY_MTU - 1280, None,
                  lambda layer, side: enc.Ayiya(AYIYA_INNER[side], b"tcpanalyze tunnel secret")),
}


def make_encap(params: dict) -> enc.Encap:
    layer = Layer(params["kind"], tuple(params["ends"]), tuple(params["inner"]), params["ids"])
    return KINDS[layer.kind].userspace(layer, params["side"])


# ----------------------------------------------------------------- the userspace tunnel end


def open_tuntap(name: str, layer2: bool) -> int:
    """A new (non-persistent) TUN or TAP device ``name``, without packet information headers."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    flags = (IFF_TAP if layer2 else IFF_TUN) | IFF_NO_PI
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
    return fd


def underlay_socket(e: enc.Encap, local: str) -> socket.socket:
    """The socket the tunnel's packets travel on: UDP bound to the local port, or raw IP."""
    if not e.ip_proto:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((local, e.local_port))
        return sock
    sock = socket.socket(e.outer_family, socket.SOCK_RAW, e.ip_proto)
    sock.bind((local, 0))
    if e.dstopts:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, e.dstopts)
    return sock


def inner_of(e: enc.Encap, data: bytes) -> bytes:
    """What a raw IPv4 socket returns starts with the IPv4 header; IPv6 raw and UDP do not."""
    if e.ip_proto and e.outer_family == socket.AF_INET:
        return data[(data[0] & 0x0F) * 4:]
    return data


def endpoint_main(params: dict) -> None:
    """Run one userspace tunnel end until stdin closes; print what it wrapped and unwrapped."""
    e = make_encap(params)
    fd = open_tuntap(params["dev"], KINDS[params["kind"]].layer2)
    sock = underlay_socket(e, params["ends"][params["side"]])
    peer = params["ends"][1 - params["side"]]
    stats = {"wrapped": 0, "unwrapped": 0, "not_ours": 0}
    print("READY", flush=True)
    stdin = sys.stdin.fileno()
    while True:
        ready, _, _ = select.select([fd, sock, stdin], [], [])
        if stdin in ready and not os.read(stdin, 4096):
            break
        if fd in ready:
            sock.sendto(e.wrap(os.read(fd, 65535)), (peer, e.peer_port))
            stats["wrapped"] += 1
        if sock in ready:
            data, addr = sock.recvfrom(65535)
            inner = e.unwrap(inner_of(e, data)) if addr[0] == peer else None
            if inner:
                os.write(fd, inner)
            stats["unwrapped" if inner else "not_ours"] += 1
    print(json.dumps(stats), flush=True)


# --------------------------------------------------------------------- the lossy underlay


class LossyBridge:
    """Copies Ethernet frames between tt-ma and tt-mb, dropping the FORCED_DROP-th frame of at
    least DATA_FRAME_MIN bytes and a seeded LOSS_RATE of the others; one random stream per direction."""

    def __init__(self, seed: str):
        self.socks, self.rng = {}, {}
        for direction, dev in (("a_to_b", VETH_MA), ("b_to_a", VETH_MB)):  # by where frames come in
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(loss.ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, loss.SO_RCVBUFFORCE, loss.FORWARDER_RCVBUF)
            s.setsockopt(loss.SOL_PACKET, loss.PACKET_IGNORE_OUTGOING, 1)
            s.bind((dev, 0))
            self.socks[direction] = s
            self.rng[direction] = random.Random(f"{seed}/{direction}")
        self.out = {"a_to_b": self.socks["b_to_a"], "b_to_a": self.socks["a_to_b"]}
        self.stats = {d: {"frames": 0, "data_frames": 0, "dropped": 0, "dropped_lengths": []} for d in self.socks}

    def on_frame(self, direction: str, frame: bytes) -> None:
        stats = self.stats[direction]
        stats["frames"] += 1
        if len(frame) >= DATA_FRAME_MIN:
            stats["data_frames"] += 1
            if self.rng[direction].random() < LOSS_RATE or stats["data_frames"] == FORCED_DROP:
                stats["dropped"] += 1
                stats["dropped_lengths"].append(len(frame))
                return
        self.out[direction].send(frame)

    def run(self, stop_fd: int) -> None:
        by_fd = {s.fileno(): d for d, s in self.socks.items()}
        while True:
            ready, _, _ = select.select([*by_fd, stop_fd], [], [])
            for fd in ready:
                if fd == stop_fd:
                    if not os.read(stop_fd, 4096):
                        return
                    continue
                self.on_frame(by_fd[fd], self.socks[by_fd[fd]].recv(65535))

    def report(self) -> dict:
        for direction, s in self.socks.items():
            _, drops = struct.unpack("II", s.getsockopt(loss.SOL_PACKET, loss.PACKET_STATISTICS, 8))
            self.stats[direction]["bridge_socket_drops"] = drops
        return self.stats


def bridge_main(params: dict) -> None:
    bridge = LossyBridge(params["seed"])
    print("READY", flush=True)
    bridge.run(sys.stdin.fileno())
    print(json.dumps(bridge.report()), flush=True)


# ------------------------------------------------------------------------ the TCP programs


def wait_until_acked(sock: socket.socket, timeout_s: float = 10.0) -> None:
    """Until the peer acknowledged everything sent (retransmissions included)."""
    deadline = time.monotonic() + timeout_s
    while struct.unpack("i", fcntl.ioctl(sock, SIOCOUTQ, b"\0" * 4))[0] and time.monotonic() < deadline:
        time.sleep(0.01)


def server_main(p: dict) -> dict:
    """Accept one connection: read the upload, send the download, then close as told."""
    srv = real.listen(p["family"], p["server"], p["port"])
    conn, _ = srv.accept()
    ep = real.endpoint(conn)
    received = real.recv_exact(conn, p["up"])
    sent = real.payload(p["tag"] + "/down", p["down"])
    conn.sendall(sent)
    if p["close"] == "fin":
        received += real.recv_until_eof(conn)  # the client closes first
    else:
        wait_until_acked(conn)  # the reset then aborts a connection with nothing in flight
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    srv.close()
    return {"endpoint": ep, "received": real.direction("client", received), "sent": real.direction("server", sent)}


def client_main(p: dict) -> dict:
    """Connect (from a fixed port if told), upload, read the download, close or wait for the reset."""
    cli = socket.socket(p["family"], socket.SOCK_STREAM)
    if p["client_port"]:
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        cli.bind((p["client"], p["client_port"]))
    cli.connect((p["server"], p["port"]))
    ep = real.endpoint(cli)
    sent = real.payload(p["tag"] + "/up", p["up"])
    cli.sendall(sent)
    received = real.recv_exact(cli, p["down"])
    outcome = "close()"
    if p["close"] == "rst":
        try:
            outcome = f"read {len(cli.recv(1))} bytes after the download (expected a reset)"
        except ConnectionResetError:
            outcome = "reset by the server"
    cli.close()
    return {"endpoint": ep, "sent": real.direction("client", sent), "received": real.direction("server", received),
            "outcome": outcome}


ROLES = {"server": server_main, "client": client_main}


# ----------------------------------------------------------------- namespaces and devices


def ns_run(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return real.sh("ip", "netns", "exec", ns, *args, check=check)


def all_namespaces() -> list[str]:
    return [NS_A, NS_M, NS_B, *(ns for pair in TENANT_NS.values() for ns in pair)]


def delete_namespaces() -> None:
    for ns in all_namespaces():
        real.sh("ip", "netns", "del", ns, check=False)


def quiet_ipv6(ns: str) -> None:
    """No router solicitations, router advertisements or link-local addresses on new devices:
    nothing but the sessions' own packets goes through the tunnels."""
    for key, value in (("router_solicitations", "0"), ("accept_ra", "0"), ("addr_gen_mode", "1")):
        for scope in ("all", "default"):
            ns_run(ns, "sysctl", "-qw", f"net.ipv6.conf.{scope}.{key}={value}")


def add_namespace(ns: str) -> None:
    real.sh("ip", "netns", "add", ns)
    real.sh("ip", "-n", ns, "link", "set", "lo", "up")
    quiet_ipv6(ns)


def offloads_off(ns: str, dev: str) -> None:
    ns_run(ns, sys.executable, str(real.THIS), "--ethtool-off", dev)


def add_veth(ns1: str, dev1: str, mac1: str, ns2: str, dev2: str, mac2: str) -> None:
    real.sh("ip", "link", "add", dev1, "netns", ns1, "address", mac1, "mtu", str(UNDERLAY_MTU), "type", "veth",
            "peer", "name", dev2, "netns", ns2, "address", mac2, "mtu", str(UNDERLAY_MTU))
    for ns, dev in ((ns1, dev1), (ns2, dev2)):
        offloads_off(ns, dev)
        real.sh("ip", "-n", ns, "link", "set", dev, "up")


def build_underlay() -> None:
    """tt-a -- tt-m -- tt-b, with IPv4 and IPv6 addresses and static neighbours on the ends."""
    for ns in (NS_A, NS_M, NS_B):
        add_namespace(ns)
    add_veth(NS_A, VETH_A, MAC_A, NS_M, VETH_MA, MAC_MA)
    add_veth(NS_M, VETH_MB, MAC_MB, NS_B, VETH_B, MAC_B)
    for ns, dev, a4, a6 in ((NS_A, VETH_A, UNDER4[0], UNDER6[0]), (NS_B, VETH_B, UNDER4[1], UNDER6[1])):
        real.sh("ip", "-n", ns, "addr", "add", f"{a4}/24", "dev", dev)
        real.sh("ip", "-n", ns, "addr", "add", f"{a6}/64", "dev", dev, "nodad")
    for ns, dev, peer4, peer6, mac in ((NS_A, VETH_A, UNDER4[1], UNDER6[1], MAC_B),
                                       (NS_B, VETH_B, UNDER4[0], UNDER6[0], MAC_A)):
        for addr in (peer4, peer6):
            real.sh("ip", "-n", ns, "neigh", "replace", addr, "lladdr", mac, "dev", dev)


def spawn(ns: str, *args: str) -> subprocess.Popen:
    """This script in ``ns`` with hidden arguments; stdin kept open as its stop signal."""
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(THIS), *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen) -> dict:
    """Close the helper's stdin, and return the JSON it prints on its way out."""
    out, err = proc.communicate(timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"{proc.args[5:8]} failed ({proc.returncode}): {err}")
    return json.loads(out.strip().splitlines()[-1])


def kernel_device(layer: Layer, side: int) -> str | None:
    """Linux's own device for this end, if this kernel has the type: how it was made, else None."""
    make = KINDS[layer.kind].kernel
    if make is None:
        return None
    args = ["ip", "-n", (NS_A, NS_B)[side], "link", "add", layer.dev, "type", *make(layer, side)]
    done = real.sh(*args, check=False)
    if done.returncode != 0:
        if "Unknown device type" in done.stderr or "not supported" in done.stderr.lower():
            return None
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")
    return " ".join(args)


def device_mtu(layer: Layer, layers: tuple[Layer, ...]) -> int:
    """The underlay MTU less this tunnel's headers and those of the tunnels it runs inside."""
    outer = next((o for o in layers if o.inner[0].split("/")[0] == layer.ends[0]), None)
    return (UNDERLAY_MTU if outer is None else device_mtu(outer, layers)) - KINDS[layer.kind].overhead


def configure(layer: Layer, side: int, kernel: bool, mtu: int) -> None:
    """Move, address, size and bring up one end's device; static inner neighbours on Ethernet."""
    home, ns = (NS_A, NS_B)[side], layer.netns[side]
    if ns != home:
        real.sh("ip", "-n", home, "link", "set", layer.dev, "netns", ns)
    kind, ipv6 = KINDS[layer.kind], ":" in layer.inner[side]
    if kind.layer2:
        real.sh("ip", "-n", ns, "link", "set", layer.dev, "address", (INNER_MAC_A, INNER_MAC_B)[side])
    if not ipv6:
        ns_run(ns, "sysctl", "-qw", f"net.ipv6.conf.{layer.dev}.disable_ipv6=1")
    real.sh("ip", "-n", ns, "link", "set", layer.dev, "mtu", str(mtu))
    real.sh("ip", "-n", ns, "addr", "add", layer.inner[side], "dev", layer.dev, *(["nodad"] if ipv6 else []))
    if kernel or kind.layer2:
        offloads_off(ns, layer.dev)
    real.sh("ip", "-n", ns, "link", "set", layer.dev, "up")
    for prefix in layer.routes[side]:
        real.sh("ip", "-n", ns, "route", "add", prefix, "dev", layer.dev)
    if kind.layer2:
        peer = layer.inner[1 - side].split("/")[0]
        real.sh("ip", "-n", ns, "neigh", "replace", peer, "lladdr", (INNER_MAC_A, INNER_MAC_B)[1 - side],
                "dev", layer.dev)


def add_layer(layer: Layer, layers: tuple[Layer, ...], endpoints: list) -> dict:
    """Both ends of one tunnel; userspace ends are appended to ``endpoints`` as (side, process).
    Returns how each end was made."""
    made = []
    for side in (0, 1):
        how = kernel_device(layer, side)
        if how is None:
            params = {"kind": layer.kind, "ends": layer.ends, "inner": layer.inner, "ids": layer.ids,
                      "side": side, "dev": layer.dev}
            proc = spawn((NS_A, NS_B)[side], "--endpoint", json.dumps(params))
            real.wait_for_line(proc, proc.stdout, "READY")
            endpoints.append(("AB"[side], layer.dev, proc))
            how = f"userspace {'TAP' if KINDS[layer.kind].layer2 else 'TUN'} endpoint (scripts/tunnel_encaps.py)"
        configure(layer, side, how.startswith("ip "), device_mtu(layer, layers))
        made.append(how)
    return {"type": layer.kind, "outer": list(layer.ends), "ids": layer.ids, "device": layer.dev,
            "mtu": device_mtu(layer, layers), "inner_namespaces": list(layer.netns), "end_a": made[0], "end_b": made[1]}


@contextmanager
def tcpdump(ns: str, dev: str, path: Path):
    """tcpdump on ``dev`` in ``ns``, whole frames; refuses a run where it lost frames."""
    cmd = ["ip", "netns", "exec", ns, "tcpdump", "-i", dev, "-w", str(path), "-U", "--immediate-mode", "-n",
           "-s", "0", "-B", str(CAPTURE_BUFFER_KIB), CAPTURE_FILTER]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    real.wait_for_line(proc, proc.stderr, "listening on")
    time.sleep(0.3)
    try:
        yield
    finally:
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
        proc.wait(timeout=10)
    dropped = re.search(r"^(\d+) packets dropped by kernel", err, re.M)
    if dropped is None or int(dropped.group(1)):
        raise RuntimeError(f"tcpdump on {dev} lost frames: {err}")


def run_session(s: Session, tag: str) -> dict:
    """Run one connection's server and client; one row in orig_/resp_ terms (orig = client)."""
    family = socket.AF_INET6 if ":" in s.server else socket.AF_INET
    params = {"family": int(family), "client": s.client, "server": s.server, "port": s.port, "up": s.up,
              "down": s.down, "close": s.close, "client_port": s.client_port, "tag": tag}
    server = spawn(s.netns[1], "--role", "server", "--params", json.dumps(params))
    real.wait_for_line(server, server.stdout, "READY")
    client = spawn(s.netns[0], "--role", "client", "--params", json.dumps(params))
    cli, srv = real.finish(client), real.finish(server)
    if cli["sent"]["sha256"] != srv["received"]["sha256"] or srv["sent"]["sha256"] != cli["received"]["sha256"]:
        raise RuntimeError(f"{tag}: the bytes sent and received differ")
    ep = cli["endpoint"]
    closes = ({"first_closer": "orig", "orig_close": "fin", "resp_close": "fin"} if s.close == "fin"
              else {"first_closer": "resp", "orig_close": "none", "resp_close": "rst"})
    return {"orig_addr": ep["local_addr"], "orig_port": ep["local_port"], "resp_addr": ep["peer_addr"],
            "resp_port": ep["peer_port"], "orig_bytes": cli["sent"]["bytes"], "orig_sha256": cli["sent"]["sha256"],
            "resp_bytes": srv["sent"]["bytes"], "resp_sha256": srv["sent"]["sha256"], **closes,
            "namespaces": list(s.netns), "client_outcome": cli["outcome"]}


# ------------------------------------------------------------------------- making a capture


def tenant_ids(capture: Capture, session: Session) -> dict:
    """The tunnel ids on the path of a session (the layer whose devices sit in its namespaces)."""
    return next((layer.ids for layer in capture.layers if layer.netns == session.netns), {})


def run_capture(capture: Capture, tmp: Path) -> dict:
    """Build the namespaces and tunnels, run the sessions under tcpdump; what happened."""
    delete_namespaces()
    try:
        build_underlay()
        for ns in sorted({ns for layer in capture.layers for ns in layer.netns} - {NS_A, NS_B}):
            add_namespace(ns)
        bridge = spawn(NS_M, "--bridge", json.dumps({"seed": capture.name}))
        real.wait_for_line(bridge, bridge.stdout, "READY")
        endpoints: list[tuple[str, str, subprocess.Popen]] = []
        try:
            chain = [add_layer(layer, capture.layers, endpoints) for layer in capture.layers]
            time.sleep(SETTLE_S)
            with ExitStack() as captures:
                captures.enter_context(tcpdump(NS_A, VETH_A, tmp / capture.file))
                if capture.name == REWRITE_SOURCE:
                    captures.enter_context(tcpdump(NS_A, TUNNEL_DEV, tmp / "inner.pcap"))
                rows = [{**run_session(s, f"{capture.name}/{k}"), "tunnel_ids": tenant_ids(capture, s)}
                        for k, s in enumerate(capture.sessions)]
        finally:
            ends = [{"side": side, "device": dev, **stop(proc)} for side, dev, proc in endpoints]
        return {"chain": chain, "connections": rows, "bridge": stop(bridge), "endpoints": ends}
    finally:
        delete_namespaces()


def tshark_protocols(path: Path) -> list[str]:
    return [row[0] for row in real.tshark_fields(path, ["frame.protocols"])]


def in_order(protocols: list[str], wanted: tuple[str, ...]) -> bool:
    """``wanted`` appear in ``protocols`` in this order (others may come between)."""
    rest = iter(protocols)
    return all(name in rest for name in wanted)


def check(capture: Capture, path: Path, counts: dict, protocols: list[str]) -> None:
    """The capture shows what it is for, as tshark reads it, or the script stops."""
    problems = [f"frame {k + 1}: {p}" for k, p in enumerate(protocols)
                if not in_order(p.split(":"), capture.expect_protocols)][:3]
    wanted = {"syn": len(capture.sessions), "fin": 2 * sum(s.close == "fin" for s in capture.sessions),
              "rst": sum(s.close == "rst" for s in capture.sessions), "retransmission": 1}
    problems += [f"{key}: want >= {n}, got {counts[key]}" for key, n in wanted.items() if counts[key] < n]
    if counts["bad_tcp_checksum"]:
        problems.append(f"{counts['bad_tcp_checksum']} bad TCP checksums")
    if problems:
        raise RuntimeError(f"{path.name}: " + "; ".join(problems))


def capture_facts(made_by: str, source: str) -> dict:
    return {"tool": "tcpdump", "namespace": NS_A, "interface": source, "filter": CAPTURE_FILTER,
            "link_type": "EN10MB (1)", "snaplen": 262144, "made_by": made_by}


def write_expected(name: str, description: str, body: dict, observed: dict) -> None:
    path = OUT_DIR / f"real-tunnel-{name}.pcap"
    expected = {"file": path.name, "made_by": f"scripts/make_tunnel_captures.py {name}",
                "description": description, **body, "tshark_observed": observed,
                "tshark_protocols": sorted(set(tshark_protocols(path)))}
    (EXPECTED_DIR / f"real-tunnel-{name}.json").write_text(json.dumps(expected, indent=2) + "\n")


def underlay_loss(run: dict) -> dict:
    return {"where": f"userspace bridge in {NS_M} between {VETH_MA} and {VETH_MB}, after the capture point for "
                     "A->B frames and before it for B->A frames", "rate": LOSS_RATE,
            "applies_to": f"frames of at least {DATA_FRAME_MIN} bytes", "forced_drop": FORCED_DROP,
            "seed": "capture name + direction", "bridge": run["bridge"]}


def record(capture: Capture) -> dict:
    """Make one capture (and its link-layer rewrites), check it with tshark, write its JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        run = run_capture(capture, tmp_path)
        path = OUT_DIR / capture.file
        shutil.copyfile(tmp_path / capture.file, path)
        observed = real.read_back(path)
        check(capture, path, observed["counts"], tshark_protocols(path))
        body = {"tunnel": {"chain": run["chain"], "userspace_endpoints": run["endpoints"]},
                "capture": capture_facts("captured", f"{VETH_A} (underlay)"), "underlay_loss": underlay_loss(run),
                "connections": run["connections"]}
        write_expected(capture.name, capture.description, body, observed)
        if capture.name == REWRITE_SOURCE:
            for name, description in REWRITES.items():
                rewrite(tmp_path / "inner.pcap", name, description, body)
    return run


def rewritten(frame: bytes, name: str) -> bytes:
    """One inner Ethernet frame of the gretap run with the PBB or VN-Tag header put in."""
    if name == "pbb":
        return enc.pbb_frame(frame, PBB_B_DA, PBB_B_SA, PBB_B_VID, PBB_ISID)
    to_host = frame[:6] == bytes.fromhex(INNER_MAC_A.replace(":", ""))
    return enc.vntag_frame(frame, to_host, VNTAG_VIF)


def rewrite(source: Path, name: str, description: str, body: dict) -> None:
    """real-tunnel-<name>.pcap from the gretap run's TAP capture, frame by frame (dpkt)."""
    path = OUT_DIR / f"real-tunnel-{name}.pcap"
    with source.open("rb") as src, path.open("wb") as dst:
        writer = dpkt.pcap.Writer(dst, snaplen=262144, linktype=dpkt.pcap.DLT_EN10MB, nano=False)
        for ts, frame in dpkt.pcap.Reader(src):
            writer.writepkt(rewritten(frame, name), ts=ts)
    observed = real.read_back(path)
    expect = ("ieee8021ad", "ip", "tcp") if name == "pbb" else ("vntag", "ip", "tcp")
    check(Capture(name, description, (), CAPTURES_BY_NAME[REWRITE_SOURCE].sessions, expect), path, observed["counts"],
          tshark_protocols(path))
    tunnel = {"chain": [{"type": name, "ids": ({"b_vid": PBB_B_VID, "isid": PBB_ISID} if name == "pbb"
                                               else {"vif": VNTAG_VIF}),
                         "made_by": "frames rewritten with dpkt (scripts/tunnel_encaps.py); no tunnel device"}],
              "source": f"the inner Ethernet frames of real-tunnel-{REWRITE_SOURCE}.pcap's run, captured on its TAP "
                        "device in tt-a"}
    facts = capture_facts("captured, then rewritten", f"{TUNNEL_DEV} (TAP, inner)")
    write_expected(name, description, {**body, "tunnel": tunnel, "capture": facts}, observed)


CAPTURES_BY_NAME = {c.name: c for c in CAPTURES}


# ---------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("only", nargs="*", help="capture names (file stems without 'real-tunnel-')")
    ap.add_argument("--role", choices=sorted(ROLES), help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    ap.add_argument("--endpoint", help=argparse.SUPPRESS)
    ap.add_argument("--bridge", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role:
        print(json.dumps(ROLES[args.role](json.loads(args.params))), flush=True)
        return
    if args.endpoint:
        endpoint_main(json.loads(args.endpoint))
        return
    if args.bridge:
        bridge_main(json.loads(args.bridge))
        return
    if os.geteuid() != 0:
        sys.exit("make_tunnel_captures.py needs root (network namespaces, TUN/TAP, packet capture)")
    for tool in ("ip", "tcpdump", "tshark", "capinfos"):
        if shutil.which(tool) is None:
            sys.exit(f"make_tunnel_captures.py needs {tool} on PATH")
    chosen = [c for c in CAPTURES if not args.only or c.name in args.only]
    if not chosen:
        sys.exit(f"no capture matches {args.only}; known: {', '.join(CAPTURES_BY_NAME)}")
    for capture in chosen:
        run = record(capture)
        size = (OUT_DIR / capture.file).stat().st_size
        dropped = {d: s["dropped"] for d, s in run["bridge"].items()}
        made = " + ".join("kernel" if c["end_a"].startswith("ip ") else "userspace" for c in run["chain"])
        print(f"{capture.file:40s} {size:8d} bytes  dropped {dropped}  {made}")
    total = sum(p.stat().st_size for p in OUT_DIR.glob("real-tunnel-*.pcap"))
    if total > MAX_TOTAL_BYTES:
        print(f"warning: the real-tunnel captures take {total} bytes (over {MAX_TOTAL_BYTES})", file=sys.stderr)


if __name__ == "__main__":
    main()
