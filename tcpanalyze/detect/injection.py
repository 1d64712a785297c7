"""injection: a RST inside the receive window after which its supposed sender keeps talking, and
retransmitted bytes that differ from the first copy (overlap conflicts).

A real TCP that sends a RST has torn the connection down: it sends nothing more on it but
further RSTs. When the side a RST claims to come from goes on sending ordinary segments
(data or ACKs, no SYN), someone else sent that RST: an injected reset (Suricata's
``suspected_rst_inject``). The RST must also have been acceptable to its receiver: its
sequence number within ``[next expected - 1, next expected + window]`` of what that side had
sent before; a RST the receiver would ignore is not counted. Needs packets.

Overlap conflicts come from the reassembler (``tcpanalyze.reassembly``), which reads payload
bytes back from the capture file: only sessions with a retransmitted segment whose payload
was captured are reassembled, and only when the capture is a file (not standard input or a
live capture). A real retransmission repeats the same bytes; different bytes at the same
sequence numbers mean two senders (Zeek's ``rexmit_inconsistency``, Suricata's
``reassembly_overlap_different_data``): an injection, or a broken middlebox.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import jit
from ..engine.flags import RESEND_DUPLICATE, RESEND_RETRANSMISSION
from .frame import Finding
from .inputs import RST, SYN, Inputs, distinct
from .text import count_of, endpoint


@dataclass
class InjectionConfig:
    enabled: bool = True
    # Ordinary segments the RST's sender must send after it (1: any).
    min_packets_after: int = 1


def _continuing(inp: Inputs, rst: np.ndarray) -> np.ndarray:
    """For each RST packet index: ordinary packets its side of the session sent after it."""
    m = inp.flags.size

    def side(packets: np.ndarray) -> np.ndarray:  # (session, direction)
        return np.multiply(inp.packet_rows[packets], 2, dtype=np.int64) + inp.from_orig[packets]

    reset = np.zeros(inp.n, bool)
    reset[inp.packet_rows[rst]] = True  # the other sessions' packets share no side with a RST
    ordinary = np.flatnonzero(((inp.flags & (RST | SYN)) == 0) & reset[inp.packet_rows])
    keys = np.sort(side(ordinary) * m + ordinary)  # by side, then position
    rst_side = side(rst) * m
    return np.searchsorted(keys, rst_side + m - 1, "right") - np.searchsorted(keys, rst_side + rst, "right")


def _in_window(inp: Inputs, p: int) -> bool | None:
    """Whether RST packet ``p`` fell inside the window its receiver would accept (None: unknown;
    the engine's ``rst_in_window``: next sequence number of the sender up to the receiver's last
    advertised window)."""
    value = inp.packets["rst_in_window"].iloc[p]  # <NA> in the packets table, -1 in the evidence
    return None if pd.isna(value) or value < 0 else bool(value)


def detect_injection(inp: Inputs, cfg: InjectionConfig) -> list[Finding]:
    if inp.packets is None:
        return []
    return _rst_injections(inp, cfg) + _overlap_conflicts(inp)


def _overlap_conflicts(inp: Inputs) -> list[Finding]:
    """Sessions whose retransmitted bytes differ from the first copy (needs the capture file)."""
    if inp.path in (None, "-"):
        return []
    from ..reassembly import build_streams
    from ..reassembly.payloads import segments_from_packets

    # both copies captured: a retransmission, or a copy by the header (its bytes may differ)
    again = (inp.resend == RESEND_RETRANSMISSION) | (inp.resend == RESEND_DUPLICATE)
    suspects = distinct(inp.packet_rows[again & (inp.packets["payload_caplen"].to_numpy() > 0)])
    if suspects.size == 0:
        return []
    records = inp.sessions.iloc[suspects]
    rows = inp.packets[np.isin(inp.packet_rows, suspects)]
    findings = []
    segments = segments_from_packets(inp.path, rows)
    with jit.plain_python_for(segments.nbytes):  # a few small streams are rebuilt faster than numba loads
        streams = list(build_streams(records, segments))
    for row, o, r, stream in zip(suspects, *inp.endpoints(suspects), streams):
        conflicts = [(side, c) for side in ("orig", "resp") for c in getattr(stream, side).conflicts]
        if not conflicts:
            continue
        frames = sorted({f for _, c in conflicts for f in (c.first_frame, c.later_frame) if f >= 0})
        times = inp.seconds(np.isin(inp.frames, frames))
        differing = sum(c.length for _, c in conflicts)
        sides = sorted({side for side, _ in conflicts})
        senders = [endpoint(*(o if side == "orig" else r)) for side in sides]
        findings.append(Finding(
            "injection", "critical", float(times.min()), float(times.max()), r[0], r[1],
            f"session {int(inp.session_ids[row])} between {endpoint(*o)} and {endpoint(*r)}: "
            f"{count_of(len(conflicts), 'retransmitted segment')} from {' and '.join(senders)} carried different "
            f"bytes than the first copy ({count_of(differing, 'byte')} differ): two senders, or a broken middlebox",
            [o[0]], [int(inp.session_ids[row])], frames,
            {"overlap_conflicts": len(conflicts), "differing_bytes": int(differing), "sides": sides,
             "conflicts": [{"side": side, "offset": c.offset, "length": c.length, "first_frame": c.first_frame,
                            "later_frame": c.later_frame} for side, c in conflicts[:20]]}))
    return findings


def _rst_injections(inp: Inputs, cfg: InjectionConfig) -> list[Finding]:
    rst = np.flatnonzero((inp.flags & RST) != 0)
    after = _continuing(inp, rst)
    followed = after >= cfg.min_packets_after
    packets_of = inp.packets_of(inp.packet_rows[rst[followed]])
    findings = []
    for p, count in zip(rst[followed], after[followed]):
        accepted = _in_window(inp, p)
        if accepted is False:
            continue
        row = int(inp.packet_rows[p])
        (o,), (r,) = inp.endpoints(np.array([row]))
        sender, receiver = (o, r) if inp.from_orig[p] else (r, o)
        session = packets_of(row)
        later = session[(session > p) & (inp.from_orig[session] == inp.from_orig[p])
                        & ((inp.flags[session] & (RST | SYN)) == 0)]
        later_bytes = int(inp.packets["payload_len"].to_numpy()[later].sum())
        window_text = " inside the receive window" if accepted else ""
        findings.append(Finding(
            "injection", "critical", float(inp.seconds(p)), float(inp.seconds(later[-1])), r[0], r[1],
            f"a RST claiming to come from {endpoint(*sender)} to {endpoint(*receiver)} at frame {int(inp.frames[p])}"
            f"{window_text} was followed by {count_of(count, 'packet')} ({count_of(later_bytes, 'byte')}) more from "
            f"{endpoint(*sender)}, which a stack that had reset would not send: likely an injected RST",
            [sender[0]], [int(inp.session_ids[row])], [int(inp.frames[p]), *inp.frames[later][:20]],
            {"rst_frame": int(inp.frames[p]), "rst_from": "orig" if inp.from_orig[p] else "resp",
             "packets_after": int(count), "bytes_after": later_bytes, "in_window": accepted}))
    return findings
