"""DataFrame schemas, in one place: column names, dtypes and meanings users rely on.

Options a segment did not carry are missing values (pandas nullable dtypes), not zeros, and
what the engine marks "none here" with -1 is ``<NA>`` too (``ENGINE_MISSING``,
``SESSION_MISSING``), so ``packets.ack_rtt_ns.mean()`` is the mean of the samples.
Addresses are categoricals of their usual text form (dotted quad or RFC 5952 IPv6), codes
(``conn_state``, ``close_type``...) categoricals of their fixed values (``SESSION_CODES``),
and every timestamp has a ``datetime64[ns, UTC]`` column beside its number: ``time`` beside
``ts_ns``, ``start_time``/``end_time`` beside ``start``/``end``.

>>> packets_frame(batch)["time"]           # datetime64[ns, UTC]
>>> public_sessions(records)["conn_state"]  # category
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .decode import PacketBatch, status, tunnels
from .decode.columns import (
    MARK_BAD_IP_CHECKSUM, MARK_BAD_TCP_CHECKSUM, MARK_FRAGMENT_OVERLAP, MARK_IP_LENGTH_EXCEEDS_FRAME, MARK_REASSEMBLED, MARK_TRUNCATED, OPT_MALFORMED, OPT_MSS, OPT_SACK, OPT_SACK_PERM,
    OPT_TIMESTAMP, OPT_WSCALE,
)
from .jit import kernel

# name, dtype, meaning
PACKET_COLUMNS: list[tuple[str, str, str]] = [
    ("frame", "int64", "1-based position of the record in the file, counting every record (Wireshark's frame number)"),
    ("ts_ns", "int64", "capture timestamp, integer nanoseconds since the Unix epoch"),
    ("time", "datetime64[ns, UTC]", "the same timestamp as a pandas datetime"),
    ("iface", "int32", "capture interface index (pcapng: global IDB order; pcap: 0)"),
    ("caplen", "int64", "bytes captured of the record"),
    ("origlen", "int64", "bytes of the record on the wire"),
    ("ip_version", "uint8", "4 or 6"),
    ("src_addr", "category", "source address, text"),
    ("src_port", "uint16", "source port"),
    ("dst_addr", "category", "destination address, text"),
    ("dst_port", "uint16", "destination port"),
    ("seq_raw", "uint32", "sequence number as on the wire"),
    ("ack_raw", "uint32", "acknowledgement number as on the wire"),
    ("tcp_flags", "uint16", "all 9 flag bits: FIN 0x1 SYN 0x2 RST 0x4 PSH 0x8 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80 AE/NS 0x100"),
    ("win_raw", "uint16", "window field as on the wire (not scaled)"),
    ("tcp_hdr_len", "uint8", "TCP header length in bytes (data offset x 4)"),
    ("payload_len", "int32", "TCP payload length from the IP length (true length even when the capture cut it)"),
    ("payload_caplen", "int32", "TCP payload bytes present in the capture"),
    ("truncated", "bool", "the capture holds fewer bytes than the IP length says (snaplen)"),
    ("mss", "UInt16", "MSS option value"),
    ("wscale", "UInt8", "window scale option shift count"),
    ("sack_perm", "bool", "SACK-permitted option present"),
    ("ts_val", "UInt32", "timestamp option TSval"),
    ("ts_ecr", "UInt32", "timestamp option TSecr"),
    ("sack_count", "uint8", "number of SACK blocks (0-4)"),
    *[(f"sack_{edge}{k}", "UInt32", f"SACK block {k} {'left' if edge == 'le' else 'right'} edge (raw)")
      for k in range(1, 5) for edge in ("le", "re")],
    ("options_malformed", "bool", "an option's length was impossible or ran past the header"),
    ("ip_id", "uint32", "IPv4 identification (IPv6: fragment identification, else 0)"),
    ("ttl", "uint8", "IPv4 TTL / IPv6 hop limit"),
    ("reassembled", "bool", "segment rebuilt from IP fragments (this row is the completing fragment)"),
    ("fragment_overlap", "bool", "the fragments it was rebuilt from overlapped"),
    ("ip_length_exceeds_frame", "bool", "IP length larger than the frame carried; the frame's length was used (as Wireshark)"),
    ("bad_ip_checksum", "bool", "the IPv4 header checksum is wrong (checked only with verify_checksums)"),
    ("bad_tcp_checksum", "bool", "the TCP checksum is wrong (checked only with verify_checksums; not for cut or rebuilt segments)"),
    ("rec_off", "int64", "offset of the record's packet data in the (decompressed) capture stream"),
    ("payload_off", "Int32", "offset of the TCP payload from the record start; <NA> if rebuilt from fragments"),
    ("tunnel", "category", "tunnels the packet came through, outermost first (``gre>vxlan``); <NA> if none"),
    ("tunnel_id", "UInt32", "VNI, TEID, GRE key or ERSPAN session of the innermost tunnel that has one (0: none)"),
    ("outer_src_addr", "category", "source of the IP header carrying the innermost tunnel; <NA> if none"),
    ("outer_dst_addr", "category", "destination of the IP header carrying the innermost tunnel; <NA> if none"),
]
STATUS_COLUMNS: list[tuple[str, str, str]] = [
    ("record_class", "category", "tcp, other_ip, non_ip or malformed"),
    ("status", "category", "why the record is in its class (see tcpanalyze.decode.status)"),
    ("ip_proto", "uint8", "IP protocol / IPv6 next header of the transport"),
    ("linktype", "int32", "link type of the record's interface"),
]


IPV4_MAPPED = np.uint64(0xFFFF) << np.uint64(32)


@kernel(signature="(readonly(int64[:]), uint8[:, ::1])")
def _dotted_quads(addresses, out):
    """Write each IPv4 address (uint32) as dotted-quad ASCII into a row of ``out`` (uint8[n, 16])."""
    for i in range(addresses.size):
        a = addresses[i]
        k = 0
        for shift in (24, 16, 8, 0):
            byte = (a >> shift) & 0xFF
            if byte >= 100:
                out[i, k] = 48 + byte // 100
                k += 1
            if byte >= 10:
                out[i, k] = 48 + (byte // 10) % 10
                k += 1
            out[i, k] = 48 + byte % 10
            k += 1
            if shift:
                out[i, k] = 46
                k += 1


def endpoint(addr: object, port: object) -> str:
    """``10.0.0.2:80`` or ``[fd00::2]:80``; the bare address without a port, ``port 80`` without an address."""
    if addr is None:
        return f"port {port}"
    text = str(addr)
    if port is None:
        return text
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def address_text(hi: np.ndarray, lo: np.ndarray, ipv6: np.ndarray) -> pd.Categorical:
    """Text form of 128-bit addresses, as a categorical: IPv4 addresses (held IPv4-mapped)
    dotted, IPv6 ones (``ipv6`` true) as IPv6, ``::ffff:a.b.c.d`` included."""
    # an IPv6 address that is IPv4-mapped gets a code of its own: hi codes run to len + 1
    mapped = (hi == 0) & ((lo & ~np.uint64(0xFFFFFFFF)) == IPV4_MAPPED)
    lo_codes, lo_uniques = pd.factorize(lo, sort=False)
    hi_codes, hi_uniques = pd.factorize(hi, sort=False)
    hi_codes = np.where(mapped & np.asarray(ipv6, np.bool_), len(hi_uniques), hi_codes)
    width = max(len(lo_uniques), 1)
    pair_codes, pair_uniques = pd.factorize(hi_codes.astype(np.int64) * width + lo_codes, sort=False)
    v6_mapped = pair_uniques // width == len(hi_uniques)
    his = np.append(np.asarray(hi_uniques, np.uint64), np.uint64(0))[pair_uniques // width]
    los = np.asarray(lo_uniques, np.uint64)[pair_uniques % width]
    dotted = (his == 0) & ((los & ~np.uint64(0xFFFFFFFF)) == IPV4_MAPPED)
    names = np.empty(pair_uniques.size, dtype=object)
    text = np.zeros((int(dotted.sum()), 16), np.uint8)
    _dotted_quads((los[dotted] & np.uint64(0xFFFFFFFF)).astype(np.int64), text)
    names[dotted] = text.view("S16").ravel().astype(str)
    names[dotted & v6_mapped] = "::ffff:" + names[dotted & v6_mapped]  # as Wireshark writes them
    names[~dotted] = [str(ipaddress.IPv6Address((int(h) << 64) | int(low)))
                      for h, low in zip(his[~dotted], los[~dotted])]
    return pd.Categorical.from_codes(pair_codes, categories=pd.Index(names, dtype=object))


def nullable(values: np.ndarray, present: np.ndarray) -> pd.arrays.IntegerArray:
    """Integers with missing values where ``present`` is False."""
    return pd.arrays.IntegerArray(np.ascontiguousarray(values), ~present)


def missing_below_zero(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Integers with ``<NA>`` where the engine or decoder wrote -1 ("none here")."""
    values = np.asarray(values)
    return nullable(values, values >= 0)


