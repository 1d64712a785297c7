"""Loss accounting says what each counter means: dumpcap's "received" is what it wrote, the
kernel's drops come on top of it (never "dropped 6399 of 2402"), and the Interface Statistics
Blocks a capture ends with are read as dumpcap wrote them. The capture loss seen in TCP (Zeek's
capture_loss) is in every stats event and the view, and a warning once it passes the mark;
info-level anomalies are counted, not listed."""

from __future__ import annotations

import json
import struct

from helpers import SAMPLE_DIR, Rec, eth, ipv4, pcapng_block, pcapng_bytes, pcapng_option, tcp
from live_helpers import isb_counters

import tcpanalyze
from tcpanalyze.capture.dumpcap import DumpcapStatistics
from tcpanalyze.capture.follow import trailing_statistics
from tcpanalyze.capture.live import CaptureLosses, CaptureProgress
from tcpanalyze.cli.live import AnomalyWatch
from tcpanalyze.cli.live_view import JsonEvents, LiveStatus, _capture_line, _loss_line, loss_warning
from tcpanalyze.pipeline.live import LiveCounters
from tcpanalyze.pipeline.talkers import TrafficTally

# dumpcap 4.0.17 at nice 19 with a 1 MiB buffer (-B 1) under a loopback flood, word for word;
# the ISB of the file it wrote said isb_ifrecv 87, isb_ifdrop 5555.
STARVED = ("Packets received/dropped on interface 'Loopback: lo': 87/5555 "
           "(pcap:5555/dumpcap:0/flushed:0/ps_ifdrop:0) (1.5%)")
CLEAN = ("Packets received/dropped on interface 'Loopback: lo': 248/0 "
         "(pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0) (100.0%)")


def test_drops_are_counted_on_top_of_what_dumpcap_wrote():
    starved = DumpcapStatistics.parse(STARVED)
    assert (starved.interface, starved.captured, starved.kernel_dropped) == ("Loopback: lo", 87, 5555)
    assert (starved.matched, starved.dropped) == (5642, 5555)
    losses = CaptureLosses(analysed=87, statistics=[starved])
    assert round(losses.drop_pct, 1) == 98.5 and losses.lost_before_analysis == 0
    [said] = losses.sentences()
    assert said.startswith("Loopback: lo: 5555 of the 5642 packets that passed the capture filter were dropped "
                           "before dumpcap wrote them (98.5%: kernel 5555, dumpcap 0, flushed 0)")
    assert loss_warning(losses) == ("5555 of 5642 packets (98.5%) were dropped before dumpcap wrote them: "
                                    "the analysis is missing them")


def test_a_clean_capture_says_nothing_and_packets_not_analysed_are_a_loss_of_their_own():
    clean = DumpcapStatistics.parse(CLEAN)
    assert CaptureLosses(analysed=248, statistics=[clean]).sentences() == []
    assert loss_warning(CaptureLosses(analysed=248, statistics=[clean])) is None
    behind = CaptureLosses(analysed=200, statistics=[clean], files_missed=1)
    assert behind.lost_before_analysis == 48 and behind.drop_pct == 0.0
    assert behind.sentences() == ["48 of the 248 packets dumpcap wrote were not analysed "
                                  "(ring files replaced before they were read: 1)"]
    assert loss_warning(behind) == "48 packets dumpcap wrote were not analysed"


def test_other_lines_are_not_statistics():
    assert DumpcapStatistics.parse("Packets captured: 248") is None
    assert DumpcapStatistics.parse("File: /tmp/x.pcapng") is None


def isb(interface: int, received: int, dropped: int) -> bytes:
    options = (pcapng_option(1, b"Counters provided by dumpcap") + pcapng_option(4, struct.pack("<Q", received))
               + pcapng_option(5, struct.pack("<Q", dropped)) + pcapng_option(0, b""))
    return pcapng_block(5, struct.pack("<III", interface, 0, 0) + options)


def test_the_statistics_blocks_a_capture_ends_with_are_read_back_to_front(tmp_path):
    packet = Rec(eth(ipv4("10.0.0.1", "10.0.0.2", tcp(1234, 80, flags="S"))))
    path = tmp_path / "closed.pcapng"
    path.write_bytes(pcapng_bytes([packet, packet]) + isb(0, 2, 7) + isb(0, 5, 9))
    found = trailing_statistics(str(path))
    assert [(s.interface, s.counters) for s in found] == [(0, {"isb_ifrecv": 2, "isb_ifdrop": 7}),
                                                          (0, {"isb_ifrecv": 5, "isb_ifdrop": 9})]
    assert [s.counters for s in found] == isb_counters(path)
    unfinished = tmp_path / "unfinished.pcapng"
    unfinished.write_bytes(pcapng_bytes([packet]))
    assert trailing_statistics(str(unfinished)) == []


def events_of(view_calls, tmp_path) -> list[dict]:
    """The JSON events a JsonEvents view writes for ``view_calls(view)``."""
    path = tmp_path / "events.jsonl"
    view = JsonEvents("lo", str(path))
    view_calls(view)
    return [json.loads(line) for line in path.read_text().splitlines()]


def status(files_missed: int = 0, acks: tuple[int, int] = (0, 0), lost: tuple[int, int] = (0, 0)) -> LiveStatus:
    """A refresh over one second; ``acks`` (advancing ACKs) and ``lost`` (ACKs of unseen data) as
    counted at the interval's start and end."""
    earlier = LiveCounters(advancing_ack_pkts=acks[0], ack_lost_segment_pkts=lost[0])
    counters = LiveCounters(records=10, advancing_ack_pkts=acks[1], ack_lost_segment_pkts=lost[1])
    progress = CaptureProgress(written=12, analysed=10, behind_bytes=300, unread_bytes=0, behind_s=0.25,
                               files_missed=files_missed)
    talkers, servers = TrafficTally().take(5)
    return LiveStatus(counters, counters.rates_since(earlier, 1.0), progress, talkers, servers)


