"""One pass over a capture that keeps the packets and payload bytes of chosen sessions.

The engine assigns session ids exactly as ``tcpanalyze sessions`` does; each batch's buffer
still holds the records when their session is known, so payload bytes are copied then and
the file is read once, whether it is a plain file, gzip or standard input. A session is
handed out (with its session record) as soon as the engine says it ended, and its bytes
are freed: memory follows the sessions still open, not the size of the capture.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from ..capture import RecordBatch
from ..capture.reader import ProgressCallback
from ..decode import Decoder, PacketBatch
from ..engine import Engine, EngineOptions
from ..packets import Accounting, decoded_batches, open_capture
from ..capture.kernels import gather
from .segments import Segments

# Ended sessions are split off the kept rows once this many bytes are held, payload and
# columns (the bar doubles with what stays behind, so a long-lived session is not copied
# over and over).
FLUSH_BYTES = 64 << 20
# What a stream keeps of its session record.
RECORD_COLUMNS = ("session_id", "orig_addr", "orig_port", "resp_addr", "resp_port", "start", "end")


class SessionCollector:
    """Iterate to get (session records, their segments) for ended sessions, as the capture is read.

    Records carry ``RECORD_COLUMNS`` only (the endpoints and time span); ``tcpanalyze sessions`` has the rest.

    ``session_ids`` limits what is kept (None: every session); once all of them have ended
    the pass stops early. Records come in session-id order within each item. Afterwards
    ``sessions_seen`` is how many sessions the part of the capture that was read holds.

    >>> for records, segments in SessionCollector("trace.pcap", Accounting(), {3}):
    ...     ...
    """

    def __init__(self, path: str, accounting: Accounting, session_ids: set[int] | None = None, *,
                 options: EngineOptions | None = None, progress: ProgressCallback | None = None) -> None:
        self.path = path
        self.progress = progress
        self.accounting = accounting
        self.session_ids = session_ids
        self.options = options
        self.sessions_seen = 0

    def __iter__(self) -> Iterator[tuple[pd.DataFrame, Segments]]:
        engine = Engine(self.options, per_packet=False)
        decoder = Decoder()
        wanted = self.session_ids
        remaining = None if wanted is None else set(wanted)
        kept: list[Segments] = []
        kept_bytes = 0
        flush_at = FLUSH_BYTES
        done: list[pd.DataFrame] = []
        with open_capture(self.path, self.progress) as reader:
            # each record batch is kept with its packets: its buffer holds the payloads
            for records, tcp in decoded_batches(reader, decoder, self.accounting):
                ids = engine.process(tcp)
                if len(tcp):
                    self.sessions_seen = max(self.sessions_seen, int(ids["session_id"].max()) + 1)
                rows = np.ones(len(tcp), np.bool_) if wanted is None else np.isin(ids["session_id"], list(wanted))
                if rows.any():
                    part = _segments(tcp, ids, rows, records, decoder)
                    kept.append(part)
                    kept_bytes += part.nbytes
                done.extend(_wanted(engine.emit(), wanted))
                if done and (kept_bytes >= flush_at or remaining is not None):
                    ended = pd.concat(done, ignore_index=True)
                    done = []
                    segments, kept = _split(kept, ended["session_id"].to_numpy())
                    kept_bytes = sum(p.nbytes for p in kept)
                    flush_at = max(FLUSH_BYTES, 2 * kept_bytes)
                    yield ended, segments
                    if remaining is not None:
                        remaining -= set(ended["session_id"].tolist())
                        if not remaining:
                            return
            done.extend(_wanted(engine.emit(final=True), wanted))
            if done:
                ended = pd.concat(done, ignore_index=True)
                segments, kept = _split(kept, ended["session_id"].to_numpy())  # the parts go before the yield
                yield ended, segments


def _wanted(chunks: Iterator[pd.DataFrame], session_ids: set[int] | None) -> list[pd.DataFrame]:
    """The record columns a stream needs, of the sessions asked for."""
    out = []
    for chunk in chunks:
        if session_ids is not None:
            chunk = chunk[chunk["session_id"].isin(session_ids)]
        if len(chunk):
            out.append(chunk[list(RECORD_COLUMNS)])
    return out


def _segments(tcp: PacketBatch, ids: dict[str, np.ndarray], rows: np.ndarray, records: RecordBatch,
              decoder: Decoder) -> Segments:
    """The chosen rows of a batch as segments, their payload copied out of the batch buffer."""
    pick = np.flatnonzero(rows)
    columns = {"session_id": ids["session_id"][pick], "direction": ids["direction"][pick]}
    for name in ("seq_raw", "tcp_flags", "payload_len", "payload_caplen", "frame", "ts_ns"):
        columns[name] = tcp[name][pick]
    lengths = np.maximum(columns["payload_caplen"], 0).astype(np.int64)
    dst = (np.cumsum(lengths) - lengths).astype(np.int64)
    payload = np.empty(int(lengths.sum()), np.uint8)
    payload_off = tcp["payload_off"][pick].astype(np.int64)
    in_buffer = payload_off >= 0
    gather(records.buf, records.buffer_offsets(columns["frame"]) + payload_off, np.where(in_buffer, lengths, 0),
           payload, dst)
    for i in np.flatnonzero(~in_buffer & (lengths > 0)):  # rebuilt from IP fragments: rare
        data = decoder.fragments.payloads[int(columns["frame"][i])]
        payload[dst[i] : dst[i] + lengths[i]] = np.frombuffer(data, np.uint8, lengths[i])
    columns["pay_start"] = dst
    return Segments(columns, payload)


def _split(kept: list[Segments], ended: np.ndarray) -> tuple[Segments, list[Segments]]:
    """(rows of the ended sessions, the rest as a one-part list)."""
    joined = Segments.concat(kept)
    mine = np.isin(joined["session_id"], ended)
    if mine.all():
        return joined, []
    return joined.select(mine), [joined.select(~mine)]
