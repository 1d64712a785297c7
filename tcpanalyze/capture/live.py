"""Live capture: Wireshark's dumpcap writes pcapng to a pipe, and we read it as it arrives.

``Dumpcap`` runs dumpcap on an interface (``dumpcap -i IFACE -w - -n``); ``LiveSource``
reads any pcapng stream on a file descriptor (dumpcap's pipe, or standard input) with the
same compiled walker as files. A reader thread takes whatever bytes the pipe holds, hands
over every complete block as a record batch and keeps the partial tail for the next read,
so a batch follows each burst of traffic; the consumer gets ``None`` when nothing arrived
for a while, to do its periodic work.

>>> with LiveSource.capture("lo", bpf="tcp port 80", duration_s=10) as source:
...     for batch in source.batches():
...         ...   # a RecordBatch, or None after a quiet tick
"""

from __future__ import annotations

import fcntl
import os
import queue
import re
import select
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from ..errors import CaptureError, TcpanalyzeError, UsageError
from .pcapng import is_pcapng, read_pcapng
from .reader import BATCH_RECORDS
from .records import CaptureInfo, RecordBatch
from .sources import Cursor

INSTALL_HINT = "install Wireshark's command-line tools (Debian/Ubuntu: apt-get install tshark) or put dumpcap on PATH"
PERMISSION_HINT = ("run as root, or let dumpcap capture: sudo setcap cap_net_raw,cap_net_admin=eip "
                   "$(command -v dumpcap) (Debian: sudo dpkg-reconfigure wireshark-common, then join the wireshark group)")
# Most bytes taken from the pipe per read: under load a batch covers many blocks, when
# traffic trickles each burst becomes its own small batch.
READ_CHUNK = 4 << 20
# Pipe buffer asked for dumpcap's output (Linux's default limit for unprivileged users).
PIPE_BYTES = 1 << 20
# How often a waiting reader looks at the stop flag, and how long the consumer waits for a
# batch before it gets a quiet tick.
POLL_S = 0.2
# libpcap hands packets to dumpcap in blocks, at the latest after dumpcap's 250 ms read
# timeout; dumpcap stopped sooner drops the packets of the block not yet handed over.
DELIVERY_S = 0.5
# Batches waiting for the consumer; a full queue stops reading, and the pipe (then
# dumpcap's own buffer) absorbs the backlog.
QUEUE_BATCHES = 8
_END = object()


def find_dumpcap() -> str:
    """Path of dumpcap, found the way pyshark finds Wireshark's tools (its config.ini, then PATH)."""
    from pyshark.tshark.tshark import TSharkNotFoundException, get_process_path

    try:
        return get_process_path(process_name="dumpcap")
    except TSharkNotFoundException:
        raise CaptureError(f"dumpcap not found: {INSTALL_HINT}") from None


@dataclass(frozen=True)
class CaptureInterface:
    """One interface dumpcap can capture on (``dumpcap -D -M``)."""

    index: int
    name: str
    description: str
    addresses: tuple[str, ...]
    loopback: bool


def list_interfaces() -> list[CaptureInterface]:
    """The interfaces dumpcap can capture on, with descriptions and addresses.

    pyshark's ``get_tshark_interfaces`` runs ``tshark -D``, which also lists extcap sources
    dumpcap cannot open and gives names only; dumpcap's machine-readable list says more.
    """
    result = subprocess.run([find_dumpcap(), "-D", "-M"], capture_output=True, text=True, errors="replace")
    if result.returncode != 0:
        raise dumpcap_failure(result.stderr, "")
    interfaces = []
    for line in result.stdout.splitlines():
        # "N. name<TAB>vendor description<TAB>friendly name<TAB>type<TAB>addr,addr<TAB>loopback|network..."
        fields = line.split("\t")
        number, _, name = fields[0].partition(". ")
        if not number.isdigit() or len(fields) < 6:
            continue
        interfaces.append(CaptureInterface(
            index=int(number), name=name, description=fields[2] or fields[1],
            addresses=tuple(a for a in fields[4].split(",") if a), loopback=fields[5] == "loopback"))
    return interfaces


class Dumpcap:
    """A running ``dumpcap -i IFACE -w - -n``: pcapng on the pipe ``fd``, messages kept for errors.

    dumpcap runs in its own session, so a Ctrl-C reaches only us: ``interrupt`` then asks it
    to finish (SIGINT), and every packet it captured is still read from the pipe.
    """

    def __init__(self, interface: str, *, bpf: str | None = None, duration_s: float | None = None,
                 count: int | None = None) -> None:
        self.interface = interface
        self.bpf = bpf
        command = [find_dumpcap(), "-i", interface, "-w", "-", "-n", "-q"]
        if bpf:
            command += ["-f", bpf]
        if duration_s is not None:
            command += ["-a", f"duration:{duration_s:g}"]
        if count is not None:
            command += ["-c", str(count)]
        self._messages = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._messages,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        try:  # room for a burst while we are busy (the first batch waits for numba to load)
            fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass  # the system's pipe-max-size is lower: the default pipe still works

    @property
    def fd(self) -> int:
        return self.process.stdout.fileno()

    def interrupt(self, delay_s: float = 0.0) -> None:
        """Ask dumpcap to stop capturing (in ``delay_s``); it writes what it has and exits."""
        if delay_s > 0:
            timer = threading.Timer(delay_s, self.interrupt)
            timer.daemon = True
            timer.start()
        elif self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def finish(self, records: int) -> list[str]:
        """Wait for dumpcap to exit; its failure raised (or, after ``records`` were read, a warning)."""
        code = self.process.wait()
        self._messages.seek(0)
        stderr = self._messages.read().decode("utf-8", "replace")
        warnings = []
        # dumpcap exits 0 when stopped by a signal, a duration or a count; anything else failed.
        if code != 0:
            failure = dumpcap_failure(stderr, self.interface, self.bpf)
            if records == 0:
                raise failure
            warnings.append(f"{self.interface}: capture ended early: {failure}")
        for name, received, dropped in _DROPS.findall(stderr):
            if int(dropped):
                warnings.append(f"{name}: dumpcap dropped {dropped} of {received} packets "
                                f"(they are missing from the analysis and the written file)")
        return warnings

    def close(self) -> None:
        self.interrupt()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self._messages.close()