def utc_times(ts_ns: np.ndarray) -> pd.arrays.DatetimeArray:
    """Epoch nanoseconds as ``datetime64[ns, UTC]`` values."""
    return pd.to_datetime(np.asarray(ts_ns, np.int64), unit="ns", utc=True).array


def packets_frame(packets: PacketBatch, *, with_status: bool = False) -> pd.DataFrame:
    """One row per decoded record, columns as in :data:`PACKET_COLUMNS`."""
    opts = packets["options"]
    marks = packets["marks"]
    sack_count = packets["sack_count"]
    ipv6 = packets["ip_version"] == 6
    data: dict[str, object] = {
        "frame": packets["frame"], "ts_ns": packets["ts_ns"], "time": utc_times(packets["ts_ns"]),
        "iface": packets["iface"],
        "caplen": packets["caplen"], "origlen": packets["origlen"], "ip_version": packets["ip_version"],
        "src_addr": address_text(packets["src_hi"], packets["src_lo"], ipv6), "src_port": packets["src_port"],
        "dst_addr": address_text(packets["dst_hi"], packets["dst_lo"], ipv6), "dst_port": packets["dst_port"],
        "seq_raw": packets["seq_raw"], "ack_raw": packets["ack_raw"], "tcp_flags": packets["tcp_flags"],
        "win_raw": packets["win_raw"], "tcp_hdr_len": packets["tcp_hdr_len"], "payload_len": packets["payload_len"],
        "payload_caplen": packets["payload_caplen"], "truncated": (marks & MARK_TRUNCATED) != 0,
        "mss": nullable(packets["mss"], (opts & OPT_MSS) != 0),
        "wscale": nullable(packets["wscale"], (opts & OPT_WSCALE) != 0),
        "sack_perm": (opts & OPT_SACK_PERM) != 0,
        "ts_val": nullable(packets["ts_val"], (opts & OPT_TIMESTAMP) != 0),
        "ts_ecr": nullable(packets["ts_ecr"], (opts & OPT_TIMESTAMP) != 0),
        "sack_count": sack_count,
    }
    for k in range(1, 5):
        has_block = ((opts & OPT_SACK) != 0) & (sack_count >= k)
        data[f"sack_le{k}"] = nullable(packets[f"sack_le{k}"], has_block)
        data[f"sack_re{k}"] = nullable(packets[f"sack_re{k}"], has_block)
    data.update({
        "options_malformed": (opts & OPT_MALFORMED) != 0, "ip_id": packets["ip_id"], "ttl": packets["ttl"],
        "reassembled": (marks & MARK_REASSEMBLED) != 0, "fragment_overlap": (marks & MARK_FRAGMENT_OVERLAP) != 0,
        "ip_length_exceeds_frame": (marks & MARK_IP_LENGTH_EXCEEDS_FRAME) != 0,
        "bad_ip_checksum": (marks & MARK_BAD_IP_CHECKSUM) != 0, "bad_tcp_checksum": (marks & MARK_BAD_TCP_CHECKSUM) != 0,
        "rec_off": packets["rec_off"], "payload_off": missing_below_zero(packets["payload_off"]),
        **tunnel_columns(packets),
    })
    if with_status:
        codes = packets["status"]
        data["record_class"] = pd.Categorical.from_codes(status.CLASS_OF_STATUS[codes], categories=list(status.CLASSES))
        data["status"] = pd.Categorical.from_codes(codes, categories=list(status.STATUS_NAMES))
        data["ip_proto"] = packets["ip_proto"]
        data["linktype"] = packets["linktype"]
    return pd.DataFrame(data, copy=False)


