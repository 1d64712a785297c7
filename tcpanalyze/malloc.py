"""Hand freed heap memory back to the system.

glibc keeps the memory of freed allocations below its mmap threshold (arrays of up to a few
MB, once the threshold has grown) in the process heap for reuse. When a big structure built
from many such arrays is replaced by another (session record chunks by the sessions frame),
the freed chunks would otherwise stay in the resident set until the process ends.
``malloc_trim`` returns those pages. Elsewhere (no glibc) this does nothing. Arrow's memory pool
(mimalloc: the text columns, the RTT samples' batches) keeps freed pages too: they go back as well.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache


@cache
def _libc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def trim() -> None:
    """Return free heap pages to the system (glibc ``malloc_trim(0)``, and Arrow's pool if loaded)."""
    function = _libc_trim()
    if function is not None:
        function(0)
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
