"""Decode layer: record batches in, columns of decoded fields out."""

from __future__ import annotations

import numpy as np

from .. import jit
from ..capture import RecordBatch
from . import kernels, status
from .columns import FIELDS, PacketBatch, allocate
from .fragments import FragmentReassembler

# Batches this big are decoded on all cores (``parallel``, which imports numba itself); smaller
# ones on one thread, where waking numba's thread pool is not worth it, and as plain Python
# for tiny captures (see ``tcpanalyze.jit``).
MIN_PARALLEL_RECORDS = 1 << 14


class Decoder:
    """Decodes record batches in file order, keeping fragment state between batches."""

    def __init__(self, parallel: bool = True) -> None:
        self.fragments = FragmentReassembler()
        self.parallel = parallel  # may big batches use every core (not when other processes do)

    def decode(self, batch: RecordBatch) -> PacketBatch:
        out = allocate(len(batch))
        if self.parallel and len(batch) >= MIN_PARALLEL_RECORDS and not jit.running_plain():
            from .parallel import decode_records
        else:
            decode_records = kernels.decode_records
        decode_records(batch.buf, batch.rec_off, batch.caplen, batch.origlen, batch.linktype,
                       out["u64"], out["u32"], out["i32"], out["u16"], out["u8"])
        records = {
            "frame": batch.frame, "ts_ns": batch.ts_ns, "caplen": batch.caplen, "origlen": batch.origlen,
            "iface": batch.iface, "linktype": batch.linktype, "rec_off": batch.stream_positions(),
        }
        packets = PacketBatch(records, out)
        if np.any(packets["status"] == status.IP_FRAGMENT):
            self.fragments.feed(packets, batch.buf, batch.rec_off)
        return packets


__all__ = ["Decoder", "FIELDS", "PacketBatch", "status"]
