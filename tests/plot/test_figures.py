"""Graphs of real sessions: labelled axes, content where the capture has it, a message where it has none."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.image import imread

import tcpanalyze
from tcpanalyze.errors import UsageError
from tcpanalyze.plot import KINDS, png_bytes, problem_span, session_chart, session_figure, session_packets
from tcpanalyze.plot.canvas import new_axes
from tcpanalyze.plot.interactive import plotly_figure
from tcpanalyze.plot.seq import WINDOW_SLACK

from helpers import SAMPLE_DIR

ZERO_WINDOW = SAMPLE_DIR / "real-zero-window.pcap"
REFUSED = SAMPLE_DIR / "real-refused.pcap"
# Share of pixels that differ from the white background. Measured at 900x480: a titled,
# labelled frame with grid and no data 3.3 %, a "nothing to draw" message 1.3 %; the graphs
# of real-zero-window 6 % (rtt) to 61 % (seq). test_min_ink_tells_an_empty_frame_from_a_graph pins it.
MIN_INK = 0.045


@pytest.fixture(scope="module")
def zero_window():
    return tcpanalyze.analyze(str(ZERO_WINDOW))


@pytest.fixture(scope="module")
def fast_retrans_sack(corpus_dir):
    # 39 packets: a 24 KB HTTP reply with one fast retransmission and two more, and SACK blocks.
    return tcpanalyze.analyze(str(corpus_dir / "tcp-fast-retrans-sack-snaplen.pcap"))


def ink(fig) -> float:
    """Fraction of the PNG's pixels that are not the white background."""
    pixels = imread(io.BytesIO(png_bytes(fig)), format="png")[..., :3]
    return float(np.mean(np.any(pixels < 0.97, axis=-1)))


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_min_ink_tells_an_empty_frame_from_a_graph():
    fig, ax = new_axes("time-sequence graph of 10.77.0.1:40000 → 10.77.0.2:5105 — session 0")
    ax.set_xlabel("time (s since the session's first packet)")
    ax.set_ylabel("relative sequence number (bytes)")
    assert ink(fig) < MIN_INK
    refused = tcpanalyze.analyze(str(REFUSED))
    assert ink(session_figure(refused, 0, "seq")) < MIN_INK


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_of_the_zero_window_upload_is_drawn_and_labelled(zero_window, kind):
    fig = session_figure(zero_window, 0, kind)
    ax = fig.axes[0]
    session = zero_window.sessions.iloc[0]
    orig = f"{session.orig_addr}:{session.orig_port}"
    resp = f"{session.resp_addr}:{session.resp_port}"
    assert "session 0" in ax.get_title() and orig in ax.get_title() and resp in ax.get_title()
    assert ax.get_xlabel() == "time (s since the session's first packet)"
    units = {"seq": "(bytes)", "throughput": "bit/s", "rtt": "(ms)", "window": "bytes"}[kind]
    assert units in ax.get_ylabel()
    assert legend_texts(ax)
    assert ink(fig) > MIN_INK


def test_seq_graph_shows_the_upload_and_its_one_zero_window_stall(zero_window):
    packets = zero_window.packets
    session = zero_window.sessions.iloc[0]
    fig = session_figure(zero_window, 0, "seq")
    ax = fig.axes[0]
    # The client uploads 2 MiB: its direction is drawn, one bar per data segment.
    assert "10.77.0.1" in ax.get_title().split("→")[0]
    bars = {c.get_label(): c for c in ax.collections}
    sent = packets[(packets.direction == "orig") & (packets.payload_len > 0)]
    retransmitted = sent.analysis.map(lambda flags: "retransmission" in flags)
    assert len(bars["data segment"].get_segments()) == int((~retransmitted).sum())
    # One shaded span per zero-window episode, as long as the session record says it lasted.
    assert "zero window" in legend_texts(ax)
    spans = ax.patches  # the seq graph's only patches are the shaded spans
    assert len(spans) == session.resp_zero_window_episodes == 1
    x0, x1 = spans[0].get_x(), spans[0].get_x() + spans[0].get_width()
    assert x1 - x0 == pytest.approx(session.resp_zero_window_s, abs=1e-6)


def test_seq_graph_marks_each_retransmission_and_draws_sack_blocks(fast_retrans_sack):
    packets = fast_retrans_sack.packets
    ax = session_figure(fast_retrans_sack, 0, "seq").axes[0]
    # The server sends the data; the graph picks its direction by itself.
    assert ax.get_title().startswith("time-sequence graph of 192.168.0.27:80 → 10.0.88.85:50368")
    retrans = packets[(packets.direction == "resp") & packets.analysis.map(lambda f: "retransmission" in f)]
    markers = next(line for line in ax.get_lines() if line.get_label() == "retransmission")
    assert markers.get_color() == "red"
    assert list(markers.get_ydata()) == (retrans.seq_rel + retrans.payload_len).tolist()
    assert len(retrans) == 3
    # Every SACK block the client sent, in the server's relative sequence numbers.
    sack = next(c for c in ax.collections if c.get_label() == "SACK block")
    acks = packets[packets.direction == "orig"]
    assert len(sack.get_segments()) == int(acks.sack_count.sum()) == 8
    first = acks[acks.sack_count > 0].iloc[0]  # frame 29: SACK 4249400076-4249401506, ACK 4249398646 (rel 12871)
    low, high = sack.get_segments()[0][:, 1]
    assert (low, high) == (12871 + 4249400076 - 4249398646, 12871 + 4249401506 - 4249398646)
    assert first.frame == 29


