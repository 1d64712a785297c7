"""The decoder of one pass over a capture, set up as the analysis options say."""

from __future__ import annotations

from ..decode import Decoder
from ..engine import EngineOptions


def decoder_for(options: EngineOptions | None, *, parallel: bool = True) -> Decoder:
    """A decoder that verifies checksums when ``options.verify_checksums`` asks for it;
    ``parallel``: may big batches use every core (not when other processes do)."""
    return Decoder(parallel=parallel, verify_checksums=options is not None and options.verify_checksums)
