"""The human (``--format table``) views of the frames: short columns people read at a glance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..output import flag_text, relative_seconds


def utc_text(seconds: pd.Series, day0_ns: int | None = None) -> pd.Series:
    """Epoch seconds as UTC ``HH:MM:SS.mmm``, with the date in front on any other UTC day than
    the one of ``day0_ns`` (the capture's first packet; default: the earliest of ``seconds``):
    a capture that spans days shows them."""
    if seconds.empty:
        return pd.Series([], index=seconds.index, dtype=object)
    times = pd.to_datetime(seconds.to_numpy(np.float64), unit="s")
    day0 = (times.min() if day0_ns is None else pd.Timestamp(day0_ns, unit="ns")).normalize()
    text = np.where(times.normalize() == day0, times.strftime("%H:%M:%S.%f"), times.strftime("%Y-%m-%d %H:%M:%S.%f"))
    return pd.Series(text, index=seconds.index, dtype=object).str[:-3]


def session_table(frame: pd.DataFrame, day0_ns: int | None = None) -> pd.DataFrame:
    """The human view of sessions: who talked to whom, how much, how it went and ended
    (``day0_ns``: the capture's first packet, whose day ``start_utc`` leaves out)."""
    retrans = frame["orig_retrans_pkts"] + frame["resp_retrans_pkts"]
    rtt = frame[["orig_rtt_mean_ms", "resp_rtt_mean_ms"]].max(axis=1)
    return pd.DataFrame({
        "id": frame["session_id"],
        "start_utc": utc_text(frame["start"], day0_ns),
        "originator": endpoint_text(frame["orig_addr"], frame["orig_port"]),
        "responder": endpoint_text(frame["resp_addr"], frame["resp_port"]),
        "dur_s": frame["duration"].map("{:.3f}".format),
        "pkts": frame["orig_pkts"].astype(str) + "/" + frame["resp_pkts"].astype(str),
        "bytes": frame["orig_bytes"].astype(str) + "/" + frame["resp_bytes"].astype(str),
        "state": frame["conn_state"] if "conn_state" in frame else "",
        "history": frame["history"] if "history" in frame else "",
        "close": frame["close_type"].astype(str) + "/" + frame["closed_by"].astype(str),
        "retrans": retrans,
        "irtt_ms": frame["irtt_ms"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}"),
        "rtt_ms": rtt.map(lambda v: "" if pd.isna(v) else f"{v:.1f}"),
    })


def packet_table(frame: pd.DataFrame, base_ns: int | None = None, raw: bool = False) -> pd.DataFrame:
    """The human view of a packets frame, as Wireshark shows packets: session, endpoints, flag
    names, relative sequence and ACK numbers and the calculated (scaled) window, lengths, key
    options (SACK edges relative too) and the analysis flags; ``raw`` shows the numbers on the
    wire instead. Frames without the session analysis (``--all-records``) are raw.

    ``time_s`` counts from ``base_ns`` (default: the frame's first packet).
    """
    relative = not raw and "seq_rel" in frame
    flags = frame["tcp_flags"].to_numpy()
    names = {int(v): flag_text(int(v)) for v in np.unique(flags)}
    table = {"frame": frame["frame"], "time_s": relative_seconds(frame["ts_ns"], base_ns)}
    if "session_id" in frame:
        table["session"] = frame["session_id"]
    table.update({
        "source": endpoint_text(frame["src_addr"], frame["src_port"]),
        "destination": endpoint_text(frame["dst_addr"], frame["dst_port"]),
        "flags": frame["tcp_flags"].map(names),
        "seq": frame["seq_rel"] if relative else frame["seq_raw"],
        "ack": frame["ack_rel"].fillna(0) if relative else frame["ack_raw"],
        "win": frame["window"] if relative else frame["win_raw"],
        "len": frame["payload_len"],
        "options": _options_text(frame, _sack_base(frame) if relative else None),
    })
    if "analysis" in frame:
        table["analysis"] = frame["analysis"].str.join(",")
    if "status" in frame:
        table["status"] = frame["status"]
    return pd.DataFrame(table)


def _sack_base(frame: pd.DataFrame) -> np.ndarray:
    """Per packet, the raw number SACK edges count from: its ACK's base (the peer's ISN)."""
    return (frame["ack_raw"].to_numpy(np.int64) - frame["ack_rel"].to_numpy(np.int64, na_value=0)) & 0xFFFFFFFF


def endpoint_text(addr: pd.Series, port: pd.Series) -> pd.Series:
    text = addr.astype(object).where(~addr.astype(str).str.contains(":", regex=False), "[" + addr.astype(str) + "]")
    return text.astype(str) + ":" + port.astype(str)


def _options_text(frame: pd.DataFrame, sack_base: np.ndarray | None) -> pd.Series:
    """MSS, window scale, SACK-permitted, SACK blocks (relative to ``sack_base`` when given), and
    what was cut or malformed."""
    parts = pd.Series("", index=frame.index, dtype=object)
    for column, label in (("mss", "mss="), ("wscale", "ws=")):
        present = frame[column].notna()
        parts[present] += label + frame.loc[present, column].astype(str) + " "
    parts[frame["sack_perm"]] += "sack_perm "
    for k in range(1, 5):
        present = frame[f"sack_le{k}"].notna().to_numpy()
        edges = []
        for edge in ("le", "re"):
            values = frame[f"sack_{edge}{k}"].to_numpy()[present].astype(np.int64)
            if sack_base is not None:
                values = (values - sack_base[present]) & 0xFFFFFFFF
            edges.append(pd.Series(values, index=frame.index[present]).astype(str))
        parts[present] += "sack=" + edges[0] + "-" + edges[1] + " "
    parts[frame["truncated"]] += "truncated "
    parts[frame["options_malformed"]] += "bad_options "
    return parts.str.rstrip()