def test_direction_picks_the_other_side(fast_retrans_sack):
    ax = session_figure(fast_retrans_sack, 0, "seq", direction="orig").axes[0]
    assert ax.get_title().startswith("time-sequence graph of 10.0.88.85:50368 → 192.168.0.27:80")
    request = fast_retrans_sack.packets.query("direction == 'orig' and payload_len > 0")
    bars = next(c for c in ax.collections if c.get_label() == "data segment")
    assert len(bars.get_segments()) == len(request) == 1


def test_rtt_graph_has_one_point_per_sample_on_each_side(zero_window):
    packets = zero_window.packets
    ax = session_figure(zero_window, 0, "rtt").axes[0]
    resp_acks = packets[(packets.direction == "resp") & (packets.ack_rtt_ns > 0)]
    upload_label = f"data from 10.77.0.1:{zero_window.sessions.orig_port[0]}:"
    upload = next(line for line in ax.get_lines() if line.get_label().startswith(upload_label))
    assert len(upload.get_ydata()) == len(resp_acks) == zero_window.sessions.orig_rtt_samples[0] + 1  # + the SYN's
    assert sorted(upload.get_ydata()) == sorted(resp_acks.ack_rtt_ns / 1e6)


def test_throughput_bins_add_up_to_the_payload_bytes(zero_window):
    ax = session_figure(zero_window, 0, "throughput").axes[0]
    packets = zero_window.packets
    unit, width_ms = ax.get_ylabel().split(" (bins of ")
    scale = {"bit/s": 1, "kbit/s": 1e3, "Mbit/s": 1e6, "Gbit/s": 1e9}[unit]
    width_s = float(width_ms.removesuffix(" ms)")) / 1e3
    stairs = {p.get_label(): p for p in ax.patches}
    upload = stairs["throughput from 10.77.0.1:" + str(zero_window.sessions.orig_port[0])]
    total_bytes = upload.get_data().values.sum() * scale * width_s / 8
    sent = packets.query("direction == 'orig'").payload_len.sum()
    assert total_bytes == pytest.approx(sent, rel=1e-9)
    goodput = stairs["goodput (new bytes) from 10.77.0.1:" + str(zero_window.sessions.orig_port[0])]
    assert goodput.get_data().values.sum() * scale * width_s / 8 == pytest.approx(
        zero_window.sessions.orig_unique_bytes[0], rel=1e-9)


@pytest.mark.parametrize("kind, message", [("seq", "no payload sent"),
                                           ("throughput", "no payload in either direction")])
def test_session_without_payload_says_so_in_the_figure(kind, message):
    refused = tcpanalyze.analyze(str(REFUSED))
    ax = session_figure(refused, 0, kind).axes[0]
    assert [t.get_text() for t in ax.texts][0].startswith(message)
    assert not ax.axison


def test_unknown_session_and_kind_are_usage_errors(zero_window):
    with pytest.raises(UsageError, match="no session 5 in .*real-zero-window.pcap: its only session is 0"):
        session_figure(zero_window, 5, "seq")
    with pytest.raises(UsageError, match="unknown graph kind 'bars'"):
        session_figure(zero_window, 0, "bars")


def test_analysis_without_packets_is_a_usage_error():
    with pytest.raises(UsageError, match="per-packet table"):
        session_figure(tcpanalyze.analyze(str(REFUSED), packets=False), 0, "rtt")


def test_window_graph_of_a_reset_only_session_says_so(corpus_dir):
    analysis = tcpanalyze.analyze(str(corpus_dir / "tcp-rst-carrying-payload.pcap"))
    assert analysis.packets.tcp_flags.tolist() == [0x14]  # one packet: RST,ACK carrying data
    ax = session_figure(analysis, 0, "window").axes[0]
    assert [t.get_text() for t in ax.texts] == ["only resets in this session: no advertised window to draw"]


def layers(chart, label, kind=None):
    return [layer for layer in chart.layers if layer.label == label and kind in (None, layer.kind)]


