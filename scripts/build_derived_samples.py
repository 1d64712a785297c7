#!/usr/bin/env python3
"""Build the reassembly samples derived from a real capture, and their truth in expected/*.json.

    python scripts/build_derived_samples.py

Both start from ``sample_pcaps/real-rst-abort.pcap`` (10 KiB each way over a real TCP
connection; its expected JSON holds the sha256 of what each program wrote) and edit whole
records with ``struct``, leaving every other byte as it was:

- ``derived-segments-removed.pcap``: data segments taken out (two apart in one direction,
  two adjacent ones in the other), so the capture has holes in sequence space nothing fills.
  The truth lists the removed frames and the stream ranges (offset from ISN + 1, length)
  a reassembler must report as gaps.
- ``derived-conflict.pcap``: one client segment sent again later with 40 bytes changed,
  like an injected or corrupted retransmission. The truth names the conflicting range, the
  frames of both copies, and the sha256 of the client stream with the first copy kept
  (what the program wrote) and with the last copy kept.

Sequence numbers are read with dpkt, independently of tcpanalyze; ``tshark_observed`` holds
tshark's packet and flag counts of each result. Output is reproducible.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
from pathlib import Path

import dpkt

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_pcaps"
SOURCE = SAMPLES / "real-rst-abort.pcap"
PCAP_HEADER_LEN, RECORD_HEADER_LEN = 24, 16

# Frames (1-based) of the source taken out: client segments 2, 6 and 7 (6 and 7 adjacent),
# server segment 3. None is retransmitted later in the source, so the holes stay open.
REMOVED_FRAMES = (6, 14, 16, 22)
# The client segment sent again with different bytes, where it goes, and what changes.
CONFLICT_FRAME, CONFLICT_AFTER_FRAME = 10, 19
CONFLICT_SPAN = (100, 140)  # bytes of the segment's payload that the second copy changes


def read_records(path: Path) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The pcap file header and each record as (record header, packet bytes)."""
    raw = path.read_bytes()
    header, pos, records = raw[:PCAP_HEADER_LEN], PCAP_HEADER_LEN, []
    while pos < len(raw):
        rec_header = raw[pos : pos + RECORD_HEADER_LEN]
        caplen = struct.unpack("<I", rec_header[8:12])[0]
        records.append((rec_header, raw[pos + RECORD_HEADER_LEN : pos + RECORD_HEADER_LEN + caplen]))
        pos += RECORD_HEADER_LEN + caplen
    return header, records


def tcp_of(packet: bytes) -> tuple[dpkt.ip.IP, dpkt.tcp.TCP]:
    ip = dpkt.ethernet.Ethernet(packet).data
    return ip, ip.data


def directions(records: list[tuple[bytes, bytes]]) -> tuple[tuple[bytes, int], dict[tuple, int]]:
    """The client's (address, port) and each side's stream start (ISN + 1) by (address, port)."""
    client, start = None, {}
    for _, packet in records:
        ip, tcp = tcp_of(packet)
        if tcp.flags & dpkt.tcp.TH_SYN:
            start[(ip.src, tcp.sport)] = (tcp.seq + 1) & 0xFFFFFFFF
            if not tcp.flags & dpkt.tcp.TH_ACK:
                client = (ip.src, tcp.sport)
    return client, start


def segment_range(packet: bytes, client, start) -> tuple[str, int, int]:
    """(direction, stream offset, length) of a data segment."""
    ip, tcp = tcp_of(packet)
    side = (ip.src, tcp.sport)
    return ("orig" if side == client else "resp"), (tcp.seq - start[side]) & 0xFFFFFFFF, len(tcp.data)


def write_pcap(path: Path, header: bytes, records: list[tuple[bytes, bytes]]) -> None:
    path.write_bytes(header + b"".join(h + p for h, p in records))


def source_truth() -> dict:
    expected = json.loads((SAMPLES / "expected" / "real-rst-abort.json").read_text())
    return {"source": SOURCE.name, "source_sha256": hashlib.sha256(SOURCE.read_bytes()).hexdigest(),
            "written": expected["connections"][0]}


