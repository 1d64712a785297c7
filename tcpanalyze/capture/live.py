"""Live capture: dumpcap writes pcapng files, and we read them as they grow.

``LiveSource.capture`` starts :class:`Dumpcap` on an interface, writing the ``--write`` file
(or a ring buffer of files in a temporary directory), and a reader thread follows those files
with the same compiled walker as for any file: the end of the one being written, then the next
one of the ring. dumpcap never waits for us: when the analysis falls behind, the files hold
the backlog and the reader catches up (``progress`` says how far behind it is). A source over a
file descriptor (``--from-stdin``) reads a pcapng stream as it comes. The consumer gets record
batches, and ``None`` when nothing arrived for a while, to do its periodic work.

>>> with LiveSource.capture("lo", bpf="tcp port 80", duration_s=10) as source:
...     for batch in source.batches():
...         ...   # a RecordBatch, or None after a quiet tick
...     source.losses()   # what the kernel dropped, what we read of what dumpcap wrote
"""

from __future__ import annotations

import os
import queue
import select
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

import numpy as np

from ..errors import CaptureError, UsageError
from . import kernels
from .dumpcap import BUFFER_MIB, DELIVERY_S, Dumpcap, DumpcapStatistics, list_interfaces  # noqa: F401  (cli.interfaces uses it)
from .follow import FileCursor, trailing_statistics
from .pcapng import is_pcapng, read_pcapng
from .reader import BATCH_RECORDS
from .records import CaptureInfo, RecordBatch
from .sources import Cursor

# Most bytes taken from a pipe per read: under load a batch covers many blocks, when traffic
# trickles each burst becomes its own small batch.
READ_CHUNK = 4 << 20
# How often a reader waiting on a pipe looks at the stop flag, and how long the consumer waits
# for a batch before it gets a quiet tick.
POLL_S = 0.2
# Batches read ahead of the analysis. A full queue pauses our reader only: dumpcap goes on
# writing its files.
QUEUE_BATCHES = 8
# Without --write, dumpcap writes a ring of this many files of this size (kB) in a temporary
# directory: disk use stays bounded on a capture of hours, and the analysis may fall up to
# about (files - 1) x size behind before a file it has not read is replaced.
TEMP_RING = (8, 64_000)
_END = object()


@dataclass(frozen=True)
class CaptureProgress:
    """How far the analysis is behind the capture, now: what is written and not analysed yet.

    Records are counted as the reader takes them from dumpcap's files (dumpcap's own count comes
    when it stops), so ``written >= analysed`` always. Bytes dumpcap wrote that the reader has
    not taken yet are ``unread_bytes``: their packets are not counted in ``written`` yet. A block
    dumpcap is still writing is not written yet; nor is a file's header a packet waiting.
    """

    written: int          # records read from dumpcap's files (or the stream) so far
    analysed: int         # records handed to the analysis
    behind_bytes: int     # bytes of whole blocks written and not analysed yet, read or not
    unread_bytes: int     # of those, the ones the reader has not taken from the file yet
    # How long ago the oldest packet waiting was captured (of a capture: packet times are the
    # clock); 0 when nothing waits.
    behind_s: float
    files_missed: int     # ring files replaced before the reader got to them

    @property
    def behind_packets(self) -> int:
        """Packets read and not analysed yet (at least: unread bytes hold more)."""
        return self.written - self.analysed


class _Waiting(NamedTuple):
    """A batch read and not analysed yet: its records, the bytes walked for it, its first packet's time."""

    records: int
    walked_bytes: int
    first_ts_ns: int


class _ReadPoint(NamedTuple):
    """Where the reader stands in dumpcap's files, in bytes from the start of the first file:
    blocks before ``walked`` are in batches; ``idle_at`` is where it read to when it last found no
    more (a block there is one dumpcap is still writing), None while it reads on; what it has not
    read yet was captured after ``since_ns`` (its last packet read, or the last time it was idle)."""

    walked: int
    idle_at: int | None
    since_ns: int


