"""How kernels run: compiled by numba, or as plain Python for tiny captures.

Kernels are plain Python functions over numpy arrays, decorated with ``kernel`` (numba's
``njit(cache=True)``; options pass through: ``@kernel(inline="always")``). They are compiled
(or loaded from numba's cache) on their first call, so importing a kernel module does not
import numba.

Importing numba and loading its cached machine code costs about 0.7 s of CPU time per
process, longer than a capture of a couple of thousand packets takes in plain Python. So
inside a ``plain_python_for(size)`` block with a small enough input, kernels run as the Python
functions they are written as, and numba is never imported. Both ways give the same results
(``tests/test_jit.py`` compares them on every sample and corpus capture that takes this path).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import numpy as np

# Inputs up to this size (bytes on disk) run as plain Python while no kernel has been
# compiled yet in the process. Measured (CPU time, loaded 2-core machine): plain Python costs
# about 0.2 ms per packet; numba's import and cache loading about 0.7-1 s; a 223 KB capture of
# 2,195 packets took 1.4 s plain against 2.6 s compiled.
PLAIN_PYTHON_MAX_BYTES = 256 << 10

# "modes": the stack of modes chosen by enclosing blocks (True: plain Python);
# "compiled": some kernel has been compiled or loaded in this process.
_state: dict = {"modes": [], "compiled": False}


class Kernel:
    """A kernel: call it like the function it wraps; compiled on the first compiled call."""

    def __init__(self, func, options: dict) -> None:
        functools.update_wrapper(self, func)
        self.py_func = func
        # numba's inlining pass reads "inline" from here when another kernel calls this one.
        self.targetoptions = options
        self._dispatcher = None

    @property
    def dispatcher(self):
        """The numba dispatcher (numba is imported on first use)."""
        if self._dispatcher is None:
            from numba import njit

            self._dispatcher = njit(cache=True, **self.targetoptions)(self.py_func)
        return self._dispatcher

    @property
    def _numba_type_(self):
        # numba compiling a kernel that calls this one sees the dispatcher, as with plain njit.
        from numba import types

        return types.Dispatcher(self.dispatcher)

    def __call__(self, *args):
        if running_plain():
            return self.py_func(*args)
        _state["compiled"] = True
        return self.dispatcher(*args)


def kernel(func=None, **options):
    """Decorator: ``@kernel`` or ``@kernel(inline="always")`` (options go to ``numba.njit``)."""
    if func is None:
        return lambda f: Kernel(f, options)
    return Kernel(func, options)


@contextlib.contextmanager
def mode(plain: bool) -> Iterator[None]:
    """Run kernels as plain Python (``plain=True``) or compiled inside this block, whatever
    ``plain_python_for`` blocks inside it would choose."""
    _state["modes"].append(plain)
    try:
        # Integer kernels wrap around on purpose; numpy scalars warn about it, numba does not.
        with np.errstate(over="ignore") if plain else contextlib.nullcontext():
            yield
    finally:
        _state["modes"].pop()


def plain_python_for(size_bytes: int | None) -> contextlib.AbstractContextManager[None]:
    """A block running kernels as plain Python if that is the faster way for an input of
    ``size_bytes`` (None: unknown): the input is small and no kernel is compiled yet in this
    process. Inside a ``mode`` block, that block's choice stands."""
    if _state["modes"]:
        return contextlib.nullcontext()
    return mode(size_bytes is not None and size_bytes <= PLAIN_PYTHON_MAX_BYTES and not _state["compiled"])


def running_plain() -> bool:
    """True while kernels run as plain Python."""
    return bool(_state["modes"]) and _state["modes"][-1]