@pytest.mark.parametrize("name", ["real-zero-window", "stream-lossy-ipv4", "real-loss-random-sender"])
def test_seq_y_axis_fits_data_and_acks_not_the_window_edge(name):
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / f"{name}.pcap"))
    chart = session_chart(analysis, 0, "seq")
    data = layers(chart, "data segment")[0]
    ack = layers(chart, "ACK")[0].y
    edge = layers(chart, "receive window (ACK + window)")[0].y
    low, high = min(data.y.min(), ack.min()), max(data.y1.max(), ack.max())
    span = high - low
    bottom, top = chart.y_range
    assert low - 0.06 * span <= bottom <= low and high <= top <= high + (WINDOW_SLACK + 0.06) * span
    if edge.max() > top:  # clipped, and the note says how far it goes
        assert [n.text for n in chart.notes] == [f"receive-window edge above the plot, up to {edge.max():,}"]
    # the drawn figure keeps that range
    assert session_figure(analysis, 0, "seq").axes[0].get_ylim() == pytest.approx(chart.y_range)


def test_lossy_transfers_clip_the_window_edge_that_used_to_flatten_the_graph():
    for name in ("stream-lossy-ipv4", "real-loss-random-sender"):
        chart = session_chart(tcpanalyze.analyze(str(SAMPLE_DIR / f"{name}.pcap")), 0, "seq")
        edge = layers(chart, "receive window (ACK + window)")[0]
        assert edge.dashed and edge.y.max() > 1.5 * chart.y_range[1]
        assert len(chart.notes) == 1 and chart.notes[0].y == chart.y_range[1]


def test_retransmission_of_a_segment_lost_before_the_capture_has_its_own_marker():
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "real-loss-tail-receiver.pcap"))
    chart = session_chart(analysis, 0, "seq")
    label = "retransmission of a segment lost before the capture"
    bars, = layers(chart, label, "bars")
    marks, = layers(chart, label, "markers")
    lost = analysis.packets[analysis.packets.resend == "lost_before_capture"]
    assert len(lost) > 0 and marks.marker == "D" and marks.colour == bars.colour == "red"
    assert list(marks.hover["frame"]) == lost.frame.tolist()
    assert list(marks.y) == (lost.seq_rel + lost.payload_len).tolist()
    assert not bars.legend and marks.legend


def test_capture_gaps_are_the_bytes_the_capture_missed():
    # frames 6, 14, 16 (client data) and 22 (server data) cut out: sample_pcaps/README.md
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "derived-segments-removed.pcap"))
    for direction, sizes in (("orig", [1448, 2896]), ("resp", [1448])):
        gaps, = layers(session_chart(analysis, 0, "seq", direction=direction), "capture gap (never captured)")
        assert list(gaps.y1 - gaps.y) == sizes
        assert sum(sizes) == analysis.sessions[f"{direction}_missed_bytes"][0]


def test_time_range_narrows_the_graph_and_refits_its_y_axis(zero_window):
    whole = session_chart(zero_window, 0, "seq")
    tail = session_chart(zero_window, 0, "seq", time_range=(1.55, None))
    assert tail.x_range == (1.55, pytest.approx(zero_window.sessions.duration[0]))
    assert tail.y_range[0] > whole.y_range[0] + 0.3 * (whole.y_range[1] - whole.y_range[0])
    rtt = session_chart(zero_window, 0, "rtt", time_range=(None, 0.05))
    assert rtt.x_range == (0.0, 0.05) and rtt.y_range[0] == 0
    ax = session_figure(zero_window, 0, "seq", time_range=(1.55, None), size_px=(1200, 600)).axes[0]
    assert ax.get_xlim() == pytest.approx(tail.x_range)
    assert ax.figure.get_size_inches() * ax.figure.dpi == pytest.approx((1200, 600))


@pytest.mark.parametrize("span, message", [((5.0, None), "starts after session 0 ends"), ((1.0, 1.0), "is empty")])
def test_time_range_outside_the_session_is_a_usage_error(zero_window, span, message):
    with pytest.raises(UsageError, match=message):
        session_chart(zero_window, 0, "seq", time_range=span)


def test_problem_span_brackets_the_retransmissions_of_the_lossy_direction():
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "stream-lossy-ipv4.pcap"))
    session = session_packets(analysis, 0)
    start, end = problem_span(session, "resp")
    sent = session.sent("resp")
    retrans_t = session.seconds(sent[sent.resend == "retransmission"])
    assert start < retrans_t.min() and retrans_t.max() < end
    assert end - start < 0.5 * session.duration_s  # the 0.25 s session: its last 20 ms hold the loss
    assert problem_span(session, "orig") is None  # the client's request had no trouble


def test_interactive_figure_hovers_frame_numbers_and_keeps_the_ranges():
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "stream-lossy-ipv4.pcap"))
    chart = session_chart(analysis, 0, "seq")
    fig = plotly_figure(chart)
    trace = next(t for t in fig.data if t.name == "retransmission" and t.mode == "markers")
    retrans = analysis.packets[(analysis.packets.direction == "resp") & (analysis.packets.resend == "retransmission")]
    assert [int(row[0]) for row in trace.customdata] == retrans.frame.tolist()
    assert "frame %{customdata[0]}<br>" in trace.hovertemplate and "len %{customdata[2]:,}" in trace.hovertemplate
    assert tuple(fig.layout.yaxis.range) == pytest.approx(chart.y_range)
    assert len(fig.layout.annotations) == len(chart.notes) == 1
