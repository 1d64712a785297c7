"""What the report says: diagnoses, ranking, the server table and the capture summary, pinned
against what the sample programs did (``sample_pcaps/expected``) and hand-built captures."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pandas as pd
import pytest

import tcpanalyze
from helpers import EXPECTED_DIR, SAMPLE_DIR, mss, write_pcap
from report_cases import at, c2s, s2c
from tcpanalyze.detect import Detection
from tcpanalyze.report import build_report, layout, model
from tcpanalyze.report.diagnose import describe, flag_sessions
from tcpanalyze.report.html import html_text
from tcpanalyze.report.markdown import markdown_text
from tcpanalyze.report.text import write_text


def expected(name: str) -> dict:
    return json.loads((EXPECTED_DIR / f"{name}.json").read_text())


def report_of(path):
    return build_report(tcpanalyze.analyze(str(path)))


def session_problems(report) -> list:
    """The problems found in single sessions (anomaly detection may add others around them)."""
    return [p for p in report.problems if p.source == "session"]


@pytest.fixture(scope="module")
def slow_lossy(tmp_path_factory):
    """A 350 ms handshake, then one 100-byte segment sent twice (1 of 2 data segments retransmitted)."""
    path = tmp_path_factory.mktemp("report") / "slow-lossy.pcap"
    write_pcap(path, [
        at(0, c2s(seq=100, flags="S", opts=mss(1460))),
        at(300, s2c(seq=500, ack=101, flags="SA", opts=mss(1460))),
        at(350, c2s(seq=101, ack=501)),
        at(360, c2s(seq=101, ack=501, flags="PA", payload=b"x" * 100)),
        at(560, c2s(seq=101, ack=501, flags="PA", payload=b"x" * 100)),
        at(570, s2c(seq=501, ack=201)),
        at(580, c2s(seq=201, ack=501, flags="FA")),
        at(590, s2c(seq=501, ack=202, flags="FA")),
        at(600, c2s(seq=202, ack=502)),
    ])
    return path


def test_zero_window_diagnosis_names_the_receiver_that_stopped_reading():
    truth = expected("real-zero-window")
    path = SAMPLE_DIR / "real-zero-window.pcap"
    analysis = tcpanalyze.analyze(str(path))
    report = build_report(analysis)
    # the stall as the capture shows it: the first zero-window advert to the window update
    frames = analysis.packets.set_index("frame")["ts_ns"]
    start = frames[truth["evidence"]["zero_window_adverts"]["frames"][0]]
    end = frames[truth["evidence"]["window_reopened"]["frames"][0]]
    stall_s = (end - start) / 1e9
    probes = len(truth["evidence"]["zero_window_probes"]["frames"])
    server = f"{truth['server_addr']}:{truth['server_port']}"

    [finding] = [f for f in flag_sessions(analysis.sessions).itertuples() if f.kind == "zero_window"]
    assert (finding.side, finding.severity) == ("resp", "warning")
    assert describe("zero_window", "resp", analysis.sessions.iloc[0]) == (
        f"{server} stopped reading for {stall_s:.1f} s (zero window, {probes} probes); the originator waited")
    assert finding.value == pytest.approx(stall_s, abs=1e-6)
    # the zero_window_stall anomaly tells this session's story: it is not listed again
    assert (report.attention, report.attention_total) == ([], 0)
    # the program stopped reading for 1.5 s; the window closed once the buffer had filled
    program_stall = truth["programs"][0]["server"]["stall_s"]
    assert program_stall - 0.2 < stall_s < program_stall
    # ranked first, as the anomaly detector's stall (which the session problem is not repeated under)
    assert (report.problems[0].kind, report.problems[0].target) == ("zero_window_stall", server)
    assert report.problems[0].session_ids == [finding.session_id]


@pytest.mark.parametrize("longest, text", [(1.416, "1.4 s"), (0.1, "0.1 s"), (0.035, "35 ms"),
                                           (0.00021, "0.2 ms"), (0.0, "0.0 ms")])
def test_short_zero_windows_are_said_in_milliseconds(longest, text):
    """A loopback receiver's window can close for a few microseconds: not "for 0.0 s"."""
    from tcpanalyze.report.diagnose import describe

    session = pd.Series({"orig_addr": "10.0.0.1", "orig_port": 5000, "orig_zero_window_episodes": 1,
                         "orig_zero_window_probes": 0, "orig_zero_window_longest_s": longest,
                         "orig_zero_window_s": longest})
    assert describe("zero_window", "orig", session) == (
        f"10.0.0.1:5000 stopped reading for {text} (zero window, 0 probes); the responder waited")


