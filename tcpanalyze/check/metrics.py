"""The metrics rules can name: each a function from a ``ScopedView`` to one value per scope.

>>> METRICS["retransmission_rate"].measure(view)     # pandas Series: scope key -> value

A metric's function returns values by scope code (a scope's position in ``view.keys``), only
for scopes that have rows; ``measure`` gives them their keys and fills the other scopes with
the metric's ``empty`` value (0 for counts, NaN, "no data", for rates and percentiles).
Percentiles interpolate linearly between samples (numpy's default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..detect import DETECTORS
from ..engine.session import FAILED_HANDSHAKES
from .scope import ScopedView

ANOMALY_KINDS = tuple(DETECTORS)  # every detector's kind: anomalies_KIND and has_KIND
PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99, "max": 100}
NS_PER_MS = 1_000_000


@dataclass(frozen=True)
class Metric:
    """A named measurement over the sessions (and packets or anomalies) of each scope."""

    name: str
    unit: str
    description: str
    compute: Callable[[ScopedView], pd.Series]
    empty: float = 0.0  # the value of a scope with nothing measured (NaN: "no data", the rule is skipped)
    needs_packets: bool = False  # evaluated from the per-packet table when it is there
    needs_anomalies: bool = False
    ranks_sessions: bool = True  # whether a session's own value says it is an offender

    def measure(self, view: ScopedView) -> pd.Series:
        """One value per scope of the view, in the view's key order."""
        values = self.compute(view)
        return values.reindex(range(len(view.keys)), fill_value=self.empty).astype(float).set_axis(view.keys)


# The session columns metrics, scopes and rule filters read: ``evaluate`` gives rules these
# alone (and detection's), so a metric reading another fails in every test.
METRIC_COLUMNS = (
    "session_id", "orig_addr", "orig_port", "resp_addr", "resp_port", "conn_state", "close_type", "handshake", "irtt_ms",
    "missed_bytes",
    *(f"{side}_{name}" for side in ("orig", "resp") for name in (
        "pkts", "bytes", "retrans_pkts", "data_pkts", "retrans_data_pkts", "zero_window_s",
        "zero_window_longest_s", "rtt_samples", "rtt_max_ms", "rtt_mean_ms")),
)


def _both(view: ScopedView, column: str) -> pd.Series:
    s = view.sessions
    return s[f"orig_{column}"].astype(np.float64) + s[f"resp_{column}"].astype(np.float64)


def _both_sides(view: ScopedView, column: str, dtype) -> np.ndarray:
    """The orig_ then the resp_ column, per labelled row, one after the other."""
    s = view.sessions
    return np.concatenate([view.per_row(s[f"{side}_{column}"].to_numpy(dtype)) for side in ("orig", "resp")])


def _count(view: ScopedView, mask) -> pd.Series:
    return view.grouped(np.asarray(mask, np.int64)).sum()


# ------------------------------------------------------------------------- sessions


def sessions(view: ScopedView) -> pd.Series:
    return pd.Series(np.bincount(view.codes, minlength=len(view.keys)))


def tcp_packets(view: ScopedView) -> pd.Series:
    return view.grouped(_both(view, "pkts")).sum()


def capture_complete(view: ScopedView) -> pd.Series:
    return pd.Series(float(view.complete), index=range(len(view.keys)))


def total_bytes(view: ScopedView) -> pd.Series:
    return view.grouped(_both(view, "bytes")).sum()


def missed_bytes(view: ScopedView) -> pd.Series:
    return view.grouped(view.sessions["missed_bytes"]).sum()


def retransmitted_packets(view: ScopedView) -> pd.Series:
    return view.grouped(_both(view, "retrans_pkts")).sum()


def retransmission_rate(view: ScopedView) -> pd.Series:
    # Of the packets carrying data, those sent again: a re-sent SYN or FIN is not one of them
    # (counting it gave rates above 100 % on SYN retries).
    data = view.grouped(_both(view, "data_pkts")).sum()
    resent = view.grouped(_both(view, "retrans_data_pkts")).sum()
    rate = resent / data
    return rate.where(data > 0)


def rst_teardowns(view: ScopedView) -> pd.Series:
    s = view.sessions
    return _count(view, (s["close_type"] == "rst") & (_both(view, "bytes") > 0))


def refused_handshakes(view: ScopedView) -> pd.Series:
    return _count(view, view.sessions["conn_state"] == "REJ")


def unanswered_handshakes(view: ScopedView) -> pd.Series:
    return _count(view, view.sessions["conn_state"] == "S0")


def failed_handshakes(view: ScopedView) -> pd.Series:
    return _count(view, view.sessions["handshake"].isin(FAILED_HANDSHAKES))


def zero_window_stall_s(view: ScopedView) -> pd.Series:
    return view.grouped(_both(view, "zero_window_s")).sum()


def zero_window_longest_s(view: ScopedView) -> pd.Series:
    s = view.sessions
    return view.grouped(np.maximum(s["orig_zero_window_longest_s"], s["resp_zero_window_longest_s"])).max()