def build_segments_removed(header, records, client, start) -> dict:
    gaps: dict[str, list[list[int]]] = {"orig": [], "resp": []}
    removed = []
    for frame in REMOVED_FRAMES:
        direction, offset, length = segment_range(records[frame - 1][1], client, start)
        assert length > 0, f"frame {frame} carries no data"
        removed.append({"frame": frame, "direction": direction, "offset": offset, "length": length})
        ranges = gaps[direction]
        if ranges and ranges[-1][0] + ranges[-1][1] == offset:
            ranges[-1][1] += length  # adjacent segments leave one hole
        else:
            ranges.append([offset, length])
    kept = [r for k, r in enumerate(records, 1) if k not in REMOVED_FRAMES]
    write_pcap(SAMPLES / "derived-segments-removed.pcap", header, kept)
    return {"file": "derived-segments-removed.pcap", "made_by": "scripts/build_derived_samples.py", **source_truth(),
            "description": "real-rst-abort.pcap with four data segments removed; gaps list the holes",
            "removed_frames": removed, "gaps": gaps, "session_id": 0}


def build_conflict(header, records, client, start) -> dict:
    packet = records[CONFLICT_FRAME - 1][1]
    eth = dpkt.ethernet.Ethernet(packet)
    ip, tcp = eth.data, eth.data.data
    lo, hi = CONFLICT_SPAN
    tcp.data = tcp.data[:lo] + bytes(b ^ 0xFF for b in tcp.data[lo:hi]) + tcp.data[hi:]
    tcp.sum = ip.sum = 0  # dpkt recomputes both checksums
    changed = bytes(eth)
    # the copy goes right after CONFLICT_AFTER_FRAME, 100 us later
    ts_sec, ts_usec = struct.unpack("<II", records[CONFLICT_AFTER_FRAME - 1][0][:8])
    ts_sec, ts_usec = ts_sec + (ts_usec + 100) // 1_000_000, (ts_usec + 100) % 1_000_000
    copy = (struct.pack("<IIII", ts_sec, ts_usec, len(changed), len(changed)), changed)
    out = records[:CONFLICT_AFTER_FRAME] + [copy] + records[CONFLICT_AFTER_FRAME:]
    write_pcap(SAMPLES / "derived-conflict.pcap", header, out)

    _, offset, _ = segment_range(packet, client, start)
    pieces = []
    for _, p in records:
        direction, at, length = segment_range(p, client, start)
        if direction == "orig" and length:
            pieces.append((at, tcp_of(p)[1].data))
    first = b"".join(data for _, data in sorted(pieces))
    assert hashlib.sha256(first).hexdigest() == source_truth()["written"]["orig_sha256"], "source has holes or overlaps"
    last = first[: offset + lo] + tcp.data[lo:hi] + first[offset + hi :]
    return {"file": "derived-conflict.pcap", "made_by": "scripts/build_derived_samples.py", **source_truth(),
            "description": "real-rst-abort.pcap plus a later copy of one client segment with 40 bytes changed",
            "session_id": 0, "direction": "orig",
            "conflict": {"offset": offset + lo, "length": hi - lo, "first_frame": CONFLICT_FRAME,
                         "later_frame": CONFLICT_AFTER_FRAME + 1},
            "orig_sha256_first": hashlib.sha256(first).hexdigest(), "orig_sha256_last": hashlib.sha256(last).hexdigest()}


def tshark_counts(path: Path) -> dict[str, int]:
    """Packets and SYN/SYN-ACK/FIN/RST counts as tshark reads the file (the cross-check other samples carry)."""
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "tcp.flags"], capture_output=True,
                         text=True, check=True).stdout.split()
    flags = [int(v, 16) for v in out]
    return {"packets": len(flags), "syn": sum(f & 0x12 == 0x02 for f in flags),
            "syn_ack": sum(f & 0x12 == 0x12 for f in flags), "fin": sum(bool(f & 0x01) for f in flags),
            "rst": sum(bool(f & 0x04) for f in flags)}


def main() -> None:
    header, records = read_records(SOURCE)
    client, start = directions(records)
    for truth in (build_segments_removed(header, records, client, start), build_conflict(header, records, client, start)):
        truth["tshark_observed"] = {"counts": tshark_counts(SAMPLES / truth["file"])}
        name = truth["file"].split(".")[0]
        (SAMPLES / "expected" / f"{name}.json").write_text(json.dumps(truth, indent=1) + "\n")
        print(f"wrote sample_pcaps/{truth['file']} and expected/{name}.json")


if __name__ == "__main__":
    main()