def test_rst_abort_diagnosis_says_the_server_reset_after_the_bytes_exchanged():
    truth = expected("real-rst-abort")
    [conn] = truth["connections"]
    assert conn["first_closer"] == "resp" and conn["resp_close"] == "rst"
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "real-rst-abort.pcap"))
    session = analysis.sessions.iloc[0]
    assert describe("reset", "", session) == f"reset by the responder after {conn['resp_bytes']:,} bytes each way"
    assert (session.orig_bytes, session.resp_bytes) == (conn["orig_bytes"], conn["resp_bytes"])
    report = build_report(analysis)
    assert report.capture.sessions_by_close_type == {"rst": 1}
    # nothing was in flight: an ordinary teardown, context (info), told by the rst_teardown anomaly
    assert [(p.kind, p.severity) for p in report.problems] == [("rst_teardown", "info")]
    assert report.attention == []


def test_refused_connections_count_as_failed_handshakes_of_their_server():
    truth = expected("real-refused")
    report = report_of(SAMPLE_DIR / "real-refused.pcap")
    port = truth["connections"][0]["resp_port"]
    server = f"{truth['server_addr']}:{port}"
    assert [(s.server, s.sessions, s.failed_handshakes) for s in report.servers] == [(server, 2, 2)]
    assert [d.message for a in report.attention for d in a.diagnoses] == [
        f"refused: {server} answered 1 SYN with a reset"] * len(truth["connections"])
    assert [p.kind for p in session_problems(report)] == ["refused", "refused"]
    assert report.capture.sessions_by_conn_state == {"REJ": 2}


def test_clean_short_connections_need_no_attention_and_fill_the_server_row():
    truth = expected("real-many-short-conns")
    conns = truth["connections"]
    report = report_of(SAMPLE_DIR / "real-many-short-conns.pcap")
    assert report.attention == [] and report.attention_total == 0
    assert session_problems(report) == []
    [server] = report.servers
    assert server.server == f"{truth['server_addr']}:{truth['server_port']}"
    assert server.sessions == len(conns)
    assert server.bytes == sum(c["orig_bytes"] + c["resp_bytes"] for c in conns)
    assert server.retrans_pct == 0.0 and server.failed_handshakes == 0
    assert report.capture.sessions == len(conns)
    assert report.capture.orig_bytes == sum(c["orig_bytes"] for c in conns)
    assert report.capture.resp_bytes == sum(c["resp_bytes"] for c in conns)
    assert report.capture.sessions_by_close_type == {"fin": len(conns)}


def test_slow_handshake_and_retransmission_are_diagnosed_and_ranked_by_severity(slow_lossy):
    report = report_of(slow_lossy)
    # 1 of 2 segments is 50 %, but too few to be more than info (RETRANS_WARNING_MIN); ranked by the 1 re-sent
    assert [(p.kind, p.severity, p.value, p.unit) for p in session_problems(report)] == [
        ("retransmission", "info", 1.0, "packets"), ("slow_handshake", "info", 350.0, "ms")]
    assert report.attention == []  # nothing of warning or worse
    session = tcpanalyze.analyze(str(slow_lossy)).sessions.iloc[0]
    assert [describe(kind, "", session) for kind in ("retransmission", "slow_handshake")] == [
        "50.0 % of segments retransmitted (1 of 2, by the originator)",
        "handshake took 350 ms (300 ms from the capture point to the responder and back, 50 ms to the originator and back)"]
    [server] = report.servers
    assert (server.data_pkts, server.retrans_pkts, server.retrans_pct) == (2, 1, 50.0)


