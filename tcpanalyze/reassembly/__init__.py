"""Stream reassembly: each direction of a TCP session as ordered bytes, with gaps and overlap conflicts.

>>> stream = tcpanalyze.analyze("sample_pcaps/real-graceful-close.pcap").stream(0)
>>> stream.orig.data, stream.resp.gaps, stream.orig.conflicts, stream.chunks

``Analysis.stream`` reads the payload bytes of one session back from the capture file by
the offsets analysis recorded; :class:`SessionCollector` gets them in a single pass instead
(what ``tcpanalyze follow`` and ``export-streams`` use, and the way to read standard input).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import jit
from ..errors import UsageError
from .collect import SessionCollector
from .payloads import segments_from_packets
from .stream import POLICIES, Conflict, Stream, StreamDirection, build_streams

if TYPE_CHECKING:
    from ..pipeline import Analysis

__all__ = [
    "POLICIES",
    "Conflict",
    "SessionCollector",
    "Stream",
    "StreamDirection",
    "analysis_stream",
    "build_streams",
    "unknown_session_message",
]


def analysis_stream(analysis: Analysis, session_id: int, policy: str = "first") -> Stream:
    """The reassembled stream of one session of an analysis (see ``Analysis.stream``)."""
    if analysis.packets is None:
        raise UsageError("stream() needs the packets table: analyse with packets=True (the default)")
    sessions = analysis.sessions
    record = sessions[sessions["session_id"] == session_id]
    if record.empty:
        raise UsageError(unknown_session_message(session_id, len(sessions)))
    packets = analysis.packets
    rows = packets[packets["session_id"] == session_id]
    segments = segments_from_packets(analysis.path, rows)
    with jit.plain_python_for(segments.nbytes):  # a small stream is rebuilt faster than numba loads
        return next(build_streams(record, segments, policy))


def unknown_session_message(session_id: int, sessions: int) -> str:
    ids = f"ids 0 to {sessions - 1}" if sessions else "no TCP sessions at all"
    return f"no session {session_id} in this capture ({ids}; see `tcpanalyze sessions`)"
