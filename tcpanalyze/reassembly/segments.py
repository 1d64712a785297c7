"""The input of reassembly: TCP packets of some sessions, in capture order, with their payload bytes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..capture.kernels import gather

# The per-packet columns reassembly reads, with their dtypes.
SEGMENT_COLUMNS = {
    "session_id": np.int64, "direction": np.uint8, "seq_raw": np.uint32, "tcp_flags": np.uint16,
    "payload_len": np.int32, "payload_caplen": np.int32, "frame": np.int64, "ts_ns": np.int64,
}


@dataclass
class Segments:
    """Packets (rows in capture order) and the captured payload bytes they carried.

    ``columns`` holds :data:`SEGMENT_COLUMNS` (direction 0 = orig, 1 = resp) and
    ``pay_start``: row i's captured payload is ``payload[pay_start[i] : pay_start[i] + payload_caplen[i]]``.
    """

    columns: dict[str, np.ndarray]
    payload: np.ndarray

    def __len__(self) -> int:
        return int(self.columns["frame"].size)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def nbytes(self) -> int:
        """Memory held: payload and columns."""
        return self.payload.nbytes + sum(v.nbytes for v in self.columns.values())

    @staticmethod
    def empty() -> Segments:
        columns = {k: np.empty(0, t) for k, t in SEGMENT_COLUMNS.items()}
        columns["pay_start"] = np.empty(0, np.int64)
        return Segments(columns, np.empty(0, np.uint8))

    @staticmethod
    def concat(parts: list[Segments]) -> Segments:
        """Rows of every part, in order; payload offsets shifted to the joined buffer."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Segments.empty()
        if len(parts) == 1:
            return parts[0]
        shift = np.cumsum([0] + [p.payload.size for p in parts[:-1]])
        columns = {k: np.concatenate([p.columns[k] for p in parts]) for k in parts[0].columns if k != "pay_start"}
        columns["pay_start"] = np.concatenate([p.columns["pay_start"] + s for p, s in zip(parts, shift)])
        return Segments(columns, np.concatenate([p.payload for p in parts]))

    def select(self, rows: np.ndarray) -> Segments:
        """The rows picked by a mask or index array, their payload bytes copied into a new buffer."""
        columns = {k: v[rows] for k, v in self.columns.items()}
        lengths = np.maximum(columns["payload_caplen"], 0).astype(np.int64)
        dst = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if lengths.size else lengths
        payload = np.empty(int(lengths.sum()), np.uint8)
        gather(self.payload, columns["pay_start"], lengths, payload, dst)
        columns["pay_start"] = dst
        return Segments(columns, payload)
