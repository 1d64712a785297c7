"""Every detector over every sample and corpus capture, with the defaults: exactly the anomalies
listed here, each read and judged. A capture not listed must give none.

Judgements (why each one is right) are next to each entry; docs/anomalies.md lists the
known false positives. When a new capture joins sample_pcaps/ or the corpus and this test
fails, read what fired and add it here with a judgement, or fix the detector.
"""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import corpus_files, sample_files

import tcpanalyze
from tcpanalyze.errors import TcpanalyzeError

TEARDOWN_AFTER_DATA = "a session that carried data ended with a RST"

# file -> [(kind, severity, target_addr, target_port)], in table order
EXPECTED: dict[str, list[tuple[str, str, str | None, int | None]]] = {
    # --- built for the detectors (tests/detect/test_detectors.py checks the numbers) --------------
    "anomaly-backlog-synack.pcap": [("backlog_overflow", "critical", "198.51.100.70", 8080)],
    # 160 SYN-ACKs and 40 RSTs from 120 servers answering SYNs spoofing 198.51.100.80; its 160 RSTs
    # back (0.99 s, an rst_storm before backscatter existed) are the backscatter's, absorbed into it
    "anomaly-backscatter.pcap": [("backscatter", "warning", "198.51.100.80", None)],
    "anomaly-idle-exhaustion.pcap": [("idle_exhaustion", "warning", "198.51.100.60", 80)],
    # the 5 queued clients send 100 bytes and end with SO_LINGER 0 after 7 s: true teardowns
    "anomaly-real-backlog.pcap": [("rst_teardown", "info", "10.78.0.2", 6001)] * 5
    + [("backlog_overflow", "warning", "10.78.0.2", 6001)],
    # 37 refusals in 0.85 s: no RST storm (a faster scan's would be the scan's: test_one_finding_per_cause.py)
    "anomaly-real-connect-scan.pcap": [("port_scan", "warning", "10.78.0.2", None)],
    "anomaly-real-refused.pcap": [("handshake_failures", "warning", "10.78.0.2", 6003)],
    "anomaly-real-rst-midtransfer.pcap": [("rst_teardown", "warning", "10.78.0.2", 6002)],
    "anomaly-real-retrans-storm.pcap": [("retransmission_storm", "warning", "10.78.0.2", 6004)],
    # the forged RST also ends the client's side of the session: a teardown, mid-transfer
    "anomaly-rst-injection.pcap": [("rst_teardown", "warning", "198.51.100.50", 80),
                                   ("injection", "critical", "198.51.100.50", 80)],
    "anomaly-rst-storm.pcap": [("rst_storm", "warning", "198.51.100.40", None)],
    "anomaly-scans.pcap": [("port_scan", "warning", "198.51.100.30", None),
                           ("port_scan", "warning", "198.51.100.31", None),
                           ("address_sweep", "warning", None, 3389)],
    "anomaly-syn-flood.pcap": [("syn_flood", "critical", "198.51.100.20", 80)],
    # --- other samples ------------------------------------------------------------------------------
    # real-rst-abort with one retransmitted segment's bytes changed (build_derived_samples.py)
    "derived-conflict.pcap": [("rst_teardown", "info", "10.77.0.2", 5103),
                              ("injection", "critical", "10.77.0.2", 5103)],
    "derived-segments-removed.pcap": [("rst_teardown", "info", "10.77.0.2", 5103)],  # same abort, segments cut
    "real-rst-abort.pcap": [("rst_teardown", "info", "10.77.0.2", 5103)],  # SO_LINGER 0 on an idle session
    # a 12 kB bottleneck queue dropped 53 of the client's segments: the kernel's RetransSegs is 53
    # (16 % of the data segments it sent); at the receiver the 49 distinct ones count once (33 fill
    # holes later data left, 16 ended a burst: the sender's IP IDs tell)
    "real-loss-congestion-sender.pcap": [("retransmission_storm", "warning", "10.79.0.2", 5303)],
    "real-loss-congestion-receiver.pcap": [("retransmission_storm", "warning", "10.79.0.2", 5303)],
    # real tunnels (scripts/make_tunnel_captures.py): each file's second session ends with the server's
    # RST once everything is acknowledged (SO_LINGER 0 on an idle session); the two tenants' do not
    "real-tunnel-ayiya.pcap": [("rst_teardown", "info", "2001:db8:83::1", 5202)],
    "real-tunnel-erspan-v0.pcap": [("rst_teardown", "info", "10.80.0.2", 5202)],
    "real-tunnel-erspan-v1.pcap": [("rst_teardown", "info", "10.80.0.2", 5202)],
    "real-tunnel-erspan-v2.pcap": [("rst_teardown", "info", "10.80.0.2", 5202)],
    "real-tunnel-geneve.pcap": [("rst_teardown", "info", "10.80.0.2", 5202)],
    "real-tunnel-gre.pcap": [("rst_teardown", "info", "10.80.0.2", 5202)],
    "real-tunnel-gretap.pcap": [("rst_teardown", "info", "10.80.0.2", 5202)],
    "real-tunnel-gtpu.pcap": [("rst_teardown", "info", "10.80.0.2", 5202)],
    "real-tunnel-ip6gre.pcap": [("rst_teardown", "info", "fd80::2", 5202)],
    "real-tunnel-ip6tnl.pcap": [("rst_teardown", "info", "fd80::2", 5202)],
    "real-tunnel-ipip.pcap": [("rst_teardown", "info", "10.80.0.2", 5202)],
    "real-tunnel-pbb.pcap": [("rst_teardown", "info", "10.80.0.2", 5202)],
    "real-tunnel-sit.pcap": [("rst_teardown", "info", "fd80::2", 5202)],
    "real-tunnel-teredo.pcap": [("rst_teardown", "info", "2001:db8:82::2", 5202)],
    "real-tunnel-vntag.pcap": [("rst_teardown", "info", "10.80.0.2", 5202)],
    "real-tunnel-vxlan-in-gre.pcap": [("rst_teardown", "info", "10.80.0.2", 5202)],
    "real-tunnel-vxlan.pcap": [("rst_teardown", "info", "10.80.0.2", 5202)],
    "real-zero-window.pcap": [("zero_window_stall", "warning", "10.77.0.2", 5105)],  # reader paused 1.5 s
    # --- corpus (tests/corpus/) --------------------------------------------------------------------------------
    # MANIFEST: "241 SYNs retried after ~1 s and ~3 s (listen-backlog overflow)"
    "gzip-loopback-echo-500-conns.pcap.gz": [("backlog_overflow", "warning", "127.0.0.1", 7000)],
    # AnyDesk TLS: the client resets with 954 server bytes unacknowledged (TEARDOWN_AFTER_DATA)
    "pcapng-3-ifaces-mixed-tsresol-keepalive.pcapng": [("rst_teardown", "warning", "192.168.1.187", 7070)],
    # LDAP FIN then RST; "75 bytes unacknowledged" may be the capture's missing segment, not the network
    "pcapng-many-idbs-vlan-ipv6-ldap-gap.pcapng": [("rst_teardown", "warning", "2a00:6020:ad0b:8380::10", 389)],
    # one connection with real loss: 21 of 48 data segments retransmitted (2 are the capture's copies)
    "qinq-pppoe-tcp-retrans-sack.pcap": [("retransmission_storm", "critical", "2.2.2.2", 443)],
    # Apple TLS flow aborted by the client right after its 31-byte TLS alert (TEARDOWN_AFTER_DATA)
    "rawip-lt101-tcp-empty-sack-option.pcap": [("rst_teardown", "warning", "17.173.66.179", 443)],
    "rawip-lt228-ipv4-adb-rst.pcap": [("rst_teardown", "info", "192.0.2.2", 5555)],  # adb: idle, then RST
    # half-closed IRC client answers the server's late data with RST (31 bytes of it never ACKed)
    "sll-irc-starttls-half-close-rst.pcap": [("rst_teardown", "warning", "185.18.76.170", 6667)],
    # nmap sampler: NULL, FIN and Xmas probes to 3 ports of one host (the SYN/connect probes carry no
    # more than 4 ports: below the 15-port threshold)
    "tcp-connect-scan-pcap-named-pcapng.pcapng": [("port_scan", "warning", "192.168.1.2", None)],
    "tcp-fast-retrans-sack-snaplen.pcap": [("rst_teardown", "info", "192.168.0.27", 80)],  # TEARDOWN_AFTER_DATA
    "tcp-fin-then-rst-http.pcap": [("rst_teardown", "info", "10.0.0.2", 80)],  # client RST after server FIN
    # two HTTP 206 downloads, both ended by RST; the first by the server with 123 KB unacknowledged.
    # The first server re-sent 108 of its 842 segments, with new IP IDs (Wireshark: 56 retransmission,
    # 52 out_of_order labels), in bursts while the client's window was shut: a storm
    "tcp-ooo-zerowindow-sack-http-206.pcap": [("retransmission_storm", "warning", "65.54.95.206", 80),
                                              ("rst_teardown", "warning", "65.54.95.206", 80),
                                              ("rst_teardown", "info", "65.54.95.14", 80)],
    # hping: 23 SYNs to port 80 from one source, none answered
    "tcp-repeated-syn-same-port-hping.pcap": [("handshake_failures", "warning", "100.73.2.4", 80)],
    # Zeek's lossy reassembly trace: 20 of 51 data segments retransmitted, and 6 retransmissions carry
    # other bytes than the first copy (checked with dpkt: e.g. frame 16's last 20 bytes are binary, frame
    # 39's are text) - real differences in the trace, whatever made them
    "tcp-retrans-fastretrans-lost-dupack.pcap": [("retransmission_storm", "critical", "128.3.97.175", 80),
                                                 ("injection", "critical", "128.3.97.175", 80)],
    # Zeek's rst-inject trace: injected RST after the SYN, then the real server answers and talks on
    "tcp-rst-injection-port-reuse.pcap": [("rst_teardown", "info", "1.2.0.3", 6649),
                                          ("injection", "critical", "1.2.0.3", 6649)],
    # the flood seen at its target: every SYN-ACK answers a captured SYN, so no backscatter
    "tcp-syn-flood-spoofed.pcap": [("syn_flood", "critical", "10.10.10.10", 25565)],
    # MANIFEST: SYN-ACK reflection seen at the victim; 1,662 SYN-ACKs and 254 RSTs from 1,818 of its
    # 1,820 servers (two sent other things: ssh data, a bare ACK) in 35 ms. Nothing fired before
    # backscatter; its 10.10.10.10 never answers, so there is no RST storm to absorb
    "tcp-synack-reflection-backscatter.pcap": [("backscatter", "warning", "10.10.10.10", None)],
    # 1,000 ports, 5 refused: the scanned host's RSTs are far from a storm
    "tcp-syn-scan-nmap.pcap": [("port_scan", "warning", "64.13.134.52", None)],
    # IPP printer shut its window for 0.21 s (just over the 0.2 s default)
    "tcp-window-full-zero-window-ipp.pcap": [("zero_window_stall", "warning", "10.10.10.251", 631)],
    # receiver stuck at zero window for 23.7 s until the capture ends
    "tcp-zero-window-linux-probes-as-keepalive.pcapng": [("zero_window_stall", "critical", "172.31.136.85", 38760)],
    "vlan-pppoe-http-rst.pcap": [("rst_teardown", "info", "185.8.212.46", 80)],  # HTTP FIN then RST
}

CAPTURES = sample_files() + corpus_files()


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_exactly_the_judged_anomalies(path):
    try:
        result = tcpanalyze.analyze(str(path))
    except TcpanalyzeError:
        pytest.skip("not a readable capture (the corpus's malformed files)")
    found = [(a.kind, a.severity, a.target_addr, None if pd.isna(a.target_port) else int(a.target_port))
             for a in result.anomalies.itertuples()]
    assert found == EXPECTED.get(path.name, []), "\n".join(result.anomalies.message)


def test_every_listed_capture_exists():
    names = {p.name for p in CAPTURES}
    missing = [name for name in EXPECTED if name not in names]
    if corpus_files():
        assert missing == []
    else:
        assert all(not name.startswith(("anomaly-", "real-", "derived-")) for name in missing)