@dataclass(frozen=True)
class CaptureLosses:
    """Where packets went missing between the wire and the analysis, once the capture ended.

    ``captured`` (dumpcap wrote) against ``analysed`` (we read) is the loss between capture and
    analysis, zero unless a ring file was replaced unread; the kernel and interface drops are
    dumpcap's own counts (:class:`DumpcapStatistics`), also as its files' Interface Statistics
    Blocks (``isb``) when it wrote them.
    """

    analysed: int
    statistics: list[DumpcapStatistics] = field(default_factory=list)
    files_missed: int = 0
    isb: list[dict] = field(default_factory=list)

    @property
    def captured(self) -> int | None:
        return sum(s.captured for s in self.statistics) if self.statistics else None

    @property
    def matched(self) -> int:
        return sum(s.matched for s in self.statistics)

    @property
    def dropped(self) -> int:
        return sum(s.dropped for s in self.statistics)

    @property
    def drop_pct(self) -> float:
        """Dropped share of the packets that passed the capture filter, in percent."""
        return 100.0 * self.dropped / self.matched if self.matched else 0.0

    @property
    def lost_before_analysis(self) -> int:
        return self.captured - self.analysed if self.captured is not None else 0

    def as_dict(self) -> dict:
        return {
            "captured": self.captured, "analysed": self.analysed, "lost_before_analysis": self.lost_before_analysis,
            "matched": self.matched, "dropped": self.dropped, "drop_pct": round(self.drop_pct, 3),
            "kernel_dropped": sum(s.kernel_dropped for s in self.statistics),
            "dumpcap_dropped": sum(s.dumpcap_dropped for s in self.statistics),
            "flushed": sum(s.flushed for s in self.statistics),
            "interface_dropped": sum(s.interface_dropped for s in self.statistics),
            "files_missed": self.files_missed, "isb": self.isb,
        }

    def sentences(self) -> list[str]:
        """What was lost, in words (nothing when nothing was)."""
        said = []
        for s in self.statistics:
            if s.dropped:
                said.append(f"{s.interface}: {s.dropped} of the {s.matched} packets that passed the capture filter "
                            f"were dropped before dumpcap wrote them ({100.0 * s.dropped / s.matched:.1f}%: "
                            f"kernel {s.kernel_dropped}, dumpcap {s.dumpcap_dropped}, flushed {s.flushed}); "
                            f"they are missing from the analysis and the written file")
            if s.interface_dropped:
                said.append(f"{s.interface}: the interface dropped {s.interface_dropped} packets (all traffic, "
                            f"before the capture filter)")
        if self.lost_before_analysis:
            said.append(f"{self.lost_before_analysis} of the {self.captured} packets dumpcap wrote were not analysed "
                        f"(ring files replaced before they were read: {self.files_missed})")
        return said


