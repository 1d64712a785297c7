"""The packets table: each TCP packet's decoded fields with the engine's results beside them.

``packet_rows`` makes one batch's rows, ``packets_table`` joins the batches, and
``session_packets`` reads a capture again for the packets of a few sessions alone.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..capture import BATCH_RECORDS
from ..decode import PacketBatch
from ..engine import Engine, EngineOptions
from ..engine.flags import RESEND_NAMES, flag_lists
from ..engine.kernels import OUT_ROWS
from ..engine.streaming import concat_arrays
from ..frames import directions, engine_columns, packets_frame
from ..packets import Accounting, decoded_batches, open_capture
from .decoding import decoder_for


def session_packets(path: str, session_ids: Iterable[int], *, options: EngineOptions | None = None,
                    max_records: int = BATCH_RECORDS) -> pd.DataFrame:
    """The packets table (as ``analyze`` gives it) of the sessions ``session_ids`` alone, from one
    more pass over ``path`` that keeps no other packet and stops once they have all ended: what
    a graph of a few sessions needs, without the packets table of the whole capture.

    >>> tcpanalyze.session_packets("sample_pcaps/check-lossy.pcap", [1, 5])
    """
    wanted = np.fromiter(session_ids, np.int64)
    remaining = set(wanted.tolist())
    engine = Engine(options, per_packet=True)
    kept: list[pd.DataFrame] = []
    with open_capture(path) as reader:
        for _, tcp in decoded_batches(reader, decoder_for(options), Accounting(), max_records=max_records):
            results = engine.process(tcp)
            mine = np.isin(results["session_id"], wanted)
            if mine.any():
                kept.append(packet_rows(packets_frame(tcp.select(mine)), {k: v[mine] for k, v in results.items()}))
            for records in engine.emit():
                remaining.difference_update(records["session_id"].tolist())
            if not remaining:
                break
    if not kept:
        kept.append(no_packet_rows(engine))
    return packets_table(kept)


def no_packet_rows(engine: Engine) -> pd.DataFrame:
    """A packets table with no rows and every column."""
    empty = PacketBatch.empty()
    return packet_rows(packets_frame(empty), engine.process(empty))


def packets_table(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One packets table from per-batch frames; the address columns stay categorical (each
    batch has its own categories, which plain concatenation would turn into text)."""
    table = pd.concat(frames, ignore_index=True)
    for name in ("src_addr", "dst_addr", "tunnel", "outer_src_addr", "outer_dst_addr"):
        if len(frames) > 1 and isinstance(frames[0][name].dtype, pd.CategoricalDtype):
            table[name] = concat_arrays([f[name].array for f in frames])
    return table


def packet_rows(frame: pd.DataFrame, results: dict[str, np.ndarray]) -> pd.DataFrame:
    """A batch's packets frame with the engine's per-packet results (``Engine.process``) added."""
    frame.insert(1, "session_id", results["session_id"])
    frame.insert(2, "direction", directions(results["direction"]))
    for name, values in engine_columns(results, (n for n in OUT_ROWS if n != "resend")).items():
        frame[name] = values
    frame["resend"] = pd.Categorical.from_codes(results["resend"], RESEND_NAMES)
    # object dtype even with no rows: pandas would make an empty list column float64
    frame["analysis"] = pd.Series(flag_lists(results["analysis_flags"]), index=frame.index, dtype=object)
    return frame
