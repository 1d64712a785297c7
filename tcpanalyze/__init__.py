"""tcpanalyze: read captures, rebuild TCP sessions, say what happened."""

__version__ = "0.1.0"

from .packets import read_packets

__all__ = ["__version__", "read_packets"]
