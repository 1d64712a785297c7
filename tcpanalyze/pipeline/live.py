"""Live analysis: record batches in as they arrive, sessions out as they end, running counters.

The same decoder and :class:`Engine` as for files, set up for a capture that may run for
hours: sessions idle for ``LIVE_IDLE_TIMEOUT_S`` end (and closed ones ``closed_linger_s``
after their last packet), so memory follows the sessions alive now. The engine notices
expiry from packet timestamps; when the wire goes quiet, ``tick`` moves its clock to the
wall clock (less a grace for packets still on their way), so idle sessions are still
emitted. A capture read from a stream of recorded traffic (``wall_clock=False``) keeps
packet time only.

>>> analysis = LiveAnalysis()
>>> for step in follow(LiveSource.capture("lo", duration_s=10), analysis):
...     step.opened, step.closed, step.ended   # newest sessions started; records of those that closed, ended
>>> analysis.counters().as_dict()
>>> analysis.traffic.take(5)         # top talkers and servers since the last take
>>> analysis.newest_live(1000)       # records of the newest live sessions, as they stand now

Sessions are counted so that ``started == open + lingering + ended`` at any time: a session is
open until it closes (FIN both ways, or a RST), then lingers ``closed_linger_s`` for late
packets, then ends; one that stays silent ``idle_timeout_s`` ends without closing.
``closed`` counts every session that closed, lingering or ended.

The capture's own loss shows in the TCP it holds, whatever dumpcap says (it counts the kernel's
drops only when it stops): Zeek's capture_loss is the share of the ACKs that move the
acknowledgment forward (``advancing_ack_pkts``) that acknowledge data the capture never saw
(``ack_lost_segment_pkts``, Wireshark's "ACKed segment that wasn't captured").
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .. import flows
from ..capture import RecordBatch
from ..capture.live import LiveSource
from ..engine import Engine, EngineOptions
from ..engine import layout as L
from ..engine.flags import FLAG_NAMES
from ..engine.streaming import NS, session_records_empty, sessions_frame
from ..frames import address_text
from ..packets import Accounting, decode_batch
from .talkers import TrafficTally
from .decoding import decoder_for

# A live session ends after this long without packets (an idle SSH login stays one session
# for 5 minutes; a longer silence starts a new one). Override with ``--idle-timeout``.
LIVE_IDLE_TIMEOUT_S = 300.0
# The wall clock expires a session only when even a packet still in the pipeline could not
# belong to it: dumpcap hands packets over within libpcap's 250 ms timeout, so 5 s is ample.
PIPELINE_GRACE_S = 5.0
# Ended sessions kept for the end-of-capture report and anomaly detection (about 1.5 kB
# each): a capture of hours keeps the most recent ones and says how many it left out.
RECENT_SESSIONS = 100_000
# How many of a batch's new sessions a step reports (a SYN flood opens thousands per batch).
RECENT_OPENED = 20
TCP_RST, TCP_ACK = 0x04, 0x10
# The engine's per-direction count of packets flagged ack_lost_segment.
ACK_LOST_SEGMENT_COUNT = L.FLAG_COUNT + FLAG_NAMES.index("ack_lost_segment")
# Sorts after every direction's key: the table of highest ACKs is never empty (AckAdvances).
NO_KEY = np.iinfo(np.int64).max


@dataclass
class Step:
    """What one batch (or quiet tick) changed: sessions that started, that closed, that ended.

    A session closes (FIN both ways, or a RST) ``closed_linger_s`` before it ends: ``closed``
    holds its record as it stood at the close, ``ended`` the final one.
    """

    opened: pd.DataFrame | None = None  # session_id, orig_addr, orig_port, resp_addr, resp_port, start
    closed: pd.DataFrame | None = None  # session records
    ended: list[pd.DataFrame] = field(default_factory=list)


@dataclass
class LiveCounters:
    """Running totals of a live capture (ended sessions plus the analysed packets of live ones)."""

    records: int = 0
    wire_bytes: int = 0  # the records' original lengths (as on the wire)
    tcp_packets: int = 0
    sessions_started: int = 0
    sessions_open: int = 0       # alive, not closed
    sessions_lingering: int = 0  # closed, not ended yet
    sessions_closed: int = 0     # closed (FIN both ways, or a RST), lingering or ended
    sessions_ended: int = 0      # emitted and freed: closed and lingered, or idle
    data_pkts: int = 0
    retrans_data_pkts: int = 0  # data packets re-sending sequence space (retrans_data_pkts; SYN/FIN re-sends not)
    rst_pkts: int = 0
    zero_window_episodes: int = 0
    advancing_ack_pkts: int = 0     # ACKs that moved their direction's acknowledgment forward (Zeek's ack_events)
    ack_lost_segment_pkts: int = 0  # ACKs of data the capture never saw (Wireshark's ack_lost_segment)

    @property
    def retrans_pct(self) -> float:
        """Retransmitted share of data packets, in percent (0 before any data)."""
        return _pct(self.retrans_data_pkts, self.data_pkts)

    @property
    def capture_loss_pct(self) -> float:
        """Zeek's capture_loss: the share of advancing ACKs that acknowledge unseen data, in percent."""
        return _pct(self.ack_lost_segment_pkts, self.advancing_ack_pkts)

    def as_dict(self) -> dict:
        return {**asdict(self), "retrans_pct": round(self.retrans_pct, 3),
                "capture_loss_pct": round(self.capture_loss_pct, 3)}

    def rates_since(self, earlier: "LiveCounters", seconds: float) -> "IntervalRates":
        """What changed since ``earlier``, ``seconds`` ago, as rates."""
        seconds = max(seconds, 1e-9)
        data = self.data_pkts - earlier.data_pkts
        retrans = self.retrans_data_pkts - earlier.retrans_data_pkts
        tcp = self.tcp_packets - earlier.tcp_packets
        rst = self.rst_pkts - earlier.rst_pkts
        return IntervalRates(
            interval_s=round(seconds, 3),
            packets_per_s=round((self.records - earlier.records) / seconds, 1),
            bits_per_s=round(8 * (self.wire_bytes - earlier.wire_bytes) / seconds, 1),
            sessions_started_per_s=round((self.sessions_started - earlier.sessions_started) / seconds, 2),
            retrans_pct=round(_pct(retrans, data), 3),
            rst_per_s=round(rst / seconds, 2),
            rst_pct=round(_pct(rst, tcp), 3),
            capture_loss_pct=round(_pct(self.ack_lost_segment_pkts - earlier.ack_lost_segment_pkts,
                                        self.advancing_ack_pkts - earlier.advancing_ack_pkts), 3),
        )


