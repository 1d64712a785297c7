"""Each detector fires on the capture built for it: right kind, target, counts, sources, sessions.

The numbers come from what the capture holds: the builder's story in
``sample_pcaps/expected/anomaly-*.json`` (hand-built) or what the real programs did
(``anomaly-real-*.json``). Every case runs twice: with the packets table and from the
sessions table alone (no packets, no evidence), where the detector must still fire.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from helpers import EXPECTED_DIR, SAMPLE_DIR

import tcpanalyze


def analysis(name: str, packets: bool = True):
    """The capture analysed with its packets table, or (``packets=False``) its sessions alone."""
    return sessions_only(tcpanalyze.analyze(str(SAMPLE_DIR / f"{name}.pcap"), packets=packets))


def sessions_only(result):
    """An analysis that kept neither packets nor evidence: detectors see the sessions table only."""
    return result if result.packets is not None else dataclasses.replace(result, evidence=None)


def expected(name: str) -> dict:
    return json.loads((EXPECTED_DIR / f"{name}.json").read_text())


def only(frame, kind: str, **where):
    rows = frame[frame["kind"] == kind]
    for column, value in where.items():
        rows = rows[rows[column] == value]
    assert len(rows) == 1, f"{len(rows)} {kind} anomalies matching {where}:\n{frame[['kind', 'target_addr', 'message']]}"
    return rows.iloc[0]


@pytest.fixture(params=[True, False], ids=["with_packets", "sessions_only"])
def packets(request):
    return request.param


def test_syn_flood_reports_target_rate_sources_and_half_open_share(packets):
    truth = expected("anomaly-syn-flood")
    result = analysis("anomaly-syn-flood", packets)
    a = only(result.anomalies, "syn_flood")
    assert (a.target_addr, a.target_port) == tuple(truth["target"])
    assert a.severity == "critical"
    # every flood SYN plus the real clients inside the busy windows (all 6: one every 0.4 s)
    assert a.details["attempts"] == truth["flood_syns"] + truth["real_clients"]
    assert a.details["half_open"] == truth["flood_syns"]
    assert a.details["complete"] == truth["real_clients"]
    assert a.details["syn_synack"] == truth["synacks_answered"]
    assert a.source_count == truth["flood_sources"] + truth["real_clients"]
    assert len(a.source_addrs) == 10
    assert a.details["peak_rate_per_s"] >= 900  # 1,200 SYNs in 1.2 s, one every ms plus jitter
    assert len(a.session_ids) == 1000 and a.details["session_ids_total"] == 1206
    assert "1,206 SYNs" in a.message and "99 % never completed the handshake" in a.message
    if packets:
        assert a.details["syn_packets"] == 1206
        # 40 SYN-ACKs, each retransmitted once: a SYN queue keeping state, not SYN cookies
        assert (a.details["synacks_sent"], a.details["synack_retransmissions"]) == (80, 40)
        assert a.details["syn_cookies_likely"] is False
    syn_frames = result.sessions.set_index("session_id").loc[a.session_ids, "first_frame"]
    assert a.evidence_frames == sorted(syn_frames.tolist())
    # the episode runs from the first real client (time 0, inside the first busy window) to the
    # last attempt: the flood starts at 0.5 s and the sixth client comes at 2.0 s
    starts = result.sessions["start"]
    assert (a.start, a.end) == (starts.min(), starts.max())
    assert a.end - a.start == pytest.approx(2.0, abs=1e-6)


def test_synacks_never_retransmitted_look_like_syn_cookies(tmp_path):
    """30 spoofed sources, each SYN answered by one SYN-ACK (no options: a cookie without timestamps)."""
    from helpers import eth, ipv4, tcp, write_pcap

    packets = []
    for k in range(30):
        src = f"198.18.0.{k + 1}"
        packets.append(eth(ipv4(src, "198.51.100.9", tcp(1000 + k, 443, seq=k, flags="S"))))
        packets.append(eth(ipv4("198.51.100.9", src, tcp(443, 1000 + k, seq=7 * k, ack=k + 1, flags="SA"))))
    path = tmp_path / "cookies.pcap"
    write_pcap(path, packets)  # one packet per ms: 30 SYNs in 60 ms
    from tcpanalyze.detect import DetectConfig

    cfg = DetectConfig().with_overrides({"syn_flood.min_rate_per_s": 30})
    a = only(tcpanalyze.analyze(str(path)).detect(cfg), "syn_flood")
    assert (a.details["synacks_sent"], a.details["synack_retransmissions"]) == (30, 0)
    assert a.details["syn_cookies_likely"] is True and a.message.endswith("a sign of SYN cookies")
    assert a.details["syn_synack"] == 30 and a.source_count == 30


def test_syn_scan_and_stealth_scan_are_port_scans_of_their_hosts():
    truth = expected("anomaly-scans")
    frame = analysis("anomaly-scans").anomalies
    syn = only(frame, "port_scan", target_addr=truth["syn_scan"]["host"])
    assert syn.source_addrs == [truth["syn_scan"]["scanner"]] and syn.source_count == 1
    assert pd_na(syn.target_port)
    assert (syn.details["ports"], syn.details["open"], syn.details["refused"], syn.details["unanswered"]) == (
        30, len(truth["syn_scan"]["open"]), 30 - len(truth["syn_scan"]["open"]), 0)
    assert (syn.details["lowest_port"], syn.details["highest_port"]) == (1, 30)
    stealth = only(frame, "port_scan", target_addr=truth["stealth_scan"]["host"])
    assert stealth.source_addrs == [truth["stealth_scan"]["scanner"]]
    kinds = [p["kind"] for p in truth["stealth_scan"]["probes"]]
    assert stealth.details["stealth"] == {k: kinds.count(k) for k in ("null", "fin", "xmas", "syn_fin")}
    n_open = len(truth["stealth_scan"]["open"])
    assert (stealth.details["ports"], stealth.details["refused"], stealth.details["unanswered"]) == (8, 8 - n_open,
                                                                                                      n_open)
    assert len(stealth.session_ids) == 8


def test_stealth_probes_are_seen_from_sessions_alone():
    """The sessions keep each originator's first TCP flags (``orig_first_flags``)."""
    frame = analysis("anomaly-scans", packets=False).anomalies
    assert sorted(frame[frame.kind == "port_scan"].target_addr) == ["198.51.100.30", "198.51.100.31"]
    stealth = frame[frame.target_addr == "198.51.100.31"].iloc[0]
    full = analysis("anomaly-scans").anomalies
    assert stealth.details == full[full.target_addr == "198.51.100.31"].iloc[0].details


