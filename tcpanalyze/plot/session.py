"""One session's packets, prepared for graphs: times in seconds, directions, names for titles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..capture import capture_label
from ..errors import UsageError
from ..frames import endpoint

if TYPE_CHECKING:
    from ..pipeline import Analysis

DIRECTIONS = ("orig", "resp")


@dataclass
class SessionPackets:
    """The packets of one session (file order) and what a graph needs to name it.

    ``seconds(rows)`` gives the time of rows since the session's first packet.
    """

    session_id: int
    packets: pd.DataFrame
    endpoints: dict[str, str]  # direction -> "addr:port" of the side that sends in it
    t0_ns: int
    duration_s: float

    @property
    def name(self) -> str:
        """``session 3: 10.0.0.1:40000 → 10.0.0.2:80`` (originator first)."""
        return f"session {self.session_id}: {self.endpoints['orig']} → {self.endpoints['resp']}"

    def arrow(self, direction: str) -> str:
        """The data path of a direction, e.g. ``10.0.0.1:40000 → 10.0.0.2:80``."""
        return f"{self.endpoints[direction]} → {self.endpoints[other(direction)]}"

    def sent(self, direction: str) -> pd.DataFrame:
        """Packets sent in ``direction`` (``orig``: by the originator)."""
        return self.packets[self.packets["direction"] == direction]

    def seconds(self, rows: pd.DataFrame) -> np.ndarray:
        return (rows["ts_ns"].to_numpy() - self.t0_ns) / 1e9

    def busier_direction(self) -> str:
        """The direction that carried more payload bytes (the originator's on a tie)."""
        payload = self.packets.groupby("direction", observed=True)["payload_len"].sum()
        return "resp" if payload.get("resp", 0) > payload.get("orig", 0) else "orig"


def other(direction: str) -> str:
    return "resp" if direction == "orig" else "orig"


def session_packets(analysis: Analysis, session_id: int) -> SessionPackets:
    """The packets of session ``session_id``; UsageError if the analysis has no such session."""
    if analysis.packets is None:
        raise UsageError("graphs need the per-packet table: analyse with tcpanalyze.analyze(path, packets=True)")
    sessions = analysis.sessions
    row = sessions[sessions["session_id"] == session_id]
    if row.empty:
        where = f" in {capture_label(analysis.path)}" if analysis.path else ""
        ids = sessions["session_id"]
        known = ("it has no TCP sessions" if ids.empty else f"its only session is {ids.iloc[0]}" if len(ids) == 1
                 else f"session ids run from {ids.min()} to {ids.max()}")
        raise UsageError(f"no session {session_id}{where}: {known}")
    row = row.iloc[0]
    packets = analysis.packets[analysis.packets["session_id"] == session_id]
    ts = packets["ts_ns"].to_numpy()
    return SessionPackets(
        session_id=int(session_id),
        packets=packets,
        endpoints={"orig": endpoint(row["orig_addr"], row["orig_port"]),
                   "resp": endpoint(row["resp_addr"], row["resp_port"])},
        t0_ns=int(ts.min()),
        duration_s=float(ts.max() - ts.min()) / 1e9,
    )
