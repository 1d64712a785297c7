"""Captures without a TCP packet still give tables with every column and its usual dtype."""

from __future__ import annotations

import tcpanalyze
from helpers import eth, ipv4, udp, write_pcap


def test_packets_table_of_a_capture_without_tcp_keeps_the_analysis_column_of_lists(tmp_path):
    path = write_pcap(tmp_path / "udp.pcap", [eth(ipv4("10.0.0.1", "10.0.0.2", udp(), proto=17))])
    analysis = tcpanalyze.analyze(str(path))
    assert len(analysis.packets) == 0 and len(analysis.sessions) == 0
    # float64 here (pandas' dtype for an empty list) broke every `.str` and `.map` user of the column
    assert analysis.packets["analysis"].dtype == object
    assert analysis.packets["analysis"].str.join(",").tolist() == []
