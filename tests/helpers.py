"""Builders for hand-made captures: packets (link, IP, TCP) and pcap/pcapng writers.

A test reads as one line per packet::

    write_pcap(path, [
        eth(ipv4("10.0.0.1", "10.0.0.2", tcp(1234, 80, seq=1, flags="S", opts=mss(1460)))),
        eth(ipv4("10.0.0.2", "10.0.0.1", tcp(80, 1234, seq=7, ack=2, flags="SA"))),
    ])

Builders return bytes and take explicit overrides (``total_len=``, ``off=``, ...) so that
malformed packets are as easy to write as good ones. The capture writers use ``struct``
directly: every byte order, timestamp resolution and record length is under test control.
"""

from __future__ import annotations

import gzip as gzip_module
import ipaddress
import json
import os
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import dpkt

REPO_ROOT = Path(__file__).resolve().parents[1]
# Public real-world captures, copied in with their provenance (tests/corpus/README.md).
CORPUS_DIR = REPO_ROOT / "tests" / "corpus"
SAMPLE_DIR = REPO_ROOT / "sample_pcaps"
EXPECTED_DIR = SAMPLE_DIR / "expected"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz", ".cap")


def corpus_files() -> list[Path]:
    """Every capture in ``tests/corpus/`` (its manifests and README left out)."""
    return sorted(p for p in CORPUS_DIR.iterdir() if p.is_file() and p.name.endswith(CAPTURE_SUFFIXES))


def sample_files() -> list[Path]:
    """Captures in ``sample_pcaps/`` (globbed at collection time: the set is still growing)."""
    if not SAMPLE_DIR.is_dir():
        return []
    return sorted(p for p in SAMPLE_DIR.iterdir() if p.is_file() and p.name.endswith(CAPTURE_SUFFIXES))


def corpus_manifest() -> dict[str, dict]:
    """The corpus's MANIFEST.json entries by file name (provenance and tshark's counts)."""
    return {entry["file"]: entry for entry in json.loads((CORPUS_DIR / "MANIFEST.json").read_text())["files"]}


# --- TCP ---------------------------------------------------------------------------------

FLAG_BITS = {"F": 0x1, "S": 0x2, "R": 0x4, "P": 0x8, "A": 0x10, "U": 0x20, "E": 0x40, "C": 0x80, "N": 0x100}
NOP = b"\x01"
EOL = b"\x00"


def truth_files(spec: dict) -> list[str]:
    """The captures a truth file (``sample_pcaps/expected/*.json``) describes: its ``file``, or its
    ``files`` (one scenario captured at several points: real-loss-*)."""
    return [spec["file"]] if "file" in spec else list(spec["files"])


def matching_sessions(sessions, conns: list[dict]) -> list:
    """The session row of each connection of an expected/*.json: by its ports (the programs
    may record an unspecified local address), and for connections with the same ports (tenants
    of two tunnels) the k-th one's is the k-th session by start time."""
    rows, seen = [], {}
    for conn in conns:
        key = (conn["orig_port"], conn["resp_port"])
        same = sessions[(sessions.orig_port == key[0]) & (sessions.resp_port == key[1])]
        assert len(same) == sum(key == (c["orig_port"], c["resp_port"]) for c in conns), key
        rows.append(same.sort_values("start").iloc[seen.get(key, 0)])
        seen[key] = seen.get(key, 0) + 1
    return rows


def tshark_counts(spec: dict, file: str) -> dict:
    """tshark's counts of one capture of a truth file (kept per file when it has several)."""
    observed = spec["tshark_observed"]
    return observed[file]["counts"] if file in observed else observed["counts"]


def flag_bits(flags: str | int) -> int:
    """``"SA"`` -> 0x12; ints pass through. Letters: F S R P A U E(CE) C(WR) N(S/AE)."""
    if isinstance(flags, int):
        return flags
    return sum(FLAG_BITS[c] for c in flags)


