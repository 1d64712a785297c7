"""Payload bytes of chosen packets, read back from the capture file by the offsets analysis recorded.

A plain file is memory-mapped and only the pages holding those payloads are touched; a
gzip file is decompressed once, front to back, copying what is needed as it passes. A
segment rebuilt from IP fragments (``payload_off`` -1) has no single place in the file: its
bytes come from decoding the capture again up to that frame, which rebuilds the datagram.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import jit
from ..capture import CaptureSpec, capture_files, open_reader
from ..capture.kernels import gather
from ..capture.sources import Source
from ..decode import Decoder
from ..errors import CaptureError, UsageError
from .segments import SEGMENT_COLUMNS, Segments


def segments_from_packets(path: CaptureSpec | None, rows: pd.DataFrame) -> Segments:
    """Segments for rows of an analysis' packets frame (capture order), payloads read from ``path``."""
    if path is None or path == "-":
        raise UsageError("reassembly reads payload bytes back from the capture file, and this analysis has none "
                         "(standard input or a live capture): save the capture to a file and analyse that")
    columns = {k: rows[k].to_numpy(t) for k, t in SEGMENT_COLUMNS.items() if k != "direction"}
    columns["direction"] = (rows["direction"].to_numpy() == "resp").astype(np.uint8)
    lengths = np.maximum(columns["payload_caplen"], 0).astype(np.int64)
    dst = (np.cumsum(lengths) - lengths).astype(np.int64)
    columns["pay_start"] = dst
    payload = np.empty(int(lengths.sum()), np.uint8)
    rec_off = rows["rec_off"].to_numpy(np.int64)
    payload_off = rows["payload_off"].to_numpy(np.int64, na_value=-1)  # <NA>: rebuilt from fragments
    in_file = (payload_off >= 0) & (lengths > 0)
    rebuilt = (payload_off < 0) & (lengths > 0)
    files = capture_files(path)
    mapped = False
    if len(files) == 1:
        with Source(files[0]) as source:
            mapped = not source.compressed and source.cursor.buf.size > 0  # plain files are mapped whole
            if mapped:
                with jit.plain_python_for(int(source.cursor.buf.size)):  # a small file: numba not loaded for it
                    _copy(path, source.cursor.buf, rec_off + payload_off, np.where(in_file, lengths, 0), payload, dst)
    if rebuilt.any() or (in_file.any() and not mapped):
        _copy_in_one_pass(path, columns["frame"], payload_off, np.where(in_file & ~mapped, lengths, 0),
                          np.where(rebuilt, lengths, 0), payload, dst)
    return Segments(columns, payload)


def _copy(path: str, buf: np.ndarray, src: np.ndarray, lengths: np.ndarray, out: np.ndarray, dst: np.ndarray) -> None:
    try:
        gather(buf, src, lengths, out, dst)
    except ValueError:
        raise CaptureError(f"{path}: payload offsets point outside the file; was it changed after it was analysed?") from None


def _copy_in_one_pass(path: CaptureSpec, frame: np.ndarray, payload_off: np.ndarray, from_file: np.ndarray,
                      from_fragments: np.ndarray, out: np.ndarray, dst: np.ndarray) -> None:
    """Read the capture front to back, copying ``from_file`` bytes out of the records of their
    frames and rebuilding ``from_fragments`` rows."""
    last_needed = int(frame[(from_file > 0) | (from_fragments > 0)].max())
    last_fragment = int(frame[from_fragments > 0].max()) if from_fragments.any() else 0
    decoder = Decoder()
    with open_reader(path) as reader, jit.plain_python_for(reader.size_bytes):
        for batch in reader.batches():
            first, last = int(batch.frame[0]), int(batch.frame[-1])
            rows = np.flatnonzero((frame >= first) & (frame <= last))
            _copy(path, batch.buf, batch.buffer_offsets(frame[rows]) + payload_off[rows], from_file[rows], out, dst[rows])
            if first <= last_fragment:
                decoder.decode(batch)  # rebuilds datagrams; their TCP payloads land in fragments.payloads
                for i in rows[from_fragments[rows] > 0]:
                    data = decoder.fragments.payloads.get(int(frame[i]))
                    if data is None or len(data) < from_fragments[i]:
                        raise CaptureError(f"{path}: frame {frame[i]} no longer rebuilds from its IP fragments")
                    out[dst[i] : dst[i] + from_fragments[i]] = np.frombuffer(data, np.uint8, from_fragments[i])
            if last >= last_needed:
                break
