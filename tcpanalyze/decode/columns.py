"""The decoded batch: one numpy array per field, and the schema that names them.

The kernels write into five matrices, one per dtype, one row per field (so every field is
a contiguous array). The row constants below are read by the numba kernels as compile-time
constants; :data:`FIELDS` maps each public name to its matrix and row.

Addresses: IPv4 and IPv6 share one 128-bit representation, two uint64 halves (hi, lo) in
network order; an IPv4 address a.b.c.d is stored as the IPv4-mapped ``::ffff:a.b.c.d`` (an IPv6
packet between such addresses is told apart by ``ip_version``).

Tunnels (see ``tunnels``): ``tunnel_chain`` packs the kinds of the tunnels a packet came
through, outermost first (0: none); ``tunnel_id`` is the VNI, TEID, GRE key or ERSPAN session
of the innermost tunnel that has one (0 if none does); ``outer_*`` are the endpoints of the IP
header carrying the innermost tunnel; ``tunnel_key`` hashes the whole path (kinds, each layer's
endpoint pair in either order, the ids that name a tunnel both ways), 0 when untunnelled:
sessions and IP fragments are keyed by it.
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
# The kernels write the tunnel fields in rows after those; a batch holds them as matrices of their
# own ("tunnel_u64", "tunnel_u32"), left out when no record came through a tunnel (``packet_matrices``):
# untunnelled captures do not carry, copy or concatenate them.
OUTER_SRC_HI, OUTER_SRC_LO, OUTER_DST_HI, OUTER_DST_LO, TUNNEL_KEY = range(N_U64, N_U64 + 5)
N_TUNNEL_U64 = 5
TUNNEL_CHAIN, TUNNEL_ID = range(N_U32, N_U32 + 2)
N_TUNNEL_U32 = 2
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
MARK_BAD_IP_CHECKSUM = 32  # IPv4 header checksum wrong (only set when checksums are verified)
MARK_BAD_TCP_CHECKSUM = 64  # TCP checksum wrong (only set when checksums are verified)

# The matrices the kernels write (tunnel rows included), and the tunnel matrices split off them.
MATRIX_DTYPES = {"u64": np.uint64, "u32": np.uint32, "i32": np.int32, "u16": np.uint16, "u8": np.uint8}
MATRIX_ROWS = {"u64": N_U64 + N_TUNNEL_U64, "u32": N_U32 + N_TUNNEL_U32, "i32": N_I32, "u16": N_U16, "u8": N_U8}
# batch matrix -> (the kernel matrix it is split off, its first row there, its rows)
TUNNEL_MATRICES = {"tunnel_u64": ("u64", N_U64, N_TUNNEL_U64), "tunnel_u32": ("u32", N_U32, N_TUNNEL_U32)}

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
    "outer_src_hi": ("tunnel_u64", OUTER_SRC_HI - N_U64), "outer_src_lo": ("tunnel_u64", OUTER_SRC_LO - N_U64),
    "outer_dst_hi": ("tunnel_u64", OUTER_DST_HI - N_U64), "outer_dst_lo": ("tunnel_u64", OUTER_DST_LO - N_U64),
    "tunnel_key": ("tunnel_u64", TUNNEL_KEY - N_U64),
    "tunnel_chain": ("tunnel_u32", TUNNEL_CHAIN - N_U32), "tunnel_id": ("tunnel_u32", TUNNEL_ID - N_U32),
}
TUNNEL_FIELDS = tuple(name for name, (matrix, _) in FIELDS.items() if matrix in TUNNEL_MATRICES)


def allocate(n: int) -> dict[str, np.ndarray]:
    """Zeroed output matrices for ``n`` records, as the kernels write them."""
    return {k: np.zeros((MATRIX_ROWS[k], n), dtype=MATRIX_DTYPES[k]) for k in MATRIX_DTYPES}


def kernel_row(name: str) -> tuple[str, int]:
    """Where the kernels write a field: (matrix of ``allocate``, row)."""
    matrix, row = FIELDS[name]
    if matrix in TUNNEL_MATRICES:
        kernel_matrix, first, _ = TUNNEL_MATRICES[matrix]
        return kernel_matrix, first + row
    return matrix, row


def packet_matrices(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A batch's matrices from the kernels' output (views, no copy): the tunnel rows split into
    their own matrices, which are left out when no record came through a tunnel."""
    matrices = dict(out)
    tunnelled = out["u32"][TUNNEL_CHAIN].any()
    for name, (kernel_matrix, first, _) in TUNNEL_MATRICES.items():
        matrices[kernel_matrix] = out[kernel_matrix][:first]
        if tunnelled:
            matrices[name] = out[kernel_matrix][first:]
    return matrices


def zero_matrix(name: str, n: int) -> np.ndarray:
    """An all-zero batch matrix ``name`` for ``n`` records (a tunnel matrix a batch left out)."""
    kernel_matrix, _, rows = TUNNEL_MATRICES[name]
    return np.zeros((rows, n), MATRIX_DTYPES[kernel_matrix])


@dataclass
class PacketBatch:
    """Decoded records: record columns (frame, ts_ns, ...) plus the decoded field matrices.

    ``batch["seq_raw"]`` returns a field as a contiguous array (a tunnel field of a batch without
    tunnels as zeros). ``rec_off`` is the record's
    absolute offset in the (decompressed) capture stream; payload bytes of row i sit at
    ``rec_off[i] + payload_off[i]`` (``payload_off`` is -1 when the payload is not in the
    file as is, e.g. rebuilt from IP fragments).
    """

    records: dict[str, np.ndarray]
    matrices: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.records["frame"].size)

    @property
    def tunnelled(self) -> bool:
        """Whether any record may have come through a tunnel (else the tunnel fields are all zero)."""
        return "tunnel_u32" in self.matrices

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.records:
            return self.records[name]
        matrix, row = FIELDS[name]
        if matrix not in self.matrices:
            return zero_matrix(matrix, len(self))[row]
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
        names = dict.fromkeys(k for b in batches for k in b.matrices)
        return PacketBatch({k: np.concatenate([b.records[k] for b in batches]) for k in batches[0].records},
                           {k: np.concatenate([b.matrices[k] if k in b.matrices else zero_matrix(k, len(b))
                                               for b in batches], axis=1) for k in names})

    @staticmethod
    def empty() -> "PacketBatch":
        records = {"frame": np.empty(0, np.int64), "ts_ns": np.empty(0, np.int64), "caplen": np.empty(0, np.int64),
                   "origlen": np.empty(0, np.int64), "iface": np.empty(0, np.int32), "linktype": np.empty(0, np.int32),
                   "rec_off": np.empty(0, np.int64)}
        return PacketBatch(records, packet_matrices(allocate(0)))
