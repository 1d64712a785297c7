"""Time-binned counts of a capture, like ``tshark -z io,stat``: ``io_stats``.

One pass, streaming: per interval of ``interval_s`` from the capture's first record, the TCP
packets and their bytes on the wire (``frame.len``), the sessions that began, the
retransmissions (the one definition every command uses: ``resend``, docs/retransmissions.md),
the RSTs and the zero-window adverts (Wireshark's ``tcp.analysis.zero_window``). Memory
follows the live sessions and the number of intervals, not the capture's length.
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


def io_stats(path: CaptureSpec, interval_s: float = 1.0, *, accounting: Accounting | None = None,
             options: EngineOptions | None = None, max_records: int = BATCH_RECORDS,
             progress: ProgressCallback | None = None) -> pd.DataFrame:
    """One row per interval (``start_s``, ``end_s`` from the first record, then STAT_COLUMNS),
    every interval from the first record's to the last TCP packet's, empty ones included."""
    interval_ns = round(interval_s * NS)
    if not interval_ns > 0:
        raise UsageError(f"the interval must be a positive number of seconds, not {interval_s}")
    accounting = accounting if accounting is not None else Accounting()
    engine = Engine(options, per_packet=True)
    sums = np.zeros((len(STAT_COLUMNS), 0), np.int64)
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
            width = int(bins.max()) + 1
            if width > sums.shape[1]:
                sums = np.pad(sums, ((0, 0), (0, width - sums.shape[1])))
            for row, values in enumerate(counts):
                sums[row, :width] += np.bincount(bins, weights=values, minlength=width).astype(np.int64)
        for _ in engine.emit(final=True):
            pass
    starts = np.arange(sums.shape[1], dtype=np.int64) * interval_ns
    return pd.DataFrame({"start_s": starts / NS, "end_s": (starts + interval_ns) / NS,
                         **{name: sums[row] for row, name in enumerate(STAT_COLUMNS)}})
