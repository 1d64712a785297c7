"""Temporary files for what a pass over a capture gathers long before it is read: the session
records and the detectors' evidence of a big capture.

``ColumnSpill`` takes chunks of named columns (numpy arrays or pandas extension arrays) in
order and holds them in memory up to a budget; past it, every held chunk goes to a temporary
file, a column at a time, and so does each later one. ``pieces`` reads one column of every
chunk back, so whoever builds a frame from them holds one column of the capture (plus what it
builds), never every chunk at once. The file is removed when the spill is closed or let go.

>>> spill = ColumnSpill("session records'")
>>> for chunk in chunks: spill.add(chunk)
>>> ids = np.concatenate(spill.pieces("session_id"))
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import TcpanalyzeError

# Bytes of chunks a spill holds in memory before it writes them to its file.
SPILL_BYTES = 8 << 20


@contextlib.contextmanager
def temporary_files(what: str) -> Iterator[None]:
    """A temporary file that cannot be written (a full disk...) as one line saying where:
    ``what`` names it ("the RTT samples' temporary file")."""
    try:
        yield
    except OSError as exc:
        raise TcpanalyzeError(f"cannot write {what} in {tempfile.gettempdir()}: {exc.strerror or exc} "
                              "(TMPDIR chooses the directory)") from None


def remove_file(path: str) -> None:
    """Remove ``path`` if it is still there."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@dataclass(frozen=True)
class _Stored:
    """Where one column piece is in the file: its pickle, then its out-of-band buffers."""

    offset: int
    sizes: tuple[int, ...]  # the pickle's bytes, then each buffer's


class ColumnSpill:
    """Chunks of named columns, held in memory up to ``budget`` bytes and past it written to a
    temporary file (see the module docstring). ``what`` names the content in error messages."""

    def __init__(self, what: str, budget: int | None = None) -> None:
        self._what = what
        self._budget = SPILL_BYTES if budget is None else budget
        self._held: list[dict[str, object]] = []
        self._held_bytes = 0
        self._stored: list[dict[str, _Stored]] = []  # the chunks in the file, in order
        self._file = None
        self._remove: weakref.finalize | None = None
        self.rows = 0
        self.names: list[str] = []  # the columns, as the first chunk with rows had them
        self.dtypes: dict[str, object] = {}
        self.empty: dict[str, object] | None = None  # the last chunk without rows (its columns say the schema)

    @classmethod
    def held(cls, chunks: list[dict[str, object]]) -> ColumnSpill:
        """Chunks that stay in memory, read the same way."""
        spill = cls("", budget=-1)
        for chunk in chunks:
            spill.add(chunk)
        return spill

    @property
    def chunks(self) -> int:
        """How many chunks with rows were added."""
        return len(self._stored) + len(self._held)

    def add(self, chunk: dict[str, object]) -> None:
        """The next chunk: columns by name, all the same length, the same names every time."""
        rows = len(next(iter(chunk.values()))) if chunk else 0
        if not rows:
            self.empty = chunk
            return
        if not self.names:
            self.names, self.dtypes = list(chunk), {name: values.dtype for name, values in chunk.items()}
        self._held.append(chunk)
        self.rows += rows
        self._held_bytes += sum(values.nbytes for values in chunk.values())
        if 0 <= self._budget < self._held_bytes:
            self._write_held()

    def pieces(self, name: str, *, release: bool = True) -> list:
        """Column ``name`` of every chunk, in order. ``release`` lets the held chunks' pieces go
        (read each column once, then, or keep them with ``release=False``)."""
        pieces = [self._read(stored[name]) for stored in self._stored]
        pieces += [chunk.pop(name) if release else chunk[name] for chunk in self._held]
        return pieces

    def only_held(self) -> dict[str, object] | None:
        """The one chunk, when there is exactly one and it was never written out."""
        return self._held[0] if len(self._held) == 1 and not self._stored else None

    def close(self) -> None:
        """Let go of everything: the held chunks and the file."""
        self._held, self._held_bytes, self._stored = [], 0, []
        if self._file is not None:
            self._file.close()
            self._remove()
            self._file = None

    def _write_held(self) -> None:
        with temporary_files(f"the {self._what} temporary file"):
            if self._file is None:
                handle, path = tempfile.mkstemp(prefix="tcpanalyze-spill-")
                self._file = os.fdopen(handle, "w+b")
                self._remove = weakref.finalize(self, remove_file, path)
            for chunk in self._held:
                self._stored.append({name: self._write(values) for name, values in chunk.items()})
        self._held, self._held_bytes = [], 0

    def _write(self, values: object) -> _Stored:
        buffers: list[pickle.PickleBuffer] = []
        head = pickle.dumps(values, protocol=5, buffer_callback=buffers.append)
        offset = self._file.seek(0, os.SEEK_END)
        self._file.write(head)
        raws = [buffer.raw() for buffer in buffers]
        for raw in raws:  # numpy data written as it is, not copied into the pickle
            self._file.write(raw)
        return _Stored(offset, (len(head), *(raw.nbytes for raw in raws)))

    def _read(self, stored: _Stored) -> object:
        self._file.seek(stored.offset)
        parts = []
        for size in stored.sizes:
            part = bytearray(size)
            self._file.readinto(part)
            parts.append(part)
        return pickle.loads(parts[0], buffers=parts[1:])
