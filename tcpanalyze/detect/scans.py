"""port_scan (one source, many ports of one host) and address_sweep (one source, one port,
many hosts), counting distinct targets probed without any data exchanged.

A *probe* is a session that carried no application byte and did not close cleanly with FINs
both ways (Zeek's conn_state other than SF): a SYN left unanswered (S0), refused (REJ), reset
by the prober after the SYN-ACK (a SYN or connect scan finding an open port)... When the
packets are at hand, a session whose first packet carries an invalid flag combination is a
*stealth probe* (NULL, FIN, XMAS, SYN+FIN: nothing a real TCP stack opens with) and counts
even without a SYN. Answers to a probe are never probes themselves: sessions the capture
shows starting at a SYN-ACK (backscatter) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .frame import Finding
from .inputs import ACK, FIN, PSH, RST, SYN, URG, Inputs, distinct, first_of_each
from .text import n, secs
from .windows import busy_episodes


@dataclass
class PortScanConfig:
    enabled: bool = True
    # Distinct ports of one host probed by one source within the window (Zeek's scan.zeek:
    # 15 ports in 5 minutes).
    min_ports: int = 15
    window_s: float = 300.0
    # Distinct ports hit by stealth probes (invalid flag combinations) within the window; no
    # real stack sends those, so a few already make a scan.
    min_stealth_ports: int = 3


@dataclass
class AddressSweepConfig:
    enabled: bool = True
    # Distinct hosts probed on one port by one source within the window (Zeek's scan.zeek:
    # 25 hosts in 5 minutes).
    min_hosts: int = 25
    window_s: float = 300.0


# The stealth probes by code (as ``stealth_codes`` gives them); code 0: none.
STEALTH_KINDS = ("", "null", "fin", "xmas", "syn_fin")


def stealth_codes(flags: np.ndarray) -> np.ndarray:
    """Code (in ``STEALTH_KINDS``) of the stealth probe a first packet's flags make (0 when it is none)."""
    f = flags & (FIN | SYN | RST | PSH | ACK | URG)
    out = np.zeros(flags.shape, np.int8)
    out[(f == 0)] = 1
    out[f == FIN] = 2
    out[f == (FIN | PSH | URG)] = 3
    out[((f & (SYN | FIN)) == (SYN | FIN)) & ((f & ACK) == 0)] = 4
    out[flags < 0] = 0
    return out


