"""Who sends the most and which servers carry the most, over the packets of an interval.

``TrafficTally`` sums each batch's TCP packets by sending address (talkers) and by the
session's responder address and port (servers, both directions counted), keeping only the
sums per batch; ``take`` ranks what came since the last take and starts over.

>>> tally = TrafficTally()
>>> tally.add(tcp, direction)     # a decoded TCP batch and each packet's direction (0: from the originator)
>>> talkers, servers = tally.take(5)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..decode.columns import PacketBatch
from ..frames import address_text

_KEYS = ["ip_version", "hi", "lo"]


class TrafficTally:
    """Packet and byte sums (wire lengths) by talker and by server since the last ``take``."""

    def __init__(self) -> None:
        self._talkers: list[pd.DataFrame] = []
        self._servers: list[pd.DataFrame] = []

    def add(self, tcp: PacketBatch, direction: np.ndarray) -> None:
        if not len(tcp):
            return
        from_orig = direction == 0
        length = tcp["origlen"]
        self._talkers.append(_sums({"ip_version": tcp["ip_version"], "hi": tcp["src_hi"], "lo": tcp["src_lo"]},
                                   length))
        self._servers.append(_sums({
            "ip_version": tcp["ip_version"],
            "hi": np.where(from_orig, tcp["dst_hi"], tcp["src_hi"]),
            "lo": np.where(from_orig, tcp["dst_lo"], tcp["src_lo"]),
            "port": np.where(from_orig, tcp["dst_port"], tcp["src_port"]),
        }, length))

    def take(self, top: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The ``top`` talkers (addr, packets, bytes) and servers (addr, port, packets, bytes) by
        bytes since the last take, most first."""
        talkers, servers = _rank(self._talkers, _KEYS, top), _rank(self._servers, _KEYS + ["port"], top)
        self._talkers, self._servers = [], []
        return talkers, servers


def _sums(keys: dict[str, np.ndarray], length: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({**keys, "packets": np.ones(length.size, np.int64), "bytes": length.astype(np.int64)})
    return frame.groupby(list(keys), sort=False, as_index=False).sum()


def _rank(parts: list[pd.DataFrame], keys: list[str], top: int) -> pd.DataFrame:
    columns = ["addr"] + keys[3:] + ["packets", "bytes"]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "addr" else np.int64) for c in columns})
    totals = pd.concat(parts, ignore_index=True).groupby(keys, sort=False, as_index=False).sum()
    best = totals.nlargest(top, "bytes", keep="first").reset_index(drop=True)
    best["addr"] = np.asarray(address_text(best["hi"].to_numpy(np.uint64), best["lo"].to_numpy(np.uint64),
                                           best["ip_version"].to_numpy() == 6)).astype(object)
    return best[columns]
