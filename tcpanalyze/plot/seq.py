"""The time-sequence graph, Stevens/tcptrace style, of one direction's data.

Each data segment is a vertical bar from its first to its last sequence number at the time it
was sent; retransmissions (``resend``: docs/retransmissions.md) are red and marked, originals
that arrived reordered are marked in orange. The other side's ACK line (the cumulative ACK),
its receive-window line (ACK + advertised window: how far the sender may send), its SACK blocks,
and the periods it advertised a zero window (shaded) are drawn on the same sequence axis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection

from ..engine.evidence import retransmissions
from ..engine.flags import RESEND_REORDERED, ZERO_WINDOW_PROBE
from ..flows import TH_ACK, TH_RST
from .canvas import THOUSANDS, TIME_LABEL, no_data
from .session import SessionPackets, other

SACK_BLOCKS = 4
COLOURS = {"data": "black", "retransmission": "red", "ack": "tab:green", "window": "goldenrod",
           "sack": "tab:purple", "zero_window": "mistyrose", "probe": "tab:brown", "reordered": "darkorange"}


def draw_seq(ax: Axes, session: SessionPackets, direction: str) -> None:
    """Draw the time-sequence graph of the data ``direction`` sends (``orig`` or ``resp``)."""
    sent = session.sent(direction)
    data = sent[sent["payload_len"] > 0]
    if data.empty:
        reverse = session.sent(other(direction))["payload_len"].any()
        hint = f"\n(the data went the other way: direction {other(direction)})" if reverse else ""
        no_data(ax, f"no payload sent {session.arrow(direction)}: no time-sequence graph{hint}")
        return
    acks = session.sent(other(direction))
    flags = acks["tcp_flags"]
    acks = acks[((flags & TH_ACK) != 0) & ((flags & TH_RST) == 0) & (acks["ack_rel"] >= 0)]
    _shade_zero_window(ax, session, acks)
    _draw_segments(ax, session, data)
    if not acks.empty:
        t = session.seconds(acks)
        ack = acks["ack_rel"].to_numpy()
        ax.step(t, ack, where="post", color=COLOURS["ack"], linewidth=1, label="ACK")
        ax.step(t, ack + acks["window"].to_numpy(), where="post", color=COLOURS["window"], linewidth=1,
                label="receive window (ACK + window)")
        _draw_sack(ax, session, acks)
    probes = sent[(sent["analysis_flags"] & ZERO_WINDOW_PROBE) != 0]
    if not probes.empty:
        ax.plot(session.seconds(probes), probes["seq_rel"], linestyle="none", marker="^", markersize=5,
                color=COLOURS["probe"], label="zero-window probe")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("relative sequence number (bytes)")
    ax.yaxis.set_major_formatter(THOUSANDS)
    ax.legend(loc="upper left", fontsize=8)


def _draw_segments(ax: Axes, session: SessionPackets, data: pd.DataFrame) -> None:
    t = session.seconds(data)
    low = data["seq_rel"].to_numpy()
    high = low + data["payload_len"].to_numpy()
    resend = data["resend"].cat.codes.to_numpy()
    retrans = retransmissions(resend)
    bars = _bars(t, low, high)
    ax.add_collection(LineCollection(bars[~retrans], colors=COLOURS["data"], linewidths=1.2, label="data segment"))
    if retrans.any():
        ax.add_collection(LineCollection(bars[retrans], colors=COLOURS["retransmission"], linewidths=1.8))
        ax.plot(t[retrans], high[retrans], linestyle="none", marker="x", markersize=6,
                color=COLOURS["retransmission"], label="retransmission")
    reordered = resend == RESEND_REORDERED
    if reordered.any():
        ax.plot(t[reordered], high[reordered], linestyle="none", marker="o", markersize=4,
                color=COLOURS["reordered"], label="reordered (arrived after later data)")
    ax.autoscale_view()


def _draw_sack(ax: Axes, session: SessionPackets, acks: pd.DataFrame) -> None:
    """SACK blocks as bars at the time of the ACK that carried them, in relative sequence numbers."""
    t = session.seconds(acks)
    ack_rel = acks["ack_rel"].to_numpy()
    ack_raw = acks["ack_raw"].to_numpy().astype(np.int64)
    bars = []
    for k in range(1, SACK_BLOCKS + 1):
        present = acks[f"sack_le{k}"].notna().to_numpy()
        if not present.any():
            continue
        # An edge relative to the cumulative ACK: the 32-bit difference, signed (sequence arithmetic).
        edges = [ack_rel[present] + _signed32(acks[f"sack_{e}{k}"].to_numpy(np.int64, na_value=0)[present]
                                              - ack_raw[present]) for e in ("le", "re")]
        bars.append(_bars(t[present], edges[0], edges[1]))
    if bars:
        ax.add_collection(LineCollection(np.concatenate(bars), colors=COLOURS["sack"], linewidths=3, alpha=0.7,
                                         label="SACK block"))
        ax.autoscale_view()


def _shade_zero_window(ax: Axes, session: SessionPackets, acks: pd.DataFrame) -> None:
    """Shade from each zero-window advertisement to the receiver's next non-zero window."""
    zero = (acks["window"].to_numpy() == 0).astype(np.int8)
    if not zero.any():
        return
    t = np.append(session.seconds(acks), session.duration_s)
    change = np.diff(np.concatenate([[0], zero, [0]]))
    starts, stops = np.flatnonzero(change == 1), np.flatnonzero(change == -1)
    for k, (start, stop) in enumerate(zip(t[starts], t[stops])):
        ax.axvspan(start, stop, color=COLOURS["zero_window"], label="zero window" if k == 0 else None)


def _bars(t: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Vertical bars from ``low`` to ``high`` at times ``t``, as LineCollection segments (n, 2 points, xy)."""
    return np.stack([np.column_stack([t, low]), np.column_stack([t, high])], axis=1)


def _signed32(delta: np.ndarray) -> np.ndarray:
    return (delta + 2**31) % 2**32 - 2**31
