"""retransmission_storm: a session whose share of retransmitted data segments passes a threshold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frame import Finding
from .inputs import Inputs
from .text import endpoint, n, pct


@dataclass
class RetransmissionStormConfig:
    enabled: bool = True
    # Retransmitted segments (both directions) a session needs: a few are ordinary loss recovery.
    min_retransmissions: int = 10
    # Retransmitted / data segments. Healthy paths lose well under 1 %; at 10 % throughput
    # collapses (Mathis et al.: rate ~ MSS / (RTT * sqrt(p))).
    min_ratio: float = 0.1
    # Ratio from which the storm is critical.
    critical_ratio: float = 0.3


def detect_retransmission_storm(inp: Inputs, cfg: RetransmissionStormConfig) -> list[Finding]:
    s = inp.sessions
    # data retransmissions over data segments: a re-sent SYN or FIN is not a data segment; the
    # engine does not count the network's or the capture's copies of a packet
    retrans = {side: s[f"{side}_retrans_data_pkts"].to_numpy(np.int64) for side in ("orig", "resp")}
    duplicates = s["orig_duplicate_pkts"].to_numpy(np.int64) + s["resp_duplicate_pkts"].to_numpy(np.int64)
    data = {side: s[f"{side}_data_pkts"].to_numpy(np.int64) for side in ("orig", "resp")}
    total_r = retrans["orig"] + retrans["resp"]
    total_d = data["orig"] + data["resp"]
    ratio = total_r / np.maximum(total_d, 1)
    findings = []
    rows = np.flatnonzero((total_r >= cfg.min_retransmissions) & (ratio >= cfg.min_ratio))
    for row, o, r in zip(rows, *inp.endpoints(rows)):
        evidence = []
        if inp.packets is not None:
            in_session = inp.packets_of(row)
            evidence = inp.frames[in_session][inp.retransmitted[in_session]
                                              & (inp.packets["payload_len"].to_numpy()[in_session] > 0)]
        details = {"retransmissions": int(total_r[row]), "data_segments": int(total_d[row]),
                   "ratio": round(float(ratio[row]), 4),
                   **{f"{side}_retransmissions": int(retrans[side][row]) for side in ("orig", "resp")},
                   **{f"{side}_data_segments": int(data[side][row]) for side in ("orig", "resp")},
                   "capture_duplicates": int(duplicates[row])}
        findings.append(Finding(
            "retransmission_storm", "critical" if ratio[row] >= cfg.critical_ratio else "warning",
            float(inp.start[row]), float(inp.end[row]), r[0], r[1],
            f"session {int(inp.session_ids[row])} between {endpoint(*o)} and {endpoint(*r)} retransmitted "
            f"{n(total_r[row])} of {n(total_d[row])} data segments ({pct(total_r[row], total_d[row])}; "
            f"{n(retrans['orig'][row])} from the originator, {n(retrans['resp'][row])} from the responder)",
            [o[0]], [int(inp.session_ids[row])], evidence, details))
    return findings