def test_losses_are_events_live_and_at_the_end(tmp_path):
    starved = CaptureLosses(analysed=87, statistics=[DumpcapStatistics.parse(STARVED)])

    def calls(view):
        view.refresh(status(files_missed=0))
        view.refresh(status(files_missed=1))  # a ring file was replaced unread: said once
        view.refresh(status(files_missed=1))
        view.end(LiveCounters(records=87), {}, starved)

    events = events_of(calls, tmp_path)
    assert [e["event"] for e in events] == ["stats", "capture_loss", "stats", "stats", "capture_loss", "end"]
    assert events[0]["capture"] == {"written": 12, "analysed": 10, "behind_bytes": 300, "unread_bytes": 0,
                                    "behind_s": 0.25, "files_missed": 0, "behind_packets": 2}
    assert events[0]["rates"]["packets_per_s"] == 10.0
    assert (events[1]["severity"], events[1]["files_missed"]) == ("warning", 1)
    assert (events[4]["severity"], events[4]["dropped"], events[4]["matched"]) == ("warning", 5555, 5642)
    assert events[5]["capture"]["kernel_dropped"] == 5555 and events[5]["capture"]["captured"] == 87
    clean = CaptureLosses(analysed=248, statistics=[DumpcapStatistics.parse(CLEAN)])
    assert [e["event"] for e in events_of(lambda v: v.end(LiveCounters(), {}, clean), tmp_path)] == ["end"]


def test_capture_loss_seen_in_tcp_is_in_every_stats_event_and_a_warning_once_it_passes_the_mark(tmp_path):
    def calls(view):
        view.refresh(status(acks=(0, 1000), lost=(0, 5)))          # 0.5 %: below the 1 % mark
        view.refresh(status(acks=(1000, 2000), lost=(5, 55)))      # 5 %: a warning
        view.refresh(status(acks=(2000, 3000), lost=(55, 105)))    # still 5 %: the same episode
        view.refresh(status(acks=(3000, 4000), lost=(105, 105)))   # none
        view.refresh(status(acks=(4000, 4100), lost=(105, 110)))   # 5 % again: a new warning

    events = events_of(calls, tmp_path)
    assert [e["event"] for e in events] == ["stats", "capture_loss", "stats", "stats", "stats", "capture_loss", "stats"]
    stats = [e for e in events if e["event"] == "stats"]
    assert [e["rates"]["capture_loss_pct"] for e in stats] == [0.5, 5.0, 5.0, 0.0, 5.0]
    assert [e["capture_loss_pct"] for e in stats] == [0.5, 2.75, 3.5, 2.625, 2.683]  # since the start
    warning = events[1]
    assert (warning["severity"], warning["capture_loss_pct"], warning["interval_s"]) == ("warning", 5.0, 1.0)
    assert (warning["advancing_ack_pkts"], warning["ack_lost_segment_pkts"]) == (2000, 55)
    assert warning["message"] == ("5.0% of the ACKs over the last 1.0 s acknowledged data the capture never saw "
                                  "(Zeek's capture_loss): packets are missing from the analysis")


def test_the_view_says_what_was_written_and_analysed_and_the_capture_loss_seen_in_tcp():
    lossy = status(acks=(1000, 2000), lost=(5, 55))
    assert _capture_line(lossy.progress) == "12 packets written, 10 analysed: lag 0.2 s (2 packets, 300 B)"
    unread = CaptureProgress(written=12, analysed=12, behind_bytes=4000, unread_bytes=4000, behind_s=1.5,
                             files_missed=0)
    assert _capture_line(unread) == ("12 packets written, 12 analysed: "
                                     "[yellow]lag 1.5 s (0 packets, 4.0 kB; 4.0 kB not read yet)[/]")
    assert _loss_line(lossy.counters, lossy.rates).splitlines() == [
        "[bold red]capture loss (ACKs of unseen data, as Zeek's capture_loss): 5.00 %[/] over the last 1.0 s "
        "(2.75 % since the start)",
        "kernel drops: dumpcap counts them when it stops (shown at the end)"]
    quiet = status(acks=(0, 1000), lost=(0, 5))
    assert _loss_line(quiet.counters, quiet.rates).splitlines()[0] == (
        "capture loss (ACKs of unseen data, as Zeek's capture_loss): 0.50 % over the last 1.0 s (0.50 % since the start)")


def test_info_anomalies_are_counted_in_stats_and_only_warnings_and_worse_are_events(tmp_path):
    # rst_teardown (info) and backlog_overflow (a warning): one anomaly each
    sessions = tcpanalyze.analyze(str(SAMPLE_DIR / "anomaly-real-backlog.pcap"), packets=False).sessions
    watch = AnomalyWatch()

    def calls(view):
        view.anomalies(*watch.update(sessions))
        view.refresh(status())
        view.end(LiveCounters(), {}, CaptureLosses(analysed=0))

    events = events_of(calls, tmp_path)
    assert [(e["event"], e.get("kind")) for e in events] == [("anomaly", "backlog_overflow"), ("stats", None),
                                                             ("end", None)]
    for summary in events[1:]:
        assert summary["anomalies"] == {"warning": 1, "info": 1}
        assert summary["info_anomalies"] == {"rst_teardown": 1}