def test_address_sweep_reports_port_hosts_and_outcomes(packets):
    truth = expected("anomaly-scans")["sweep"]
    a = only(analysis("anomaly-scans", packets).anomalies, "address_sweep")
    assert a.target_addr is None and a.target_port == truth["port"]
    assert a.source_addrs == [truth["scanner"]]
    assert (a.details["hosts"], a.details["open"], a.details["refused"], a.details["unanswered"]) == (
        truth["hosts"], truth["answered"], truth["refused"], truth["silent"])
    assert len(a.session_ids) == truth["hosts"]


def test_real_connect_scan_is_a_port_scan_with_its_open_ports():
    truth = expected("anomaly-real-connect-scan")
    a = only(analysis("anomaly-real-connect-scan").anomalies, "port_scan")
    ports = truth["programs"]["client"]["ports"]
    assert a.target_addr == truth["server_addr"] and a.source_addrs == [truth["client_addr"]]
    assert a.details["ports"] == len(ports) == 40
    assert a.details["open"] == sum(v == "open" for v in ports.values()) == 3
    assert a.details["refused"] == sum(v == "refused" for v in ports.values()) == 37


def test_rst_storm_counts_rsts_peers_and_sessions(packets):
    truth = expected("anomaly-rst-storm")
    a = only(analysis("anomaly-rst-storm", packets).anomalies, "rst_storm")
    assert a.target_addr == truth["server"][0] and pd_na(a.target_port)
    assert a.details["rsts"] == truth["rsts"] and a.details["peers"] == truth["peers"] == a.source_count
    assert a.details["sessions_reset"] == truth["sessions"] == len(a.session_ids)
    assert a.end - a.start == pytest.approx(0.298, abs=1e-6)  # 150 RSTs 2 ms apart


def test_rst_storm_sessions_carry_no_data_so_no_teardowns():
    assert set(analysis("anomaly-rst-storm").anomalies.kind) == {"rst_storm"}


