"""tcpanalyze: read captures, rebuild TCP sessions, say what happened.

>>> import tcpanalyze
>>> result = tcpanalyze.analyze("sample_pcaps/real-graceful-close.pcap")
>>> result.sessions, result.packets, result.accounting
>>> tcpanalyze.read_packets("trace.pcap")      # decoded TCP packets only, no session analysis
"""

__version__ = "0.1.0"

from .engine import Analysis, EngineOptions, analyze
from .packets import read_packets

__all__ = ["__version__", "Analysis", "EngineOptions", "analyze", "read_packets"]