def tunnel_columns(packets: PacketBatch) -> dict[str, object]:
    """The tunnel path of each packet (missing where it came through none); cheap for a batch
    without tunnelled records."""
    n = len(packets)
    if not packets.tunnelled:
        none = pd.Categorical.from_codes(np.full(n, -1), categories=[])
        return {"tunnel": none, "tunnel_id": nullable(np.zeros(n, np.uint32), np.zeros(n, bool)),
                "outer_src_addr": none.copy(), "outer_dst_addr": none.copy()}
    chain = packets["tunnel_chain"]
    tunnelled = chain != 0
    codes, index = np.unique(chain, return_inverse=True)
    names = pd.Categorical.from_codes(np.where(tunnelled, index, -1),
                                      categories=[tunnels.chain_name(int(c)) or "none" for c in codes])
    columns: dict[str, object] = {"tunnel": names.remove_unused_categories(),
                                  "tunnel_id": nullable(packets["tunnel_id"], tunnelled)}
    for end in ("src", "dst"):
        hi, lo = packets[f"outer_{end}_hi"], packets[f"outer_{end}_lo"]
        ipv6 = (hi != 0) | ((lo & ~np.uint64(0xFFFFFFFF)) != IPV4_MAPPED)
        text = address_text(hi, lo, ipv6)
        columns[f"outer_{end}_addr"] = pd.Categorical.from_codes(np.where(tunnelled, text.codes, -1), text.categories)
    return columns


