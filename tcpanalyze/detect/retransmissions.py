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
    # a storm has min_retransmissions: only the sessions that do are read further (the counts widened
    # as they are added, not copied to int64 for every session)
    rows = np.flatnonzero(np.add(s["orig_retrans_data_pkts"].to_numpy(), s["resp_retrans_data_pkts"].to_numpy(),
                                 dtype=np.int64) >= cfg.min_retransmissions)
    s = s.iloc[rows]
    # data retransmissions over data segments: a re-sent SYN or FIN is not a data segment; the
    # engine does not count the network's or the capture's copies of a packet
    retrans = {side: s[f"{side}_retrans_data_pkts"].to_numpy(np.int64) for side in ("orig", "resp")}
    duplicates = s["orig_duplicate_pkts"].to_numpy(np.int64) + s["resp_duplicate_pkts"].to_numpy(np.int64)
    data = {side: s[f"{side}_data_pkts"].to_numpy(np.int64) for side in ("orig", "resp")}
    total_r = retrans["orig"] + retrans["resp"]
    total_d = data["orig"] + data["resp"]
    ratio = total_r / np.maximum(total_d, 1)
    findings = []
    stormy = np.flatnonzero(ratio >= cfg.min_ratio)
    rows = rows[stormy]
    packets_of = inp.packets_of(rows) if inp.packets is not None else None
    for k, row, o, r in zip(stormy, rows, *inp.endpoints(rows)):
        evidence = []
        if packets_of is not None:
            in_session = packets_of(row)
            evidence = inp.frames[in_session][inp.retransmitted[in_session]
                                              & (inp.packets["payload_len"].to_numpy()[in_session] > 0)]
        details = {"retransmissions": int(total_r[k]), "data_segments": int(total_d[k]),
                   "ratio": round(float(ratio[k]), 4),
                   **{f"{side}_retransmissions": int(retrans[side][k]) for side in ("orig", "resp")},
                   **{f"{side}_data_segments": int(data[side][k]) for side in ("orig", "resp")},
                   "capture_duplicates": int(duplicates[k])}
        findings.append(Finding(
            "retransmission_storm", "critical" if ratio[k] >= cfg.critical_ratio else "warning",
            float(inp.start[row]), float(inp.end[row]), r[0], r[1],
            f"session {int(inp.session_ids[row])} between {endpoint(*o)} and {endpoint(*r)} retransmitted "
            f"{n(total_r[k])} of {n(total_d[k])} data segments ({pct(total_r[k], total_d[k])}; "
            f"{n(retrans['orig'][k])} from the originator, {n(retrans['resp'][k])} from the responder)",
            [o[0]], [int(inp.session_ids[row])], evidence, details))
    return findings
