"""Wireshark's dumpcap: finding it, listing interfaces, running a capture into files, and what
it says about the capture.

``Dumpcap`` runs ``dumpcap -i IFACE -w PATH -n -q -B MIB`` (with ``-b`` for a ring buffer). It
writes its own files and never waits for us; its messages tell which file it writes now
(``File: PATH``) and, when it stops, how many packets it wrote and what the kernel dropped
(:class:`DumpcapStatistics`). Its running count (``Packets: N``, left out with ``-q``) is not
asked for: it trails the file (measured: "Packets: 6156" while 6311 records were in the file),
so the packets written are counted by reading the file.

>>> dumpcap = Dumpcap("lo", "/tmp/x.pcapng", bpf="tcp port 80")
>>> dumpcap.wait_file(0)         # the first file, once dumpcap has opened it
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
from dataclasses import dataclass

from ..errors import CaptureError, TcpanalyzeError, UsageError

INSTALL_HINT = "install Wireshark's command-line tools (Debian/Ubuntu: apt-get install tshark) or put dumpcap on PATH"
PERMISSION_HINT = ("run as root, or let dumpcap capture: sudo setcap cap_net_raw,cap_net_admin=eip "
                   "$(command -v dumpcap) (Debian: sudo dpkg-reconfigure wireshark-common, then join the wireshark group)")
# The kernel buffer asked for (dumpcap -B, MiB; dumpcap's default is 2): room for several
# seconds of a busy link while dumpcap itself is not scheduled.
BUFFER_MIB = 64
# libpcap hands packets to dumpcap in blocks, at the latest after dumpcap's 250 ms read
# timeout; dumpcap stopped sooner drops the packets of the block not yet handed over (and a
# machine busy on every core may not run dumpcap for a few hundred ms more).
DELIVERY_S = 1.0

_PACKETS = re.compile(r"Packets captured: \d+")
_FILE = re.compile(r"^File: (.+)$")
_DROPS = re.compile(r"Packets received/dropped on interface '(.*?)': (\d+)/(\d+) "
                    r"\(pcap:(\d+)/dumpcap:(\d+)/flushed:(\d+)/ps_ifdrop:(\d+)\)")


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


@dataclass(frozen=True)
class DumpcapStatistics:
    """What dumpcap reports for an interface when it stops (its "Packets received/dropped" line).

    On Linux the kernel counts, for the capture's socket, the packets that passed the capture
    filter and those of them it dropped because the buffer was full; dumpcap's "received" is
    the packets it got and wrote, so the packets that passed the filter are ``captured +
    kernel_dropped`` (measured: dumpcap at nice 19 with -B 1 under load said
    ``87/5555 (pcap:5555/...)`` and its file's ISB said isb_ifrecv 87, isb_ifdrop 5555).
    """

    interface: str
    captured: int           # packets dumpcap received and wrote
    kernel_dropped: int     # passed the filter, dropped by the kernel: the capture buffer was full (libpcap ps_drop)
    dumpcap_dropped: int    # dropped inside dumpcap (its own buffers full)
    flushed: int            # left in dumpcap's buffers when it stopped
    interface_dropped: int  # dropped by the interface or driver, before any filter (libpcap ps_ifdrop)

    @property
    def matched(self) -> int:
        """Packets that passed the capture filter: written or dropped."""
        return self.captured + self.kernel_dropped + self.dumpcap_dropped + self.flushed

    @property
    def dropped(self) -> int:
        """Packets that passed the filter and are not in the capture."""
        return self.matched - self.captured

    @classmethod
    def parse(cls, line: str) -> "DumpcapStatistics | None":
        found = _DROPS.search(line)
        if found is None:
            return None
        name, received, _total_dropped, pcap, own, flushed, ifdrop = found.groups()
        return cls(name, int(received), int(pcap), int(own), int(flushed), int(ifdrop))


class Dumpcap:
    """A running dumpcap writing pcapng to ``path`` (``ring=(files, file_kb)``: a ring buffer of
    files named after ``path``), its messages read as they come.

    dumpcap runs in its own session, so a Ctrl-C reaches only us: ``interrupt`` then asks it
    to finish (SIGINT), and it closes its file with the interface statistics.
    """

    def __init__(self, interface: str, path: str, *, bpf: str | None = None, duration_s: float | None = None,
                 count: int | None = None, buffer_mib: int = BUFFER_MIB, ring: tuple[int, int] | None = None) -> None:
        self.interface = interface
        self.bpf = bpf
        command = [find_dumpcap(), "-i", interface, "-w", path, "-n", "-q", "-B", str(buffer_mib)]
        if ring is not None:
            command += ["-b", f"files:{ring[0]}", "-b", f"filesize:{ring[1]}"]
        if bpf:
            command += ["-f", bpf]
        if duration_s is not None:
            command += ["-a", f"duration:{duration_s:g}"]
        if count is not None:
            command += ["-c", str(count)]
        self.files: list[str] = []
        self.statistics: list[DumpcapStatistics] = []
        self._messages: list[str] = []
        self._exited = False
        self._changed = threading.Condition()
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        self._reader = threading.Thread(target=self._read_messages, name="tcpanalyze-dumpcap-messages", daemon=True)
        self._reader.start()

    def wait_file(self, index: int) -> str | None:
        """The path of the ``index``-th file dumpcap writes, once it has opened it; None if it
        exited before."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.files) > index or self._exited)
            return self.files[index] if len(self.files) > index else None

    def file_done(self, index: int) -> bool:
        """dumpcap has finished the ``index``-th file: it moved on to the next, or exited."""
        with self._changed:
            return len(self.files) > index + 1 or self._exited

    def interrupt(self, delay_s: float = 0.0) -> None:
        """Ask dumpcap to stop capturing (in ``delay_s``); it closes its file and exits."""
        if delay_s > 0:
            timer = threading.Timer(delay_s, self.interrupt)
            timer.daemon = True
            timer.start()
        elif self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def finish(self, records: int) -> list[str]:
        """Wait for dumpcap to exit; its failure raised (or, after ``records`` were read, a warning)."""
        code = self.process.wait()
        self._reader.join()
        # dumpcap exits 0 when stopped by a signal, a duration or a count; anything else failed.
        if code == 0:
            return []
        failure = dumpcap_failure("\n".join(self._messages), self.interface, self.bpf)
        if records == 0:
            raise failure
        return [f"{self.interface}: capture ended early: {failure}"]

    def close(self) -> None:
        self.interrupt()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)

    def _read_messages(self) -> None:
        """dumpcap's stderr, cut at carriage returns too (its final count starts with one)."""
        pending = b""
        stream = self.process.stderr
        while chunk := stream.read1(65536):
            *lines, pending = re.split(rb"[\r\n]", pending + chunk)
            for line in lines:
                self._message(line.decode("utf-8", "replace"))
        self._message(pending.decode("utf-8", "replace"))
        stream.close()
        with self._changed:
            self._exited = True
            self._changed.notify_all()

    def _message(self, line: str) -> None:
        with self._changed:
            if file := _FILE.search(line):
                self.files.append(file.group(1))
            elif statistics := DumpcapStatistics.parse(line):
                self.statistics.append(statistics)
            elif line.strip() and not _PACKETS.match(line):
                self._messages.append(line)
            self._changed.notify_all()


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
