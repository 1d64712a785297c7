"""How kernels run: compiled by numba, or as plain Python for tiny captures.

Kernels are plain Python functions over numpy arrays, decorated with ``kernel`` (numba's
``njit(cache=True)``; options pass through: ``@kernel(inline="always")``). A kernel called
from Python declares the argument types it takes (``signature="(readonly(uint8[::1]), int64)"``):
it is compiled for exactly those, whatever capture it reads, and an argument of another type
is an error instead of a silent recompilation. Helpers called only from other kernels take
their callers' types and need no signature.

Every kernel is compiled once per machine, all together, the first time any command runs
(``compile_all``, announced on stderr; about a minute), and loaded from numba's cache after
that: no later command compiles anything. Importing a kernel module does not import numba.

Importing numba and loading its cached machine code costs about 0.7 s of CPU time per
process, longer than a capture of a couple of thousand packets takes in plain Python. So
inside a ``plain_python_for(size)`` block with a small enough input, kernels run as the Python
functions they are written as, and numba is never imported. Both ways give the same results
(``tests/test_jit.py`` compares them on every sample and corpus capture that takes this path).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.metadata
import os
import platform
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# Inputs up to this size (bytes on disk) run as plain Python while no kernel has been
# compiled yet in the process. Measured (CPU time, loaded 2-core machine): plain Python costs
# about 0.2 ms per packet; numba's import and cache loading about 0.7-1 s; a 223 KB capture of
# 2,195 packets took 1.4 s plain against 2.6 s compiled.
PLAIN_PYTHON_MAX_BYTES = 256 << 10

# Every module that defines a kernel with a signature: ``compile_all`` imports them all.
KERNEL_MODULES = ("tcpanalyze.capture.kernels", "tcpanalyze.decode.kernels", "tcpanalyze.decode.parallel",
                  "tcpanalyze.flows", "tcpanalyze.engine.kernels", "tcpanalyze.engine.zeek",
                  "tcpanalyze.reassembly.kernels", "tcpanalyze.frames")

# "compiled": some kernel has been compiled or loaded in this process;
# "ready": every kernel is known to be in numba's cache (checked once per process).
_state: dict = {"compiled": False, "ready": False}
# Per thread, the stack of modes chosen by enclosing blocks (True: plain Python): a thread that
# runs kernels beside another (live capture's reader, the Zeek kernel) does not take the other
# one's block for its own, nor see it end half-way through a kernel.
_threads = threading.local()
# Kernels with a signature, in definition order (they register themselves).
_entry_points: list[Kernel] = []

class Kernel:
    """A kernel: call it like the function it wraps; compiled on the first compiled call."""

    def __init__(self, func, options: dict, signature: str | None = None) -> None:
        functools.update_wrapper(self, func)
        self.py_func = func
        # numba's inlining pass reads "inline" from here when another kernel calls this one.
        self.targetoptions = options
        self.signature = signature
        self._dispatcher = None
        if signature is not None:
            _entry_points.append(self)

    @property
    def dispatcher(self):
        """The numba dispatcher (numba is imported on first use). A kernel with a signature is
        compiled (or loaded from the cache) for it here, and for nothing else afterwards."""
        if self._dispatcher is None:
            from numba import njit

            if self.signature is None:
                self._dispatcher = njit(cache=True, **self.targetoptions)(self.py_func)
            else:
                self._dispatcher = njit([_parse_signature(self.signature)], cache=True,
                                        **self.targetoptions)(self.py_func)
        return self._dispatcher

    @property
    def _numba_type_(self):
        # numba compiling a kernel that calls this one sees the dispatcher, as with plain njit.
        from numba import types

        return types.Dispatcher(self.dispatcher)

    def __call__(self, *args):
        if running_plain():
            return self.py_func(*args)
        if self.signature is None:
            raise TypeError(f"kernel {self.__qualname__} is called from Python but declares no signature")
        ensure_compiled()  # whatever path got here (live capture, a forced mode): all kernels at once
        _state["compiled"] = True
        return self.dispatcher(*args)


def kernel(func=None, *, signature: str | None = None, **options):
    """Decorator: ``@kernel``, ``@kernel(signature="(int64[::1], boolean)")`` for a kernel called
    from Python, ``@kernel(inline="always")`` (other options go to ``numba.njit``).

    A signature is numba's argument-type syntax (``uint8[::1]`` contiguous, ``uint8[:]`` any
    layout, ``uint32[:, ::1]`` a row-major matrix) plus ``readonly(...)`` for arrays the kernel
    only reads: those accept read-only and writable arrays alike (a memory-mapped file, a
    pandas column).
    """
    if func is None:
        return lambda f: Kernel(f, options, signature)
    return Kernel(func, options, signature)


def _parse_signature(text: str):
    from numba.core import types

    def readonly(array_type):
        return array_type.copy(readonly=True)

    names = {**vars(types), "readonly": readonly}
    return eval(text, {"__builtins__": {}}, names)  # noqa: S307 (our own literal, numba's type names)


def compile_all() -> dict:
    """Compile every kernel (or load it from numba's cache) now; returns what it did:
    ``{"kernels": n, "compiled": k, "seconds": s}``. On a terminal, a spinner shows the progress."""
    for name in KERNEL_MODULES:
        importlib.import_module(name)
    started = time.monotonic()
    with _CompileStatus(len(_entry_points)) as status:
        compiled = 0
        for i, entry in enumerate(_entry_points):
            status.update(i, entry.__qualname__)
            compiled += bool(sum(entry.dispatcher.stats.cache_misses.values()))
    _state["compiled"] = True
    return {"kernels": len(_entry_points), "compiled": compiled, "seconds": time.monotonic() - started}


def ensure_compiled() -> None:
    """On this machine's first run (no stamp for these kernels in the cache), compile them all now,
    saying so on stderr, so that no later command compiles anything."""
    if _state["ready"]:
        return
    stamp = _stamp_path()
    fingerprint = _fingerprint()
    if not _stamp_matches(stamp, fingerprint):
        with _locked(stamp):
            if not _stamp_matches(stamp, fingerprint):  # another process may have just done it
                print("tcpanalyze: compiling analysis kernels, first run only (about a minute)...",
                      file=sys.stderr, flush=True)
                done = compile_all()
                _write_stamp(stamp, fingerprint)
                print(f"tcpanalyze: {done['kernels']} kernels ready in {done['seconds']:.1f} s "
                      f"({done['compiled']} compiled, the rest loaded from the cache)", file=sys.stderr, flush=True)
    _state["ready"] = True


def load_if_compiled() -> bool:
    """Load every kernel from the cache if this machine has compiled them (never compiles):
    what a process that will fork workers does, so that each worker starts with them loaded."""
    if not _stamp_matches(_stamp_path(), _fingerprint()):
        return False
    compile_all()
    _state["ready"] = True
    return True


def _fingerprint() -> str:
    """What the cached machine code depends on: the kernels' sources, numba, Python, the CPU."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for name in KERNEL_MODULES:
        digest.update((package.parent / (name.replace(".", "/") + ".py")).read_bytes())
    for part in (importlib.metadata.version("numba"), sys.version, platform.machine(),
                 os.environ.get("NUMBA_BOUNDSCHECK", "")):
        digest.update(part.encode())
    return digest.hexdigest()


def _stamp_path() -> Path:
    """Where the "all kernels compiled" stamp lives: beside numba's cache for our modules."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"]) / "tcpanalyze-kernels.stamp"
    in_tree = Path(__file__).resolve().parent / "__pycache__"
    if os.access(in_tree if in_tree.is_dir() else in_tree.parent, os.W_OK):
        return in_tree / "tcpanalyze-kernels.stamp"
    return Path.home() / ".cache" / "tcpanalyze" / "kernels.stamp"


def _stamp_matches(stamp: Path, fingerprint: str) -> bool:
    try:
        return stamp.read_text() == fingerprint
    except OSError:
        return False


def _write_stamp(stamp: Path, fingerprint: str) -> None:
    try:
        partial = stamp.with_suffix(f".{os.getpid()}")
        partial.write_text(fingerprint)
        partial.replace(stamp)
    except OSError:
        pass  # an unwritable cache: numba falls back to its own, and the next run checks again


@contextlib.contextmanager
def _locked(stamp: Path) -> Iterator[None]:
    """One process at a time compiles (the others then find the stamp and load the cache)."""
    try:
        import fcntl

        stamp.parent.mkdir(parents=True, exist_ok=True)
        handle = open(stamp.with_suffix(".lock"), "w")
    except (ImportError, OSError):
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class _CompileStatus:
    """On a terminal, a spinner on stderr with the kernel being compiled and the time so far."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._bar = None

    def __enter__(self) -> "_CompileStatus":
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(SpinnerColumn(), TextColumn("compiling kernels"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total} {task.fields[name]}"), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=True)
            self._task = self._bar.add_task("compiling", total=self.total, name="")
            self._bar.start()
        return self

    def update(self, done: int, name: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, name=name)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


@contextlib.contextmanager
def mode(plain: bool) -> Iterator[None]:
    """Run kernels as plain Python (``plain=True``) or compiled inside this block, whatever
    ``plain_python_for`` blocks inside it would choose."""
    _modes().append(plain)
    try:
        # Integer kernels wrap around on purpose; numpy scalars warn about it, numba does not.
        with np.errstate(over="ignore") if plain else contextlib.nullcontext():
            yield
    finally:
        _modes().pop()


def plain_python_for(size_bytes: int | None) -> contextlib.AbstractContextManager[None]:
    """A block running kernels as plain Python if that is the faster way for an input of
    ``size_bytes`` (None: unknown): the input is small and no kernel is compiled yet in this
    process. Inside a ``mode`` block, that block's choice stands."""
    if _modes():
        return contextlib.nullcontext()
    ensure_compiled()
    return mode(size_bytes is not None and size_bytes <= PLAIN_PYTHON_MAX_BYTES and not _state["compiled"])


def running_plain() -> bool:
    """True while kernels run as plain Python."""
    modes = _modes()
    return bool(modes) and modes[-1]


def _modes() -> list[bool]:
    """This thread's stack of modes."""
    if not hasattr(_threads, "modes"):
        _threads.modes = []
    return _threads.modes
