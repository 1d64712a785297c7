"""tcpanalyze: read captures, rebuild TCP sessions, say what happened.

>>> import tcpanalyze
>>> result = tcpanalyze.analyze("sample_pcaps/real-graceful-close.pcap")
>>> result.sessions, result.packets, result.accounting, result.summary()
>>> tcpanalyze.read_packets("trace.pcap")      # decoded TCP packets only, no session analysis
"""

import os as _os

# numpy asks for transparent huge pages on large arrays; where THP is in "madvise" mode the
# first touch of that memory stalls on compaction (measured here: a fresh 100 MB copy took
# 0.44 s with huge pages, 0.07 s without). Our arrays are written once per batch, so plain
# pages win. Only takes effect if numpy is not imported yet; a user's own setting stands.
_os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
# numba's OpenMP threads (the parallel decoder) otherwise spin between batches, burning a core
# the rest of the analysis or another process could use: measured 0.35 s of CPU time on the
# 2M-packet benchmark capture. Only takes effect if OpenMP is not loaded yet.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .version import __version__

__all__ = ["__version__", "Analysis", "EngineOptions", "analyze", "read_packets", "session_packets"]
# The user-facing subpackages, imported on first attribute access.
SUBPACKAGES = ("check", "detect", "dfilter", "frames", "pipeline", "plot", "reassembly", "report", "testing")


def __getattr__(name: str):
    # Imported on first use, so `import tcpanalyze` stays cheap (pandas alone takes ~0.5 s).
    if name in ("Analysis", "EngineOptions", "analyze", "session_packets"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "read_packets":
        from .packets import read_packets

        return read_packets
    if name in SUBPACKAGES:  # tcpanalyze.report.build_report(...) without importing tcpanalyze.report first
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tcpanalyze' has no attribute {name!r}")
