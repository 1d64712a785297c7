"""Session records: the state of emitted sessions turned into one row each.

Everything here is vectorised over the emitted slots. Column names carry their unit and
direction (``orig_`` / ``resp_``); their meanings are listed in the README (sessions fields).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import flows
from ..decode import tunnels
from ..frames import FIXED_CODES, IPV4_MAPPED, address_text, coded, nullable
from . import layout as L
from . import zeek
from .flags import FLAG_NAMES

if TYPE_CHECKING:
    from .analysis import Engine

NS = 1e9
# ``handshake`` outcomes of a connection attempt that never completed: answered by a RST, never
# answered, or the SYN-ACK never acknowledged (what a SYN flood leaves); every command counts
# failed handshakes with these.
FAILED_HANDSHAKES = ("syn_synack", "refused", "unanswered")


def _pick(values: np.ndarray, conditions: list[tuple[np.ndarray, str]],
          default: str) -> pd.api.extensions.ExtensionArray:
    """First matching label per row (np.select for strings), as a text array built by position
    (no Python string per row: a flood emits millions)."""
    codes = np.select([c for c, _ in conditions], np.arange(len(conditions)), len(conditions)) \
        if len(values) else np.empty(0, np.int64)
    return pd.array([*(v for _, v in conditions), default], dtype="str").take(codes)


def _tunnel_path(flow: dict[str, np.ndarray], slots: np.ndarray) -> dict[str, object]:
    """A session's tunnel path (Zeek's ``tunnel_parents``, by value): the chain of tunnels its
    first packet came through (``"gre>vxlan"``), the innermost VNI / TEID / key, and the outer
    endpoints on the originator's and responder's side; missing for untunnelled sessions."""
    chain = flow["u32"][flows.TUNNEL_CHAIN, slots]
    codes, index = np.unique(chain, return_inverse=True)
    names = pd.Categorical.from_codes(np.where(chain == 0, -1, index),
                                      categories=[tunnels.chain_name(int(c)) or "none" for c in codes])
    tunnelled = chain != 0
    outer = {}
    for side, hi_row, lo_row in (("orig", flows.OUTER_ORIG_HI, flows.OUTER_ORIG_LO),
                                 ("resp", flows.OUTER_RESP_HI, flows.OUTER_RESP_LO)):
        # text for the tunnelled sessions' outer addresses only (none in most captures)
        hi, lo = flow["u64"][hi_row, slots][tunnelled], flow["u64"][lo_row, slots][tunnelled]
        ipv6 = (hi != 0) | ((lo & ~np.uint64(0xFFFFFFFF)) != IPV4_MAPPED)
        text = address_text(hi, lo, ipv6)
        address_codes = np.full(slots.size, -1, text.codes.dtype)
        address_codes[tunnelled] = text.codes
        outer[f"outer_{side}_addr"] = pd.Categorical.from_codes(address_codes, text.categories)
    return {"tunnel": names.remove_unused_categories(),
            "tunnel_id": nullable(flow["u32"][flows.TUNNEL_ID, slots].astype(np.int64), tunnelled), **outer}


def session_records(engine: "Engine", slots: np.ndarray) -> pd.DataFrame:
    """One row per slot in ``slots``, from the engine's state (before the slots are freed)."""
    return pd.DataFrame(record_arrays(session_values(engine, slots)))


def record_arrays(rec: dict[str, object], columns: list[str] | None = None) -> dict[str, object]:
    """``session_values``' values as the session records frame's column arrays (text as pandas
    text arrays, codes with fixed categories as those categoricals: ``frames.FIXED_CODES``), every
    column or only ``columns``: a chunk of records without the cost of a DataFrame, which
    ``pd.DataFrame`` or ``streaming.sessions_frame`` make into one."""
    names = rec if columns is None else columns
    return {name: _record_column(name, rec[name]) for name in names}


def _record_column(name: str, values: object) -> object:
    values = pd.array(values, dtype="str") if isinstance(values, list) else values
    return coded(name, values, FIXED_CODES[name]) if name in FIXED_CODES else values  # a byte per session, not text


