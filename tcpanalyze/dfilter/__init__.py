"""Wireshark display filters over the packets and sessions tables.

>>> keep = DisplayFilter.for_packets("tcp.port == 443 && tcp.analysis.retransmission")
>>> packets[keep.mask(packets, base_ns=analysis.accounting.first_tcp_ts_ns)]

One grammar (``grammar``), two field tables (``fields``: Wireshark's names over packets, the
column names over sessions), one evaluator (``evaluate``); or tshark itself (``tshark``), for
the fields we do not have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..capture import CaptureSpec
from ..engine.streaming import session_records_empty
from ..errors import UsageError
from ..frames import public_sessions
from .evaluate import check_names, mask
from .fields import NOT_COMPUTED, PACKET_FIELDS, Field, session_fields
from .grammar import parse
from .tshark import TsharkFilter

ENGINES = ("builtin", "tshark")  # who evaluates a packets filter: our columns, or tshark on the file
TSHARK_HINT = "; or --tshark (analyze: filter_engine=\"tshark\") for any Wireshark field"


@dataclass(frozen=True)
class DisplayFilter:
    """A parsed filter checked against one field table; ``mask(frame)`` gives the rows it keeps."""

    text: str
    tree: object
    fields: dict[str, Field] | None  # None: the frame's own columns (sessions)

    @classmethod
    def for_packets(cls, text: str) -> "DisplayFilter":
        """A filter over the packets table, in Wireshark's field names (UsageError if bad)."""
        return cls._checked(text, PACKET_FIELDS, TSHARK_HINT, NOT_COMPUTED)

    @classmethod
    def for_sessions(cls, text: str) -> "DisplayFilter":
        """A filter over the sessions table, in its column names (UsageError if bad)."""
        cls._checked(text, session_fields(public_sessions(session_records_empty())))
        return cls(text, parse(text), None)

    @classmethod
    def _checked(cls, text: str, fields: dict[str, Field], other_way: str = "",
                 lacking: dict[str, str] | None = None) -> "DisplayFilter":
        tree = parse(text)
        check_names(tree, fields, text, other_way, lacking)
        return cls(text, tree, fields)

    def mask(self, frame: pd.DataFrame, base_ns: int | None = None) -> np.ndarray:
        """The rows of ``frame`` the filter keeps; ``base_ns``: time 0 of ``frame.time_relative``."""
        fields = self.fields if self.fields is not None else session_fields(frame)
        if self.fields is None:
            check_names(self.tree, fields, self.text)  # a frame narrowed to some columns
        return mask(self.tree, frame, fields, base_ns)


def packet_filter(text: str, path: CaptureSpec, engine: str = "builtin") -> DisplayFilter | TsharkFilter:
    """The display filter ``text`` over the packets of ``path``: compiled here over the packets
    table (``builtin``, fast, the fields of ``PACKET_FIELDS``) or run by tshark on the file
    (``tshark``: any Wireshark field, exact semantics, slower). UsageError if bad.

    >>> packet_filter("http.request", "trace.pcap", engine="tshark").mask(packets)
    """
    if engine not in ENGINES:
        raise UsageError(f"filter engine {engine!r}: use one of {', '.join(ENGINES)}")
    return TsharkFilter.run(path, text) if engine == "tshark" else DisplayFilter.for_packets(text)


__all__ = ["ENGINES", "PACKET_FIELDS", "DisplayFilter", "TsharkFilter", "packet_filter"]
