"""Graphs over time of both directions, as ``Chart`` s: throughput and goodput, RTT samples,
windows and bytes in flight."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..flows import TH_RST
from .chart import DIRECTION_COLOURS, TIME_LABEL, Chart, Layer
from .session import DIRECTIONS, SessionPackets, other

# About this many throughput bins across a session: enough to see the shape, few enough
# that each bin holds several segments on a busy link.
TARGET_BINS = 60
MIN_BIN_S = 1e-4  # pcap timestamps are microseconds: 100 us bins still hold whole segments
RATE_UNITS = ((1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s"), (1.0, "bit/s"))


def throughput_chart(session: SessionPackets, title: str) -> Chart:
    """Throughput (all payload, retransmissions included) and goodput (new bytes only) per direction."""
    chart = Chart(title, TIME_LABEL, y_from_zero=True)
    if not session.packets["payload_len"].any():
        chart.message = "no payload in either direction: no throughput to draw"
        return chart
    width = bin_width(session.duration_s)
    edges = np.arange(int(np.ceil(session.duration_s / width)) + 1) * width
    if edges.size < 2:
        edges = np.array([0.0, width])
    rates = {}
    for direction in DIRECTIONS:
        data = session.sent(direction)
        data = data[data["payload_len"] > 0]
        t = session.seconds(data)
        rates[direction] = [np.histogram(t, edges, weights=weights)[0] * 8 / width
                            for weights in (data["payload_len"].to_numpy(), new_bytes(data))]
    scale, unit = rate_unit(max(r.max() for pair in rates.values() for r in pair))
    for direction, (throughput, goodput) in rates.items():
        if not throughput.any():
            continue
        colour = DIRECTION_COLOURS[direction]
        sender = session.endpoints[direction]
        chart.layers += [Layer("stairs", f"throughput from {sender}", colour, edges, throughput / scale),
                         Layer("stairs", f"goodput (new bytes) from {sender}", colour, edges, goodput / scale,
                               dashed=True)]
    chart.ylabel = f"{unit} (bins of {width * 1e3:g} ms)"
    return chart


def rtt_chart(session: SessionPackets, title: str) -> Chart:
    """RTT samples from ACKs (Karn: none from retransmitted segments), by the direction of the data."""
    chart = Chart(title, TIME_LABEL, "RTT (ms)", y_from_zero=True)
    for direction in DIRECTIONS:
        acks = session.sent(other(direction))  # the other side's ACKs time this direction's data
        acks = acks[acks["ack_rtt_ns"].fillna(0).to_numpy() > 0]
        if acks.empty:
            continue
        rtt_ms = acks["ack_rtt_ns"].to_numpy() / 1e6
        summary = f"{rtt_ms.size} samples, median {np.median(rtt_ms):.3g} ms"
        chart.layers.append(Layer("markers", f"data from {session.endpoints[direction]}: {summary}",
                                  DIRECTION_COLOURS[direction], session.seconds(acks), rtt_ms, marker=".",
                                  width=1.2, hover={"frame": acks["frame"].to_numpy()}))
    if not chart.layers:
        chart.message = "no RTT samples: no data segment was acknowledged unambiguously"
    return chart


def window_chart(session: SessionPackets, title: str) -> Chart:
    """Each side's advertised (scaled) receive window and the bytes it had in flight (resets left out)."""
    chart = Chart(title, TIME_LABEL, "bytes", y_from_zero=True, thousands=True)
    if not ((session.packets["tcp_flags"] & TH_RST) == 0).any():
        chart.message = "only resets in this session: no advertised window to draw"
        return chart
    for direction in DIRECTIONS:
        sent = session.sent(direction)
        sent = sent[(sent["tcp_flags"] & TH_RST) == 0]
        colour = DIRECTION_COLOURS[direction]
        if not sent.empty:
            chart.layers.append(Layer("step", f"window advertised by {session.endpoints[direction]}", colour,
                                      session.seconds(sent), sent["window"].to_numpy(),
                                      hover={"frame": sent["frame"].to_numpy()}))
        flight = sent[sent["bytes_in_flight"].notna().to_numpy()]
        if not flight.empty:
            chart.layers.append(Layer("markers", f"bytes in flight from {session.endpoints[direction]}", colour,
                                      session.seconds(flight), flight["bytes_in_flight"].to_numpy(), marker=".",
                                      width=1.2, alpha=0.6, hover={"frame": flight["frame"].to_numpy()}))
    return chart


def bin_width(duration_s: float) -> float:
    """A round bin width (1, 2 or 5 times a power of ten seconds) giving about TARGET_BINS bins."""
    raw = max(duration_s / TARGET_BINS, MIN_BIN_S)
    power = 10.0 ** np.floor(np.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9)))


def new_bytes(data: pd.DataFrame) -> np.ndarray:
    """Per data segment, the bytes beyond the highest sequence number sent before it (file order)."""
    start = data["seq_rel"].to_numpy()
    end = start + data["payload_len"].to_numpy()
    highest_before = np.maximum.accumulate(np.concatenate([[np.iinfo(np.int64).min], end[:-1]]))
    return np.clip(end - np.maximum(highest_before, start), 0, None)


def rate_unit(peak_bps: float) -> tuple[float, str]:
    """The largest unit in which ``peak_bps`` is at least 1."""
    return next((scale, unit) for scale, unit in RATE_UNITS if peak_bps >= scale or scale == 1.0)
