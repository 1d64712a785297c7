"""Engine layer: the streaming per-packet TCP analysis and the session records it emits.

An ``Engine`` takes decoded TCP batches in capture order and keeps all state between them;
``tcpanalyze.pipeline`` drives it over files and live captures.
"""

from .streaming import Engine, EngineOptions

__all__ = ["Engine", "EngineOptions"]
