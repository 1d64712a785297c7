"""Rules on the real samples: values measured against independent readings (dpkt, tshark, the
programs' own records), which rules pass and fail, and which sessions are named as offenders."""

from __future__ import annotations

from functools import cache

import dpkt
import pytest

import tcpanalyze
from check_truth import (expected, handshake_rtts_ms, percentiles, retransmissions, sample, tshark_ack_rtts_ms,
                         zero_window_stall_s)
from tcpanalyze.check import evaluate, parse_inline


@cache
def analysis(name: str, packets: bool = True):
    return tcpanalyze.analyze(str(sample(name)), packets=packets)


def result_of(name: str, text: str, packets: bool = True):
    (result,) = evaluate([parse_inline(text)], analysis(name, packets)).results
    return result


def only(result):
    (outcome,) = result.outcomes
    return outcome


def test_retransmission_rate_and_count_on_the_lossy_capture_match_a_sequence_space_reading():
    retrans, data = retransmissions(sample("check-lossy.pcap"))
    total, data_total = sum(retrans.values()), sum(data.values())
    # the forwarder dropped these data segments; each had to be sent again
    assert total >= expected("check-lossy")["forwarder"]["dropped_data_segments"] > 0
    count = result_of("check-lossy.pcap", f"retransmissions == {total}")
    assert count.status == "pass" and only(count).value == total
    rate = result_of("check-lossy.pcap", "retransmission_rate < 0.02")
    assert rate.status == "fail"
    retrans, _ = retransmissions(sample("check-lossy.pcap"), data_only=True)  # re-sent SYNs/FINs left out
    assert only(rate).value == pytest.approx(sum(retrans.values()) / data_total)
    worst = sorted(retrans, key=lambda sid: (-retrans[sid] / data[sid], sid))[:5]
    assert [(o.session_id, o.value) for o in only(rate).offenders] == [
        (sid, pytest.approx(retrans[sid] / data[sid])) for sid in worst]


def test_clean_capture_has_no_retransmissions():
    retrans, data = retransmissions(sample("check-clean.pcap"))
    assert sum(data.values()) > 0
    assert sum(retrans.values()) == 0
    result = result_of("check-clean.pcap", "retransmission_rate < 0.001")
    assert result.status == "pass" and only(result).value == 0.0


def test_rst_teardown_fails_with_the_reset_session():
    truth = expected("real-rst-abort")["connections"]
    resets = sum(1 for c in truth if "rst" in (c["orig_close"], c["resp_close"]) and c["orig_bytes"] + c["resp_bytes"])
    result = result_of("real-rst-abort.pcap", "rst_teardowns == 0")
    assert result.status == "fail"
    assert only(result).value == resets == 1
    assert [(o.session_id, o.value) for o in only(result).offenders] == [(0, 1.0)]
    assert result_of("real-graceful-close.pcap", "rst_teardowns == 0").status == "pass"


def test_refused_handshakes_per_server_names_the_server_and_both_attempts():
    attempts = expected("real-refused")["programs"][0]["client"]["attempts"]
    port = attempts[0]["peer_port"]
    result = result_of("real-refused.pcap", "refused_handshakes == 0 scope=server")
    assert result.status == "fail" and result.counts == {"pass": 0, "fail": 1, "skip": 0}
    (outcome,) = result.failed
    assert outcome.scope == f"10.77.0.2:{port}"
    assert outcome.value == sum(a["result"] == "ECONNREFUSED" for a in attempts) == 2
    assert [o.session_id for o in outcome.offenders] == [0, 1]
    assert result_of("real-refused.pcap", "unanswered_handshakes == 0").status == "pass"


def test_zero_window_stall_total_and_longest():
    stall = zero_window_stall_s(sample("real-zero-window.pcap"), receiver_port=5105)
    programs_stall = expected("real-zero-window")["parameters"]["stall_s"]
    assert 1.0 < stall < programs_stall  # the window closes after the stall starts, reopens at its end
    total = result_of("real-zero-window.pcap", "zero_window_stall_s < 1", packets=False)
    assert total.status == "fail" and only(total).value == pytest.approx(stall, abs=2e-6)
    assert [o.session_id for o in only(total).offenders] == [0]
    longest = result_of("real-zero-window.pcap", "zero_window_longest_s < 2", packets=False)
    assert longest.status == "pass" and only(longest).value == pytest.approx(stall, abs=2e-6)


@pytest.mark.parametrize("label,index", [("p50", 0), ("p90", 1), ("p95", 2), ("p99", 3), ("max", 4)])
def test_handshake_rtt_percentiles(label, index):
    rtts = [round(v, 3) for v in handshake_rtts_ms(sample("real-many-short-conns.pcap"))]  # µs capture
    assert len(rtts) == len(expected("real-many-short-conns")["connections"]) == 20
    want = percentiles(rtts)[index]
    result = result_of("real-many-short-conns.pcap", f"handshake_rtt_{label}_ms < 1")
    assert result.status == "pass" and only(result).value == pytest.approx(want, abs=1e-9)
    failing = result_of("real-many-short-conns.pcap", f"handshake_rtt_{label}_ms < {want / 2}")
    assert failing.status == "fail"
    assert failing.failed[0].offenders[0].value == pytest.approx(max(rtts), abs=1e-9)