# The engine's per-packet results (``Engine.process``) where -1 means "none here": <NA> in the packets table.
ENGINE_MISSING = ("dupack_frame", "acks_frame", "ack_rtt_ns", "bytes_in_flight", "ack_rel", "rto_ns", "rto_frame",
                  "irtt_ns", "copy_gap_ns")
DIRECTIONS = ("orig", "resp")  # the values of a packet's ``direction``: which end sent it


def engine_columns(results: dict[str, np.ndarray], names: Iterable[str]) -> dict[str, object]:
    """The engine's per-packet results ``names`` as packets-table columns: -1 as ``<NA>``,
    ``rst_in_window`` (1 in, 0 out, -1 unknown or not a RST) as a nullable boolean."""
    columns: dict[str, object] = {}
    for name in names:
        values = results[name]
        if name in ENGINE_MISSING:
            columns[name] = missing_below_zero(values)
        elif name == "rst_in_window":
            columns[name] = pd.arrays.BooleanArray(values == 1, values < 0)
        else:
            columns[name] = values
    return columns


def directions(codes: np.ndarray) -> pd.Categorical:
    """Direction codes (0 the originator's, 1 the responder's) as the ``orig``/``resp`` categorical."""
    return pd.Categorical.from_codes(np.asarray(codes, np.int8), DIRECTIONS)