def test_rst_mid_transfer_names_who_reset_and_what_was_in_flight(packets):
    truth = expected("anomaly-real-rst-midtransfer")
    result = analysis("anomaly-real-rst-midtransfer", packets)
    a = only(result.anomalies, "rst_teardown")
    session = result.sessions.iloc[0]
    assert a.details["reset_by"] == "orig"  # the client closed with SO_LINGER 0
    assert (a.target_addr, a.target_port) == (truth["server_addr"], 6002)
    assert a.source_addrs == [truth["client_addr"]]
    assert a.details["resp_bytes"] == session.resp_bytes > truth["parameters"]["read_bytes"]
    assert a.details["orig_bytes"] == 0
    # the engine counts what was in flight at the RST, so the sessions alone know it too
    assert a.severity == "warning" and a.details["mid_transfer"] is True
    table = tcpanalyze.analyze(str(SAMPLE_DIR / "anomaly-real-rst-midtransfer.pcap")).packets
    rst_at = int(table.index[(table.tcp_flags & 0x4) != 0][0])
    before = table.iloc[:rst_at]
    sent = before[(before.direction == "resp") & (before.payload_len > 0)]
    acked = before[(before.direction == "orig") & ((before.tcp_flags & 0x10) != 0)]
    assert a.details["unacked_bytes"] == int((sent.seq_rel + sent.payload_len).max() - acked.ack_rel.max()) > 0
    if packets:
        assert a.evidence_frames == [int(table.frame.iloc[rst_at])] == [a.details["rst_frame"]]


def test_idle_rst_abort_is_info_with_nothing_in_flight():
    a = only(analysis("real-rst-abort").anomalies, "rst_teardown")
    assert a.severity == "info" and a.details["reset_by"] == "resp"
    assert (a.details["orig_bytes"], a.details["resp_bytes"], a.details["unacked_bytes"]) == (10240, 10240, 0)


def test_backlog_overflow_from_real_listen_queue_drops_syns(packets):
    truth = expected("anomaly-real-backlog")
    clients = truth["programs"]["client"]["clients"]
    connected = [c for c in clients if c["connected"]]
    result = analysis("anomaly-real-backlog", packets)
    a = only(result.anomalies, "backlog_overflow")
    assert (a.target_addr, a.target_port) == (truth["server_addr"], 6001)
    assert a.details["attempts"] == len(clients) == 14
    # backlog 4: five handshakes fill the accept queue, every other client's SYNs are dropped and retried
    assert len(connected) == truth["parameters"]["backlog"] + 1
    assert a.details["syn_retried"] == a.details["sessions_affected"] == len(clients) - len(connected)
    sessions = result.sessions.set_index("session_id")
    assert set(sessions.loc[a.session_ids, "orig_port"]) == {c["local_port"] for c in clients if not c["connected"]}
    assert a.severity == "warning"


def test_backlog_overflow_synack_retransmitted_after_client_ack():
    truth = expected("anomaly-backlog-synack")["anomalies"][0]
    with_packets = only(analysis("anomaly-backlog-synack").anomalies, "backlog_overflow")
    assert (with_packets.target_addr, with_packets.target_port) == (truth["target_addr"], truth["target_port"])
    assert with_packets.details["synack_after_ack"] == truth["synack_after_ack"]
    assert with_packets.details["data_unacked"] == truth["data_unacked"]
    assert with_packets.severity == "critical" and with_packets.source_count == 4
    # the engine counts the late SYN-ACKs per session: the sessions frame alone says the same
    alone = only(analysis("anomaly-backlog-synack", packets=False).anomalies, "backlog_overflow")
    assert (alone.details["synack_after_ack"], alone.details["data_unacked"]) == (
        truth["synack_after_ack"], truth["data_unacked"])


def test_backlog_overflow_in_corpus_echo_server():
    """Zeek's echo-connections trace: 241 SYN retransmissions in 158 sessions (83 twice, 75 once)."""
    from helpers import CORPUS_DIR

    path = CORPUS_DIR / "gzip-loopback-echo-500-conns.pcap.gz"
    a = only(tcpanalyze.analyze(str(path)).anomalies, "backlog_overflow")
    assert (a.target_addr, a.target_port, a.details["syn_retried"], a.details["attempts"]) == ("127.0.0.1", 7000,
                                                                                              158, 500)