def mss(value: int) -> bytes:
    return struct.pack("!BBH", 2, 4, value)


def wscale(shift: int) -> bytes:
    return struct.pack("!BBB", 3, 3, shift)


def sack_perm() -> bytes:
    return b"\x04\x02"


def timestamps(val: int, ecr: int) -> bytes:
    return struct.pack("!BBII", 8, 10, val, ecr)


def sack(*blocks: tuple[int, int]) -> bytes:
    return struct.pack("!BB", 5, 2 + 8 * len(blocks)) + b"".join(struct.pack("!II", le, re) for le, re in blocks)


def tcp(sport: int = 40000, dport: int = 80, *, seq: int = 1000, ack: int = 0, flags: str | int = "A",
        win: int = 65535, opts: bytes = b"", payload: bytes = b"", off: int | None = None, urp: int = 0) -> bytes:
    """A TCP header (options padded with EOL to a 4-byte boundary) and payload, built with dpkt.

    ``off`` overrides the data offset (in 32-bit words) to write impossible headers.
    """
    opts = opts + EOL * (-len(opts) % 4)
    segment = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, win=win, urp=urp, opts=opts, data=payload)
    segment.off = (20 + len(opts)) // 4 if off is None else off
    segment.flags = flag_bits(flags)
    segment.sum = 0x1234  # checksums are not ours to check; a fixed value keeps dpkt from computing one
    return bytes(segment)


def udp(sport: int = 5353, dport: int = 53, payload: bytes = b"hello") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


# --- IP ----------------------------------------------------------------------------------

