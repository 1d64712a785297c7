"""The time-sequence graph, Stevens/tcptrace style, of one direction's data, as a ``Chart``.

Each data segment is a vertical bar from its first to its last sequence number at the time it
was sent; retransmissions (``resend``: docs/retransmissions.md) are red and marked (a cross;
a diamond for the retransmission of a segment lost before the capture point), originals that
arrived reordered are marked in orange, network copies in grey. Holes in the sequence space the
capture never filled (capture loss) are grey bars at the time the capture skipped them. The
other side's ACK line, its SACK blocks and the periods it advertised a zero window (shaded) are
drawn on the same axis. The y-axis fits the data and the ACK line: the receive-window edge
(ACK + advertised window) is a dashed line that leaves the plot when it runs far above, with a
note of how high it goes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine.evidence import retransmissions
from ..engine.flags import RESEND_DUPLICATE, RESEND_LOST_BEFORE_CAPTURE, RESEND_REORDERED, ZERO_WINDOW_PROBE
from ..flows import TH_ACK, TH_RST
from .chart import TIME_LABEL, Chart, Layer, Note, padded, y_extent
from .session import SessionPackets, other

SACK_BLOCKS = 4
COLOURS = {"data": "black", "retransmission": "red", "ack": "#2ca02c", "window": "goldenrod", "sack": "#9467bd",
           "zero_window": "mistyrose", "probe": "#8c564b", "reordered": "darkorange", "duplicate": "#7f7f7f",
           "gap": "#a0a0a0"}
# The receive-window edge joins the y-range only when it stays within this share of the data's
# span above the data; higher, it would squash data and ACKs into a flat line, so it is clipped.
WINDOW_SLACK = 0.25
RESEND_MARKS = ((RESEND_REORDERED, "reordered (arrived after later data)", "o", "reordered"),
                (RESEND_DUPLICATE, "duplicate (a network copy)", "+", "duplicate"))


def seq_chart(session: SessionPackets, direction: str, title: str, x_range: tuple[float, float] | None = None) -> Chart:
    """The time-sequence graph of the data ``direction`` sends (``orig`` or ``resp``), showing
    ``x_range`` (seconds since the session's first packet; None: all of it)."""
    chart = Chart(title, TIME_LABEL, "relative sequence number (bytes)", x_range=x_range, thousands=True)
    sent = session.sent(direction)
    data = sent[sent["payload_len"] > 0]
    if data.empty:
        reverse = session.sent(other(direction))["payload_len"].any()
        hint = f"\n(the data went the other way: direction {other(direction)})" if reverse else ""
        chart.message = f"no payload sent {session.arrow(direction)}: no time-sequence graph{hint}"
        return chart
    acks = session.sent(other(direction))
    flags = acks["tcp_flags"]
    acks = acks[((flags & TH_ACK) != 0) & ((flags & TH_RST) == 0) & acks["ack_rel"].notna()]
    chart.layers += _zero_window(session, acks) + _segments(session, data) + _gaps(session, data)
    scale = list(chart.layers)  # what the y-axis fits: data, gaps, ACKs (spans have no y)
    edge = None
    if not acks.empty:
        t = session.seconds(acks)
        ack = acks["ack_rel"].to_numpy(np.int64)
        hover = {"frame": acks["frame"].to_numpy(), "ack": ack, "window": acks["window"].to_numpy()}
        ack_line = Layer("step", "ACK", COLOURS["ack"], t, ack, hover=hover)
        edge = Layer("step", "receive window (ACK + window)", COLOURS["window"], t, ack + hover["window"],
                     dashed=True, hover=hover)
        chart.layers += [ack_line, edge] + _sack(session, acks)
        scale.append(ack_line)
    probes = sent[(sent["analysis_flags"] & ZERO_WINDOW_PROBE) != 0]
    if not probes.empty:
        chart.layers.append(Layer("markers", "zero-window probe", COLOURS["probe"], session.seconds(probes),
                                  probes["seq_rel"].to_numpy(), marker="^",
                                  hover={"frame": probes["frame"].to_numpy()}))
    _fit_y(chart, scale, edge)
    return chart


def _fit_y(chart: Chart, scale: list[Layer], edge: Layer | None) -> None:
    """Fit the y-axis to ``scale`` within the x-range; take in the window edge only when it is
    close, else note where it leaves the plot and how high it goes."""
    extent = y_extent(scale, chart.x_range)
    if extent is None:
        return
    low, high = extent
    reach = None if edge is None else y_extent([edge], chart.x_range)
    if reach is not None and reach[1] <= high + WINDOW_SLACK * max(high - low, 1):
        high = max(high, reach[1])
    chart.y_range = padded(low, high)
    if reach is not None and reach[1] > chart.y_range[1]:
        start = -np.inf if chart.x_range is None else chart.x_range[0]
        above = np.flatnonzero((edge.y > chart.y_range[1]) & (edge.x >= start))
        x = float(edge.x[above[0]]) if above.size else float(start)
        chart.notes.append(Note(x, chart.y_range[1], f"receive-window edge above the plot, up to {reach[1]:,.0f}"))


def _segments(session: SessionPackets, data: pd.DataFrame) -> list[Layer]:
    """Data bars, retransmissions (red, marked by kind), reordered originals and network copies."""
    t = session.seconds(data)
    low = data["seq_rel"].to_numpy()
    size = data["payload_len"].to_numpy()
    high = low + size
    resend = data["resend"].cat.codes.to_numpy()
    hover = {"frame": data["frame"].to_numpy(), "seq": low, "len": size}
    retrans = retransmissions(resend)

    def pick(rows: np.ndarray) -> dict[str, np.ndarray]:
        return {name: values[rows] for name, values in hover.items()}

    layers = [Layer("bars", "data segment", COLOURS["data"], t[~retrans], low[~retrans], high[~retrans],
                    width=1.2, hover=pick(~retrans))]
    lost = resend == RESEND_LOST_BEFORE_CAPTURE
    for rows, label, marker in ((retrans & ~lost, "retransmission", "x"),
                                (lost, "retransmission of a segment lost before the capture", "D")):
        if rows.any():
            layers += [Layer("bars", label, COLOURS["retransmission"], t[rows], low[rows], high[rows], width=1.8,
                             legend=False, hover=pick(rows)),
                       Layer("markers", label, COLOURS["retransmission"], t[rows], high[rows], marker=marker,
                             width=1.2 if marker == "x" else 0.9, hover=pick(rows))]
    for code, label, marker, colour in RESEND_MARKS:
        rows = resend == code
        if rows.any():
            layers.append(Layer("markers", label, COLOURS[colour], t[rows], high[rows], marker=marker, width=0.9,
                                hover=pick(rows)))
    return layers


def _gaps(session: SessionPackets, data: pd.DataFrame) -> list[Layer]:
    """Sequence space never captured (below later data, never filled): a bar per hole, at the time
    of the first segment captured beyond it."""
    order = np.argsort(data["seq_rel"].to_numpy(), kind="stable")
    low = data["seq_rel"].to_numpy()[order]
    high = low + data["payload_len"].to_numpy()[order]
    covered = np.maximum.accumulate(high)
    holes = np.flatnonzero(low[1:] > covered[:-1]) + 1
    if not holes.size:
        return []
    first_beyond = np.minimum.accumulate(session.seconds(data)[order][::-1])[::-1]
    start, stop = covered[holes - 1], low[holes]
    return [Layer("bars", "capture gap (never captured)", COLOURS["gap"], first_beyond[holes], start, stop, width=4,
                  alpha=0.8, hover={"seq": start, "len": stop - start})]


def _sack(session: SessionPackets, acks: pd.DataFrame) -> list[Layer]:
    """SACK blocks as bars at the time of the ACK that carried them, in relative sequence numbers."""
    t = session.seconds(acks)
    ack_rel = acks["ack_rel"].to_numpy(np.int64)
    ack_raw = acks["ack_raw"].to_numpy().astype(np.int64)
    frames = acks["frame"].to_numpy()
    parts = []
    for k in range(1, SACK_BLOCKS + 1):
        present = acks[f"sack_le{k}"].notna().to_numpy()
        if not present.any():
            continue
        # An edge relative to the cumulative ACK: the 32-bit difference, signed (sequence arithmetic).
        edges = [ack_rel[present] + _signed32(acks[f"sack_{e}{k}"].to_numpy(np.int64, na_value=0)[present]
                                              - ack_raw[present]) for e in ("le", "re")]
        parts.append((t[present], edges[0], edges[1], frames[present]))
    if not parts:
        return []
    t, low, high, frame = (np.concatenate(column) for column in zip(*parts))
    return [Layer("bars", "SACK block", COLOURS["sack"], t, low, high, width=3, alpha=0.7,
                  hover={"frame": frame, "seq": low, "len": high - low})]


def _zero_window(session: SessionPackets, acks: pd.DataFrame) -> list[Layer]:
    """A shaded span from each zero-window advertisement to the receiver's next non-zero window."""
    zero = (acks["window"].to_numpy() == 0).astype(np.int8)
    if not zero.any():
        return []
    t = np.append(session.seconds(acks), session.duration_s)
    change = np.diff(np.concatenate([[0], zero, [0]]))
    starts, stops = np.flatnonzero(change == 1), np.flatnonzero(change == -1)
    return [Layer("spans", "zero window", COLOURS["zero_window"], t[starts], x1=t[stops])]


def _signed32(delta: np.ndarray) -> np.ndarray:
    return (delta + 2**31) % 2**32 - 2**31