def test_zero_window_stall_side_duration_probes_and_end(packets):
    truth = expected("real-zero-window")
    result = analysis("real-zero-window", packets)
    a = only(result.anomalies, "zero_window_stall")
    session = result.sessions.iloc[0]
    assert (a.target_addr, a.target_port) == (truth["server_addr"], truth["server_port"])
    assert a.details["side"] == "resp" and a.severity == "warning"
    assert a.details["longest_s"] == pytest.approx(session.resp_zero_window_longest_s)
    assert 1.0 < a.details["longest_s"] <= truth["parameters"]["stall_s"]  # the server stopped reading 1.5 s
    assert a.details["probes"] == len(truth["evidence"]["zero_window_probes"]["frames"])
    if packets:
        assert a.details["ended_by"] == "window_update"
        first_zero = result.packets.set_index("frame").loc[truth["evidence"]["zero_window_adverts"]["frames"][0]]
        assert a.start == first_zero.ts_ns / 1e9 and a.end == pytest.approx(a.start + a.details["longest_s"])
        evidence = set(a.evidence_frames)
        assert set(truth["evidence"]["zero_window_probes"]["frames"]) <= evidence
        assert truth["evidence"]["window_reopened"]["frames"][0] in evidence


def test_handshake_failures_on_a_closed_port(packets):
    truth = expected("anomaly-real-refused")
    attempts = truth["programs"]["client"]["attempts"]
    a = only(analysis("anomaly-real-refused", packets).anomalies, "handshake_failures")
    assert (a.target_addr, a.target_port) == (truth["server_addr"], 6003)
    assert a.details["refused"] == sum(x["result"] == "refused" for x in attempts) == 12
    assert a.details["unanswered"] == 0 and a.source_addrs == [truth["client_addr"]]


def test_two_refusals_are_not_enough():
    assert analysis("real-refused").anomalies.empty


def test_idle_exhaustion_counts_concurrent_idle_sessions(packets):
    truth = expected("anomaly-idle-exhaustion")
    a = only(analysis("anomaly-idle-exhaustion", packets).anomalies, "idle_exhaustion")
    assert (a.target_addr, a.target_port) == tuple(truth["server"])
    assert a.details["sessions"] == a.details["peak_concurrent"] == truth["sessions"]
    assert a.source_count == truth["sources"]
    # each session: 48 bytes over 60 s (the request line at 1 ms, then 4 header lines 15 s apart)
    assert a.details["mean_bytes_per_s"] == pytest.approx(truth["orig_bytes_each"] / 60.0, rel=1e-3)


def test_rst_injection_sender_keeps_sending():
    truth = expected("anomaly-rst-injection")
    result = analysis("anomaly-rst-injection")
    a = only(result.anomalies, "injection")
    assert a.details["rst_from"] == "resp" and a.details["in_window"] is True
    assert (a.details["packets_after"], a.details["bytes_after"]) == (truth["packets_after"], truth["bytes_after"])
    rst = result.packets[(result.packets.tcp_flags & 0x4) != 0]
    assert a.details["rst_frame"] == int(rst.frame.iloc[0]) == a.evidence_frames[0]
    assert a.target_addr == "198.51.100.50" and a.severity == "critical"


def test_rst_injection_needs_packets():
    assert "injection" not in set(analysis("anomaly-rst-injection", packets=False).anomalies.kind)


def test_overlap_conflict_is_an_injection():
    """derived-conflict.pcap: one retransmitted segment whose bytes differ (sample_pcaps/README)."""
    result = analysis("derived-conflict")
    a = only(result.anomalies, "injection")
    conflicts = result.stream(0).orig.conflicts
    assert a.details["overlap_conflicts"] == len(conflicts) == 1
    assert a.details["differing_bytes"] == conflicts[0].length
    assert a.evidence_frames == sorted({conflicts[0].first_frame, conflicts[0].later_frame})


