"""Decoded batches handed from the process that reads a capture to its worker processes.

Pickling each part's packets through a pipe cost the reading process more than decoding
them (mixed-2m: 1.3 s of writing and pickling against 0.4 s of decoding). Instead a batch is
copied once into one of a few files in shared memory (``/dev/shm``), and every worker maps
it and copies out the rows of its own part; only the file's name and layout go through the
pipe. A file is written again only once every worker has said it is done with it.

>>> ring = BatchRing(slots=4)
>>> message = ring.write(index, batch)       # send ``message`` to every worker
>>> batch = read_batch(message)              # in a worker: read-only views of the file
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np

from ..decode import PacketBatch

# (file path, [(group, name, dtype, shape, byte offset), ...]): what a worker needs to map a batch
Message = tuple[str, list[tuple[str, str, str, tuple[int, ...], int]]]
ALIGN = 64


class BatchRing:
    """``slots`` files in a directory of its own, written in turn (batch ``i`` into file
    ``i % slots``); ``close`` removes them."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.directory = tempfile.mkdtemp(prefix="tcpanalyze-batches-", dir=_shared_memory_dir())
        for slot in range(slots):
            open(os.path.join(self.directory, str(slot)), "wb").close()

    def write(self, index: int, batch: PacketBatch) -> Message:
        """Copy ``batch`` into its file; the message that lets a worker read it."""
        arrays = [("records", k, v) for k, v in batch.records.items()] + \
                 [("matrices", k, v) for k, v in batch.matrices.items()]
        layout, offset = [], 0
        for group, name, array in arrays:
            layout.append((group, name, array.dtype.str, array.shape, offset))
            offset += -(-array.nbytes // ALIGN) * ALIGN
        path = os.path.join(self.directory, str(index % self.slots))
        size = max(offset, 1)
        if os.path.getsize(path) < size:  # files only grow: their pages stay, written over
            os.truncate(path, size)
        target = np.memmap(path, dtype=np.uint8, mode="r+", shape=(size,))
        for (_, _, array), (_, _, _, _, at) in zip(arrays, layout):
            target[at:at + array.nbytes] = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
        del target  # unmapped: the data is in the file's pages
        return path, layout

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def read_batch(message: Message) -> PacketBatch:
    """The batch ``message`` names, as read-only arrays over its file (copy the rows to keep)."""
    path, layout = message
    source = np.memmap(path, dtype=np.uint8, mode="r")
    groups: dict[str, dict[str, np.ndarray]] = {"records": {}, "matrices": {}}
    for group, name, dtype, shape, at in layout:
        dtype = np.dtype(dtype)
        count = int(np.prod(shape))
        groups[group][name] = np.frombuffer(source, dtype, count, at).reshape(shape)
    return PacketBatch(groups["records"], groups["matrices"])


def _shared_memory_dir() -> str | None:
    """``/dev/shm`` where there is one (memory, not disk), else the system's temporary directory."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
