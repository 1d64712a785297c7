"""What a field name means: Wireshark's names over the packets table, our column names over
the sessions table. One ``Field`` describes both; ``evaluate`` reads the columns it names.

``PACKET_FIELDS`` is fixed (the README lists it); ``session_fields(frame)`` is read from the
sessions frame's dtypes, so every session column is a field under its own name. A few fields
read a column derived from others as Wireshark shows it (``DERIVED``); ``NOT_COMPUTED`` says
why we lack some Wireshark fields users ask for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..engine.flags import FLAG_NAMES


@dataclass(frozen=True)
class Field:
    """A filter field over one column, or two for either-end fields (``ip.addr``, ``tcp.port``).

    ``kind``: ``number``, ``seconds`` (an int64 nanosecond column, seconds in filters), ``addr``,
    ``text``, ``bool`` (a bare name means true) or ``label`` (presence only, as Wireshark's
    ``tcp.analysis.*`` flags: no comparisons). A column may be one of ``DERIVED``. ``bit`` picks one
    bit of the column (0/1), ``absent`` is a column value meaning "no such field here" (besides
    ``<NA>``), ``version`` the IP version the field needs, ``relative`` subtracts the capture's time 0, and ``tunnel`` names the tunnel kinds a packet
    must have come through for the field to be there (``innermost``: as its innermost tunnel,
    whose id the ``tunnel_id`` column holds).
    """

    columns: tuple[str, ...]
    kind: str = "number"
    bit: int = 0
    absent: int | None = None
    version: int | None = None
    relative: bool = False
    tunnel: tuple[str, ...] = ()
    innermost: bool = False


def _either(a: str, b: str, kind: str = "number", version: int | None = None) -> Field:
    return Field((a, b), kind, version=version)


_TCP_FLAGS = {"fin": 0x01, "syn": 0x02, "reset": 0x04, "push": 0x08, "ack": 0x10, "urg": 0x20, "ece": 0x40,
              "cwr": 0x80, "ns": 0x100}

# Wireshark's tunnel protocols by our tunnel kinds (ERSPAN rides in GRE), and the id fields
# it shows for the innermost one.
_TUNNEL_PROTOCOLS = {"gre": ("gre", "erspan"), "erspan": ("erspan",), "vxlan": ("vxlan", "vxlan-gpe"),
                     "geneve": ("geneve",), "gtp": ("gtp-u",), "teredo": ("teredo",), "ayiya": ("ayiya",)}
_TUNNEL_IDS = {"vxlan.vni": ("vxlan", "vxlan-gpe"), "geneve.vni": ("geneve",), "gre.key": ("gre",),
               "gtp.teid": ("gtp-u",), "erspan.spanid": ("erspan",)}

_SACK_BLOCKS = range(1, 5)  # the packets table's sack_le1/sack_re1 .. sack_le4/sack_re4


def ack_shown(frame: pd.DataFrame) -> pd.Series:
    """``tcp.ack`` as Wireshark 4.0 shows it on every segment: relative to the peer's first
    sequence number, or the raw field where the ACK flag is off (it makes no ACK relative then).
    The packets view shows the same."""
    return frame["ack_rel"].astype("Int64").fillna(frame["ack_raw"].astype(np.int64))


def _sack_relative(column: str):
    """A SACK edge column made relative as ``tcp.ack`` is (edges are in the peer's sequence space)."""
    def derive(frame: pd.DataFrame) -> pd.Series:
        base = frame["ack_raw"].astype(np.int64) - ack_shown(frame)
        return (frame[column].astype("Int64") - base) % (1 << 32)
    return derive


def _analysis_tree(frame: pd.DataFrame) -> pd.Series:
    """1 where Wireshark 4.0 shows a ``tcp.analysis`` tree (its ``tcp_acked`` record of the frame):
    an analysis flag, an acknowledged frame or bytes in flight."""
    shown = (frame["analysis_flags"] != 0) | frame["acks_frame"].notna() | frame["bytes_in_flight"].notna()
    return shown.astype(np.int64)


def _initial_rtt_shown(frame: pd.DataFrame) -> pd.Series:
    """The session's initial RTT, on the packets that show a ``tcp.analysis`` tree (Wireshark puts
    it there, so a FIN or bare ACK that acknowledges nothing new has none)."""
    return frame["irtt_ns"].where(_analysis_tree(frame) != 0)


def _rto_frame_shown(frame: pd.DataFrame) -> pd.Series:
    """The frame a retransmission resends, where Wireshark shows it: only with a nonzero RTO."""
    return frame["rto_frame"].where(frame["rto_ns"].fillna(0) != 0)


# Columns computed from others for the fields that read them, by name.
DERIVED = {
    "ack_shown": ack_shown,
    "analysis_tree": _analysis_tree,
    "irtt_shown": _initial_rtt_shown,
    "rto_frame_shown": _rto_frame_shown,
    **{f"sack_{edge}{k}_rel": _sack_relative(f"sack_{edge}{k}") for edge in ("le", "re") for k in _SACK_BLOCKS},
}

# Wireshark fields we do not compute, by name (a prefix covers a protocol's fields): why not.
NOT_COMPUTED = {
    "tcp.options.tfo": "we do not decode TCP Fast Open options",
    "tcp.window_size_scalefactor": "the packets table does not keep whether the handshake was seen "
                                   "and both ends offered window scaling (Wireshark's -1 and -2)",
    "tcp.analysis.push_bytes_sent": "we do not track Wireshark's count of the bytes sent since the last PSH",
}

PACKET_FIELDS: dict[str, Field] = {
    "frame.number": Field(("frame",)),
    "frame.time_relative": Field(("ts_ns",), "seconds", relative=True),
    "frame.len": Field(("origlen",)),
    "frame.cap_len": Field(("caplen",)),
    "ip.version": Field(("ip_version",)),
    "ip.addr": _either("src_addr", "dst_addr", "addr", 4),
    "ip.src": Field(("src_addr",), "addr", version=4),
    "ip.dst": Field(("dst_addr",), "addr", version=4),
    "ip.ttl": Field(("ttl",), version=4),
    "ip.id": Field(("ip_id",), version=4),
    "ipv6.addr": _either("src_addr", "dst_addr", "addr", 6),
    "ipv6.src": Field(("src_addr",), "addr", version=6),
    "ipv6.dst": Field(("dst_addr",), "addr", version=6),
    "ipv6.hlim": Field(("ttl",), version=6),
    "tcp.port": _either("src_port", "dst_port"),
    "tcp.srcport": Field(("src_port",)),
    "tcp.dstport": Field(("dst_port",)),
    "tcp.stream": Field(("session_id",)),
    "tcp.seq": Field(("seq_rel",)),
    "tcp.seq_raw": Field(("seq_raw",)),
    "tcp.ack": Field(("ack_shown",)),
    "tcp.ack_raw": Field(("ack_raw",)),
    "tcp.len": Field(("payload_len",)),
    "tcp.hdr_len": Field(("tcp_hdr_len",)),
    "tcp.flags": Field(("tcp_flags",)),
    **{f"tcp.flags.{name}": Field(("tcp_flags",), bit=bit) for name, bit in _TCP_FLAGS.items()},
    "tcp.window_size_value": Field(("win_raw",)),
    "tcp.window_size": Field(("window",)),
    "tcp.options.mss_val": Field(("mss",)),
    "tcp.options.wscale.shift": Field(("wscale",)),
    "tcp.options.sack_perm": Field(("sack_perm",), "label", bit=1),
    "tcp.options.timestamp.tsval": Field(("ts_val",)),
    "tcp.options.timestamp.tsecr": Field(("ts_ecr",)),
    "tcp.options.sack_le": Field(tuple(f"sack_le{k}_rel" for k in _SACK_BLOCKS)),
    "tcp.options.sack_re": Field(tuple(f"sack_re{k}_rel" for k in _SACK_BLOCKS)),
    "tcp.analysis": Field(("analysis_tree",), "label", absent=0),
    "tcp.analysis.flags": Field(("analysis_flags",), "label", absent=0),
    **{f"tcp.analysis.{name}": Field(("analysis_flags",), "label", bit=1 << k) for k, name in enumerate(FLAG_NAMES)},
    "tcp.analysis.ack_rtt": Field(("ack_rtt_ns",), "seconds"),
    "tcp.analysis.initial_rtt": Field(("irtt_shown",), "seconds"),
    "tcp.analysis.bytes_in_flight": Field(("bytes_in_flight",)),
    "tcp.analysis.acks_frame": Field(("acks_frame",)),
    "tcp.analysis.duplicate_ack_num": Field(("dupack_num",), absent=0),
    "tcp.analysis.duplicate_ack_frame": Field(("dupack_frame",)),
    # Wireshark shows no RTO, nor its frame, for a retransmission sent at the same instant
    "tcp.analysis.rto": Field(("rto_ns",), "seconds", absent=0),
    "tcp.analysis.rto_frame": Field(("rto_frame_shown",)),
    # the tunnel path: Wireshark's protocols and ids, and our columns under their own names
    **{name: Field(("tunnel",), "text", tunnel=kinds) for name, kinds in _TUNNEL_PROTOCOLS.items()},
    **{name: Field(("tunnel_id",), tunnel=kinds, innermost=True) for name, kinds in _TUNNEL_IDS.items()},
    "tunnel": Field(("tunnel",), "text"),
    "tunnel_id": Field(("tunnel_id",)),
    "outer_src_addr": Field(("outer_src_addr",), "addr"),
    "outer_dst_addr": Field(("outer_dst_addr",), "addr"),
}


def session_fields(frame: pd.DataFrame) -> dict[str, Field]:
    """Every column of a sessions frame as a field of its own name, its kind read from its dtype."""
    def kind(name: str) -> str:
        dtype = frame[name].dtype
        if name.endswith("_addr"):
            return "addr"
        if pd.api.types.is_bool_dtype(dtype):
            return "bool"
        return "number" if pd.api.types.is_numeric_dtype(dtype) else "text"

    return {name: Field((name,), kind(name)) for name in frame.columns}
