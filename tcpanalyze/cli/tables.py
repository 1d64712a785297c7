"""The human (``--format table``) views of the frames: short columns people read at a glance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..dfilter.fields import ack_shown
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


# The packets view fits a terminal this wide by default; ``--columns`` shows anything, uncut.
TABLE_WIDTH = 120
# The room the default view keeps for ``info`` before it compacts the columns left of it.
INFO_ROOM = 16
# Flags as the letters Wireshark's tcp.flags.str uses, in our bit order (``SA``: SYN and ACK);
# AE, Wireshark 4.0's nonce bit, is N there.
FLAG_LETTERS = "FSRPAUECN"
# An address longer than this (IPv6 only: IPv4's longest is 15) keeps its ends around a ``…``
# in the default view; a tighter cut when the columns still run too wide.
ADDR_TEXT_MAX = 15
ADDR_TEXT_TIGHT = 11
PACKET_VIEW = ("frame", "time_s", "session", "source", "destination", "flags", "seq", "ack", "win", "ws", "len", "info")


def packet_table(frame: pd.DataFrame, base_ns: int | None = None, raw: bool = False,
                 columns: list[str] | None = None) -> pd.DataFrame:
    """The human view of a packets frame, as Wireshark shows packets: session, endpoints, flags
    (Wireshark's letters: ``SA`` is SYN+ACK), relative sequence and ACK numbers, the calculated
    (scaled) window ``win`` and its scale factor ``ws``, the length, and ``info``: analysis
    flags, then key options (SACK edges relative too). ``raw`` shows the numbers on the wire
    instead. Frames without the session analysis (``--all-records``) are raw.

    By default (``columns`` None) the columns of PACKET_VIEW fit in TABLE_WIDTH: IPv6 addresses
    are cut in the middle, ``ws`` is left out when no window is scaled, SACK blocks after the
    first are counted (``+2``), a fast or spurious retransmission is not also called a
    retransmission. Where that leaves ``info`` less than INFO_ROOM, IPv6 addresses are cut
    harder, times of a capture spanning years shown to the millisecond, then ``ws`` left out;
    ``info`` is cut with ``…`` where a row would still run wider. Named
    ``columns`` are shown whole: these and ``flag_names``, ``src``, ``dst`` (endpoints uncut),
    ``options``, ``analysis``, ``tunnel`` and ``status``.

    ``time_s`` counts from ``base_ns`` (default: the frame's first packet).

    >>> packet_table(analysis.packets)                               # what ``tcpanalyze packets`` prints
    >>> packet_table(analysis.packets, columns=["frame", "src", "options"])
    """
    view = _whole_packet_view(frame, base_ns, raw)
    if columns is not None:
        return view[columns]
    unscaled = view["ws"].isin(["", "1"]).all()
    shown = [c for c in PACKET_VIEW if c in view and not (c == "ws" and unscaled)]
    last = "info"
    if "status" in view:
        shown, last = shown + ["status"], "status"
    view = view[shown]
    if _widths(view, last) + INFO_ROOM > TABLE_WIDTH:  # long IPv6 addresses, or times of a capture spanning years
        view = view.assign(source=endpoint_text(frame["src_addr"], frame["src_port"], ADDR_TEXT_TIGHT),
                           destination=endpoint_text(frame["dst_addr"], frame["dst_port"], ADDR_TEXT_TIGHT))
        if view["time_s"].str.len().max() > len("99999.999999"):
            view["time_s"] = _milliseconds_text(frame["ts_ns"], base_ns)
    if "ws" in view and _widths(view, last) + INFO_ROOM > TABLE_WIDTH:
        view = view.drop(columns="ws")
    return _fit(view, last)


def packet_columns(frame: pd.DataFrame) -> list[str]:
    """Every column ``packet_table`` can show for ``frame`` (what ``--columns`` may name)."""
    return list(_whole_packet_view(frame.head(0), None, False))


def _whole_packet_view(frame: pd.DataFrame, base_ns: int | None, raw: bool) -> pd.DataFrame:
    relative = not raw and "seq_rel" in frame
    codes = np.unique(frame["tcp_flags"].to_numpy())
    letters = {int(v): "".join(c for bit, c in enumerate(FLAG_LETTERS) if int(v) >> bit & 1) for v in codes}
    table = {"frame": frame["frame"], "time_s": relative_seconds(frame["ts_ns"], base_ns)}
    if "session_id" in frame:
        table["session"] = frame["session_id"]
    table.update({
        "source": endpoint_text(frame["src_addr"], frame["src_port"], ADDR_TEXT_MAX),
        "destination": endpoint_text(frame["dst_addr"], frame["dst_port"], ADDR_TEXT_MAX),
        "flags": frame["tcp_flags"].map(letters),
        "seq": frame["seq_rel"] if relative else frame["seq_raw"],
        "ack": ack_shown(frame) if relative else frame["ack_raw"],
        "win": frame["window"] if relative else frame["win_raw"],
        "ws": _scale_text(frame),
        "len": frame["payload_len"],
    })
    sack_base = _sack_base(frame) if relative else None
    options = _options_text(frame, sack_base)
    analysis = frame["analysis"].str.join(",") if "analysis" in frame else pd.Series("", index=frame.index, dtype=object)
    table["info"] = (_info_analysis(frame) + " " + _options_text(frame, sack_base, all_sacks=False)).str.strip()
    table.update({"flag_names": frame["tcp_flags"].map({int(v): flag_text(int(v)) for v in codes}),
                  "src": endpoint_text(frame["src_addr"], frame["src_port"]),
                  "dst": endpoint_text(frame["dst_addr"], frame["dst_port"]),
                  "options": options, "analysis": analysis,
                  "tunnel": frame["tunnel"].astype(object).fillna("") if "tunnel" in frame else ""})
    if "status" in frame:
        table["status"] = frame["status"]
    return pd.DataFrame(table, index=frame.index)


def _milliseconds_text(ts_ns: pd.Series, base_ns: int | None) -> pd.Series:
    """``time_s`` to the millisecond, for the view of a capture too wide for microseconds."""
    base_ns = base_ns if base_ns is not None else (int(ts_ns.iloc[0]) if len(ts_ns) else 0)
    return pd.Series(np.char.mod("%.3f", (ts_ns.to_numpy() - base_ns) / 1e9), index=ts_ns.index, dtype=object)


def _widths(view: pd.DataFrame, last: str) -> int:
    """How wide the columns before ``last`` print: each as its widest cell or name, two spaces apart."""
    return sum(max(len(c), int(view[c].astype(str).str.len().max()) if len(view) else 0) + 2
               for c in view.columns if c != last)


def _fit(view: pd.DataFrame, last: str) -> pd.DataFrame:
    """``view`` with its ``last`` column cut (ending ``…``) where a row would run past TABLE_WIDTH."""
    room = max(TABLE_WIDTH - _widths(view, last), len(last))
    text = view[last].astype(str)
    long = text.str.len() > room
    if long.any():
        view = view.copy()
        view.loc[long, last] = text[long].str[: room - 1] + "…"
    return view


def _info_analysis(frame: pd.DataFrame) -> pd.Series:
    """The analysis flags for ``info``: a fast or spurious retransmission is not also called a
    retransmission (it always is one, engine/flags.py)."""
    if "analysis" not in frame:
        return pd.Series("", index=frame.index, dtype=object)

    def text(names: list[str]) -> str:
        if "retransmission" in names and ("fast_retransmission" in names or "spurious_retransmission" in names):
            names = [n for n in names if n != "retransmission"]
        return ",".join(names)

    return frame["analysis"].map(text)


def _scale_text(frame: pd.DataFrame) -> pd.Series:
    """Per packet, the window scale factor applied to its window field (Wireshark's
    ``tcp.window_size_scalefactor``, 1 where the window is not scaled, unknown or none),
    blank on a SYN (never scaled) and until a direction's first nonzero window shows it."""
    if "window" not in frame or "session_id" not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    raw = frame["win_raw"].to_numpy(np.int64)
    syn = (frame["tcp_flags"].to_numpy() & 0x02) != 0
    factor = pd.Series(np.where((raw > 0) & ~syn, frame["window"].to_numpy(np.int64) // np.maximum(raw, 1), -1),
                       index=frame.index)
    factor = factor.where(factor > 0)
    known = factor.groupby([frame["session_id"].to_numpy(), frame["direction"].astype(str).to_numpy()]).ffill()
    text = known.map(lambda v: "" if pd.isna(v) else str(int(v)))
    return text.where(~syn, "")


def _sack_base(frame: pd.DataFrame) -> np.ndarray:
    """Per packet, the raw number SACK edges count from: its ACK's base (the peer's ISN)."""
    return (frame["ack_raw"].to_numpy(np.int64) - frame["ack_rel"].to_numpy(np.int64, na_value=0)) & 0xFFFFFFFF


def endpoint_text(addr: pd.Series, port: pd.Series, max_addr: int | None = None) -> pd.Series:
    """``addr:port``, IPv6 addresses in brackets; with ``max_addr``, an IPv6 address longer than
    that keeps its first and last characters around a ``…``."""
    text = addr.astype(str)
    if max_addr is not None:
        long = (text.str.len() > max_addr) & text.str.contains(":", regex=False)
        if long.any():
            head = (max_addr - 1) // 2
            text = text.where(~long, text.str[:head] + "…" + text.str[-(max_addr - 1 - head):])
    text = text.where(~addr.astype(str).str.contains(":", regex=False), "[" + text + "]")
    return text + ":" + port.astype(str)


def _options_text(frame: pd.DataFrame, sack_base: np.ndarray | None, all_sacks: bool = True) -> pd.Series:
    """MSS, window scale, SACK-permitted, SACK blocks (relative to ``sack_base`` when given; with
    ``all_sacks`` False the first one and how many more, ``+2``), and what was cut or malformed."""
    parts = pd.Series("", index=frame.index, dtype=object)
    present = frame["mss"].notna()
    parts[present] += "mss=" + frame.loc[present, "mss"].astype(str) + " "
    present = frame["wscale"].notna()  # as Wireshark's Info column: WS=the multiplier, not the shift
    shifts = frame.loc[present, "wscale"].to_numpy(np.int64)
    parts[present] += "ws=" + pd.Series(1 << np.minimum(shifts, 14), index=frame.index[present]).astype(str) + " "
    parts[frame["sack_perm"]] += "sack_perm "
    blocks = sum(frame[f"sack_le{k}"].notna().to_numpy(np.int64) for k in range(1, 5))
    for k in range(1, 5):
        present = frame[f"sack_le{k}"].notna().to_numpy()
        edges = []
        for edge in ("le", "re"):
            values = frame[f"sack_{edge}{k}"].to_numpy()[present].astype(np.int64)
            if sack_base is not None:
                values = (values - sack_base[present]) & 0xFFFFFFFF
            edges.append(pd.Series(values, index=frame.index[present]).astype(str))
        if all_sacks or k == 1:
            parts[present] += "sack=" + edges[0] + "-" + edges[1] + " "
        elif k == 2:
            parts[present] += "+" + pd.Series(blocks[present] - 1, index=frame.index[present]).astype(str) + " "
    parts[frame["truncated"]] += "truncated "
    parts[frame["options_malformed"]] += "bad_options "
    return parts.str.rstrip()
