"""The decoded batch: one numpy array per field, and the schema that names them.

The kernels write into five matrices, one per dtype, one row per field (so every field is
a contiguous array). The row constants below are read by the numba kernels as compile-time
constants; :data:`FIELDS` maps each public name to its matrix and row.

Addresses: IPv4 and IPv6 share one 128-bit representation, two uint64 halves (hi, lo) in
network order; an IPv4 address a.b.c.d is stored as the IPv4-mapped ``::ffff:a.b.c.d`` (an IPv6
packet between such addresses is told apart by ``ip_version``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# uint64 rows
SRC_HI, SRC_LO, DST_HI, DST_LO = range(4)
N_U64 = 4
# uint32 rows
SEQ, ACK, TS_VAL, TS_ECR, SACK_LE1, SACK_LE2, SACK_LE3, SACK_LE4, SACK_RE1, SACK_RE2, SACK_RE3, SACK_RE4, IP_ID = range(13)
N_U32 = 13
# int32 rows
PAYLOAD_LEN, PAYLOAD_OFF, PAYLOAD_CAPLEN, L3_OFF, FRAG_OFFSET = range(5)
N_I32 = 5
# uint16 rows
SRC_PORT, DST_PORT, TCP_FLAGS, WIN, MSS, URG_PTR = range(6)
N_U16 = 6
# uint8 rows
STATUS, IP_VERSION, IP_PROTO, TCP_HDR_LEN, WSCALE, SACK_COUNT, OPTIONS, MARKS, TTL = range(9)
N_U8 = 9

# OPTIONS bits: which TCP options the segment carried
OPT_MSS = 1
OPT_WSCALE = 2
OPT_SACK_PERM = 4
OPT_TIMESTAMP = 8
OPT_SACK = 16
OPT_MALFORMED = 32
# MARKS bits
MARK_TRUNCATED = 1  # fewer bytes captured than the IP length says (snaplen)
MARK_MORE_FRAGMENTS = 2  # IP fragment with the more-fragments bit
MARK_REASSEMBLED = 4  # TCP segment rebuilt from IP fragments
MARK_FRAGMENT_OVERLAP = 8  # its fragments overlapped
MARK_IP_LENGTH_EXCEEDS_FRAME = 16  # IP length larger than the frame: the frame's length was used

MATRIX_DTYPES = {"u64": np.uint64, "u32": np.uint32, "i32": np.int32, "u16": np.uint16, "u8": np.uint8}
MATRIX_ROWS = {"u64": N_U64, "u32": N_U32, "i32": N_I32, "u16": N_U16, "u8": N_U8}

# public field name -> (matrix, row)
FIELDS: dict[str, tuple[str, int]] = {
    "src_hi": ("u64", SRC_HI), "src_lo": ("u64", SRC_LO), "dst_hi": ("u64", DST_HI), "dst_lo": ("u64", DST_LO),
    "seq_raw": ("u32", SEQ), "ack_raw": ("u32", ACK), "ts_val": ("u32", TS_VAL), "ts_ecr": ("u32", TS_ECR),
    "sack_le1": ("u32", SACK_LE1), "sack_le2": ("u32", SACK_LE2), "sack_le3": ("u32", SACK_LE3), "sack_le4": ("u32", SACK_LE4),
    "sack_re1": ("u32", SACK_RE1), "sack_re2": ("u32", SACK_RE2), "sack_re3": ("u32", SACK_RE3), "sack_re4": ("u32", SACK_RE4),
    "ip_id": ("u32", IP_ID),
    "payload_len": ("i32", PAYLOAD_LEN), "payload_off": ("i32", PAYLOAD_OFF), "payload_caplen": ("i32", PAYLOAD_CAPLEN),
    "l3_off": ("i32", L3_OFF), "frag_offset": ("i32", FRAG_OFFSET),
    "src_port": ("u16", SRC_PORT), "dst_port": ("u16", DST_PORT), "tcp_flags": ("u16", TCP_FLAGS),
    "win_raw": ("u16", WIN), "mss": ("u16", MSS), "urg_ptr": ("u16", URG_PTR),
    "status": ("u8", STATUS), "ip_version": ("u8", IP_VERSION), "ip_proto": ("u8", IP_PROTO),
    "tcp_hdr_len": ("u8", TCP_HDR_LEN), "wscale": ("u8", WSCALE), "sack_count": ("u8", SACK_COUNT),
    "options": ("u8", OPTIONS), "marks": ("u8", MARKS), "ttl": ("u8", TTL),
}


def allocate(n: int) -> dict[str, np.ndarray]:
    """Zeroed output matrices for ``n`` records."""
    return {k: np.zeros((MATRIX_ROWS[k], n), dtype=MATRIX_DTYPES[k]) for k in MATRIX_DTYPES}


@dataclass
class PacketBatch:
    """Decoded records: record columns (frame, ts_ns, ...) plus the decoded field matrices.

    ``batch["seq_raw"]`` returns a field as a contiguous array. ``rec_off`` is the record's
    absolute offset in the (decompressed) capture stream; payload bytes of row i sit at
    ``rec_off[i] + payload_off[i]`` (``payload_off`` is -1 when the payload is not in the
    file as is, e.g. rebuilt from IP fragments).
    """

    records: dict[str, np.ndarray]
    matrices: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.records["frame"].size)

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.records:
            return self.records[name]
        matrix, row = FIELDS[name]
        return self.matrices[matrix][row]

    def select(self, rows: np.ndarray) -> "PacketBatch":
        """The rows picked by a boolean mask or an index array (the batch itself if a mask keeps all)."""
        if rows.dtype == np.bool_ and rows.all():
            return self
        return PacketBatch({k: v[rows] for k, v in self.records.items()},
                           {k: m[:, rows] for k, m in self.matrices.items()})

    @staticmethod
    def concat(batches: list["PacketBatch"]) -> "PacketBatch":
        if not batches:
            return PacketBatch.empty()
        if len(batches) == 1:
            return batches[0]
        return PacketBatch({k: np.concatenate([b.records[k] for b in batches]) for k in batches[0].records},
                           {k: np.concatenate([b.matrices[k] for b in batches], axis=1) for k in batches[0].matrices})

    @staticmethod
    def empty() -> "PacketBatch":
        records = {"frame": np.empty(0, np.int64), "ts_ns": np.empty(0, np.int64), "caplen": np.empty(0, np.int64),
                   "origlen": np.empty(0, np.int64), "iface": np.empty(0, np.int32), "linktype": np.empty(0, np.int32),
                   "rec_off": np.empty(0, np.int64)}
        return PacketBatch(records, allocate(0))
