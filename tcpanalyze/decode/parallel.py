"""The decoder over both cores, for big batches.

Its own module because it needs numba itself (``prange``): importing it imports numba, which
the plain-Python path for tiny captures avoids (see ``tcpanalyze.jit``). Starting numba's
threads costs time too, so small batches use the one-thread ``kernels.decode_records``
(``Decoder`` chooses).
"""

from __future__ import annotations

from numba import prange

from ..jit import kernel
from .kernels import DECODE_RECORDS_SIGNATURE, decode_record


@kernel(nogil=True, parallel=True, signature=DECODE_RECORDS_SIGNATURE)
def decode_records(buf, rec_off, caplen, origlen, linktype, u64, u32, i32, u16, u8, udp_ports):
    """``kernels.decode_records`` with the records shared among threads (they are independent)."""
    for i in prange(rec_off.size):
        decode_record(i, buf, rec_off, caplen, origlen, linktype, u64, u32, i32, u16, u8, udp_ports)
