"""`tcpanalyze live --format jsonl` reports closes, anomalies and the capture loss seen in TCP
as they happen, not when the sessions involved end: a closed session ends only ``closed_linger_s`` (60 s of packet time)
after its last packet, and the never-answered SYNs of a flood only at the idle timeout.

The captures go in on standard input (``--from-stdin``), and the stream is kept open while
the events are awaited: packet time then stands still, a few seconds into the capture, so no
session can have ended, and everything reported came from sessions still alive."""

from __future__ import annotations

import os

import dpkt
from helpers import SAMPLE_DIR, Rec, eth, ipv4, pcapng_bytes, tcp
from live_helpers import LiveRun

import tcpanalyze
from tcpanalyze.cli.live import AnomalyWatch
from tcpanalyze.detect import detect_anomalies

START_NS = 1_700_000_000 * 10**9
SAME_WHEN_CLOSED = ("session_id", "orig_addr", "orig_port", "resp_addr", "resp_port", "start", "first_frame",
                    "close_type", "closed_by", "orig_bytes", "resp_bytes", "handshake")


def pcapng_of(path) -> bytes:
    """A classic pcap file's records as a pcapng stream (what dumpcap would write)."""
    with open(path, "rb") as f:
        reader = dpkt.pcap.Reader(f)
        records = [Rec(bytes(data), round(ts * 1e6) * 1000) for ts, data in reader]  # a microsecond pcap
        return pcapng_bytes(records, linktype=reader.datalink())


def live_on_an_open_stream(data: bytes) -> tuple[LiveRun, int]:
    """``tcpanalyze live --from-stdin --format jsonl`` given ``data``; the stream stays open."""
    read_fd, write_fd = os.pipe()
    run = LiveRun("--from-stdin", "--format", "jsonl", stdin=read_fd)
    os.close(read_fd)
    os.write(write_fd, data)
    return run, write_fd


def test_a_closed_session_is_reported_at_its_close_and_ends_after_the_linger():
    path = SAMPLE_DIR / "real-pcapng-dumpcap.pcapng"  # two sessions, FIN both ways, within 0.2 s
    expected = tcpanalyze.analyze(str(path), packets=False).sessions
    run, stream = live_on_an_open_stream(path.read_bytes())
    closed = [run.wait_for("session_closed"), run.wait_for("session_closed")]
    # Packet time stands at the capture's last packet, 0.2 s in: 60 s short of either session's end.
    assert run.of_kind("session_end") == []
    os.close(stream)
    code, stderr = run.finish()
    assert code == 0, stderr

    order = [(e["event"], e["session_id"]) for e in run.events if e["event"].startswith("session_")]
    assert order == [("session_closed", 0), ("session_closed", 1), ("session_end", 0), ("session_end", 1)]
    ended = run.of_kind("session_end")
    for at_close, at_end, (_, record) in zip(closed, ended, expected.iterrows()):
        assert {k: at_close[k] for k in SAME_WHEN_CLOSED} == {k: at_end[k] for k in SAME_WHEN_CLOSED}
        assert (at_end["close_type"], at_end["orig_bytes"], at_end["resp_bytes"]) == \
            ("fin", record["orig_bytes"], record["resp_bytes"])
        assert at_end["end"] - at_close["end"] < 60  # reported long before the linger ran out


def test_a_syn_flood_is_reported_while_its_syns_are_still_unanswered():
    path = SAMPLE_DIR / "anomaly-syn-flood.pcap"
    sessions = tcpanalyze.analyze(str(path), packets=False).sessions
    [expected] = detect_anomalies(sessions, None).query("kind == 'syn_flood'").itertuples()
    run, stream = live_on_an_open_stream(pcapng_of(path))
    # Detection runs every 2 s over what arrived so far: the flood may first show half-way,
    # then grow (an update) until it holds every attempt.
    flood = run.wait_for(("anomaly", "anomaly_update"),
                         where=lambda e: e["kind"] == "syn_flood" and e["details"]["attempts"] == 1206)
    # No session has ended: the flood was found in the live sessions (1,160 SYNs never answered).
    assert run.of_kind("session_end") == []
    assert (flood["target_addr"], flood["target_port"], flood["start"], flood["end"]) == \
        ("198.51.100.20", 80, expected.start, expected.end)
    assert (flood["details"]["unanswered"], flood["source_count"]) == (1160, 1198)
    assert flood["message"] == expected.message
    os.close(stream)
    code, stderr = run.finish()
    assert code == 0, stderr

    assert run.events[-1]["event"] == "end"
    assert len(run.of_kind("session_end")) == len(sessions) == 1206
    # the six real clients' sessions closed (FIN both ways) and were reported so; the flood's did not
    assert [(e["conn_state"], e["resp_port"]) for e in run.of_kind("session_closed")] == [("SF", 80)] * 6
    # Reported once, then only updated: the detection at the end, over the ended sessions, is the same flood.
    reports = [(e["event"], e["anomaly_id"]) for e in run.events if e["event"].startswith("anomaly")
               and e["kind"] == "syn_flood"]
    assert reports[0] == ("anomaly", flood["anomaly_id"])
    assert set(reports[1:]) <= {("anomaly_update", flood["anomaly_id"])}