@pytest.mark.parametrize("label,index", [("p50", 0), ("p90", 1), ("p95", 2), ("p99", 3), ("max", 4)])
def test_ack_rtt_percentiles_match_wireshark(label, index):
    rtts = tshark_ack_rtts_ms(sample("real-graceful-close.pcap"))
    if rtts is None:
        pytest.skip("tshark not installed")
    result = result_of("real-graceful-close.pcap", f"ack_rtt_{label}_ms < 100")
    assert only(result).value == pytest.approx(percentiles(rtts)[index], abs=1e-9)


def test_ack_rtt_without_packets_uses_the_sessions_rtt_columns():
    sessions = analysis("real-graceful-close.pcap", False).sessions
    worst = max(sessions["orig_rtt_max_ms"].max(), sessions["resp_rtt_max_ms"].max())
    assert only(result_of("real-graceful-close.pcap", "ack_rtt_max_ms < 100", packets=False)).value == worst


def test_sessions_bytes_and_missed_bytes_from_what_the_programs_sent():
    truth = expected("real-many-short-conns")["connections"]
    assert only(result_of("real-many-short-conns.pcap", f"sessions == {len(truth)}")).value == 20
    total = sum(c["orig_bytes"] + c["resp_bytes"] for c in truth)
    assert only(result_of("real-many-short-conns.pcap", f"bytes == {total}")).value == total
    assert only(result_of("real-many-short-conns.pcap", "missed_bytes == 0")).value == 0


def test_missed_bytes_counts_a_data_segment_cut_out_of_the_capture(tmp_path):
    with open(sample("real-graceful-close.pcap"), "rb") as f:  # full packets: the cut file stays valid
        reader = dpkt.pcap.Reader(f)
        records = list(reader)
        snaplen = reader.snaplen
    server_port = expected("real-graceful-close")["server_port"]
    replies = [i for i, (_, buf) in enumerate(records)
               if (ip := dpkt.ethernet.Ethernet(buf).data).data.sport == server_port
               and ip.len - ip.hl * 4 - ip.data.off * 4 > 0]
    cut = replies[len(replies) // 2]  # a reply segment from the middle, as a lossy tap would miss it
    ip = dpkt.ethernet.Ethernet(records[cut][1]).data
    cut_len = ip.len - ip.hl * 4 - ip.data.off * 4
    path = tmp_path / "cut.pcap"
    with open(path, "wb") as f:
        writer = dpkt.pcap.Writer(f, snaplen=snaplen)
        for i, (ts, buf) in enumerate(records):
            if i != cut:
                writer.writepkt(buf, ts)
    (result,) = evaluate([parse_inline("missed_bytes == 0")], tcpanalyze.analyze(str(path), packets=False)).results
    assert result.status == "fail" and only(result).value == cut_len > 0
    assert [(o.session_id, o.value) for o in only(result).offenders] == [(0, cut_len)]


def test_scopes_and_filters_on_many_short_connections():
    conns = expected("real-many-short-conns")["connections"]
    port = conns[0]["resp_port"]
    server = result_of("real-many-short-conns.pcap", "sessions > 0 scope=server")
    assert [(o.scope, o.value) for o in server.outcomes] == [(f"10.77.0.2:{port}", 20.0)]
    host = result_of("real-many-short-conns.pcap", "sessions > 0 scope=host")
    assert sorted((o.scope, o.value) for o in host.outcomes) == [("10.77.0.1", 20.0), ("10.77.0.2", 20.0)]
    session = result_of("real-many-short-conns.pcap", f"bytes == {conns[0]['orig_bytes'] + conns[0]['resp_bytes']} "
                        "scope=session")
    assert session.counts == {"pass": 20, "fail": 0, "skip": 0}
    assert only(result_of("real-many-short-conns.pcap", f"sessions == 20 port={port}")).value == 20
    assert only(result_of("real-many-short-conns.pcap", "sessions == 0 port=1")).value == 0
    assert only(result_of("real-many-short-conns.pcap", "sessions == 20 conn_state=SF")).value == 20
    assert only(result_of("real-many-short-conns.pcap", "sessions == 0 close_type=rst")).value == 0


def test_a_rate_without_data_is_skipped_not_failed():
    result = result_of("real-refused.pcap", "retransmission_rate < 0.01")
    assert result.status == "skip" and only(result).reason == "no data"


def test_a_per_scope_rule_with_no_matching_session_is_skipped_with_a_note():
    result = result_of("real-refused.pcap", "sessions > 0 scope=host port=1")
    assert result.status == "skip" and result.outcomes == []
    assert result.note == "no host to check: no session matches the filters"


def test_syn_retries_count_as_retransmissions_but_not_in_the_data_retransmission_rate():
    # the backlog sample: every dropped SYN is retried each second; no data segment is re-sent
    retrans, data = retransmissions(sample("anomaly-real-backlog.pcap"))
    count = result_of("anomaly-real-backlog.pcap", "retransmissions == 0")
    assert only(count).value == sum(retrans.values()) == 50
    rate = result_of("anomaly-real-backlog.pcap", "retransmission_rate < 0.01")
    # was 10.0 (50 SYN retries over 5 data packets)
    assert rate.status == "pass" and only(rate).value == 0.0 and sum(data.values()) == 5
