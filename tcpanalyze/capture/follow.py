"""Following capture files while their writer (dumpcap) is still writing them.

``FileCursor`` reads a growing file as a stream: each refill takes what was appended since the
last one, and when nothing was it waits until more arrives or the writer is done with the
file (then one last read takes the final bytes). The reader never slows the writer: it reads
a file, not a pipe, so a reader that falls behind only leaves more of the file to read.

``trailing_statistics`` reads the Interface Statistics Blocks a finished pcapng file ends with
(the compiled walker skips them), walking back from the end over the blocks' trailing lengths.

>>> cursor = FileCursor(open("/tmp/capture.pcapng", "rb"), "capture", done=writer_finished, stop=event,
...                     idle=caught_up)
>>> trailing_statistics("/tmp/capture.pcapng")   # [InterfaceStatistics(interface=0, counters={...})]
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from .sources import Cursor

# Most bytes taken from the file per refill: a reader catching up walks big windows.
READ_CHUNK = 8 << 20
# How long a reader at the end of a growing file waits before looking again.
POLL_S = 0.05
PCAPNG_ISB = 5
BYTE_ORDER_MAGIC = 0x1A2B3C4D
# pcapng ISB option codes (draft-ietf-opsawg-pcapng, section 4.6): the counters we report.
ISB_COUNTERS = {4: "isb_ifrecv", 5: "isb_ifdrop", 6: "isb_filteraccept", 7: "isb_osdrop", 8: "isb_usrdeliv"}


class FileCursor(Cursor):
    """A cursor over a file another process is appending to.

    ``done()`` says the writer has finished the file; ``stop`` (an Event) ends the input at
    the next wait. ``read_bytes`` counts the bytes taken from the file so far. ``idle()`` is
    called each time the reader has taken every byte and waits for more: the unread bytes held
    then (``read_bytes - offset``) are a block the writer has not finished.
    """

    def __init__(self, fh: BinaryIO, label: str, *, done: Callable[[], bool], stop: threading.Event,
                 idle: Callable[[], None]) -> None:
        super().__init__(np.empty(0, dtype=np.uint8), None, label)
        self._fh = fh
        self._done = done
        self._stop = stop
        self._idle = idle
        self.read_bytes = 0

    def refill(self) -> bool:
        while True:
            # The writer's state is read before the file: bytes it wrote before saying it was done are then seen.
            finished = self._done()
            chunk = self._fh.read(READ_CHUNK)
            if chunk:
                self.read_bytes += len(chunk)
                self.append(chunk)
                return True
            if finished or self._stop.is_set():
                return False
            self._idle()
            self._stop.wait(POLL_S)


@dataclass(frozen=True)
class InterfaceStatistics:
    """One Interface Statistics Block: the interface it counts and its counters by pcapng name."""

    interface: int
    counters: dict[str, int]


def trailing_statistics(path: str) -> list[InterfaceStatistics]:
    """The Interface Statistics Blocks at the end of a pcapng file (dumpcap writes them as it
    closes a capture), oldest first; none if the file does not end with any or cannot be read."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(12)
            fh.seek(0, 2)
            end = fh.tell()
            if len(data) < 12:
                return []
            order = "<" if struct.unpack("<I", data[8:12])[0] == BYTE_ORDER_MAGIC else ">"
            found = []
            while end >= 12 + 28:
                fh.seek(end - 4)
                length = struct.unpack(order + "I", fh.read(4))[0]
                if length < 12 or length % 4 or length > end:
                    break
                fh.seek(end - length)
                block = fh.read(length)
                if struct.unpack(order + "I", block[:4])[0] != PCAPNG_ISB:
                    break
                found.append(_statistics(block, order))
                end -= length
            return found[::-1]
    except OSError:
        return []


def _statistics(block: bytes, order: str) -> InterfaceStatistics:
    interface = struct.unpack(order + "I", block[8:12])[0]
    counters = {}
    pos, stop = 20, len(block) - 4
    while pos + 4 <= stop:
        code, size = struct.unpack(order + "HH", block[pos : pos + 4])
        if code == 0:
            break
        if code in ISB_COUNTERS and size == 8 and pos + 12 <= stop:
            counters[ISB_COUNTERS[code]] = struct.unpack(order + "Q", block[pos + 4 : pos + 12])[0]
        pos += 4 + ((size + 3) & ~3)
    return InterfaceStatistics(interface, counters)