def _percentile(samples: np.ndarray, codes: np.ndarray, q: int) -> pd.Series:
    grouped = pd.Series(samples).groupby(codes, sort=False)
    return grouped.max() if q == 100 else grouped.quantile(q / 100)


def handshake_rtt(q: int) -> Callable[[ScopedView], pd.Series]:
    def compute(view: ScopedView) -> pd.Series:
        irtt = view.per_row(view.sessions["irtt_ms"].to_numpy(np.float64))
        known = ~np.isnan(irtt)
        return _percentile(irtt[known], view.codes[known], q)
    return compute


def ack_rtt(q: int) -> Callable[[ScopedView], pd.Series]:
    def compute(view: ScopedView) -> pd.Series:
        if view.has_rtt_samples:
            rtt = view.rtt_quantiles()
            values = rtt.maxima if q == 100 else rtt.quantile(q / 100)
            return pd.Series(values / NS_PER_MS)[rtt.counts > 0]
        # Without packets: each direction's mean RTT (its max for "max") stands for its samples.
        column = "rtt_max_ms" if q == 100 else "rtt_mean_ms"
        samples = _both_sides(view, column, np.float64)
        known = ~np.isnan(samples) & (_both_sides(view, "rtt_samples", np.int64) > 0)
        return _percentile(samples[known], np.concatenate([view.codes, view.codes])[known], q)
    return compute


# ------------------------------------------------------------------------ anomalies


def anomaly_count(kind: str | None) -> Callable[[ScopedView], pd.Series]:
    def compute(view: ScopedView) -> pd.Series:
        found = view.anomalies
        if kind is not None:
            found = found[found["kind"] == kind]
        return view.by_code(found.groupby("scope", sort=False).size())
    return compute


def anomaly_present(kind: str) -> Callable[[ScopedView], pd.Series]:
    count = anomaly_count(kind)
    return lambda view: (count(view) > 0).astype(np.float64)


# ------------------------------------------------------------------------- registry


def _registry() -> dict[str, Metric]:
    metrics = [
        Metric("sessions", "", "number of TCP sessions", sessions, ranks_sessions=False),
        Metric("tcp_packets", "", "TCP packets in the sessions (a rule on it is what accepts a capture with "
               "none: 'tcp_packets >= 0')", tcp_packets, ranks_sessions=False),
        Metric("capture_complete", "", "whether the whole file was read (false: it was cut off or damaged, "
               "and the other metrics cover only what came before)", capture_complete, empty=np.nan,
               ranks_sessions=False),
        Metric("bytes", "bytes", "application bytes both ways (by sequence numbers, as Zeek counts)", total_bytes),
        Metric("missed_bytes", "bytes", "sequence space never seen in the capture (capture loss)", missed_bytes),
        Metric("retransmissions", "", "packets re-sending sequence space the sender had sent before, SYN and "
               "FIN included (the sessions' retrans_pkts: docs/retransmissions.md)", retransmitted_packets),
        Metric("retransmission_rate", "", "retransmissions / packets carrying data", retransmission_rate,
               empty=np.nan),
        Metric("rst_teardowns", "", "sessions that carried data and ended with a RST", rst_teardowns),
        Metric("refused_handshakes", "", "connection attempts answered by a RST (conn_state REJ)",
               refused_handshakes),
        Metric("unanswered_handshakes", "", "SYNs never answered (conn_state S0)", unanswered_handshakes),
        Metric("failed_handshakes", "", "connection attempts that never completed the handshake: refused, "
               "unanswered, or the SYN-ACK never acknowledged (the report's servers table counts the same)",
               failed_handshakes),
        Metric("zero_window_stall_s", "s", "time receivers advertised a zero window, summed",
               zero_window_stall_s),
        Metric("zero_window_longest_s", "s", "longest single zero-window stall", zero_window_longest_s),
    ]
    for label, q in PERCENTILES.items():
        metrics.append(Metric(f"handshake_rtt_{label}_ms", "ms", f"handshake RTT (irtt_ms), {label} over sessions",
                              handshake_rtt(q), empty=np.nan))
    for label, q in PERCENTILES.items():
        metrics.append(Metric(f"ack_rtt_{label}_ms", "ms", f"RTT of data segments from their ACKs "
                              f"(per-packet ack_rtt_ns), {label}", ack_rtt(q), empty=np.nan, needs_packets=True))
    metrics.append(Metric("anomalies", "", "anomalies of any kind", anomaly_count(None), needs_anomalies=True))
    for kind in ANOMALY_KINDS:
        metrics.append(Metric(f"anomalies_{kind}", "", f"{kind} anomalies", anomaly_count(kind),
                              needs_anomalies=True))
        metrics.append(Metric(f"has_{kind}", "", f"whether a {kind} anomaly was found (true/false)",
                              anomaly_present(kind), needs_anomalies=True))
    return {m.name: m for m in metrics}


METRICS: dict[str, Metric] = _registry()
