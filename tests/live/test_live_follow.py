"""Following dumpcap's files: the end of a growing file is read as it grows (a block cut in
two waits for its rest), the next file of a ring is read once dumpcap moves on to it, a file
the ring replaced before we got to it is counted as missed, and ``progress`` says how far the
batches handed out are behind what was written: nothing while every whole record written was
analysed (a file's header, or a block dumpcap is still writing, is not a packet waiting), and
the age of the oldest packet waiting, not the time since the last one analysed.

A stand-in for the dumpcap process announces the files and says when it moved on, so each
step happens exactly when the test says; the real dumpcap is in test_live_capture and
test_live_under_load."""

from __future__ import annotations

import threading
import time

from helpers import Rec, eth, ipv4, pcapng_bytes, tcp

from tcpanalyze.capture.live import CaptureProgress, LiveSource

HEADERS = len(pcapng_bytes([]))  # section header and interface description
# Long enough for the reader to take what was written (it looks every 50 ms).
SETTLE_S = 0.3
CAUGHT_UP = CaptureProgress(written=0, analysed=0, behind_bytes=0, unread_bytes=0, behind_s=0.0, files_missed=0)


class ScriptedDumpcap:
    """What LiveSource asks of dumpcap: the files it writes, in order, and when it is done with each."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.exited = False
        self.captured = 0
        self.statistics: list = []
        self._changed = threading.Condition()

    def announce(self, path: str) -> None:
        with self._changed:
            self.files.append(path)
            self._changed.notify_all()

    def exit(self) -> None:
        with self._changed:
            self.exited = True
            self._changed.notify_all()

    def wait_file(self, index: int) -> str | None:
        with self._changed:
            self._changed.wait_for(lambda: len(self.files) > index or self.exited)
            return self.files[index] if len(self.files) > index else None

    def file_done(self, index: int) -> bool:
        return len(self.files) > index + 1 or self.exited

    def interrupt(self, delay_s: float = 0.0) -> None:
        self.exit()

    def finish(self, records: int) -> list[str]:
        return []

    def close(self) -> None:
        self.exit()


def packets(first_port: int, n: int, age_s: float = 0.0) -> list[Rec]:
    """``n`` SYNs stamped ``age_s`` ago (the lag is measured against the clock)."""
    return [Rec(eth(ipv4("10.0.0.1", "10.0.0.2", tcp(first_port + k, 80, flags="S"))), time.time_ns() - int(age_s * 1e9))
            for k in range(n)]


def blocks(records: list[Rec]) -> bytes:
    """The packet blocks of ``records``, without the file's headers."""
    return pcapng_bytes(records)[HEADERS:]


def next_batch(batches):
    return next(b for b in batches if b is not None)


def read_by_now(source: LiveSource, packets_waiting: int) -> CaptureProgress:
    """The progress once the reader has queued ``packets_waiting`` packets (not handed out yet)."""
    deadline = time.monotonic() + 5
    while source.progress().behind_packets < packets_waiting and time.monotonic() < deadline:
        time.sleep(0.01)
    return source.progress()


def settled(source: LiveSource) -> CaptureProgress:
    """The progress after the reader had time to take everything written."""
    time.sleep(SETTLE_S)
    return source.progress()


def test_a_growing_file_then_the_next_of_the_ring_are_followed_and_the_lag_is_reported(tmp_path):
    dumpcap = ScriptedDumpcap()
    first, second = tmp_path / "ring_00001.pcapng", tmp_path / "ring_00003.pcapng"
    whole = pcapng_bytes(packets(1000, 3))
    cut = len(whole) - 20  # the third packet's block is cut in two
    first.write_bytes(whole[:cut])
    dumpcap.announce(str(first))
    with LiveSource(label="lo", dumpcap=dumpcap) as source:
        batches = source.batches(tick_s=0.02)
        assert len(next_batch(batches)) == 2
        assert source.started.is_set()
        # the third block is cut: dumpcap is still writing it, so no whole record waits
        assert settled(source) == CaptureProgress(2, 2, 0, 0, 0.0, 0)
        with first.open("ab") as out:
            out.write(whole[cut:])
        assert len(next_batch(batches)) == 1
        assert settled(source) == CaptureProgress(3, 3, 0, 0, 0.0, 0)

        later = blocks(packets(2000, 4))
        with first.open("ab") as out:
            out.write(later)
        waiting = read_by_now(source, 4)  # read, not handed out yet
        assert (waiting.written, waiting.analysed, waiting.behind_bytes, waiting.unread_bytes) == (7, 3, len(later), 0)
        assert 0.0 < waiting.behind_s < 5.0
        assert len(next_batch(batches)) == 4
        assert settled(source) == CaptureProgress(7, 7, 0, 0, 0.0, 0)

        # dumpcap moves on: ring file 2 was replaced before we opened it, file 3 is read.
        dumpcap.announce(str(tmp_path / "ring_00002.pcapng"))
        second.write_bytes(pcapng_bytes(packets(3000, 2)))
        dumpcap.announce(str(second))
        dumpcap.exit()
        batch = next_batch(batches)
        assert len(batch) == 2 and batch.frame.tolist() == [8, 9]  # frames go on across files
        assert list(batches) == []  # the capture ended
        assert source.info.records == 9
        assert source.progress().files_missed == 1
        assert source.losses().files_missed == 1


def test_nothing_is_behind_while_the_files_hold_no_packet(tmp_path):
    # A capture filter nothing matched yet: dumpcap's files hold their headers only.
    dumpcap = ScriptedDumpcap()
    first, second = tmp_path / "ring_00001.pcapng", tmp_path / "ring_00002.pcapng"
    first.write_bytes(pcapng_bytes([]))
    dumpcap.announce(str(first))
    with LiveSource(label="lo", dumpcap=dumpcap) as source:
        batches = source.batches(tick_s=0.02)
        assert next(batches) is None
        assert source.started.is_set()
        assert settled(source) == CAUGHT_UP
        # dumpcap moves on to the next file of the ring: its header is no packet either
        second.write_bytes(pcapng_bytes([]))
        dumpcap.announce(str(second))
        assert settled(source) == CAUGHT_UP
        with second.open("ab") as out:
            out.write(blocks(packets(1000, 1)))
        assert len(next_batch(batches)) == 1
        assert settled(source) == CaptureProgress(1, 1, 0, 0, 0.0, 0)


def test_a_packet_after_a_quiet_spell_is_behind_by_its_own_age(tmp_path):
    dumpcap = ScriptedDumpcap()
    path = tmp_path / "live.pcapng"
    path.write_bytes(pcapng_bytes(packets(1000, 1, age_s=30.0)))  # the last packet, 30 s ago
    dumpcap.announce(str(path))
    with LiveSource(label="lo", dumpcap=dumpcap) as source:
        batches = source.batches(tick_s=0.02)
        assert len(next_batch(batches)) == 1
        with path.open("ab") as out:
            out.write(blocks(packets(2000, 1)))  # a packet now
        waiting = read_by_now(source, 1)
        assert (waiting.written, waiting.analysed) == (2, 1)
        assert 0.0 < waiting.behind_s < 5.0  # its own age, not the 30 s since the packet before
        assert len(next_batch(batches)) == 1
        assert settled(source) == CaptureProgress(2, 2, 0, 0, 0.0, 0)