def session_values(engine: "Engine", slots: np.ndarray) -> dict[str, object]:
    """Every session column's values (by name) for the slots in ``slots``, from the engine's
    state (before the slots are freed)."""
    fs = engine.flows.state
    state = engine.column[slots]  # the sessions' analysis state columns
    o, r = 2 * state, 2 * state + 1
    du, di, dsum, df, d8 = (engine.directions.m[k] for k in ("u32", "i64", "sum", "f64", "i8"))
    si = engine.sessions.m["i64"]
    ports = fs.m["u32"][flows.PORTS, slots].astype(np.int64)
    ipv6 = fs.m["u8"][flows.IPV6, slots]
    first_ts = fs.m["i64"][flows.FIRST_TS, slots]
    last_ts = fs.m["i64"][flows.LAST_TS, slots]
    duration = (last_ts - first_ts) / NS

    rec: dict[str, object] = {
        "session_id": fs.m["i64"][flows.SESSION_ID, slots],
        "orig_addr": address_text(fs.m["u64"][flows.ORIG_HI, slots], fs.m["u64"][flows.ORIG_LO, slots], ipv6),
        "orig_port": (ports >> 16).astype(np.uint16),
        "resp_addr": address_text(fs.m["u64"][flows.RESP_HI, slots], fs.m["u64"][flows.RESP_LO, slots], ipv6),
        "resp_port": (ports & 0xFFFF).astype(np.uint16),
        "start": first_ts / NS,
        "end": last_ts / NS,
        "duration": duration,
        "first_frame": fs.m["i64"][flows.FIRST_FRAME, slots],
        "last_frame": fs.m["i64"][flows.LAST_FRAME, slots],
        "partial": fs.m["u8"][flows.PARTIAL, slots].astype(bool),
        "flipped": fs.m["u8"][flows.FLIPPED, slots].astype(bool),
        **_tunnel_path(fs.m, slots),
    }
    for side, cols in (("orig", o), ("resp", r)):
        max_end = di[cols, L.MAX_END]
        fin = di[cols, L.FIN_TS] >= 0
        # Zeek's orig_bytes/resp_bytes: application bytes by sequence numbers (SYN/FIN excluded)
        stream = np.maximum(max_end - 1 - fin.astype(np.int64), 0)
        unique = dsum[cols, L.UNIQUE_BYTES]
        rec[f"{side}_pkts"] = du[cols, L.PKTS]
        rec[f"{side}_bytes"] = stream
        rec[f"{side}_payload_bytes"] = dsum[cols, L.PAYLOAD_BYTES]
        rec[f"{side}_unique_bytes"] = unique
        rec[f"{side}_data_pkts"] = du[cols, L.DATA_PKTS]
        rec[f"{side}_retrans_pkts"] = du[cols, L.RETRANS_PKTS]
        rec[f"{side}_retrans_data_pkts"] = du[cols, L.RETRANS_DATA_PKTS]
        rec[f"{side}_retrans_bytes"] = dsum[cols, L.RETRANS_BYTES]
        rec[f"{side}_lost_before_capture_pkts"] = du[cols, L.LOST_BEFORE_CAPTURE]
        rec[f"{side}_reordered_pkts"] = du[cols, L.REORDERED]
        rec[f"{side}_duplicate_pkts"] = du[cols, L.DUPLICATES]
        rec[f"{side}_missed_bytes"] = np.maximum(stream - unique, 0)
        rec[f"{side}_syn_pkts"] = du[cols, L.SYN_PKTS]
        rec[f"{side}_synack_pkts"] = du[cols, L.SYNACK_PKTS]
        rec[f"{side}_rst_pkts"] = du[cols, L.RST_PKTS]
        rec[f"{side}_bad_checksum_pkts"] = du[cols, L.BAD_CHECKSUM_PKTS]
        rec[f"{side}_highest_ack"] = di[cols, L.MAX_ACK]
    rec["missed_bytes"] = rec["orig_missed_bytes"] + rec["resp_missed_bytes"]  # type: ignore[operator]

    for side, cols in (("orig", o), ("resp", r)):
        for k, name in enumerate(FLAG_NAMES):
            rec[f"{side}_{name}"] = du[cols, L.FLAG_COUNT + k]

    # handshake
    o_bits, r_bits = d8[o, L.BITS], d8[r, L.BITS]
    syn = (o_bits & L.SENT_SYN) != 0
    synack = (r_bits & L.SENT_SYNACK) != 0
    hs_ack = si[state, L.HANDSHAKE_ACK_TS] > 0
    r_rst = di[r, L.RST_TS] >= 0
    rec["handshake"] = _pick(slots, [
        (syn & synack & hs_ack, "complete"), (syn & synack, "syn_synack"), (syn & r_rst, "refused"),
        (syn, "unanswered"), (synack, "partial_synack"),
    ], "partial")
    first_rtt = si[state, L.FIRST_RTT]
    # Wireshark's iRTT also times a RST answering the SYN; a session's iRTT is the handshake's.
    complete = rec["handshake"] == "complete"
    rec["irtt_ms"] = np.where((first_rtt > 0) & complete, first_rtt / 1e6, np.nan)
    # its two sides of the capture point: to the responder and back (SYN to SYN-ACK), to the
    # originator and back (SYN-ACK to ACK); captured at an end, that end's side is ~0
    irtt_resp, irtt_orig = si[state, L.IRTT_RESP], si[state, L.IRTT_ORIG]
    rec["irtt_resp_ms"] = np.where(irtt_resp > 0, irtt_resp / 1e6, np.nan)
    rec["irtt_orig_ms"] = np.where((irtt_orig > 0) & complete, irtt_orig / 1e6, np.nan)
    # From the first SYN to the handshake's ACK: longer than the iRTT when SYNs had to be retried.
    rec["orig_first_flags"] = di[o, L.FIRST_FLAGS]
    # a full accept queue: the responder repeats its SYN-ACK because it dropped the client's ACK
    rec["resp_synacks_after_ack"] = du[r, L.SYNACKS_AFTER_ACK]
    # data sent and not yet acknowledged, both ways, when the first RST came (0: no RST)
    rec["rst_unacked_bytes"] = si[state, L.RST_UNACKED]
    rec["handshake_s"] = np.where(rec["handshake"] == "complete", (si[state, L.HANDSHAKE_ACK_TS] - first_ts) / NS,
                                  np.nan)

    for side, cols, bits in (("orig", o, o_bits), ("resp", r, r_bits)):
        mss = du[cols, L.MSS_VALUE].astype(np.int64)
        rec[f"{side}_mss"] = nullable(mss, mss > 0)
        scale = d8[cols, L.WIN_SCALE].astype(np.int64)
        offered = (bits & L.WSCALE_OPTION) != 0
        rec[f"{side}_wscale"] = nullable(scale, offered & (scale >= 0))
        rec[f"{side}_sack_permitted"] = (bits & L.SACK_PERMITTED) != 0
        rec[f"{side}_timestamps"] = (bits & L.TIMESTAMPS) != 0
    rec["window_scaling"] = _pick(slots, [
        (d8[o, L.WIN_SCALE] >= 0, "on"), (d8[o, L.WIN_SCALE] == L.SCALE_NONE, "off")], "unknown")
    rec["sack"] = np.asarray(rec["orig_sack_permitted"]) & np.asarray(rec["resp_sack_permitted"])
    rec["timestamps"] = np.asarray(rec["orig_timestamps"]) & np.asarray(rec["resp_timestamps"])

    # RTT of each side's data (Karn: samples from retransmitted segments left out)
    for side, cols in (("orig", o), ("resp", r)):
        n = du[cols, L.RTT_N].astype(np.int64)
        total = df[cols, L.RTT_SUM]
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        var = np.where(n > 1, (df[cols, L.RTT_SUMSQ] - n * mean * mean) / np.maximum(n - 1, 1), np.nan)
        rec[f"{side}_rtt_samples"] = n
        rec[f"{side}_rtt_ambiguous"] = du[cols, L.RTT_AMBIGUOUS]
        rec[f"{side}_dsacks"] = du[cols, L.DSACKS]
        rec[f"{side}_rtt_min_ms"] = np.where(n > 0, di[cols, L.RTT_MIN] / 1e6, np.nan)
        rec[f"{side}_rtt_mean_ms"] = mean / 1e6
        rec[f"{side}_rtt_max_ms"] = np.where(n > 0, di[cols, L.RTT_MAX] / 1e6, np.nan)
        rec[f"{side}_rtt_stdev_ms"] = np.sqrt(np.maximum(var, 0)) / 1e6

    for side, cols in (("orig", o), ("resp", r)):
        rec[f"{side}_max_bytes_in_flight"] = np.maximum(di[cols, L.MAX_BIF], 0)
        rec[f"{side}_min_window"] = nullable(di[cols, L.MIN_WIN], di[cols, L.MIN_WIN] >= 0)
        rec[f"{side}_max_window"] = nullable(di[cols, L.MAX_WIN], di[cols, L.MAX_WIN] >= 0)
        # zero-window episodes this side advertised; one still open ends at the last packet
        open_start = di[cols, L.ZW_START]
        open_len = np.where(open_start >= 0, np.maximum(last_ts - open_start, 0), 0)
        rec[f"{side}_zero_window_episodes"] = du[cols, L.ZW_COUNT]
        rec[f"{side}_zero_window_s"] = (dsum[cols, L.ZW_TOTAL] + open_len) / NS
        rec[f"{side}_zero_window_longest_s"] = np.maximum(dsum[cols, L.ZW_LONGEST], open_len) / NS
        rec[f"{side}_zero_window_probes"] = du[cols, L.ZW_PROBES]
    rec["longest_idle_s"] = si[state, L.LONGEST_IDLE] / NS
    safe = np.where(duration > 0, duration, np.nan)
    rec["orig_throughput_bps"] = np.asarray(rec["orig_unique_bytes"]) * 8 / safe
    rec["resp_throughput_bps"] = np.asarray(rec["resp_unique_bytes"]) * 8 / safe

    rec.update(_close(state, o, r, di, dsum, d8, si, syn, synack, hs_ack, r_rst))
    rec["conn_state"], rec["history"], _, _ = zeek.conn_states(engine.zeek, state, fs.m["u8"][flows.FLIPPED, slots])
    return rec