def test_server_rtt_is_the_median_and_p95_of_every_ack_rtt_sample(tmp_path):
    # handshake answered after 5 ms and acknowledged 1 ms later; three segments acked after 10, 20, 30 ms
    packets = [at(0, c2s(seq=100, flags="S")), at(5, s2c(seq=500, ack=101, flags="SA")), at(6, c2s(seq=101, ack=501))]
    seq = 101
    for start, rtt in ((10, 10), (40, 20), (80, 30)):
        packets += [at(start, c2s(seq=seq, ack=501, flags="PA", payload=b"y" * 10)),
                    at(start + rtt, s2c(seq=501, ack=seq + 10))]
        seq += 10
    path = tmp_path / "rtt.pcap"
    write_pcap(path, packets)
    # towards the server only: the SYN to its SYN-ACK and the client's segments to its ACKs (the
    # SYN-ACK to the client's ACK, 1 ms, times the client's side)
    samples = [5, 10, 20, 30]
    [server] = report_of(path).servers
    assert server.rtt_samples == len(samples)
    assert server.rtt_median_ms == pytest.approx(np.median(samples))
    assert server.rtt_p95_ms == pytest.approx(np.percentile(samples, 95))
    # the packets table is not needed: the analysis keeps every RTT sample
    assert build_report(tcpanalyze.analyze(str(path), packets=False)).servers == [server]
    # with neither (a bare sessions frame), the sessions' mean RTTs stand in
    report = build_report(dataclasses.replace(tcpanalyze.analyze(str(path), packets=False), evidence=None))
    assert report.rtt_source == "sessions" and report.servers[0].rtt_samples == 1


def test_capture_summary_carries_the_record_accounting():
    path = SAMPLE_DIR / "synth-mixed-non-tcp.pcap"
    truth = expected("synth-mixed-non-tcp")
    packets = report_of(path).capture.packets
    assert packets.records == truth["records"]
    assert {k: getattr(packets, k) for k in truth["counts"]} == truth["counts"]


def test_json_form_is_plain_data_with_the_schema_version():
    data = json.loads(report_of(SAMPLE_DIR / "real-rst-abort.pcap").to_json())
    assert data["schema_version"] == tcpanalyze.report.SCHEMA_VERSION == 2
    assert data["problems"][0]["kind"] == "rst_teardown" and data["attention"] == []


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_text_is_coloured_on_a_terminal_only():
    report = report_of(SAMPLE_DIR / "real-rst-abort.pcap")
    plain, terminal = io.StringIO(), _Terminal()
    write_text(report, plain)
    write_text(report, terminal)
    assert "\x1b[" not in plain.getvalue() and "\x1b[" in terminal.getvalue()
    assert "reset its session with 10.77.0.1:44804 after 10,240 bytes" in plain.getvalue()


def anomaly(anomaly_id: int, kind: str, severity: str, port, session_ids: list[int], details: dict) -> dict:
    return {"anomaly_id": anomaly_id, "kind": kind, "severity": severity, "start": 0.0, "end": 1.0,
            "target_addr": "10.77.0.2", "target_port": port, "source_addrs": ["10.77.0.1"], "source_count": 1,
            "session_ids": session_ids, "evidence_frames": [], "message": f"{kind} message", "details": details}


def made_up(analysis, anomalies: list[dict]) -> None:
    """Give ``analysis`` these anomalies (what tcpanalyze.detect hands over, made up to pin a
    behaviour), each involving the sessions it lists."""
    table = pd.DataFrame(anomalies).astype({"target_port": "Int64"})
    analysis.detection = Detection(table, [(a["kind"], np.array(a["session_ids"], np.int64)) for a in anomalies])


def test_anomalies_rank_first_within_a_severity_and_are_not_repeated_as_session_problems():
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "real-rst-abort.pcap"))
    made_up(analysis, [
        anomaly(0, "rst_teardown", "warning", 5103, [0], {}),
        anomaly(1, "syn_flood", "critical", pd.NA, list(range(20)) + [25], {"session_ids_total": 5000}),
    ])
    report = build_report(analysis)
    assert [(p.rank, p.source, p.kind, p.severity, p.target, p.session_count) for p in report.problems] == [
        (1, "anomaly", "syn_flood", "critical", "10.77.0.2", 5000),
        (2, "anomaly", "rst_teardown", "warning", "10.77.0.2:5103", 1),
    ]
    assert len(report.problems[0].session_ids) == 20
    assert report.problem_totals == {"anomaly:rst_teardown": 1, "anomaly:syn_flood": 1, "reset": 1}
    # the rst_teardown anomaly tells the session's story: not listed again among sessions
    assert report.attention == []


