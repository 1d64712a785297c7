"""Per-packet analysis flags: Wireshark's ``tcp.analysis.*`` names, one bit each; and the
resend kinds of the sequence-space retransmission count (docs/retransmissions.md).

A fast or spurious retransmission also carries the plain ``retransmission`` bit, because
Wireshark adds the ``tcp.analysis.retransmission`` field to those packets too (a display
filter for retransmissions matches them).
"""

from __future__ import annotations

import numpy as np

RETRANSMISSION = 1 << 0
FAST_RETRANSMISSION = 1 << 1
SPURIOUS_RETRANSMISSION = 1 << 2
OUT_OF_ORDER = 1 << 3
LOST_SEGMENT = 1 << 4
ACK_LOST_SEGMENT = 1 << 5
DUPLICATE_ACK = 1 << 6
ZERO_WINDOW = 1 << 7
ZERO_WINDOW_PROBE = 1 << 8
ZERO_WINDOW_PROBE_ACK = 1 << 9
WINDOW_FULL = 1 << 10
WINDOW_UPDATE = 1 << 11
KEEP_ALIVE = 1 << 12
KEEP_ALIVE_ACK = 1 << 13
REUSED_PORTS = 1 << 14

FLAG_NAMES: tuple[str, ...] = (
    "retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order", "lost_segment",
    "ack_lost_segment", "duplicate_ack", "zero_window", "zero_window_probe", "zero_window_probe_ack",
    "window_full", "window_update", "keep_alive", "keep_alive_ack", "reused_ports",
)
N_FLAGS = len(FLAG_NAMES)
ANY_RETRANSMISSION = RETRANSMISSION | FAST_RETRANSMISSION | SPURIOUS_RETRANSMISSION

# What a segment carrying sequence space is, by what the capture saw of that space before
# (the ``resend`` packet column; docs/retransmissions.md): new space; space already captured
# (a retransmission); a hole's space whose original was never captured, sent after the packet
# that opened the hole (the retransmission of a segment lost before the capture point); a
# hole's space sent before it (the original, reordered on the way); an IPv4 data packet
# identical (IP ID and TCP header) to one its side sent just before (kernels.DUPLICATE_WITHIN_NS): the
# network or the capture copied it (SPAN ports, two taps), the sender did not send it again.
RESEND_NONE, RESEND_RETRANSMISSION, RESEND_LOST_BEFORE_CAPTURE, RESEND_REORDERED, RESEND_DUPLICATE = range(5)
RESEND_NAMES = ("none", "retransmission", "lost_before_capture", "reordered", "duplicate")


def flag_lists(bits: np.ndarray) -> list[list[str]]:
    """The flag names set in each value of ``bits`` (few distinct values, so this is cheap)."""
    names = {int(v): [n for k, n in enumerate(FLAG_NAMES) if int(v) >> k & 1] for v in np.unique(bits)}
    return [names[int(v)] for v in bits]