def test_an_anomaly_found_again_is_not_new_and_one_that_grew_is_an_update():
    sessions = tcpanalyze.analyze(str(SAMPLE_DIR / "anomaly-syn-flood.pcap"), packets=False).sessions
    watch = AnomalyWatch()
    new, grown = watch.update(sessions.iloc[:600])  # the flood's first half
    [first] = new.query("kind == 'syn_flood'").itertuples()
    assert len(grown) == 0
    new, grown = watch.update(sessions)
    [later] = grown.query("kind == 'syn_flood'").itertuples()
    assert "syn_flood" not in set(new["kind"])
    assert later.anomaly_id == first.anomaly_id and later.start == first.start and later.end > first.end
    assert later.details["attempts"] == 1206 > first.details["attempts"]
    new, grown = watch.update(sessions.iloc[300:])  # a window that slid on: same flood, no growth
    assert "syn_flood" not in set(new["kind"]) | set(grown["kind"])


def transfer(segments: int, missing_every: int | None) -> list[Rec]:
    """A client sending ``segments`` segments of 100 bytes, each acknowledged by the server; the
    capture misses every ``missing_every``-th data segment (the server's ACK of it is captured)."""
    client, server = ("10.0.0.1", 40000), ("10.0.0.2", 80)

    def packet(sender, receiver, seq, ack, flags, payload=b""):
        return eth(ipv4(sender[0], receiver[0], tcp(sender[1], receiver[1], seq=seq, ack=ack, flags=flags,
                                                     payload=payload)))

    packets = [packet(client, server, 1000, 0, "S"), packet(server, client, 5000, 1001, "SA"),
               packet(client, server, 1001, 5001, "A")]
    for k in range(segments):
        if missing_every is None or (k + 1) % missing_every:
            packets.append(packet(client, server, 1001 + 100 * k, 5001, "PA", b"d" * 100))
        packets.append(packet(server, client, 5001, 1001 + 100 * (k + 1), "A"))
    return [Rec(data, START_NS + 1_000_000 * k) for k, data in enumerate(packets)]


def test_capture_loss_seen_in_tcp_is_reported_while_the_capture_runs():
    # 200 segments, every 20th missing from the capture: the server's ACKs of those 10 acknowledge
    # data the capture never saw (Wireshark flags the same 10). Advancing ACKs: the server's
    # SYN-ACK and 200 ACKs, the client's handshake ACK (its data segments repeat that ACK).
    lossy = transfer(200, missing_every=20)
    run, stream = live_on_an_open_stream(pcapng_bytes(lossy))
    warning = run.wait_for("capture_loss")
    stats = run.wait_for("stats", where=lambda e: e["records"] == len(lossy))
    assert (stats["advancing_ack_pkts"], stats["ack_lost_segment_pkts"], stats["capture_loss_pct"]) == (202, 10, 4.95)
    assert warning["severity"] == "warning" and warning["capture_loss_pct"] > 1.0
    assert "acknowledged data the capture never saw" in warning["message"]
    os.close(stream)
    code, stderr = run.finish()
    assert code == 0, stderr
    assert len(run.of_kind("capture_loss")) == 1

    run, stream = live_on_an_open_stream(pcapng_bytes(transfer(200, missing_every=None)))
    stats = run.wait_for("stats", where=lambda e: e["records"] == 403)
    assert (stats["advancing_ack_pkts"], stats["ack_lost_segment_pkts"], stats["capture_loss_pct"]) == (202, 0, 0.0)
    os.close(stream)
    code, stderr = run.finish()
    assert code == 0, stderr
    assert run.of_kind("capture_loss") == []