def test_a_flood_whose_session_list_was_cut_covers_every_session_it_involves():
    """Coverage reads the anomaly's full member list (``Detection.members``), not the cut
    ``session_ids`` nor the sessions to its target: the flood involves sessions 0 and 1, lists 0."""
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "real-refused.pcap"))
    flood = anomaly(0, "syn_flood", "critical", 5104, [0], {"session_ids_total": 2})
    table = pd.DataFrame([flood]).astype({"target_port": "Int64"})
    analysis.detection = Detection(table, [("syn_flood", np.array([0, 1]))])  # made_up would give [0] alone
    report = build_report(analysis)
    assert [p.kind for p in report.problems] == ["syn_flood"]
    assert report.problem_totals["refused"] == 2 and report.attention_total == 0  # the flood tells both
    assert report.attention_left_out == 2
    # involving session 0 alone, it leaves session 1's refusal to be told
    analysis.detection = Detection(table, [("syn_flood", np.array([0]))])
    report = build_report(analysis)
    assert [(p.kind, p.session_ids) for p in report.problems] == [("syn_flood", [0]), ("refused", [1])]
    assert ([a.session_id for a in report.attention], report.attention_left_out) == ([1], 1)


def rendered_forms(report) -> dict[str, str]:
    text = io.StringIO()
    write_text(report, text)
    return {"text": text.getvalue(), "markdown": markdown_text(report), "html": html_text(report, [])}


def test_anomalies_are_cut_to_the_worst_of_each_kind_and_the_note_says_how_many_there_were():
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "real-rst-abort.pcap"))
    teardowns = [anomaly(i, "rst_teardown", "info", 5103, [0], {}) for i in range(12)]
    teardowns[3]["severity"] = teardowns[9]["severity"] = "warning"  # the worst: severity first,
    teardowns[5]["details"] = {"session_ids_total": 40}               # then the most sessions,
    teardowns[7]["session_ids"] = [0, 1, 2]
    teardowns[11]["start"] = -1.0                                     # then the earliest
    flood = anomaly(12, "syn_flood", "critical", pd.NA, [0], {})
    made_up(analysis, teardowns + [flood])
    report = build_report(analysis)  # the default cap: 5 of each kind
    assert [(p.rank, p.kind, p.anomaly_id) for p in report.problems] == [
        (1, "syn_flood", 12), (2, "rst_teardown", 3), (3, "rst_teardown", 9), (4, "rst_teardown", 5),
        (5, "rst_teardown", 7), (6, "rst_teardown", 11)]
    assert report.problem_totals == {"anomaly:rst_teardown": 12, "anomaly:syn_flood": 1, "reset": 1}
    data = json.loads(report.to_json())
    assert [p["anomaly_id"] for p in data["problems"] if p["kind"] == "rst_teardown"] == [3, 9, 5, 7, 11]
    assert data["problem_totals"]["anomaly:rst_teardown"] == 12
    note = ("Anomalies shown: rst_teardown 5 of 12, the worst of each kind "
            "(tcpanalyze anomalies FILE lists them all).")
    for form, output in rendered_forms(report).items():
        assert note in output, form
        assert "syn_flood 1 of" not in output, form  # a kind that was not cut is not in the note


def test_a_capture_with_more_anomalies_of_a_kind_than_the_cap_lists_the_worst_in_every_form(monkeypatch):
    analysis = tcpanalyze.analyze(str(SAMPLE_DIR / "anomaly-real-backlog.pcap"))
    anomalies = analysis.anomalies
    teardowns = anomalies[anomalies["kind"] == "rst_teardown"]
    assert len(teardowns) == 5 and (anomalies["kind"] == "backlog_overflow").sum() == 1
    monkeypatch.setattr(model, "ANOMALIES_PER_KIND", 2)
    report = build_report(analysis)
    # all of one severity and one session each: the two that started first
    first = teardowns.sort_values(["start", "anomaly_id"]).head(2)["anomaly_id"].tolist()
    assert sorted(p.anomaly_id for p in report.problems if p.kind == "rst_teardown") == sorted(first)
    assert [p.kind for p in report.problems].count("backlog_overflow") == 1
    assert [p.rank for p in report.problems] == list(range(1, len(report.problems) + 1))
    assert report.problem_totals["anomaly:rst_teardown"] == 5
    assert json.loads(report.to_json())["problem_totals"]["anomaly:rst_teardown"] == 5
    for form, output in rendered_forms(report).items():
        assert "Anomalies shown: rst_teardown 2 of 5, the worst of each kind" in output, form
        assert "backlog_overflow 1 of 1" not in output, form


