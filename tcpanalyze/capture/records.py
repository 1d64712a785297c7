"""The unit the capture layer hands to the decoder: a batch of records over one byte buffer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD: a record claiming more is corrupt, not big.
MAX_RECORD_LEN = 262144


@dataclass(frozen=True)
class Interface:
    """One capture interface: pcap has one, pcapng one per Interface Description Block."""

    linktype: int
    snaplen: int
    name: str = ""
    units_per_second: int = 1_000_000
    ts_offset_s: int = 0
    section: int = 0


# Several files read as one capture: a record's position is its file's index shifted this
# far, plus its offset in that (decompressed) file.
FILE_SHIFT = 40


@dataclass
class RecordBatch:
    """Records read from a capture, as columns over the buffer that holds their bytes.

    ``buf[rec_off[i] : rec_off[i] + caplen[i]]`` is record i's packet data;
    ``stream_offset + rec_off[i]`` is where it sits in the (decompressed) capture stream, unless
    ``positions`` says where each record sits (records merged from several files).
    ``frame[i]`` is the record's 1-based position in the capture, as Wireshark numbers frames;
    the frames of a batch are consecutive.
    """

    buf: np.ndarray
    stream_offset: int
    rec_off: np.ndarray
    caplen: np.ndarray
    origlen: np.ndarray
    ts_ns: np.ndarray
    iface: np.ndarray
    linktype: np.ndarray
    frame: np.ndarray
    positions: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.rec_off.size)

    def stream_positions(self) -> np.ndarray:
        """Where each record's packet data sits: its offset in the (decompressed) file, or with
        several files ``file index << FILE_SHIFT | offset``."""
        if self.positions is not None:
            return self.positions
        return self.rec_off + np.int64(self.stream_offset)

    def buffer_offsets(self, frames: np.ndarray) -> np.ndarray:
        """Where the packet data of these frames (all in this batch) start in ``buf``."""
        return self.rec_off[frames - self.frame[0]]


@dataclass
class CaptureInfo:
    """What a reader learned about the file: format, interfaces, records, warnings."""

    path: str
    file_format: str = ""
    compressed: bool = False
    interfaces: list[Interface] = field(default_factory=list)
    records: int = 0
    warnings: list[str] = field(default_factory=list)
    stopped_early: bool = False  # reading stopped before the end of the file (damage, cut off)

    def stop(self, warning: str) -> None:
        """Reading stopped before the end of the file: say why."""
        self.warnings.append(warning)
        self.stopped_early = True