class LiveSource:
    """Record batches of a live capture as they arrive: dumpcap's files (``capture``) or a pcapng
    stream on a file descriptor (``write_path`` keeps a copy of the stream).

    ``info`` counts records and collects warnings as for a file; ``started`` is set once the
    capture is running (dumpcap writes its file header once the interface is open).
    """

    def __init__(self, fd: int | None = None, *, label: str, dumpcap: Dumpcap | None = None,
                 write_path: str | None = None, temp_dir: str | None = None, max_records: int = BATCH_RECORDS) -> None:
        self.info = CaptureInfo(path=label, file_format="pcapng")
        self.dumpcap = dumpcap
        self.started = threading.Event()
        self._fd = fd
        self._stop = threading.Event()
        self._tee = _open_for_writing(write_path) if write_path else None
        self._temp_dir = temp_dir
        self._max_records = max_records
        self._queue: queue.Queue = queue.Queue(QUEUE_BATCHES)
        self._thread = threading.Thread(target=self._pump, name="tcpanalyze-live-reader", daemon=True)
        self._files_missed = 0
        self._finished_bytes = 0  # sizes of the files read to their end
        self._current: tuple[BinaryIO, int] | None = None  # the file being read, where it starts
        self._point = _ReadPoint(0, None, time.time_ns())
        self._waiting: deque[_Waiting] = deque()  # batches queued, oldest first
        self._walked_to = 0  # where the last batch queued ends
        self._analysed = 0  # records handed to the consumer
        self._last_file: str | None = None

    @classmethod
    def capture(cls, interface: str, *, bpf: str | None = None, duration_s: float | None = None,
                count: int | None = None, write_path: str | None = None, ring: tuple[int, int] | None = None,
                buffer_mib: int = BUFFER_MIB) -> "LiveSource":
        """Capture on ``interface`` with dumpcap into ``write_path`` (a ring of ``(files, file_kb)``
        named after it, with ``ring``), or a temporary ring; stop after ``duration_s`` or ``count``."""
        temp_dir = None
        if write_path is None:
            temp_dir = tempfile.mkdtemp(prefix="tcpanalyze-live-")
            write_path, ring = os.path.join(temp_dir, "live.pcapng"), TEMP_RING
        elif ring is None:
            _open_for_writing(write_path).close()  # a path that cannot be written fails now, in our words
        else:
            _check_directory(write_path)  # dumpcap names the ring's files after the path, in its directory
        try:
            dumpcap = Dumpcap(interface, write_path, bpf=bpf, duration_s=duration_s, count=count, ring=ring,
                              buffer_mib=buffer_mib)
        except BaseException:
            if temp_dir:
                shutil.rmtree(temp_dir, ignore_errors=True)
            raise
        return cls(label=interface, dumpcap=dumpcap, temp_dir=temp_dir)

    def batches(self, tick_s: float = POLL_S) -> Iterator[RecordBatch | None]:
        """Record batches as data arrives; ``None`` after ``tick_s`` without any. Ends with the capture."""
        # The walker is loaded (numba, about 0.7 s) before the reader starts, not by the reader's
        # first walk: the reader then takes what is written at once, so dumpcap's file header
        # is never shown as a backlog.
        kernels.walk_pcapng.dispatcher
        self._thread.start()
        while True:
            try:
                item = self._queue.get(timeout=tick_s)
            except queue.Empty:
                yield None
                continue
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise item
            self._waiting.popleft()
            self._analysed += len(item)
            yield item
        self._thread.join()
        if self.dumpcap is not None:
            self.info.warnings.extend(self.dumpcap.finish(self.info.records))

    def progress(self) -> CaptureProgress:
        """How far the batches handed out are behind what was written."""
        analysed = self._analysed  # read first: a batch handed out meanwhile is then in neither figure
        waiting = self._waiting.copy()
        unread = self._unread_bytes()
        oldest_ns = waiting[0].first_ts_ns if waiting else self._point.since_ns if unread else None
        behind_s = 0.0
        if oldest_ns is not None and self.dumpcap is not None:
            behind_s = max(0.0, (time.time_ns() - oldest_ns) / 1e9)
        return CaptureProgress(written=analysed + sum(w.records for w in waiting), analysed=analysed,
                               behind_bytes=unread + sum(w.walked_bytes for w in waiting), unread_bytes=unread,
                               behind_s=behind_s, files_missed=self._files_missed)

    def _unread_bytes(self) -> int:
        """Bytes of whole blocks dumpcap has written to the file being read and the reader has not
        walked yet."""
        # The file before the read point: the reader moves the point to a new file first.
        current, point = self._current, self._point
        if current is None:
            return 0
        fh, start = current
        try:
            written = start + os.fstat(fh.fileno()).st_size
        except (OSError, ValueError):
            return 0  # the file closed just now: it was read to its end
        return 0 if written == point.idle_at else max(0, written - point.walked)

    def losses(self) -> CaptureLosses:
        """What was lost from the wire to the analysis (after ``batches`` ended)."""
        if self.dumpcap is None:
            return CaptureLosses(analysed=self.info.records)
        isb = trailing_statistics(self._last_file) if self._last_file else []
        return CaptureLosses(analysed=self.info.records, statistics=list(self.dumpcap.statistics),
                             files_missed=self._files_missed,
                             isb=[{"interface": s.interface, **s.counters} for s in isb])

    def stop(self) -> None:
        """End the capture; what dumpcap captured until now is still read and handed over."""
        if self.dumpcap is not None:
            self.dumpcap.interrupt(delay_s=DELIVERY_S)
        else:
            self._stop.set()

    def close(self) -> None:
        self._stop.set()
        if self.dumpcap is not None:
            self.dumpcap.close()
        if self._tee is not None:
            self._tee.close()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    def __enter__(self) -> "LiveSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pump(self) -> None:
        """The reader thread: queue every batch, then an end mark."""
        try:
            if self.dumpcap is not None:
                self._follow_files(self.dumpcap)
            else:
                self._read_stream(PipeCursor(self._fd, self.info.path, self._stop, self._tee), self.info)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._queue.put(exc)
        finally:
            self._queue.put(_END)

    def _read_stream(self, cursor: Cursor, info: CaptureInfo, base: int = 0) -> None:
        """Queue the batches of one file (starting ``base`` bytes into the capture) or of the stream."""
        self._walked_to = base
        if cursor.ensure(4):
            self.started.set()
        if cursor.remaining and not is_pcapng(cursor.peek(4)):
            raise CaptureError(f"{info.path}: the live stream is not pcapng (starts with {cursor.peek(4).hex(' ')})")
        if cursor.remaining:
            for batch in read_pcapng(cursor, info, self._max_records):
                end = base + cursor.offset
                self._waiting.append(_Waiting(len(batch), end - self._walked_to, int(batch.ts_ns[0])))
                self._walked_to = end
                self._point = _ReadPoint(end, None, max(self._point.since_ns, int(batch.ts_ns[-1])))
                self._queue.put(batch)

    def _idle(self, cursor: FileCursor, base: int) -> None:
        """The reader took every byte of the file (starting ``base`` bytes into the capture) and waits."""
        self._point = _ReadPoint(base + cursor.offset, base + cursor.read_bytes, time.time_ns())

    def _follow_files(self, dumpcap: Dumpcap) -> None:
        """Each file dumpcap writes, read as it grows until dumpcap has moved on from it."""
        index = 0
        while (path := dumpcap.wait_file(index)) is not None:
            try:
                fh = open(path, "rb")
            except FileNotFoundError:
                self._files_missed += 1  # the ring replaced it before we got to it
                index += 1
                continue
            # Each file numbers its own interfaces (the same ones: dumpcap describes them again in
            # every file of a ring); frame numbers go on from the files before.
            file_info = CaptureInfo(path=path, file_format="pcapng", records=self.info.records)
            base = self._finished_bytes
            with fh:
                self._point = _ReadPoint(base, base, self._point.since_ns)
                self._current = (fh, base)
                done = index
                cursor = FileCursor(fh, path, done=lambda: dumpcap.file_done(done), stop=self._stop,
                                    idle=lambda: self._idle(cursor, base))
                self._read_stream(cursor, file_info, base)
                self._current = None
                self._finished_bytes += cursor.read_bytes
            self.info.records = file_info.records
            self.info.interfaces = self.info.interfaces or file_info.interfaces
            self.info.warnings.extend(file_info.warnings)
            self.info.stopped_early |= file_info.stopped_early
            self._last_file = path
            index += 1


