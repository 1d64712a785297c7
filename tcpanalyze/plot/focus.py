"""Where a session's trouble lies in time: the span a graph of it should show.

>>> problem_span(session, "orig")   # (0.08, 1.52): a little before the first retransmission or
...                                 # zero window of the originator's data to a little after the last
"""

from __future__ import annotations

import numpy as np

from ..engine.evidence import retransmissions
from ..engine.flags import LOST_SEGMENT
from .session import SessionPackets, other

# Around the trouble, this share of its own length on each side (at least MIN_CONTEXT_SHARE of
# the session), so the graph shows what came before and after it.
CONTEXT_SHARE = 0.2
MIN_CONTEXT_SHARE = 0.03
# A span covering more than this share of the session is not worth zooming to: show it all.
ZOOM_BELOW_SHARE = 0.7


def problem_span(session: SessionPackets, direction: str) -> tuple[float, float] | None:
    """Seconds since the session's first packet from a bit before the first retransmission, capture
    gap or zero window stopping ``direction``'s data to a bit after the last; None when there is
    none or the span is most of the session."""
    sent = session.sent(direction)
    troubled = sent[retransmissions(sent["resend"].cat.codes.to_numpy())
                    | ((sent["analysis_flags"].to_numpy() & LOST_SEGMENT) != 0)]
    times = [session.seconds(troubled)]
    peer = session.sent(other(direction))
    window = peer["window"].to_numpy()
    zero = np.flatnonzero(window == 0)
    if zero.size:  # a zero window lasts until the peer's next non-zero window
        t = session.seconds(peer)
        reopened = np.flatnonzero((window != 0) & (np.arange(window.size) > zero[-1]))
        times.append(np.concatenate([t[zero], t[reopened[:1]]]))
    times = np.concatenate(times)
    if not times.size or session.duration_s <= 0:
        return None
    first, last = float(times.min()), float(times.max())
    pad = max(CONTEXT_SHARE * (last - first), MIN_CONTEXT_SHARE * session.duration_s)
    start, end = max(0.0, first - pad), min(session.duration_s, last + pad)
    return None if end - start > ZOOM_BELOW_SHARE * session.duration_s else (start, end)
