"""The handshake RTT split at the capture point (issue 15 item 2), on real-stack captures taken
at both ends of one connection (scripts/make_loss_samples.py: client and server namespaces, a
forwarder between them).

``irtt_resp_ms`` is SYN to SYN-ACK (the capture point to the responder and back), ``irtt_orig_ms``
SYN-ACK to the ACK (to the originator and back); the retried SYN of a lost one is the SYN that
counts, as in Wireshark's ``tcp.analysis.initial_rtt``. Checked against tshark's frame times, and
against the vantage point: at the client the responder's side holds the path, at the server the
originator's side does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import tcpanalyze

SAMPLES = Path(__file__).resolve().parents[2] / "sample_pcaps"
SCENARIOS = ("random", "tail", "congestion", "reorder", "syn")
SYN, ACK = 0x02, 0x10

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _truth(scenario: str) -> dict:
    return json.loads((SAMPLES / "expected" / f"real-loss-{scenario}.json").read_text())


def _handshake_times(path: Path) -> tuple[float, float, float]:
    """(last SYN, first SYN-ACK, the originator's first ACK after it) epoch times, by tshark."""
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.time_epoch", "-e", "tcp.flags",
                          "-e", "tcp.srcport", "-e", "tcp.dstport"],
                         capture_output=True, text=True, check=True).stdout
    syn = synack = None
    for line in out.splitlines():
        ts, flags, sport, dport = line.split("\t")
        flags = int(flags, 16)
        if flags & (SYN | ACK) == SYN and synack is None:
            syn, client_port = float(ts), sport
        elif flags & (SYN | ACK) == SYN | ACK and synack is None:
            synack = float(ts)
        elif synack is not None and flags & (SYN | ACK) == ACK and sport == client_port:
            return syn, synack, float(ts)
    raise AssertionError(f"{path.name}: no complete handshake")


def _split(path: Path) -> tuple[float, float]:
    session = tcpanalyze.analyze(str(path), packets=False).sessions.iloc[0]
    return float(session["irtt_resp_ms"]), float(session["irtt_orig_ms"])


@needs_tshark
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_side_equals_tsharks_frame_times(scenario: str) -> None:
    for capture in _truth(scenario)["captures"]:
        path = SAMPLES / capture["file"]
        syn, synack, ack = _handshake_times(path)
        resp_ms, orig_ms = _split(path)
        assert resp_ms == pytest.approx((synack - syn) * 1e3, abs=1e-3), path.name
        assert orig_ms == pytest.approx((ack - synack) * 1e3, abs=1e-3), path.name


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_path_is_on_the_far_side_of_the_capture_point(scenario: str) -> None:
    """The same handshake seen at the client and at the server: the client waits longer for the
    SYN-ACK than the server takes to send it, the server longer for the ACK than the client takes."""
    truth = _truth(scenario)
    client_ns = truth["topology"]["client"]["namespace"]
    by_end = {"client" if c["namespace"] == client_ns else "server": _split(SAMPLES / c["file"])
              for c in truth["captures"]}
    (client_resp, client_orig), (server_resp, server_orig) = by_end["client"], by_end["server"]
    assert client_resp > server_resp
    assert server_orig > client_orig