def _pct(part: int, whole: int) -> float:
    """``part`` of ``whole`` in percent; 0 of nothing."""
    return 100.0 * part / whole if whole > 0 else 0.0


@dataclass(frozen=True)
class IntervalRates:
    """Rates over one interval: packets and bits per second, sessions started per second, the
    retransmitted share of data packets, RST packets (per second, and share of TCP packets) and
    the capture loss (Zeek's capture_loss over the interval).

    Retransmissions are counted when a session's counts reach the totals (as packets are
    analysed), so the retransmitted share of an interval is of the data packets analysed in it.
    """

    interval_s: float
    packets_per_s: float
    bits_per_s: float
    sessions_started_per_s: float
    retrans_pct: float
    rst_per_s: float
    rst_pct: float
    capture_loss_pct: float


class LiveAnalysis:
    """Decode and analyse live record batches; hand back sessions as they end.

    ``options`` default to the file defaults with ``idle_timeout_s=LIVE_IDLE_TIMEOUT_S``.
    ``wall_clock=True`` (an interface) lets quiet ticks expire idle sessions by the clock.
    """

    def __init__(self, options: EngineOptions | None = None, *, wall_clock: bool = True) -> None:
        self.options = options or EngineOptions(idle_timeout_s=LIVE_IDLE_TIMEOUT_S)
        self.engine = Engine(self.options, per_packet=False)
        self.decoder = decoder_for(self.options)
        self.accounting = Accounting()
        self.wall_clock = wall_clock
        self.traffic = TrafficTally()
        self.acks = AckAdvances()
        self._totals = LiveCounters()  # what is counted outside the engine: ended sessions, bytes, RSTs, closes

    def add(self, records: RecordBatch) -> Step:
        """Analyse one batch of records."""
        tcp = decode_batch(self.decoder, records, self.accounting)
        self._totals.wire_bytes += int(records.origlen.sum())
        first_new = int(self.engine.flows.counters[2])
        closed_before = self._closed_slots()
        result = self.engine.process(tcp)
        self._totals.rst_pkts += int(np.count_nonzero(tcp["tcp_flags"] & TCP_RST))
        self.traffic.add(tcp, result["direction"])
        self.acks.add(result["session_id"], result["direction"], tcp["tcp_flags"], tcp["ack_raw"])
        opened = _opened(tcp, result, first_new)
        closed = self._closed_slots()
        closed[: closed_before.size] &= ~closed_before  # slots are freed only by emit: same sessions
        closing = np.flatnonzero(closed)
        self._totals.sessions_closed += int(closing.size)
        closed_records = self.engine.snapshot(closing) if closing.size else None
        return Step(opened=opened, closed=closed_records, ended=self._emit(final=False))

    def tick(self) -> Step:
        """Nothing arrived for a while: end the sessions the wall clock says are idle."""
        if not self.wall_clock:
            return Step()
        now = time.time_ns() - int(PIPELINE_GRACE_S * NS)
        self.engine.latest_ts = max(self.engine.latest_ts, now)
        return Step(ended=self._emit(final=False))

    def finish(self) -> Step:
        """The capture is over: every session still alive, as records."""
        return Step(ended=self._emit(final=True))

    def newest_live(self, limit: int) -> pd.DataFrame:
        """Records of the ``limit`` most recently started live sessions as they stand now
        (``Engine.snapshot``), without ending them: for detection that cannot wait for them
        to end (a flood's SYNs are never answered, closed sessions linger)."""
        session_id = self.engine.flows.state.m["i64"][flows.SESSION_ID]
        live = np.flatnonzero(session_id >= 0)
        if live.size > limit:
            live = live[np.argpartition(session_id[live], live.size - limit)[live.size - limit :]]
        return self.engine.snapshot(live)

    def _closed_slots(self) -> np.ndarray:
        """By flow slot: a live session that closed (FIN both ways, or RST)."""
        flow_state = self.engine.flows.state.m
        bits = flow_state["u8"][flows.CLOSE_BITS]
        both_fins = flows.ORIG_FIN | flows.RESP_FIN
        closed = ((bits & both_fins) == both_fins) | ((bits & flows.ANY_RST) != 0)
        return closed & (flow_state["i64"][flows.SESSION_ID] >= 0)

    def counters(self) -> LiveCounters:
        """Totals so far: ended sessions' counts plus the live sessions' analysed packets."""
        flow_table = self.engine.flows
        directions = self.engine.directions.m["u32"]  # freed entries are reset to 0
        lingering = int(np.count_nonzero(self._closed_slots()))
        return LiveCounters(
            records=self.accounting.records,
            wire_bytes=self._totals.wire_bytes,
            tcp_packets=self.accounting.by_class["tcp"],
            sessions_started=int(flow_table.counters[2]),
            sessions_open=flow_table.live - lingering,
            sessions_lingering=lingering,
            sessions_closed=self._totals.sessions_closed,
            sessions_ended=self._totals.sessions_ended,
            data_pkts=self._totals.data_pkts + int(directions[:, L.DATA_PKTS].sum()),
            retrans_data_pkts=self._totals.retrans_data_pkts + int(directions[:, L.RETRANS_DATA_PKTS].sum()),
            rst_pkts=self._totals.rst_pkts,
            zero_window_episodes=self._totals.zero_window_episodes + int(directions[:, L.ZW_COUNT].sum()),
            advancing_ack_pkts=self.acks.count,
            ack_lost_segment_pkts=self._totals.ack_lost_segment_pkts + int(directions[:, ACK_LOST_SEGMENT_COUNT].sum()),
        )

    def _emit(self, final: bool) -> list[pd.DataFrame]:
        chunks = [chunk for chunk in self.engine.emit(final=final) if len(chunk)]
        for chunk in chunks:
            self._totals.sessions_ended += len(chunk)
            for side in ("orig", "resp"):
                self._totals.data_pkts += int(chunk[f"{side}_data_pkts"].sum())
                self._totals.retrans_data_pkts += int(chunk[f"{side}_retrans_data_pkts"].sum())
                self._totals.zero_window_episodes += int(chunk[f"{side}_zero_window_episodes"].sum())
                self._totals.ack_lost_segment_pkts += int(chunk[f"{side}_ack_lost_segment"].sum())
            self.acks.forget(chunk["session_id"].to_numpy())
        return chunks