def ipv4(src: str, dst: str, payload: bytes, *, proto: int = 6, ttl: int = 64, ident: int = 1, mf: bool = False,
         df: bool = False, frag_offset: int = 0, total_len: int | None = None, ihl: int | None = None,
         options: bytes = b"", version: int = 4) -> bytes:
    """An IPv4 header and payload; ``frag_offset`` in bytes (a multiple of 8), ``ihl`` in 32-bit words."""
    options = options + b"\x00" * (-len(options) % 4)
    hdr_words = (20 + len(options)) // 4 if ihl is None else ihl
    total = 20 + len(options) + len(payload) if total_len is None else total_len
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_offset // 8)
    header = struct.pack("!BBHHHBBH4s4s", (version << 4) | hdr_words, 0, total, ident, flags, ttl, proto, 0,
                         ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    return header + options + payload


def ipv6(src: str, dst: str, payload: bytes, *, next_header: int = 6, hop_limit: int = 64,
         ext: tuple[tuple[int, bytes], ...] = (), payload_len: int | None = None, version: int = 6) -> bytes:
    """An IPv6 header, extension headers and payload.

    ``ext`` is a chain of ``(header_type, header_bytes)`` as built by :func:`ipv6_opts_header`,
    :func:`ipv6_routing_header` or :func:`ipv6_fragment_header`; each header's next-header
    byte is filled in here, so the chain reads in wire order and ends at ``next_header``.
    """
    chain = b""
    types = [t for t, _ in ext] + [next_header]
    for k, (_, body) in enumerate(ext):
        chain += bytes([types[k + 1]]) + body[1:]
    body = chain + payload
    plen = len(body) if payload_len is None else payload_len
    header = struct.pack("!IHBB16s16s", (version << 28), plen, types[0], hop_limit,
                         ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed)
    return header + body


IPV6_HOP_BY_HOP, IPV6_ROUTING, IPV6_FRAGMENT, IPV6_DEST_OPTS = 0, 43, 44, 60


def ipv6_opts_header(kind: int, length_units: int = 0) -> tuple[int, bytes]:
    """Hop-by-hop (0) or destination options (60) header of (length_units + 1) * 8 bytes, Pad1-filled."""
    return kind, bytes([0, length_units]) + b"\x00" * ((length_units + 1) * 8 - 2)


def ipv6_routing_header(addresses: int = 1) -> tuple[int, bytes]:
    """Type-0 style routing header carrying ``addresses`` 16-byte addresses."""
    return IPV6_ROUTING, bytes([0, 2 * addresses, 0, addresses]) + b"\x00" * 4 + b"\x20\x01" + b"\x00" * (16 * addresses - 2)


def ipv6_fragment_header(offset: int = 0, more: bool = False, ident: int = 1) -> tuple[int, bytes]:
    return IPV6_FRAGMENT, struct.pack("!BBHI", 0, 0, offset | (1 if more else 0), ident)


# --- link layers -------------------------------------------------------------------------

ETH_IPV4, ETH_IPV6, ETH_ARP, ETH_VLAN, ETH_QINQ = 0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8
ETH_MPLS, ETH_PPPOE = 0x8847, 0x8864
PPP_IPV4, PPP_IPV6 = 0x0021, 0x0057
MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def ethertype_of(packet: bytes) -> int:
    return ETH_IPV6 if packet[:1] and packet[0] >> 4 == 6 else ETH_IPV4


def eth(payload: bytes, ethertype: int | None = None, *, vlans: tuple[tuple[int, int], ...] = ()) -> bytes:
    """Ethernet II; ``vlans`` = ((tpid, vid), ...) outermost first; ethertype guessed from an IP payload."""
    inner = ethertype_of(payload) if ethertype is None else ethertype
    tpids = [tpid for tpid, _ in vlans] + [inner]
    tags = b"".join(struct.pack("!HH", vid, tpids[k + 1]) for k, (_, vid) in enumerate(vlans))
    return MAC_B + MAC_A + struct.pack("!H", tpids[0]) + tags + payload


def mpls(payload: bytes, labels: tuple[int, ...] = (100,), ttl: int = 64) -> bytes:
    """An MPLS label stack (bottom-of-stack bit on the last label) in front of ``payload``."""
    words = [(label << 12) | ((1 if k == len(labels) - 1 else 0) << 8) | ttl for k, label in enumerate(labels)]
    return b"".join(struct.pack("!I", w) for w in words) + payload


def pw_control_word() -> bytes:
    return b"\x00\x00\x00\x00"


def pppoe(payload: bytes, ppp_proto: int | None = None, *, length: int | None = None,
          compressed: bool = False) -> bytes:
    """PPPoE session header + PPP protocol field (one byte if ``compressed``, RFC 1661's
    protocol-field compression); ``length`` overrides the PPPoE payload length."""
    proto = (PPP_IPV6 if payload[0] >> 4 == 6 else PPP_IPV4) if ppp_proto is None else ppp_proto
    field = struct.pack("!B", proto) if compressed else struct.pack("!H", proto)
    plen = len(field) + len(payload) if length is None else length
    return struct.pack("!BBHH", 0x11, 0, 0x0001, plen) + field + payload


def llc_snap(payload: bytes, ethertype: int | None = None) -> bytes:
    """An 802.2 LLC header carrying SNAP (AA AA 03), OUI 0, then an ethertype."""
    inner = ethertype_of(payload) if ethertype is None else ethertype
    return b"\xaa\xaa\x03\x00\x00\x00" + struct.pack("!H", inner) + payload


def e_tag(payload: bytes, ethertype: int | None = None) -> bytes:
    """An IEEE 802.1BR E-Tag after its TPID: 6 bytes of tag (E-CID 5), then the next ethertype."""
    inner = ethertype_of(payload) if ethertype is None else ethertype
    return b"\x00\x00\x00\x05\x00\x00" + struct.pack("!H", inner) + payload


def fabricpath(payload: bytes) -> bytes:
    """A Cisco FabricPath FTag/TTL after its ethertype, then the original Ethernet frame."""
    return b"\x00\x3f" + eth(payload)


def fddi(payload: bytes) -> bytes:
    """FDDI (LINKTYPE_FDDI): frame control, destination, source, then LLC/SNAP."""
    return b"\x50" + MAC_B + MAC_A + llc_snap(payload)


def ipoib(payload: bytes) -> bytes:
    """IP over InfiniBand (LINKTYPE_IPOIB): 20-byte destination and source addresses, an
    ethertype and two reserved bytes."""
    return bytes(range(40)) + struct.pack("!HH", ethertype_of(payload), 0) + payload


def arcnet(payload: bytes, protocol: int | None = None) -> bytes:
    """Linux ARCnet (LINKTYPE_ARCNET_LINUX): source, destination, offset, protocol; RFC 1201
    protocols (IP 0xD4, IPv6 0xC4) add a split flag and a sequence number, RFC 1051 IP (0xF0) not."""
    proto = (0xC4 if payload[0] >> 4 == 6 else 0xD4) if protocol is None else protocol
    return bytes([1, 2, 0, 0, proto]) + (b"" if proto == 0xF0 else b"\x00\x00\x07") + payload


def juniper_ether(frame: bytes, extensions: bytes | None = None, flags: int = 0x01) -> bytes:
    """Juniper Ethernet (LINKTYPE_JUNIPER_ETHER): "MGC", flags (0x01 packet in; 0x80 added with
    extensions), then the Ethernet ``frame``."""
    if extensions is None:
        return b"MGC" + bytes([flags]) + frame
    return b"MGC" + bytes([flags | 0x80]) + struct.pack("!H", len(extensions)) + extensions + frame


def nflog(payload: bytes, family: int | None = None, big_endian: bool = False) -> bytes:
    """Linux NFLOG: family, version, resource id, a prefix attribute, then the packet attribute
    (NFULA_PAYLOAD), attribute headers in the given host byte order."""
    af = (10 if payload[0] >> 4 == 6 else 2) if family is None else family
    order = ">" if big_endian else "<"

    def attribute(kind: int, value: bytes) -> bytes:
        return struct.pack(order + "HH", 4 + len(value), kind) + value + bytes(-len(value) % 4)

    return struct.pack("!BBH", af, 0, 5) + attribute(10, b"tcpanalyze\x00") + attribute(9, payload)


def sll(payload: bytes, protocol: int | None = None, packet_type: int = 0) -> bytes:
    """Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 16 bytes)."""
    proto = ethertype_of(payload) if protocol is None else protocol
    return struct.pack("!HHH8sH", packet_type, 1, 6, MAC_A + b"\x00\x00", proto) + payload


def sll2(payload: bytes, protocol: int | None = None, packet_type: int = 0, ifindex: int = 2) -> bytes:
    """Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 20 bytes)."""
    proto = ethertype_of(payload) if protocol is None else protocol
    return struct.pack("!HHIHBB8s", proto, 0, ifindex, 1, packet_type, 6, MAC_A + b"\x00\x00") + payload


AF_INET, AF_INET6_BSD, AF_INET6_LINUX, AF_INET6_DARWIN = 2, 24, 10, 30


def null(payload: bytes, family: int | None = None, byteorder: str = "little") -> bytes:
    """BSD loopback (LINKTYPE_NULL): a 4-byte address family in the capturing host's byte order."""
    af = (AF_INET6_BSD if payload[0] >> 4 == 6 else AF_INET) if family is None else family
    return af.to_bytes(4, byteorder) + payload


def loop(payload: bytes, family: int | None = None) -> bytes:
    """OpenBSD loopback (LINKTYPE_LOOP): the address family in network byte order."""
    return null(payload, family, "big")


def ppp(payload: bytes, protocol: int | None = None, *, hdlc: bool = True) -> bytes:
    """PPP, optionally with the FF 03 HDLC address/control bytes."""
    proto = (PPP_IPV6 if payload[0] >> 4 == 6 else PPP_IPV4) if protocol is None else protocol
    return (b"\xff\x03" if hdlc else b"") + struct.pack("!H", proto) + payload


def chdlc(payload: bytes, ethertype: int | None = None) -> bytes:
    """Cisco HDLC framing: address 0x0F, control 0, then an ethertype."""
    return struct.pack("!BBH", 0x0F, 0, ethertype_of(payload) if ethertype is None else ethertype) + payload


# --- capture writers ---------------------------------------------------------------------

BASE_TS_NS = 1_700_000_000 * 10**9


@dataclass
class Rec:
    """One record to write: packet bytes plus what a plain ``bytes`` item leaves to defaults."""

    data: bytes
    ts_ns: int | None = None
    origlen: int | None = None
    iface: int = 0


def _records(packets) -> list[Rec]:
    out = []
    for k, item in enumerate(packets):
        rec = item if isinstance(item, Rec) else Rec(bytes(item))
        ts = BASE_TS_NS + k * 1_000_000 if rec.ts_ns is None else rec.ts_ns
        out.append(Rec(rec.data, ts, len(rec.data) if rec.origlen is None else rec.origlen, rec.iface))
    return out


def pcap_bytes(packets, linktype: int = 1, nanosecond: bool = False, big_endian: bool = False,
               snaplen: int = 262144) -> bytes:
    order = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    unit = 1 if nanosecond else 1000
    for rec in _records(packets):
        seconds, rest = divmod(rec.ts_ns, 10**9)
        out.append(struct.pack(order + "IIII", seconds, rest // unit, len(rec.data), rec.origlen) + rec.data)
    return b"".join(out)


@dataclass
class Iface:
    """A pcapng interface: link type, and if_tsresol (byte as written) / if_tsoffset (seconds) if set."""

    linktype: int = 1
    tsresol: int | None = None
    tsoffset_s: int | None = None
    snaplen: int = 0
    name: str | None = None


def units_per_second(tsresol: int | None) -> int:
    if tsresol is None:
        return 10**6
    return 2 ** (tsresol & 0x7F) if tsresol & 0x80 else 10 ** (tsresol & 0x7F)


def pcapng_block(block_type: int, body: bytes, order: str = "<") -> bytes:
    body = body + b"\x00" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def pcapng_option(code: int, value: bytes, order: str = "<") -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def pcapng_shb(order: str = "<") -> bytes:
    return pcapng_block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order)


def pcapng_idb(iface: Iface, order: str = "<") -> bytes:
    opts = b""
    if iface.name is not None:
        opts += pcapng_option(2, iface.name.encode(), order)
    if iface.tsresol is not None:
        opts += pcapng_option(9, bytes([iface.tsresol]), order)
    if iface.tsoffset_s is not None:
        opts += pcapng_option(14, struct.pack(order + "q", iface.tsoffset_s), order)
    if opts:
        opts += pcapng_option(0, b"", order)
    return pcapng_block(1, struct.pack(order + "HHI", iface.linktype, 0, iface.snaplen) + opts, order)


def pcapng_epb(rec: Rec, ticks: int, order: str = "<") -> bytes:
    body = struct.pack(order + "IIIII", rec.iface, ticks >> 32, ticks & 0xFFFFFFFF, len(rec.data), rec.origlen) + rec.data
    return pcapng_block(6, body, order)


def ticks_for(ts_ns: int, iface: Iface) -> int:
    """The timestamp field for ``ts_ns`` at the interface's resolution and offset (floored)."""
    units = units_per_second(iface.tsresol)
    return (ts_ns - (iface.tsoffset_s or 0) * 10**9) * units // 10**9


def pcapng_bytes(packets, linktype: int = 1, big_endian: bool = False, interfaces: list[Iface] | None = None) -> bytes:
    """A one-section pcapng file; by default one interface of ``linktype`` at microseconds."""
    order = ">" if big_endian else "<"
    interfaces = [Iface(linktype)] if interfaces is None else interfaces
    out = [pcapng_shb(order)] + [pcapng_idb(i, order) for i in interfaces]
    for rec in _records(packets):
        out.append(pcapng_epb(rec, ticks_for(rec.ts_ns, interfaces[rec.iface]), order))
    return b"".join(out)


def _write(path: Path | str, data: bytes, gzip: bool) -> Path:
    path = Path(path)
    path.write_bytes(gzip_module.compress(data, mtime=0) if gzip else data)
    return path


def write_pcap(path, packets, linktype: int = 1, nanosecond: bool = False, big_endian: bool = False,
               snaplen: int = 262144, gzip: bool = False) -> Path:
    """Write ``packets`` (bytes or :class:`Rec`) as a classic pcap file."""
    return _write(path, pcap_bytes(packets, linktype, nanosecond, big_endian, snaplen), gzip)


def write_pcapng(path, packets, linktype: int = 1, big_endian: bool = False, interfaces: list[Iface] | None = None,
                 gzip: bool = False) -> Path:
    """Write ``packets`` (bytes or :class:`Rec`) as a one-section pcapng file."""
    return _write(path, pcapng_bytes(packets, linktype, big_endian, interfaces), gzip)


def capture_records(path) -> list[tuple[Rec, int]]:
    """Every record of a one-interface capture, with its link type."""
    from tcpanalyze.capture import CaptureReader

    out = []
    with CaptureReader(str(path)) as reader:
        for batch in reader.batches():
            for i in range(len(batch)):
                start, length = int(batch.rec_off[i]), int(batch.caplen[i])
                out.append((Rec(bytes(batch.buf[start:start + length]), int(batch.ts_ns[i]), int(batch.origlen[i])),
                            int(batch.linktype[i])))
    assert len({linktype for _, linktype in out}) == 1
    return out


def split_capture(path, directory, assign, n_parts: int) -> list[Path]:
    """The records of ``path`` written into ``n_parts`` files (record i into part ``assign(i)``),
    pcap and pcapng in turn, both with nanosecond stamps; returns the part paths in name order."""
    recs = capture_records(path)
    linktype = recs[0][1]
    parts = []
    for k in range(n_parts):
        mine = [rec for i, (rec, _) in enumerate(recs) if assign(i) == k]
        if k % 2:
            parts.append(write_pcapng(Path(directory) / f"part_{k:05d}.pcapng", mine,
                                      interfaces=[Iface(linktype, tsresol=9, snaplen=262144)]))
        else:
            parts.append(write_pcap(Path(directory) / f"part_{k:05d}.pcap", mine, linktype=linktype, nanosecond=True))
    return parts


def ring_buffer(path, directory, files: int = 7) -> list[Path]:
    """``path`` cut into about ``files`` consecutive files, as dumpcap's ring buffer would (a
    session spans several of them)."""
    size = max(1, len(capture_records(path)) // files)
    return split_capture(path, directory, lambda i: min(i // size, files - 1), files)


# --- running code in a fresh interpreter ---------------------------------------------------

def run_python(code: str, *, stdin: bytes | None = None, env: dict[str, str] | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter with the tests directory importable."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent), full_env.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code], input=stdin, env=full_env, capture_output=True,
                          timeout=timeout, cwd=str(REPO_ROOT))


def boundscheck_env() -> dict[str, str]:
    """Environment for a subprocess whose numba kernels check every index.

    numba reads NUMBA_BOUNDSCHECK at import time, and kernels cached without bounds checks
    would be reused from the package's cache: a private cache dir forces a recompile. It is
    shared by the session's subprocesses (every kernel in it was compiled with the checks).
    """
    cache = Path(tempfile.gettempdir()) / f"tcpanalyze-boundscheck-cache-{os.getuid()}"
    cache.mkdir(exist_ok=True)
    return {"NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(cache)}