def dumpcap_failure(stderr: str, interface: str, bpf: str | None = None) -> TcpanalyzeError:
    """dumpcap's complaint as an error whose one line says what is wrong and how to fix it."""
    if "There is no device named" in stderr or "There is no interface with that" in stderr \
            or "No such device" in stderr:
        return CaptureError(f"unknown interface {interface!r}: `tcpanalyze interfaces` lists the ones "
                            f"that can be captured")
    if "permission" in stderr.lower() or "Operation not permitted" in stderr:
        return CaptureError(f"no permission to capture on {interface!r}: {PERMISSION_HINT}")
    if "Invalid capture filter" in stderr:
        reason = re.search(r"isn't a valid capture filter \((.+)\)", stderr)
        return UsageError(f"invalid capture filter {bpf!r}: {reason.group(1) if reason else 'syntax error'} "
                          f"(the syntax is in `man pcap-filter`)")
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip() and not line.startswith(("Capturing on", "File:"))]
    return CaptureError(f"dumpcap failed: {lines[0] if lines else 'no message'}")


_DROPS = re.compile(r"Packets received/dropped on interface '(.*?)': (\d+)/(\d+)")


class PipeCursor(Cursor):
    """A cursor over a pipe: each refill waits for data, then takes all the pipe holds.

    Every chunk read is also written to ``tee`` (if given), byte for byte, so the file is the
    stream dumpcap produced. ``stop`` (an Event) ends the input at the next wait.
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


class LiveSource:
    """A pcapng stream arriving on a file descriptor, read as record batches as it comes.

    With ``dumpcap`` (a running :class:`Dumpcap`), the stream is its pipe and its exit status
    and messages become errors and warnings when the stream ends. ``info`` counts records
    and collects warnings as for a file; ``write_path`` keeps a copy of the stream.
    """

    def __init__(self, fd: int, *, label: str, dumpcap: Dumpcap | None = None, write_path: str | None = None,
                 max_records: int = BATCH_RECORDS) -> None:
        self.info = CaptureInfo(path=label, file_format="pcapng")
        self.dumpcap = dumpcap
        # Set when the stream's first bytes arrive: dumpcap writes its header once the
        # interface is open, so from then on every packet on the wire is captured.
        self.started = threading.Event()
        self._stop = threading.Event()
        self._tee = _open_tee(write_path) if write_path else None
        self._cursor = PipeCursor(fd, label, self._stop, self._tee)
        self._max_records = max_records
        self._queue: queue.Queue = queue.Queue(QUEUE_BATCHES)
        self._thread = threading.Thread(target=self._pump, name="tcpanalyze-live-reader", daemon=True)

    @classmethod
    def capture(cls, interface: str, *, bpf: str | None = None, duration_s: float | None = None,
                count: int | None = None, write_path: str | None = None) -> "LiveSource":
        """Capture on ``interface`` with dumpcap (stopping after ``duration_s`` or ``count`` packets)."""
        dumpcap = Dumpcap(interface, bpf=bpf, duration_s=duration_s, count=count)
        try:
            return cls(dumpcap.fd, label=interface, dumpcap=dumpcap, write_path=write_path)
        except BaseException:
            dumpcap.close()
            raise

    def batches(self, tick_s: float = POLL_S) -> Iterator[RecordBatch | None]:
        """Record batches as data arrives; ``None`` after ``tick_s`` without any. Ends with the stream."""
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
            yield item
        self._thread.join()
        if self.dumpcap is not None:
            self.info.warnings.extend(self.dumpcap.finish(self.info.records))

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

    def __enter__(self) -> "LiveSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pump(self) -> None:
        """The reader thread: walk the stream and queue its batches, then an end mark."""
        try:
            cursor = self._cursor
            if cursor.ensure(4):
                self.started.set()
            if cursor.remaining and not is_pcapng(cursor.peek(4)):
                raise CaptureError(f"{self.info.path}: the live stream is not pcapng "
                                   f"(starts with {cursor.peek(4).hex(' ')})")
            if cursor.remaining:
                for batch in read_pcapng(cursor, self.info, self._max_records):
                    self._queue.put(batch)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._queue.put(exc)
        finally:
            self._queue.put(_END)


def _open_tee(path: str) -> BinaryIO:
    try:
        return open(path, "wb")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror}") from None