class AckAdvances:
    """Counts the ACKs that move their direction's acknowledgment forward: Zeek's ``ack_events``
    (``TCP_Reassembler::AckReceived``: an ACK beyond the highest one before), the denominator of
    its capture_loss. A direction's first ACK counts; one that repeats or stays below the highest
    does not (sequence arithmetic, mod 2**32).

    The highest ACK of each live direction is kept, by ``session_id * 2 + direction`` in
    ascending order, until ``forget`` lets its session go.
    """

    def __init__(self) -> None:
        self.count = 0
        self._keys = np.array([NO_KEY], np.int64)
        self._highest = np.zeros(1, np.uint32)

    def add(self, session_id: np.ndarray, direction: np.ndarray, tcp_flags: np.ndarray, ack_raw: np.ndarray) -> None:
        """Count the ACKs of a batch of packets (in capture order)."""
        has_ack = (tcp_flags & TCP_ACK) != 0
        keys = session_id[has_ack] * 2 + direction[has_ack]
        order = np.argsort(keys, kind="stable")  # each direction's ACKs together, in capture order
        keys, acks = keys[order], ack_raw[has_ack][order].astype(np.uint32)
        first = np.ones(keys.size, np.bool_)
        first[1:] = keys[1:] != keys[:-1]
        group = np.cumsum(first) - 1
        highest = self._highest_before(keys[first], acks[first])
        # Each ACK relative to its direction's highest before the batch, then a running maximum
        # over the batch: the groups are lifted apart so that one maximum runs over all of them.
        lift = group * np.int64(1 << 33)
        relative = (acks - highest[group]).view(np.int32).astype(np.int64) + lift
        running = np.maximum.accumulate(np.maximum(relative, lift))
        before = np.roll(running, 1)
        before[first] = lift[first]
        self.count += int(np.count_nonzero(relative > before))
        last = np.ones(keys.size, np.bool_)
        last[:-1] = first[1:]
        self._remember(keys[last], highest + (running[last] - lift[last]).astype(np.uint32))

    def forget(self, session_ids: np.ndarray) -> None:
        """The sessions ended: their ACKs are counted for good."""
        keep = ~np.isin(self._keys >> 1, session_ids)
        self._keys, self._highest = self._keys[keep], self._highest[keep]

    def _highest_before(self, keys: np.ndarray, acks: np.ndarray) -> np.ndarray:
        """The highest ACK each direction sent before; for a direction not seen yet, one less than its first."""
        at = np.searchsorted(self._keys, keys)
        return np.where(self._keys[at] == keys, self._highest[at], acks - np.uint32(1))

    def _remember(self, keys: np.ndarray, highest: np.ndarray) -> None:
        keep = ~np.isin(self._keys, keys)
        keys, highest = np.concatenate([self._keys[keep], keys]), np.concatenate([self._highest[keep], highest])
        order = np.argsort(keys, kind="stable")
        self._keys, self._highest = keys[order], highest[order]