def _close(state, o, r, di, dsum, d8, si, syn, synack, hs_ack, r_rst) -> dict[str, np.ndarray]:
    """How the session ended: close_type, closed_by, half_closed, and each endpoint's RFC 9293 state."""
    fin_o, fin_r = di[o, L.FIN_TS], di[r, L.FIN_TS]
    rst_o, rst_r = di[o, L.RST_TS], di[r, L.RST_TS]
    has_fin_o, has_fin_r = fin_o >= 0, fin_r >= 0
    has_rst = (rst_o >= 0) | (rst_r >= 0)
    first_rst = np.where(rst_o >= 0, rst_o, np.iinfo(np.int64).max)
    first_rst = np.minimum(first_rst, np.where(rst_r >= 0, rst_r, np.iinfo(np.int64).max))
    both_fin_before_rst = has_fin_o & has_fin_r & (np.maximum(fin_o, fin_r) <= first_rst)
    resp_silent = (d8[r, L.BITS] == 0) & (di[r, L.LAST_SEQ] < 0)
    close_type = _pick(state, [
        (syn & ~synack & r_rst, "refused"), (syn & resp_silent, "unanswered"),
        (both_fin_before_rst, "fin"), (has_rst, "rst"), (has_fin_o | has_fin_r, "fin"),
    ], "open")
    # who closed first: earliest FIN or RST
    big = np.iinfo(np.int64).max
    end_o = np.minimum(np.where(has_fin_o, fin_o, big), np.where(rst_o >= 0, rst_o, big))
    end_r = np.minimum(np.where(has_fin_r, fin_r, big), np.where(rst_r >= 0, rst_r, big))
    fin_acked_o = (d8[o, L.BITS] & L.FIN_ACKED) != 0
    fin_acked_r = (d8[r, L.BITS] & L.FIN_ACKED) != 0
    simultaneous = has_fin_o & has_fin_r & (si[state, L.SIMULTANEOUS_CLOSE] != 0)
    closed_by = _pick(state, [
        (simultaneous, "simultaneous"), ((end_o == big) & (end_r == big), "none"), (end_o <= end_r, "orig"),
    ], "resp")
    half_closed = (dsum[o, L.BYTES_AFTER_PEER_FIN] > 0) | (dsum[r, L.BYTES_AFTER_PEER_FIN] > 0)
    out = {"close_type": close_type, "closed_by": closed_by, "half_closed": half_closed}
    for side, me, peer, my_fin, peer_fin, my_acked in (("orig", o, r, has_fin_o, has_fin_r, fin_acked_o),
                                                       ("resp", r, o, has_fin_r, has_fin_o, fin_acked_r)):
        my_first = di[me, L.FIN_TS] <= np.where(peer_fin, di[peer, L.FIN_TS], big)
        bits = d8[me, L.BITS]
        seen = (bits != 0) | (di[me, L.LAST_SEQ] >= 0)
        out[f"{side}_state"] = _pick(state, [
            (has_rst, "CLOSED"),
            (my_fin & ~peer_fin & my_acked, "FIN-WAIT-2"), (my_fin & ~peer_fin, "FIN-WAIT-1"),
            (~my_fin & peer_fin, "CLOSE-WAIT"),
            # the first closer, or both sides of a simultaneous close (RFC 9293 §3.6 case 2)
            (my_fin & peer_fin & (my_first | simultaneous) & my_acked, "TIME-WAIT"),
            (my_fin & peer_fin & (my_first | simultaneous), "CLOSING"),
            (my_fin & peer_fin & my_acked, "CLOSED"), (my_fin & peer_fin, "LAST-ACK"),
            (((bits & L.SENT_SYN) != 0) & ~(((d8[peer, L.BITS] & L.SENT_SYNACK) != 0)), "SYN-SENT"),
            (((bits & L.SENT_SYNACK) != 0) & ~hs_ack & ((bits & L.IS_FIRST_ACK) != 0), "SYN-RECEIVED"),
            (seen, "ESTABLISHED"),
        ], "unknown")
    return out
