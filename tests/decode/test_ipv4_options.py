"""IPv4 options read as Wireshark reads them: a source route's final destination is the
packet's destination, and an option too short for its fields makes the frame malformed (no TCP).

Every option type with every length from 2 to 15, and loose/strict source routes with every
pointer, are compared frame by frame with tshark's Destination column, whether it dissected
TCP, and whether it called the frame malformed (when tshark is installed; the rules measured
from it are checked without it).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

import tcpanalyze
from helpers import BASE_TS_NS, Rec, eth, ipv4, tcp, write_pcap
from tcpanalyze.decode.kernels import IPV4_OPTION_MIN_LEN
from tcpanalyze.packets import read_packets

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
CLIENT, SERVER = "10.0.0.1", "10.0.0.2"
LSRR, SSRR = 131, 137


def _padded(option: bytes) -> bytes:
    return option + b"\0" * (-len(option) % 4)


def _syn(k: int, options: bytes, dst: str = SERVER) -> Rec:
    return Rec(eth(ipv4(CLIENT, dst, tcp(1024 + k, 80, seq=1, flags="S"), options=_padded(options))),
               BASE_TS_NS + k * 1_000_000)


def every_option() -> list[tuple[int, int, bytes]]:
    """(type, length, option bytes) for each type 2..255 and length 2..15 (pointer-like third byte)."""
    cases = []
    for kind in range(2, 256):
        for length in range(2, 16):
            third = 4 if kind in (7, LSRR, SSRR) else 5 if kind == 68 else 0
            cases.append((kind, length, (bytes([kind, length, third]) + b"\x01" * 13)[:length]))
    return cases


def source_routes() -> list[tuple[int, int, int, bytes]]:
    """(type, length, pointer, option bytes): routes of 0-3 addresses 10.0.0.50.. with every pointer."""
    cases = []
    for kind in (LSRR, SSRR):
        for length in (3, 7, 8, 11, 15):
            for pointer in (0, 3, 4, 5, 8, 11, 12, 16, 40):
                route = b"".join(bytes([10, 0, 0, 50 + k]) for k in range((length - 3) // 4 + 1))
                cases.append((kind, length, pointer, (bytes([kind, length, pointer]) + route)[:length]))
    return cases


@pytest.fixture(scope="module")
def options_capture(tmp_path_factory):
    options = [option for *_, option in every_option()] + [option for *_, option in source_routes()]
    options += [bytes([1, LSRR, 7, 4, 10, 0, 0, 70]),  # after a NOP
                bytes([LSRR, 7, 4, 10, 0, 0, 71, SSRR, 7, 4, 10, 0, 0, 72])]  # two routes: the first counts
    return write_pcap(tmp_path_factory.mktemp("ipv4") / "options.pcap", [_syn(k, o) for k, o in enumerate(options)])


def test_an_option_shorter_than_its_fields_is_malformed_and_others_are_not(options_capture):
    rows = read_packets(str(options_capture), all_records=True)
    cases = every_option()
    status = rows["status"].tolist()[: len(cases)]
    for (kind, length, _), got in zip(cases, status):
        assert got == ("ipv4_option" if length < IPV4_OPTION_MIN_LEN[kind] else "tcp"), (kind, length)
    assert rows.attrs["accounting"]["by_status"]["ipv4_option"] == sum(
        1 for kind, length, _ in cases if length < IPV4_OPTION_MIN_LEN[kind])


def test_a_source_route_under_way_sends_the_packet_to_its_last_address(options_capture):
    rows = read_packets(str(options_capture)).set_index("frame")
    first = len(every_option()) + 1
    destinations = {case[:3]: str(rows.loc[first + k, "dst_addr"]) for k, case in enumerate(source_routes())}
    assert destinations[(LSRR, 7, 4)] == "10.0.0.50"      # one hop to go
    assert destinations[(SSRR, 11, 4)] == "10.0.0.51"     # the last of two
    assert destinations[(SSRR, 11, 8)] == "10.0.0.51"
    assert destinations[(LSRR, 11, 12)] == SERVER          # the route is complete: the header is right
    assert destinations[(LSRR, 11, 5)] == SERVER           # a pointer off the 4-byte grid is ignored
    assert destinations[(LSRR, 3, 4)] == SERVER            # no address at all
    last = first + len(source_routes())
    assert [str(rows.loc[f, "dst_addr"]) for f in (last, last + 1)] == ["10.0.0.70", "10.0.0.71"]


@needs_tshark
def test_every_frame_reads_as_tshark_reads_it(options_capture):
    ours = read_packets(str(options_capture), all_records=True)
    theirs = subprocess.run(["tshark", "-n", "-r", str(options_capture), "-T", "fields", "-e", "_ws.col.Destination",
                             "-e", "tcp.stream", "-e", "_ws.malformed", "-E", "occurrence=l"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(theirs) == len(ours)
    differ = []
    for row, line in zip(ours.itertuples(), theirs):
        destination, stream, malformed = line.split("\t")
        mine = (row.status == "ipv4_option", row.status == "tcp", str(row.dst_addr) if row.status == "tcp" else "")
        if mine != (malformed != "", stream != "", destination if stream else ""):
            differ.append((row.frame, mine, line))
    assert differ == []


def test_a_session_through_a_source_route_and_a_malformed_frame(tmp_path):
    """The client routes its packets via 10.0.0.9 to the server: one session with the server.
    Its second data segment carries a bad Timestamp option: a malformed frame, so the third is
    flagged for the segment it follows (Wireshark: previous segment not captured)."""
    route = bytes([LSRR, 7, 4, 10, 0, 0, 2])
    bad_option = bytes([68, 3, 5])

    def client(t: float, flags: str, seq: int, ack: int, data: bytes = b"", options: bytes = route) -> Rec:
        return Rec(eth(ipv4(CLIENT, "10.0.0.9", tcp(40000, 80, seq=seq, ack=ack, flags=flags, payload=data),
                            options=_padded(options))), BASE_TS_NS + round(t * 1e9))

    def server(t: float, flags: str, seq: int, ack: int) -> Rec:
        return Rec(eth(ipv4(SERVER, CLIENT, tcp(80, 40000, seq=seq, ack=ack, flags=flags))),
                   BASE_TS_NS + round(t * 1e9))

    path = write_pcap(tmp_path / "routed.pcap", [
        client(0.0, "S", 1000, 0), server(0.01, "SA", 5000, 1001), client(0.02, "A", 1001, 5001),
        client(0.1, "PA", 1001, 5001, b"a" * 100), client(0.2, "PA", 1101, 5001, b"b" * 100, route + bad_option),
        client(0.3, "PA", 1201, 5001, b"c" * 100), server(0.31, "A", 5001, 1301)])
    result = tcpanalyze.analyze(str(path))
    assert len(result.sessions) == 1
    session = result.sessions.iloc[0]
    assert (str(session.orig_addr), str(session.resp_addr)) == (CLIENT, SERVER)
    assert result.accounting.by_class["malformed"] == 1 and result.accounting.by_status["ipv4_option"] == 1
    flags = {int(f): set(a) for f, a in zip(result.packets.frame, result.packets.analysis) if a}
    assert flags == {6: {"lost_segment"}, 7: {"ack_lost_segment"}}
    if shutil.which("tshark"):
        out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e", "tcp.stream",
                              "-e", "tcp.analysis.lost_segment", "-e", "tcp.analysis.ack_lost_segment",
                              "-e", "_ws.malformed"], capture_output=True, text=True, check=True).stdout.splitlines()
        rows = [line.split("\t") for line in out]
        assert [r[1] for r in rows] == ["0", "0", "0", "0", "", "0", "0"]
        assert [n for n, _, lost, ack_lost, _ in rows if lost or ack_lost] == ["6", "7"]