def test_retransmission_storm_from_real_random_loss(packets):
    truth = expected("anomaly-real-retrans-storm")
    result = analysis("anomaly-real-retrans-storm", packets)
    a = only(result.anomalies, "retransmission_storm")
    s = result.sessions.iloc[0]
    assert (a.target_addr, a.target_port) == (truth["server_addr"], 6004)
    # the server's re-sent segments: Wireshark labels 36 of them retransmissions, 5 out_of_order
    assert a.details["resp_retransmissions"] == s.resp_retrans_data_pkts == \
        truth["tshark_observed"]["counts"]["retransmission"] + s.resp_out_of_order == 41
    assert a.details["orig_retransmissions"] == 0  # only the server's segments were dropped
    # every byte the server wrote was captured at least once; the segments that carried them first
    # number at least reply / MSS (Linux also sends smaller ones, e.g. at the end of a write)
    reply = truth["programs"]["server"]["sent"]["bytes"]
    assert a.details["resp_data_segments"] == s.resp_data_pkts
    assert a.details["resp_data_segments"] - a.details["resp_retransmissions"] >= -(-reply // 1448)
    assert a.details["ratio"] == pytest.approx(a.details["retransmissions"] / a.details["data_segments"], abs=1e-4)
    assert 0.1 <= a.details["ratio"] < 0.3 and a.severity == "warning"
    assert s.resp_unique_bytes == reply


def test_retransmission_storm_ratio_from_a_lossy_real_flow():
    from helpers import CORPUS_DIR

    path = CORPUS_DIR / "tcp-retrans-fastretrans-lost-dupack.pcap"
    result = tcpanalyze.analyze(str(path))
    a = only(result.anomalies, "retransmission_storm")
    s = result.sessions.iloc[0]
    # 20 Wireshark retransmissions, 3 of them re-sent FINs: 17 data segments of 51
    assert a.details["retransmissions"] == s.orig_retrans_data_pkts + s.resp_retrans_data_pkts == 17
    assert s.orig_retrans_pkts + s.resp_retrans_pkts == 20
    assert a.details["data_segments"] == s.orig_data_pkts + s.resp_data_pkts == 51
    assert a.severity == "critical"  # 33 % > 30 %
    packets = result.packets
    flagged = packets[packets.analysis.map(lambda f: any("retransmission" in x for x in f)) & (packets.payload_len > 0)]
    assert a.evidence_frames == flagged.frame.tolist()


def test_capture_duplicates_are_not_retransmissions():
    """Every frame of this SPAN capture appears 2-3 times: 47 Wireshark retransmissions, 36 of them
    carrying data, 2 of those real: the other 34 are the capture's copies (resend "duplicate")."""
    from helpers import CORPUS_DIR

    path = CORPUS_DIR / "tcp-duplicated-frames-span.pcap"
    result = tcpanalyze.analyze(str(path))
    assert result.anomalies.empty
    from tcpanalyze.detect import DetectConfig

    loose = result.detect(DetectConfig().with_overrides({"retransmission_storm.min_retransmissions": 1,
                                                         "retransmission_storm.min_ratio": 0}))
    a = only(loose, "retransmission_storm")
    assert (a.details["retransmissions"], a.details["capture_duplicates"]) == (2, 34)
    # the engine tells the copies apart as it reads: the sessions alone say the same
    alone = sessions_only(tcpanalyze.analyze(str(path), packets=False))
    s = alone.sessions
    assert (s.orig_retrans_data_pkts + s.resp_retrans_data_pkts).sum() == 2
    assert (s.orig_duplicate_pkts + s.resp_duplicate_pkts).sum() == 34


def test_sessions_list_the_kinds_they_take_part_in():
    result = analysis("anomaly-rst-injection")
    sessions = result.sessions_with_anomalies
    assert sessions["anomalies"].tolist() == [["injection", "rst_teardown"]]
    assert "anomalies" not in result.sessions  # the plain table keeps its columns
    scans = analysis("anomaly-scans").sessions_with_anomalies
    counts = scans["anomalies"].map(tuple).value_counts().to_dict()
    assert counts == {("port_scan",): 38, ("address_sweep",): 40}


def test_lists_are_capped_and_the_total_kept():
    a = only(analysis("anomaly-syn-flood").anomalies, "syn_flood")
    assert len(a.session_ids) == 1000 == len(a.evidence_frames)
    assert a.details["session_ids_total"] == a.details["evidence_frames_total"] == 1206
    assert a.session_ids == sorted(a.session_ids) and len(a.source_addrs) == 10


def pd_na(value) -> bool:
    import pandas as pd

    return value is pd.NA or (isinstance(value, float) and np.isnan(value))


def test_syn_flood_with_repeated_source_ports_counts_attempts_and_syns_apart():
    """The spoofed flood of the corpus: 2,000 SYNs, 130 of them repeating an earlier source
    address and port (Wireshark: 1,870 conversations, 130 retransmissions), from 1,869 addresses."""
    from helpers import CORPUS_DIR

    path = CORPUS_DIR / "tcp-syn-flood-spoofed.pcap"
    a = only(tcpanalyze.analyze(str(path)).anomalies, "syn_flood")
    assert (a.details["attempts"], a.details["syn_packets"]) == (1870, 2000)
    # was "received 1,870 SYNs": the attempts, not the SYNs
    assert a.message.startswith("10.10.10.10:25565 received 1,870 connection attempts (2,000 SYNs) from 1,869 "
                                "sources in 0.19 s")
