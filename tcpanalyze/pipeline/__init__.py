"""Pipeline layer: orchestration above every other layer.

A capture is read once, front to back (``tcpanalyze.packets``), through the decoder and the
streaming engine; the result object (``Analysis``) then finds anomalies (``detect``) and
reassembles streams (``reassembly``) on demand. ``live`` does the same for a live capture.
``partitions`` splits the work by flow among processes or the workers of a Dask cluster.

>>> result = tcpanalyze.pipeline.analyze("sample_pcaps/real-graceful-close.pcap")
>>> for chunk in iter_sessions("big.pcap", Accounting()): ...   # records as sessions end
"""

from ..engine import EngineOptions
from .drivers import analyze, iter_sessions, session_columns
from .io_stats import io_stats
from .packet_tables import session_packets
from .partitions import cluster_client
from .result import Analysis

__all__ = ["Analysis", "EngineOptions", "analyze", "cluster_client", "io_stats", "iter_sessions", "session_columns",
           "session_packets"]
