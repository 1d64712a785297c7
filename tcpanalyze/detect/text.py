"""Numbers and endpoints as the anomaly messages write them."""

from __future__ import annotations

from ..frames import endpoint  # the detectors write endpoints as the rest of the tool does

__all__ = ["count_of", "endpoint", "n", "pct", "secs"]


def n(value: float) -> str:
    """A count with thousands separators: 5000 -> '5,000'."""
    return f"{int(value):,}"


def pct(part: float, whole: float) -> str:
    """A share as a whole percentage, rounded down: '99 %'."""
    return f"{int(100 * part / whole)} %" if whole else "0 %"  # floored: never "100 %" unless all


def secs(value: float) -> str:
    """A duration: '2.1 s', '0.35 s', '120 s'."""
    if value >= 100:
        return f"{value:.0f} s"
    return f"{value:.1f} s" if value >= 1 else f"{value:.2f} s"


def count_of(value: float, word: str) -> str:
    """'1 source', '4,980 sources' (plural by adding 's')."""
    return f"{n(value)} {word}" if int(value) == 1 else f"{n(value)} {word}s"