# Session columns holding codes, with every value they take, in the order the README explains them.
CONN_STATES = ("S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH")
ENDPOINT_STATES = ("SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING",
                   "LAST-ACK", "TIME-WAIT", "CLOSED", "unknown")
SESSION_CODES: dict[str, tuple[str, ...] | None] = {
    "conn_state": CONN_STATES,
    "history": None,  # Zeek's history letters: the categories are the values found
    "handshake": ("complete", "syn_synack", "refused", "unanswered", "partial_synack", "partial"),
    "window_scaling": ("on", "off", "unknown"),
    "close_type": ("fin", "rst", "refused", "unanswered", "open"),
    "closed_by": ("orig", "resp", "simultaneous", "none"),
    "orig_state": ENDPOINT_STATES,
    "resp_state": ENDPOINT_STATES,
}
# The code columns whose categories are fixed (not the values found): the engine's records hold them as
# these categoricals already.
FIXED_CODES = {name: categories for name, categories in SESSION_CODES.items() if categories is not None}
# Session columns where the engine writes -1 for "none": <NA> in the sessions table.
SESSION_MISSING = ("orig_highest_ack", "resp_highest_ack", "orig_first_flags")
# Datetime columns (to the microsecond) and the epoch-seconds column each is made from (they follow it).
SESSION_TIMES = {"start_time": "start", "end_time": "end"}


def public_sessions(frame: pd.DataFrame, *, times: bool = True) -> pd.DataFrame:
    """The sessions frame as users get it: codes as categoricals, -1 as ``<NA>``, a datetime
    column after ``start`` and ``end`` (unless ``times=False``: a caller that would drop them
    again); columns it does not hold are left out. Idempotent.

    >>> public_sessions(records)[["start", "start_time", "conn_state"]].dtypes
    """
    changed = {}
    for name, categories in SESSION_CODES.items():
        if name in frame and not isinstance(frame[name].dtype, pd.CategoricalDtype):
            changed[name] = coded(name, frame[name], categories)
    for name in SESSION_MISSING:
        if name in frame and not isinstance(frame[name].dtype, pd.api.extensions.ExtensionDtype):
            changed[name] = missing_below_zero(frame[name].to_numpy())
    inserted = {name: source for name, source in SESSION_TIMES.items() if times and source in frame and name not in frame}
    if not changed and not inserted:
        return frame
    frame = frame.assign(**changed)  # a new frame: the caller's stays as it was
    for name, source in inserted.items():
        frame.insert(frame.columns.get_loc(source) + 1, name, seconds_to_utc(frame[source].to_numpy(np.float64)))
    return frame


def seconds_to_utc(seconds: np.ndarray) -> pd.arrays.DatetimeArray:
    """Epoch seconds (float) as ``datetime64[ns, UTC]``, to the microsecond: a float64 of
    today's epoch seconds holds no finer digits (about 0.24 us apart)."""
    micros = np.round(seconds * 1e6).astype(np.int64)
    return pd.to_datetime(micros, unit="us", utc=True).as_unit("ns").array


def coded(name: str, values, categories: tuple[str, ...] | None) -> pd.Categorical:
    """Text codes of column ``name`` as a categorical of ``categories`` (None: the sorted values
    found). Each distinct value is looked up once (hashing the column, not comparing text per row)."""
    codes, uniques = pd.factorize(values)  # -1 for a missing value
    found = np.asarray(uniques, dtype=object).tolist()
    categories = sorted(found) if categories is None else categories
    position = {category: i for i, category in enumerate(categories)}
    unknown = [value for value in found if value not in position]
    if unknown:  # a value the table above lacks would silently become <NA>
        raise ValueError(f"{name}: no category for {unknown[0]!r}")
    lookup = np.array([*(position[value] for value in found), -1], np.int64)
    return pd.Categorical.from_codes(lookup[codes], categories=list(categories))