def probes(inp: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """(probe rows, stealth code of each)."""
    stealth = stealth_codes(inp.first_orig_flags)
    not_clean = (inp.sessions["conn_state"] != "SF").to_numpy()
    rows = np.flatnonzero(((inp.attempt & not_clean) | (stealth != 0)) & inp.no_payload)
    return rows, stealth[rows]


def _first_per_target(key: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Positions of the earliest event per distinct ``key`` (a target counted once)."""
    order = np.lexsort((times, key))
    return order[first_of_each(key[order])[1]]


def _outcomes(inp: Inputs, members: np.ndarray, kinds: np.ndarray) -> dict:
    """What the probes ``members`` (rows; ``kinds`` their stealth codes) met."""
    handshake = inp.text_at("handshake", members)
    answered = inp.sessions["resp_pkts"].to_numpy()[members] > 0
    # a stealth probe is answered by a RST from a closed port, by silence from an open or filtered one
    reset = (kinds != 0) & answered
    silent = (kinds != 0) & ~answered
    syn = kinds == 0
    return {"probes": int(members.size), "open": int((syn & np.isin(handshake, ("complete", "syn_synack"))).sum()),
            "refused": int((syn & (handshake == "refused")).sum() + reset.sum()),
            "unanswered": int((syn & (handshake == "unanswered")).sum() + silent.sum()),
            "stealth": {kind: int((kinds == code).sum()) for code, kind in enumerate(STEALTH_KINDS)
                        if code and (kinds == code).any()}}


def detect_port_scan(inp: Inputs, cfg: PortScanConfig) -> list[Finding]:
    rows, stealth = probes(inp)
    start = inp.start[rows]
    n_resp = int(inp.resp[0].max(initial=0)) + 1
    pair = inp.orig[0][rows].astype(np.int64) * n_resp + inp.resp[0][rows]  # (scanner, host)
    target = pair * 65536 + inp.resp_port[rows]
    firsts = _first_per_target(target, start)
    stealth_firsts = firsts[stealth[firsts] != 0]
    episodes = busy_episodes(start[firsts], pair[firsts], cfg.window_s, cfg.min_ports)
    covered = [(ep.group, start[firsts[ep.rows]].min(), start[firsts[ep.rows]].max()) for ep in episodes]
    found = [(firsts[ep.rows], ep) for ep in episodes]
    for ep in busy_episodes(start[stealth_firsts], pair[stealth_firsts], cfg.window_s, cfg.min_stealth_ports):
        t = start[stealth_firsts[ep.rows]]
        if not any(g == ep.group and t.min() <= hi and t.max() >= lo for g, lo, hi in covered):
            found.append((stealth_firsts[ep.rows], ep))
    findings = []
    for first_at, ep in found:
        lo, hi = start[first_at].min(), start[first_at].max()
        # the pair's probes in the episode's span, and the scanner's later retries of its ports (nmap
        # probes unanswered ports again after its first pass)
        at = np.flatnonzero(((pair == ep.group) & (start >= lo) & (start <= hi)) | np.isin(target, target[first_at]))
        members = rows[at]
        scanner, host = inp.orig_names(members[:1])[0], inp.resp_names(members[:1])[0]
        ports = distinct(inp.resp_port[members])
        details = {"ports": int(ports.size), "lowest_port": int(ports[0]), "highest_port": int(ports[-1]),
                   **_outcomes(inp, members, stealth[at])}
        stealthy = sum(details["stealth"].values())
        how = f", {n(stealthy)} of them stealth probes ({', '.join(details['stealth'])})" if stealthy else ""
        findings.append(Finding(
            "port_scan", "warning", float(lo), float(inp.end[members].max()), host, None,
            f"{scanner} probed {n(ports.size)} ports of {host} in {secs(hi - lo)} with {n(members.size)} "
            f"connection attempts that carried no data ({n(details['open'])} open, {n(details['refused'])} refused, "
            f"{n(details['unanswered'])} unanswered){how}",
            inp.orig_names(members), inp.session_ids[members], inp.first_frames(members), details))
    return findings


def detect_address_sweep(inp: Inputs, cfg: AddressSweepConfig) -> list[Finding]:
    rows, stealth = probes(inp)
    start = inp.start[rows]
    group = inp.orig[0][rows].astype(np.int64) * 65536 + inp.resp_port[rows]  # (scanner, port)
    n_resp = int(inp.resp[0].max(initial=0)) + 1
    firsts = _first_per_target(group * n_resp + inp.resp[0][rows], start)
    findings = []
    for ep in busy_episodes(start[firsts], group[firsts], cfg.window_s, cfg.min_hosts):
        t = start[firsts[ep.rows]]
        lo, hi = t.min(), t.max()
        at = np.flatnonzero((group == ep.group) & (start >= lo) & (start <= hi))
        members = rows[at]
        scanner, port = inp.orig_names(members[:1])[0], int(ep.group % 65536)
        hosts = np.sort(pd.unique(inp.resp_names(members)))
        details = {"hosts": int(hosts.size), **_outcomes(inp, members, stealth[at])}
        findings.append(Finding(
            "address_sweep", "warning", float(lo), float(inp.end[members].max()), None, port,
            f"{scanner} probed port {port} on {n(hosts.size)} hosts in {secs(hi - lo)} "
            f"({n(details['open'])} answered, {n(details['refused'])} refused, {n(details['unanswered'])} unanswered)",
            inp.orig_names(members), inp.session_ids[members], inp.first_frames(members),
            {**details, "hosts_listed": [str(h) for h in hosts[:10]]}))
    return findings