class PipeCursor(Cursor):
    """A cursor over a pipe: each refill waits for data, then takes all the pipe holds.

    Every chunk read is also written to ``tee`` (if given), byte for byte, so the file is the
    stream that came in. ``stop`` (an Event) ends the input at the next wait.
    """

    def __init__(self, fd: int, label: str, stop: threading.Event, tee: BinaryIO | None = None) -> None:
        super().__init__(np.empty(0, dtype=np.uint8), None, label)
        self._fd = fd
        self._stop = stop
        self._tee = tee
        self.at_end = False

    def refill(self) -> bool:
        while not self.at_end and not self._stop.is_set():
            if select.select([self._fd], [], [], POLL_S)[0]:
                return self._read_available()
        return False

    def _read_available(self) -> bool:
        parts: list[bytes] = []
        size = 0
        while size < READ_CHUNK:
            part = os.read(self._fd, READ_CHUNK - size)
            if not part:
                self.at_end = True
                break
            parts.append(part)
            size += len(part)
            if not select.select([self._fd], [], [], 0)[0]:
                break
        if not parts:
            return False
        chunk = b"".join(parts)
        if self._tee is not None:
            self._tee.write(chunk)
        self.append(chunk)
        return True


def _check_directory(path: str) -> None:
    """Files can be created beside ``path``."""
    try:
        tempfile.TemporaryFile(dir=os.path.dirname(path) or ".").close()
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror}") from None


def _open_for_writing(path: str) -> BinaryIO:
    try:
        return open(path, "wb")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror}") from None