class RecentSessions:
    """The most recent ended sessions, at most ``limit`` rows; ``dropped`` counts older ones let go."""

    def __init__(self, limit: int = RECENT_SESSIONS) -> None:
        self.limit = limit
        self.dropped = 0
        self._chunks: deque[pd.DataFrame] = deque()
        self._rows = 0

    def add(self, chunk: pd.DataFrame) -> None:
        self._chunks.append(chunk)
        self._rows += len(chunk)
        while self._rows > self.limit:
            over = self._rows - self.limit
            oldest = self._chunks[0]
            if len(oldest) <= over:
                self._chunks.popleft()
                cut = len(oldest)
            else:
                self._chunks[0] = oldest.iloc[over:]
                cut = over
            self._rows -= cut
            self.dropped += cut

    def frame(self, extra: pd.DataFrame | None = None, last: int | None = None) -> pd.DataFrame:
        """The kept sessions (only the ``last`` ones ended, if given) and ``extra`` ones as one
        frame, ordered by session id."""
        chunks = list(self._chunks) if last is None else _last_rows(self._chunks, last)
        chunks += [extra] if extra is not None else []
        return sessions_frame(chunks) if chunks else session_records_empty()


def _last_rows(chunks: deque[pd.DataFrame], rows: int) -> list[pd.DataFrame]:
    """The chunks holding the last ``rows`` rows (the oldest one cut), in order."""
    kept: list[pd.DataFrame] = []
    for chunk in reversed(chunks):
        if rows <= 0:
            break
        kept.append(chunk.iloc[-rows:] if len(chunk) > rows else chunk)
        rows -= len(chunk)
    return kept[::-1]


def follow(source: LiveSource, analysis: LiveAnalysis, *, tick_s: float = 0.5) -> Iterator[Step]:
    """Analyse a live source as it arrives: a step per batch and per quiet ``tick_s``; the last
    step, when the source ends, holds every session still alive."""
    for batch in source.batches(tick_s):
        yield analysis.tick() if batch is None else analysis.add(batch)
    yield analysis.finish()


def _opened(tcp, result: dict[str, np.ndarray], first_new: int) -> pd.DataFrame | None:
    """The newest sessions started by this batch (at most RECENT_OPENED), from their first packet."""
    sid = result["session_id"]
    new = np.flatnonzero(sid >= first_new)
    if new.size == 0:
        return None
    _, first = np.unique(sid[new], return_index=True)
    rows = new[first][-RECENT_OPENED:]
    from_orig = result["direction"][rows] == 0
    pick = {side: {k: np.where(from_orig, tcp[f"{a}_{k}"][rows], tcp[f"{b}_{k}"][rows]) for k in ("hi", "lo", "port")}
            for side, a, b in (("orig", "src", "dst"), ("resp", "dst", "src"))}
    return pd.DataFrame({
        "session_id": sid[rows],
        "orig_addr": address_text(pick["orig"]["hi"], pick["orig"]["lo"], tcp["ip_version"][rows] == 6),
        "orig_port": pick["orig"]["port"],
        "resp_addr": address_text(pick["resp"]["hi"], pick["resp"]["lo"], tcp["ip_version"][rows] == 6),
        "resp_port": pick["resp"]["port"],
        "start": tcp["ts_ns"][rows] / NS,
    })
