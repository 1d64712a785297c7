"""Engine layer: per-packet TCP analysis and session records."""

from .analysis import Analysis, Engine, EngineOptions, analyze, session_packets

__all__ = ["Analysis", "Engine", "EngineOptions", "analyze", "session_packets"]
