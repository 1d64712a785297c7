"""What the live tests share: a loopback TCP exchange with known byte counts, running
``tcpanalyze live`` as a subprocess and reading its JSON events, a check that dumpcap can
capture here at all, busy loops on every core, and the Interface Statistics Blocks of a
pcapng file read independently of the code under test."""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import REPO_ROOT


def require_loopback_capture() -> None:
    """Skip unless dumpcap is installed and may capture on ``lo`` (root or capabilities)."""
    dumpcap = shutil.which("dumpcap")
    if dumpcap is None:
        pytest.skip("dumpcap is not installed (apt-get install tshark)")
    result = subprocess.run([dumpcap, "-i", "lo", "-a", "duration:1", "-w", "/dev/null", "-q"],
                            capture_output=True, text=True, timeout=20)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.startswith("dumpcap:")]
        pytest.skip(f"dumpcap cannot capture on lo here: {lines[0] if lines else result.stderr.strip()}")


@dataclass
class Connection:
    """One client connection as the programs saw it."""

    client_port: int
    sent: int      # client -> server bytes
    received: int  # server -> client bytes


def listening_socket() -> socket.socket:
    """A TCP server socket on a free loopback port (the kernel picks it)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    return server


def exchange(server: socket.socket, transfers: list[tuple[int, int]]) -> list[Connection]:
    """For each (upload, download) size, one connection: the client sends ``upload`` bytes and
    half-closes, the server reads to the end, answers ``download`` bytes and closes."""
    served: list[int] = []

    def serve() -> None:
        for _, download in transfers:
            conn, _ = server.accept()
            with conn:
                total = 0
                while chunk := conn.recv(65536):
                    total += len(chunk)
                served.append(total)
                conn.sendall(b"r" * download)

    thread = threading.Thread(target=serve)
    thread.start()
    connections = []
    for upload, _ in transfers:
        with socket.create_connection(server.getsockname()) as client:
            port = client.getsockname()[1]
            client.sendall(b"q" * upload)
            client.shutdown(socket.SHUT_WR)
            received = 0
            while chunk := client.recv(65536):
                received += len(chunk)
        connections.append(Connection(port, upload, received))
    thread.join(timeout=30)
    assert served == [upload for upload, _ in transfers]
    return connections


class LiveRun:
    """``tcpanalyze live ...`` in a subprocess, its JSON events collected as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, stdin: int | None = None) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tcpanalyze", "live", *args], cwd=str(REPO_ROOT),
                                        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env={**os.environ, **(env or {})})
        self.events: list[dict] = []
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, event: str | tuple[str, ...], timeout: float = 60,
                 where: Callable[[dict], bool] = lambda e: True) -> dict:
        """The first event of this kind (or kinds) that is ``where``, collecting the ones before it."""
        kinds = (event,) if isinstance(event, str) else event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.events.append(json.loads(line))
            if self.events[-1]["event"] in kinds and where(self.events[-1]):
                return self.events[-1]
        raise AssertionError(f"no {event!r} event; stderr: {self.process.stderr.read() if self.process.poll() is not None else ''}")

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for the exit; (exit code, stderr). Every event is in ``events`` afterwards."""
        code = self.process.wait(timeout=timeout)
        while (line := self._lines.get(timeout=timeout)) is not None:
            self.events.append(json.loads(line))
        return code, self.process.stderr.read()

    def of_kind(self, event: str) -> list[dict]:
        return [e for e in self.events if e["event"] == event]


def isb_counters(path) -> list[dict[str, int]]:
    """The Interface Statistics Blocks of a pcapng file, read front to back (a walk of our own,
    not the one under test): isb_ifrecv (option 4) and isb_ifdrop (option 5) of each."""
    data = Path(path).read_bytes()
    found, pos = [], 0
    while pos + 12 <= len(data):
        block_type, length = struct.unpack_from("<II", data, pos)
        if block_type == 5:
            counters, opt = {}, pos + 20
            while opt + 4 <= pos + length - 4:
                code, size = struct.unpack_from("<HH", data, opt)
                if code == 0:
                    break
                if code in (4, 5):
                    counters[{4: "isb_ifrecv", 5: "isb_ifdrop"}[code]] = struct.unpack_from("<Q", data, opt + 4)[0]
                opt += 4 + (size + 3) // 4 * 4
            found.append(counters)
        pos += length
    return found


class CpuHogs:
    """One busy-looping process per core while in use: the machine has no idle CPU."""

    def __enter__(self) -> "CpuHogs":
        self._hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
        return self

    def __exit__(self, *exc: object) -> None:
        for hog in self._hogs:
            hog.kill()
            hog.wait()