def test_the_note_says_how_many_sessions_of_a_cut_kind_there_were_and_how_many_are_shown(monkeypatch):
    monkeypatch.setattr(model, "PROBLEMS_PER_KIND", 1)
    monkeypatch.setattr(layout, "PROBLEMS_PER_KIND", 1)
    report = report_of(SAMPLE_DIR / "real-refused.pcap")
    assert [p.kind for p in session_problems(report)] == ["refused"] and report.problem_totals["refused"] == 2
    for form, output in rendered_forms(report).items():
        assert "Sessions shown: refused 1 of 2; each kind lists its worst 1 sessions" in output, form
        assert "Anomalies shown" not in output, form


def test_the_note_says_plainly_when_an_anomaly_tells_every_session_of_a_kind():
    report = report_of(SAMPLE_DIR / "anomaly-syn-flood.pcap")
    assert not session_problems(report) and report.problem_totals["unanswered"] == 1_160
    for form, output in rendered_forms(report).items():
        assert "All 1,160 unanswered sessions are told by an anomaly above, so none is listed again." in output, form
        assert " 0 of " not in output, form


@pytest.fixture(scope="module")
def syn_and_fin_retried(tmp_path_factory):
    """SYN sent 3 times, then 2 data segments (the second sent twice: 3 data packets), then a FIN
    sent twice: 4 retransmissions, 1 of them of data."""
    path = tmp_path_factory.mktemp("report") / "syn-fin-retried.pcap"
    write_pcap(path, [
        at(0, c2s(seq=100, flags="S")),
        at(1000, c2s(seq=100, flags="S")),
        at(3000, c2s(seq=100, flags="S")),
        at(3001, s2c(seq=500, ack=101, flags="SA")),
        at(3002, c2s(seq=101, ack=501)),
        at(3003, c2s(seq=101, ack=501, flags="PA", payload=b"x" * 100)),
        at(3004, c2s(seq=201, ack=501, flags="PA", payload=b"y" * 100)),
        at(3300, c2s(seq=201, ack=501, flags="PA", payload=b"y" * 100)),
        at(3301, s2c(seq=501, ack=301)),
        at(3302, c2s(seq=301, ack=501, flags="FA")),
        at(3600, c2s(seq=301, ack=501, flags="FA")),
        at(3601, s2c(seq=501, ack=302, flags="FA")),
        at(3602, c2s(seq=302, ack=502)),
    ])
    return path


def test_retransmitted_syns_and_fins_do_not_count_in_the_data_retransmission_share(syn_and_fin_retried):
    analysis = tcpanalyze.analyze(str(syn_and_fin_retried))
    [session] = analysis.sessions.itertuples()
    assert (session.orig_retrans_pkts, session.orig_retrans_data_pkts, session.orig_data_pkts) == (4, 1, 3)
    report = build_report(analysis)
    [server] = report.servers
    # was 4 of 3 (133 %): the SYN and FIN retries counted against the data packets; they count in
    # the retransmitted segments, as the sessions' retrans_pkts and check's retransmissions count them
    assert (server.data_pkts, server.retrans_pkts, server.retrans_pct) == (3, 1, pytest.approx(100 / 3))
    assert server.retrans_all_pkts == session.orig_retrans_pkts == 4
    [problem] = [p for p in session_problems(report) if p.kind == "retransmission"]
    assert problem.value == 1
    assert describe("retransmission", "", analysis.sessions.iloc[0]) == \
        "33.3 % of segments retransmitted (1 of 3, by the originator)"


@pytest.mark.parametrize("name", ["anomaly-rst-injection.pcap", "real-zero-window.pcap", "anomaly-rst-storm.pcap"])
def test_the_report_without_the_evidence_packets_once_anomalies_are_found_is_the_same(name):
    """``tcpanalyze report`` lets the evidence packets go once detection has read them."""
    lean = tcpanalyze.analyze(str(SAMPLE_DIR / name), packets=False)
    whole = build_report(tcpanalyze.analyze(str(SAMPLE_DIR / name), packets=False))
    anomalies = lean.anomalies.copy()
    assert len(lean.evidence.packets)
    lean.drop_evidence_packets()
    assert len(lean.evidence.packets) == 0 and len(lean.rtt_samples)
    pd.testing.assert_frame_equal(lean.anomalies, anomalies)
    assert build_report(lean).to_json() == whole.to_json()
