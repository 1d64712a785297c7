"""IPv4 and IPv6 fragment reassembly, with bounded memory.

Fragments are rare, so this runs in Python over the few rows the kernel marked
``IP_FRAGMENT``. When a datagram completes, its TCP segment is decoded (by the same kernel)
into the row of the fragment that completed it, as Wireshark does; the other fragments
stay ``ip_fragment``. Overlapping fragments are marked; the bytes seen first win.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from . import kernels, tunnels
from . import status as st
from .columns import (
    FIELDS, IP_ID, IP_PROTO, L3_OFF, MARK_FRAGMENT_OVERLAP, MARK_MORE_FRAGMENTS, MARK_REASSEMBLED, MARK_TRUNCATED, MARKS,
    PAYLOAD_OFF, TUNNEL_FIELDS, PacketBatch, allocate, kernel_row, packet_matrices, zero_matrix,
)

# Datagrams waiting for fragments; past this the oldest is dropped (Linux keeps ~4 MB).
MAX_PENDING_DATAGRAMS = 4096
MAX_DATAGRAM_LEN = 65535
IPV4_HEADER_LEN = 20  # the header a rebuilt IPv4 datagram is decoded with


@dataclass
class _Datagram:
    pieces: list[tuple[int, bytes]] = field(default_factory=list)
    total: int = -1
    overlap: bool = False

    def add(self, offset: int, data: bytes, more: bool) -> None:
        end = offset + len(data)
        if any(offset < o + len(d) and o < end for o, d in self.pieces):
            self.overlap = True
        self.pieces.append((offset, data))
        if not more:
            self.total = end

    def assemble(self) -> bytes | None:
        """The whole datagram payload once every byte up to the last fragment is present."""
        if self.total < 0:
            return None
        covered = 0
        for offset, data in sorted(self.pieces, key=lambda piece: piece[0]):
            if offset > covered:
                return None
            covered = max(covered, offset + len(data))
        if covered < self.total:
            return None
        out = bytearray(self.total)
        for offset, data in reversed(self.pieces):  # first-seen bytes written last, so they win
            out[offset : offset + len(data)] = data[: max(0, self.total - offset)]
        return bytes(out)


class FragmentReassembler:
    """Collects fragments across batches; ``payloads`` maps frame -> rebuilt TCP payload bytes."""

    def __init__(self) -> None:
        self._pending: OrderedDict[tuple, _Datagram] = OrderedDict()
        self.payloads: dict[int, bytes] = {}

    def feed(self, packets: PacketBatch, buf: np.ndarray, rec_off: np.ndarray) -> None:
        """Add the batch's fragments; rows whose datagram completes become TCP rows."""
        for i in np.flatnonzero(packets["status"] == st.IP_FRAGMENT):
            if packets["marks"][i] & MARK_TRUNCATED:
                continue  # bytes not captured: the datagram can never be rebuilt
            key = (int(packets["ip_version"][i]), int(packets["src_hi"][i]), int(packets["src_lo"][i]),
                   int(packets["dst_hi"][i]), int(packets["dst_lo"][i]), int(packets["ip_id"][i]),
                   int(packets["ip_proto"][i]), int(packets["tunnel_key"][i]))
            offset = int(packets["frag_offset"][i])
            length = int(packets["payload_len"][i])
            # An IPv4 total length counts the header too: data past 65515 bytes cannot be a datagram.
            if offset + length > MAX_DATAGRAM_LEN - (IPV4_HEADER_LEN if key[0] == 4 else 0):
                continue
            start = int(rec_off[i]) + int(packets["payload_off"][i])
            datagram = self._pending.get(key)
            if datagram is None:
                datagram = self._pending[key] = _Datagram()
                if len(self._pending) > MAX_PENDING_DATAGRAMS:
                    self._pending.popitem(last=False)
            datagram.add(offset, buf[start : start + length].tobytes(), bool(packets["marks"][i] & MARK_MORE_FRAGMENTS))
            payload = datagram.assemble()
            if payload is not None:
                del self._pending[key]
                self._decode_datagram(packets, int(i), key, payload, datagram.overlap)

    def _decode_datagram(self, packets: PacketBatch, i: int, key: tuple, payload: bytes, overlap: bool) -> None:
        version, src_hi, src_lo, dst_hi, dst_lo, ip_id, proto, _ = key
        ttl = int(packets["ttl"][i])
        if version == 4:
            header = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(payload), ip_id & 0xFFFF, 0, ttl, proto, 0,
                                 src_lo & 0xFFFFFFFF, dst_lo & 0xFFFFFFFF)
        else:
            header = struct.pack("!IHBB", 0x60000000, len(payload), proto, ttl) + struct.pack(
                "!QQQQ", src_hi, src_lo, dst_hi, dst_lo)
        packet = np.frombuffer(header + payload, dtype=np.uint8)
        out = allocate(1)
        for name in TUNNEL_FIELDS:  # the tunnels that carried the fragment: the datagram is decoded inside them
            matrix, row = kernel_row(name)
            out[matrix][row, 0] = packets[name][i]
        kernels.decode_one_packet(packet, kernels.LINKTYPE_RAW, packet.size, out["u64"], out["u32"], out["i32"],
                                  out["u16"], out["u8"], tunnels.udp_ports)
        if out["u8"][FIELDS["status"][1], 0] != st.TCP:
            packets.matrices["u8"][IP_PROTO, i] = proto
            return  # a rebuilt UDP/ICMP datagram, or a malformed one: the row stays a fragment
        l3_off = packets.matrices["i32"][L3_OFF, i]
        payload_start = out["i32"][PAYLOAD_OFF, 0]
        for name, matrix in packet_matrices(out).items():
            if name not in packets.matrices:
                packets.matrices[name] = zero_matrix(name, len(packets))
            packets.matrices[name][:, i] = matrix[:, 0]
        packets.matrices["i32"][L3_OFF, i] = l3_off
        packets.matrices["u32"][IP_ID, i] = ip_id  # the rebuilt IPv6 header has no fragment header to hold it
        packets.matrices["i32"][PAYLOAD_OFF, i] = -1  # bytes live in ``payloads``, not in the file
        packets.matrices["u8"][MARKS, i] |= MARK_REASSEMBLED | (MARK_FRAGMENT_OVERLAP if overlap else 0)
        self.payloads[int(packets["frame"][i])] = bytes(packet[payload_start:])
