"""Real sessions under every layer-2 wrapper and link type added for issue 20: the IP packets of
real-stack captures (a lossy transfer, a reset) re-wrapped frame by frame, then read by us and
by tshark. Sessions, per-frame analysis flags and stream numbers must not change with the
wrapping, and must be tshark's."""

from __future__ import annotations

import shutil
import subprocess

import pytest

import tcpanalyze
from helpers import (ETH_PPPOE, ETH_VLAN, SAMPLE_DIR, Rec, arcnet, e_tag, eth, fabricpath, fddi, ipoib, juniper_ether,
                     llc_snap, mpls, nflog, ppp, pppoe, write_pcap)
from tcpanalyze.capture import CaptureReader
from tcpanalyze.engine.flags import FLAG_NAMES

LOSSY = SAMPLE_DIR / "stream-lossy-ipv4.pcap"  # retransmissions, SACK, duplicate ACKs: flags to compare
REAL = [LOSSY, SAMPLE_DIR / "real-rst-abort.pcap", SAMPLE_DIR / "real-ipv6-transfer.pcap"]
# An 802.3 frame's length field holds at most 1500 bytes: full-size segments do not fit behind
# LLC/SNAP, so those wrappers carry the small packets of twenty short connections instead.
SMALL = SAMPLE_DIR / "real-many-short-conns.pcap"
FITS_802_3 = ("802.3-llc-snap", "vlan-802.3-llc-snap")
ETHERNET_HEADER = 14
FCS = b"\xde\xad\xbe\xef"

# name -> (link type, IP packet -> record)
WRAPPERS = {
    "802.3-llc-snap": (1, lambda ip: eth(llc_snap(ip), len(llc_snap(ip)))),
    "vlan-802.3-llc-snap": (1, lambda ip: eth(llc_snap(ip), len(llc_snap(ip)), vlans=((ETH_VLAN, 7),))),
    "e-tag": (1, lambda ip: eth(e_tag(ip), 0x893F)),
    "fabricpath": (1, lambda ip: eth(fabricpath(ip), 0x8903) + FCS),
    "pppoe-compressed-protocol": (1, lambda ip: eth(pppoe(ip, compressed=True), ETH_PPPOE)),
    "pppoe-mpls": (1, lambda ip: eth(pppoe(mpls(ip, (16,)), 0x0281), ETH_PPPOE)),
    "ppp-mpls": (9, lambda ip: ppp(mpls(ip, (16, 17)), 0x0281)),
    "nflog": (239, nflog),
    "fddi": (10, fddi),
    "ipoib": (242, ipoib),
    "arcnet": (129, arcnet),
    "juniper-ethernet": (178, lambda ip: juniper_ether(eth(ip))),
}


def ip_packets(path) -> list[Rec]:
    """Each Ethernet frame's IP packet (the records of the real captures are plain Ethernet)."""
    out = []
    with CaptureReader(str(path)) as reader:
        for batch in reader.batches():
            for i in range(len(batch)):
                start = int(batch.rec_off[i])
                frame = bytes(batch.buf[start:start + int(batch.caplen[i])])
                out.append(Rec(frame[ETHERNET_HEADER:], int(batch.ts_ns[i]),
                               int(batch.origlen[i]) - ETHERNET_HEADER))
    return out


def rewrapped(path, name: str, directory) -> tuple:
    linktype, wrap = WRAPPERS[name]
    records = []
    for rec in ip_packets(path):
        data = wrap(rec.data)
        records.append(Rec(data, rec.ts_ns, rec.origlen + len(data) - len(rec.data)))
    return write_pcap(directory / f"{path.stem}-{name}.pcap", records, linktype=linktype, nanosecond=True)


def analysis_of(path) -> tuple:
    result = tcpanalyze.analyze(str(path))
    packets = result.packets
    columns = ["session_id", "seq_raw", "ack_raw", "payload_len", "window"]
    return (result.sessions.drop(columns=["orig_addr", "resp_addr"]).to_dict("list"),
            packets[columns].to_dict("list"), [sorted(a) for a in packets["analysis"]])


CASES = [(path, name) for name in WRAPPERS for path in ([SMALL] if name in FITS_802_3 else REAL)]


@pytest.mark.parametrize("path, name", CASES, ids=[f"{p.stem}-{n}" for p, n in CASES])
def test_a_real_session_reads_the_same_under_the_wrapper(path, name, tmp_path):
    assert analysis_of(rewrapped(path, name, tmp_path)) == analysis_of(path)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("name", WRAPPERS)
def test_streams_and_flags_under_the_wrapper_are_tsharks(name, tmp_path):
    source = SMALL if name in FITS_802_3 else LOSSY
    path = rewrapped(source, name, tmp_path)
    fields = ["tcp.stream", "tcp.seq_raw", *(f"tcp.analysis.{flag}" for flag in FLAG_NAMES)]
    args = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=f"]
    for field in fields:
        args += ["-e", field]
    rows = [line.split("\t") for line in subprocess.run(args, capture_output=True, text=True,
                                                         check=True).stdout.splitlines()]
    theirs = [(row[0], row[1], sorted(flag for flag, value in zip(FLAG_NAMES, row[2:]) if value)) for row in rows]
    packets = tcpanalyze.analyze(str(path)).packets
    ours = [(str(p.session_id), str(p.seq_raw), sorted(p.analysis)) for p in packets.itertuples()]
    if source == LOSSY:
        assert sum(1 for *_, flags in ours if flags) > 20  # the lossy transfer's flags are there to compare
    assert ours == theirs
