"""The result of an analysis: sessions, packets, accounting, and what is found from them on demand.

>>> result = tcpanalyze.analyze("sample_pcaps/real-graceful-close.pcap")
>>> result.sessions, result.packets, result.accounting, result.anomalies, result.stream(0)
>>> result.summary(), result.packets_with_sessions(["conn_state"])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from .. import malloc
from ..capture import CaptureSpec, capture_files
from ..engine import EngineOptions
from ..engine.evidence import DIRECTIONS, EvidenceFrames
from ..errors import UsageError
from ..packets import Accounting
from .packet_tables import session_packets


@dataclass
class Analysis:
    """What ``analyze`` found: ``sessions`` and ``packets`` DataFrames and the record accounting.

    Without ``packets``, ``evidence`` holds the packets the detectors need and the RTT samples.
    ``packets_of`` is set when ``packets`` holds only those sessions (``with_session_packets``).

    >>> result = tcpanalyze.analyze("sample_pcaps/real-rst-abort.pcap")
    >>> result.sessions.conn_state.value_counts(), result.packets.ack_rtt_ns.mean()
    """

    sessions: pd.DataFrame
    packets: pd.DataFrame | None
    accounting: Accounting
    path: CaptureSpec | None = None  # the capture analysed: a file, files, or None for a live capture
    options: EngineOptions | None = None
    evidence: EvidenceFrames | None = None
    packets_of: frozenset[int] | None = None

    def __repr__(self) -> str:
        """One line (the frames themselves are a ``.sessions`` / ``.packets`` away)."""
        packets = "no packets table" if self.packets is None else f"{len(self.packets):,} packets"
        if self.packets_of is not None:
            packets += f" of {len(self.packets_of):,} sessions"
        where = "live capture" if self.path is None else ", ".join(self.files) or str(self.path)
        return (f"<Analysis of {where}: {len(self.sessions):,} sessions, {packets}, "
                f"{self.accounting.records:,} records>")

    @property
    def detector_packets(self) -> pd.DataFrame | None:
        """The packets detectors read: the whole packets table, else the evidence kept in its place."""
        if self._whole_packets:
            return self.packets
        return self.evidence.packets if self.evidence is not None else None

    @property
    def has_rtt_samples(self) -> bool:
        """Whether the RTT samples were kept (the whole packets table, or the evidence)."""
        return self._whole_packets or self.evidence is not None

    @property
    def rtt_samples(self) -> pd.DataFrame | None:
        """Every ACK's RTT sample in one frame: ``session_id``, ``ack_rtt_ns`` and ``data_direction``
        (whose data the ACK acknowledged: ``orig`` times the capture point to the responder and
        back); None when neither the whole packets table nor evidence was kept. On a big capture
        this is millions of rows: ``rtt_sample_batches`` reads them a batch at a time."""
        if self._whole_packets:
            return self._packet_rtt_samples()
        return self.evidence.rtt.frame() if self.evidence is not None else None

    def rtt_sample_batches(self) -> Iterator[pd.DataFrame]:
        """The RTT samples (see ``rtt_samples``) a frame at a time, in memory that does not grow
        with the capture; none when they were not kept (``has_rtt_samples``)."""
        if self._whole_packets:
            yield self._packet_rtt_samples()
        elif self.evidence is not None:
            yield from self.evidence.rtt.batches()

    @property
    def _whole_packets(self) -> bool:
        return self.packets is not None and self.packets_of is None

    def _packet_rtt_samples(self) -> pd.DataFrame:
        sampled = self.packets["ack_rtt_ns"].notna().to_numpy()
        samples = self.packets.loc[sampled, ["session_id", "ack_rtt_ns"]].reset_index(drop=True)
        samples["ack_rtt_ns"] = samples["ack_rtt_ns"].to_numpy(np.int64)  # every row has a sample
        from_orig = self.packets["direction"].to_numpy()[sampled] == "orig"
        samples["data_direction"] = pd.Categorical.from_codes(from_orig.astype(np.int8), DIRECTIONS)
        return samples

    def summary(self) -> pd.Series:
        """The analysis in a few numbers: the capture's span, records, packets, sessions by
        ``conn_state`` and ``close_type``, bytes each way, anomalies found.

        >>> tcpanalyze.analyze("sample_pcaps/real-rst-abort.pcap").summary()
        """
        sessions = self.sessions
        figures: dict[str, object] = {
            "records": self.accounting.records, "tcp_records": self.accounting.by_class["tcp"],
            "packets": None if self.packets is None else len(self.packets), "sessions": len(sessions),
        }
        if "start_time" in sessions and "end_time" in sessions:
            figures["first_packet"] = sessions["start_time"].min() if len(sessions) else pd.NaT
            figures["last_packet"] = sessions["end_time"].max() if len(sessions) else pd.NaT
        for side in DIRECTIONS:
            if f"{side}_bytes" in sessions:
                figures[f"{side}_bytes"] = int(sessions[f"{side}_bytes"].sum())
        for column in ("conn_state", "close_type"):
            if column in sessions:
                counts = sessions[column].value_counts(sort=False)
                figures.update({f"{column}={code}": int(n) for code, n in counts.items() if n})
        figures["anomalies"] = len(self.anomalies)
        return pd.Series(figures, dtype=object, name="summary")

    def packets_with_sessions(self, columns: Iterable[str] = ("conn_state", "close_type")) -> pd.DataFrame:
        """The packets table with each packet's session's ``columns`` beside it (one row per
        packet, in the same order).

        >>> result.packets_with_sessions(["conn_state", "orig_addr", "resp_addr"])
        >>> _.groupby("conn_state", observed=True).ack_rtt_ns.mean()
        """
        if self.packets is None:
            raise UsageError("this analysis kept no packets table: analyse with packets=True")
        wanted = [c for c in dict.fromkeys(columns) if c != "session_id"]
        unknown = [c for c in wanted if c not in self.sessions]
        if unknown:
            raise UsageError(f"no session column {', '.join(map(repr, unknown))} in this analysis")
        lookup = self.sessions[["session_id", *wanted]]
        return self.packets.merge(lookup, on="session_id", how="left", sort=False, validate="many_to_one")

    @property
    def files(self) -> list[str]:
        """The capture's files in the order they were named: ``packets.rec_off >> 40`` indexes this
        list when there are several (``capture.merge``)."""
        return [] if self.path is None else capture_files(self.path)

    @property
    def warnings(self) -> list[str]:
        """What the reader said about the file (a damaged tail, an empty capture...)."""
        return self.accounting.warnings

    @cached_property
    def anomalies(self) -> pd.DataFrame:
        """Anomalies with the default thresholds, found on first use (see ``tcpanalyze.detect``)."""
        return self.detection.anomalies

    @cached_property
    def detection(self):
        """The anomalies with the default thresholds and every session each one involves, untruncated
        (a ``tcpanalyze.detect.Detection``: ``anomalies`` lists an anomaly's first 1,000 sessions)."""
        from ..detect import detect

        return detect(self.sessions, self.detector_packets, path=self.path)

    @property
    def sessions_with_anomalies(self) -> pd.DataFrame:
        """``sessions`` plus an ``anomalies`` column: the kinds (default thresholds) each session is part of.

        >>> result.sessions_with_anomalies.query("anomalies.str.len() > 0")
        """
        from ..detect import session_anomaly_kinds

        return self.sessions.assign(anomalies=session_anomaly_kinds(self.sessions, self.detection))

    def drop_evidence_packets(self, config=None):
        """Find the anomalies now (``config``'s thresholds, a ``tcpanalyze.detect.DetectConfig``;
        without one the defaults, which ``detection`` then keeps) and let go of the evidence
        packets they are found from before the findings are made, for a caller that reads nothing
        else of them (``tcpanalyze report``, ``anomalies``, ``check``: on a big capture they are
        tens of MB). Returns the ``Detection``. ``detect`` afterwards works from the sessions
        alone; the RTT samples stay."""
        from ..detect import detection_of, run_detectors

        found = None if config is None and "detection" in self.__dict__ else run_detectors(
            self.sessions, self.detector_packets, config, self.path)
        if self.evidence is not None:
            none = self.evidence.packets.iloc[:0].copy()  # a view would hold on to the rows
            self.evidence = dataclasses.replace(self.evidence, packets=none)
            malloc.trim()
        if found is None:
            return self.detection
        detection = detection_of(found)
        if config is None:
            self.detection = detection
        return detection

    def detect(self, config=None) -> pd.DataFrame:
        """Anomalies with other thresholds (a ``tcpanalyze.detect.DetectConfig``); ``anomalies`` keeps the defaults.

        >>> result.detect(DetectConfig().with_overrides({"port_scan.min_ports": "10"}))
        """
        from ..detect import detect_anomalies

        return detect_anomalies(self.sessions, self.detector_packets, config, self.path)

    @property
    def rereadable(self) -> bool:
        """Whether the capture can be read again (a file, not standard input or a live capture)."""
        return self.path is not None and self.path != "-"

    def with_session_packets(self, session_ids: Iterable[int]) -> Analysis:
        """This analysis with a packets table holding (at least) the packets of ``session_ids``:
        itself if it kept the whole table, else the table of those sessions alone, read again
        from the capture (``session_packets``). For graphs and views of a few sessions; anomaly
        detection on the result still reads the evidence, not that partial table.

        >>> lean = tcpanalyze.analyze("big.pcap", packets=False)
        >>> lean.with_session_packets([3]).packets
        """
        if self.packets is not None:
            return self
        if not self.rereadable:
            raise UsageError("the packets of single sessions are read again from the capture file, and this "
                             "analysis has none (standard input or a live capture): analyse with packets=True")
        known = set(self.sessions["session_id"].tolist())
        wanted = [i for i in session_ids if i in known]
        table = session_packets(self.path, wanted, options=self.options)
        return dataclasses.replace(self, packets=table, packets_of=frozenset(wanted))

    def stream(self, session_id: int, policy: str = "first"):
        """Session ``session_id`` reassembled: ``.orig`` / ``.resp`` bytes, gaps, conflicts, and ``.chunks``.

        Payload bytes are read back from the capture file. ``policy="last"`` keeps the last
        copy of bytes that were sent twice with different contents (default: the first).
        See :class:`tcpanalyze.reassembly.Stream`.

        >>> stream = result.stream(0)
        >>> stream.orig.data[:16], stream.orig.gaps
        """
        from ..reassembly import analysis_stream

        return analysis_stream(self, session_id, policy)
