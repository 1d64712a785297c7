"""The human (``--format table``) views of the frames: short columns people read at a glance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..output import flag_text, relative_seconds


def session_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The human view of sessions: who talked to whom, how much, how it went and ended."""
    retrans = frame["orig_retrans_pkts"] + frame["resp_retrans_pkts"]
    rtt = frame[["orig_rtt_mean_ms", "resp_rtt_mean_ms"]].max(axis=1)
    return pd.DataFrame({
        "id": frame["session_id"],
        "start_utc": pd.to_datetime(frame["start"], unit="s").dt.strftime("%H:%M:%S.%f").str[:-3],
        "originator": endpoint_text(frame["orig_addr"], frame["orig_port"]),
        "responder": endpoint_text(frame["resp_addr"], frame["resp_port"]),
        "dur_s": frame["duration"].map("{:.3f}".format),
        "pkts": frame["orig_pkts"].astype(str) + "/" + frame["resp_pkts"].astype(str),
        "bytes": frame["orig_bytes"].astype(str) + "/" + frame["resp_bytes"].astype(str),
        "state": frame["conn_state"] if "conn_state" in frame else "",
        "history": frame["history"] if "history" in frame else "",
        "close": frame["close_type"] + "/" + frame["closed_by"],
        "retrans": retrans,
        "irtt_ms": frame["irtt_ms"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}"),
        "rtt_ms": rtt.map(lambda v: "" if pd.isna(v) else f"{v:.1f}"),
    })


def packet_table(frame: pd.DataFrame, base_ns: int | None = None) -> pd.DataFrame:
    """The human view of a packets frame: endpoints, flag names, lengths and key options.

    ``time_s`` counts from ``base_ns`` (default: the frame's first packet).
    """
    flags = frame["tcp_flags"].to_numpy()
    names = {int(v): flag_text(int(v)) for v in np.unique(flags)}
    table = {
        "frame": frame["frame"],
        "time_s": relative_seconds(frame["ts_ns"], base_ns),
        "source": endpoint_text(frame["src_addr"], frame["src_port"]),
        "destination": endpoint_text(frame["dst_addr"], frame["dst_port"]),
        "flags": frame["tcp_flags"].map(names),
        "seq": frame["seq_raw"],
        "ack": frame["ack_raw"],
        "win": frame["win_raw"],
        "len": frame["payload_len"],
        "options": _options_text(frame),
    }
    if "analysis" in frame:
        table["analysis"] = frame["analysis"].str.join(",")
    if "status" in frame:
        table["status"] = frame["status"]
    return pd.DataFrame(table)


def endpoint_text(addr: pd.Series, port: pd.Series) -> pd.Series:
    text = addr.astype(object).where(~addr.astype(str).str.contains(":", regex=False), "[" + addr.astype(str) + "]")
    return text.astype(str) + ":" + port.astype(str)


def _options_text(frame: pd.DataFrame) -> pd.Series:
    parts = pd.Series("", index=frame.index, dtype=object)
    for column, label in (("mss", "mss="), ("wscale", "ws=")):
        present = frame[column].notna()
        parts[present] += label + frame.loc[present, column].astype(str) + " "
    parts[frame["sack_perm"]] += "sack_perm "
    for k in range(1, 5):
        present = frame[f"sack_le{k}"].notna()
        parts[present] += ("sack=" + frame.loc[present, f"sack_le{k}"].astype(str) + "-"
                           + frame.loc[present, f"sack_re{k}"].astype(str) + " ")
    parts[frame["truncated"]] += "truncated "
    parts[frame["options_malformed"]] += "bad_options "
    return parts.str.rstrip()
