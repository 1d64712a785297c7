"""Time-binned counts of a capture, like ``tshark -z io,stat``: ``io_stats``.

One pass, streaming: per interval of ``interval_s`` from the capture's first record, the TCP
packets and their bytes on the wire (``frame.len``), the sessions that began, the
retransmissions (the one definition every command uses: ``resend``, docs/retransmissions.md),
the RSTs and the zero-window adverts (Wireshark's ``tcp.analysis.zero_window``). Memory
follows the live sessions and the number of non-empty intervals, not the capture's length.

    >>> from tcpanalyze.pipeline import io_stats
    >>> io_stats("capture.pcap", 0.5).plot(x="start_s", y=["packets", "retransmissions"])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..capture import BATCH_RECORDS, CaptureSpec
from ..capture.reader import ProgressCallback
from ..engine import Engine, EngineOptions
from ..engine.evidence import retransmissions
from ..engine.flags import ZERO_WINDOW
from ..errors import UsageError
from ..flows import TH_RST
from ..packets import Accounting, decoded_batches, open_capture
from .decoding import decoder_for

STAT_COLUMNS = ("packets", "bytes", "new_sessions", "retransmissions", "rsts", "zero_windows")
NS = 1_000_000_000
# Up to this many intervals the table lists the empty ones too (as tshark does); a capture whose
# timestamps span more (years, at 1 s: a bad clock) gets its non-empty intervals only. tshark
# allocates every interval there and runs out of memory.
MAX_DENSE_INTERVALS = 1_000_000


def io_stats(path: CaptureSpec, interval_s: float = 1.0, *, accounting: Accounting | None = None,
             options: EngineOptions | None = None, max_records: int = BATCH_RECORDS,
             progress: ProgressCallback | None = None) -> pd.DataFrame:
    """One row per interval (``start_s``, ``end_s`` from the first record, then STAT_COLUMNS),
    every interval from the first record's to the last TCP packet's, empty ones included when
    there are at most MAX_DENSE_INTERVALS of them, else the non-empty ones.

    >>> io_stats("capture.pcap", 0.1)[["start_s", "packets", "rsts"]]
    """
    interval_ns = round(interval_s * NS)
    if not interval_ns > 0:
        raise UsageError(f"the interval must be a positive number of seconds, not {interval_s}")
    accounting = accounting if accounting is not None else Accounting()
    engine = Engine(options, per_packet=True)
    seen = _IntervalSums()
    base = None
    newest = -1  # session ids come in order of first packet: above this one, a session begins
    with open_capture(path, progress) as reader:
        for records, tcp in decoded_batches(reader, decoder_for(options), accounting, max_records=max_records):
            if base is None and len(records):
                base = int(records.ts_ns[0])
            results = engine.process(tcp)
            for _ in engine.emit():  # ended sessions' state goes back to the engine
                pass
            if not len(tcp):
                continue
            bins = np.maximum((tcp["ts_ns"] - base) // interval_ns, 0)
            ids = results["session_id"]
            began = np.zeros(ids.size, np.bool_)
            fresh = np.flatnonzero(ids > newest)
            if fresh.size:
                began[fresh[np.unique(ids[fresh], return_index=True)[1]]] = True
                newest = int(ids[fresh].max())
            counts = (np.ones(ids.size, np.int64), tcp["origlen"], began, retransmissions(results["resend"]),
                      (tcp["tcp_flags"] & TH_RST) != 0, (results["analysis_flags"] & ZERO_WINDOW) != 0)
            seen.add(bins, counts)
        for _ in engine.emit(final=True):
            pass
    bins, sums = seen.totals()
    if bins.size and bins[-1] < MAX_DENSE_INTERVALS:
        dense = np.zeros((len(STAT_COLUMNS), int(bins[-1]) + 1), np.int64)
        dense[:, bins] = sums
        bins, sums = np.arange(dense.shape[1], dtype=np.int64), dense
    starts = bins * interval_ns
    return pd.DataFrame({"start_s": starts / NS, "end_s": (starts + interval_ns) / NS,
                         **{name: sums[row] for row, name in enumerate(STAT_COLUMNS)}})


class _IntervalSums:
    """The counts of the intervals seen so far, kept sparse: memory follows the non-empty
    intervals, however far apart the timestamps are."""

    def __init__(self) -> None:
        self._bins = np.zeros(0, np.int64)
        self._sums = np.zeros((len(STAT_COLUMNS), 0), np.int64)

    def add(self, bins: np.ndarray, counts) -> None:
        """Add a batch's per-packet ``counts`` (one array per STAT_COLUMNS) to their intervals ``bins``."""
        keys, where = np.unique(np.concatenate([self._bins, bins]), return_inverse=True)
        sums = np.zeros((len(STAT_COLUMNS), keys.size), np.int64)
        sums[:, where[: self._bins.size]] = self._sums  # the intervals seen before, each once
        for row, values in enumerate(counts):
            sums[row] += np.bincount(where[self._bins.size:], weights=values, minlength=keys.size).astype(np.int64)
        self._bins, self._sums = keys, sums

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        """The non-empty intervals in order, and their STAT_COLUMNS (one row each)."""
        return self._bins, self._sums

