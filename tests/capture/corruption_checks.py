"""Truncation and byte-flip checks, run by test_corruption.py in a subprocess with NUMBA_BOUNDSCHECK=1.

Not collected by pytest (the file name does not start with ``test_``): these functions are
the body of the tests, called as ``python -c "import corruption_checks; ..."`` so the numba
kernels are compiled with bounds checks (numba reads the setting at import time). Each
check prints one JSON report: how many cases ran and the first failures, with the reason.

The rules checked, for any input:

- Reading raises nothing but CaptureError, and that only when the file header itself is
  cut or is not a capture; otherwise it returns records and warnings.
- Every complete record before the damage decodes exactly as in the undamaged file.
- A cut-off file says where it ends (a warning naming the record count and byte offset).
- The class counts add up to the records read.
- Decoding a record alone, in a buffer that ends where the record ends, gives the same
  columns as decoding it in its batch: no kernel reads past a record (with bounds checks on,
  such a read raises IndexError, which fails the check).
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import sys
import tempfile
import traceback
import zlib
from pathlib import Path

import numpy as np

from tcpanalyze.capture import CaptureReader
from tcpanalyze.decode import kernels, tunnels
from tcpanalyze.decode.columns import allocate
from tcpanalyze.errors import CaptureError
from tcpanalyze.packets import decode_capture

# Files the checks write live here; the directory goes when the interpreter exits.
SCRATCH = tempfile.TemporaryDirectory(prefix="tcpanalyze-corruption-")
SMALL_BATCH = 7  # small batches: the checks also cross batch boundaries all the time
MAX_FAILURES = 20


class Report:
    def __init__(self, name: str) -> None:
        self.name = name
        self.cases = 0
        self.failures: list[str] = []

    def fail(self, case: str, why: str) -> None:
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(f"{case}: {why}")

    def emit(self) -> None:
        print(json.dumps({"check": self.name, "cases": self.cases, "failures": self.failures}))


def require_boundscheck() -> None:
    """Refuse to run unless the kernels really check bounds (else the checks prove less)."""
    import numba

    assert numba.config.BOUNDSCHECK, "NUMBA_BOUNDSCHECK is not set in this interpreter"
    try:
        kernels.u32be.dispatcher(np.zeros(2, np.uint8), 0)  # a helper: compiled for these types here
    except IndexError:
        return
    raise AssertionError("a compiled kernel read past its array without IndexError: cached kernels lack bounds checks")


# --- what a file holds: record boundaries, from the bytes ----------------------------------

def pcap_record_ends(data: bytes) -> list[int]:
    """End offsets of each complete record of a classic pcap file (independent walk)."""
    order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    ends, pos = [], 24
    while pos + 16 <= len(data):
        caplen = struct.unpack(order + "I", data[pos + 8 : pos + 12])[0]
        if pos + 16 + caplen > len(data):
            break
        pos += 16 + caplen
        ends.append(pos)
    return ends


def pcapng_block_ends(data: bytes) -> tuple[int, list[int], list[int]]:
    """(end of the first section header, ends of all blocks, ends of packet blocks) of a pcapng file."""
    order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    ends, packet_ends, pos = [], [], 0
    while pos + 12 <= len(data):
        btype, blen = struct.unpack(order + "II", data[pos : pos + 8])
        pos += blen
        ends.append(pos)
        if btype in (2, 3, 6, 0x00000BAD, 0x40000BAD):
            packet_ends.append(pos)
    return ends[0], ends, packet_ends


# --- comparing decodes -----------------------------------------------------------------------

def columns(decoded) -> dict[str, np.ndarray]:
    """Every decoded column (record columns and field matrices), by name."""
    p = decoded.packets
    return {**p.records, **p.matrices}


def same_rows(got: dict[str, np.ndarray], full: dict[str, np.ndarray], first: int, last: int | None = None) -> bool:
    """Rows [0, first) of ``got`` equal those of ``full`` (and ``got`` has ``last`` rows, if given)."""
    if last is not None and got["frame"].size != last:
        return False
    if got["frame"].size < first:
        return False
    return all(np.array_equal(got[k][..., :first], full[k][..., :first]) for k in full)


def check_accounting(decoded) -> str | None:
    acc = decoded.accounting
    if sum(acc.by_class.values()) != acc.records or acc.records != len(decoded.packets):
        return f"classes {acc.by_class} do not add up to {acc.records} records ({len(decoded.packets)} rows)"
    if acc.records != decoded.info.records:
        return f"accounting says {acc.records} records, reader {decoded.info.records}"
    return None


def check_isolated_records(path: str) -> str | None:
    """Each record decoded alone (buffer ends at the record end) equals its batch decode."""
    try:
        return _check_isolated_records(path)
    except IndexError:
        return "a kernel read outside its buffer: " + traceback.format_exc(limit=3).strip().splitlines()[-1]


def _check_isolated_records(path: str) -> str | None:
    with CaptureReader(path) as reader:
        for batch in reader.batches(SMALL_BATCH):
            n = len(batch)
            whole = allocate(n)
            kernels.decode_records(batch.buf, batch.rec_off, batch.caplen, batch.origlen, batch.linktype,
                                   whole["u64"], whole["u32"], whole["i32"], whole["u16"], whole["u8"],
                                   tunnels.udp_ports)
            for i in range(n):
                start = int(batch.rec_off[i])
                alone_buf = np.array(batch.buf[start : start + int(batch.caplen[i])], dtype=np.uint8)
                alone = allocate(1)
                kernels.decode_records(alone_buf, np.zeros(1, np.int64), batch.caplen[i : i + 1].copy(),
                                       batch.origlen[i : i + 1].copy(), batch.linktype[i : i + 1].copy(),
                                       alone["u64"], alone["u32"], alone["i32"], alone["u16"], alone["u8"],
                                       tunnels.udp_ports)
                for name in whole:
                    if not np.array_equal(whole[name][:, i], alone[name][:, 0]):
                        return f"frame {int(batch.frame[i])}: decoding alone differs in {name}"
    return None


def read(path: str):
    """decode_capture, with anything but CaptureError turned into a failure reason."""
    try:
        return decode_capture(path, tcp_only=False, max_records=SMALL_BATCH), None
    except CaptureError as exc:
        return exc, None
    except Exception:  # noqa: BLE001 - this is what the check is looking for
        return None, "raised " + traceback.format_exc(limit=3).strip().splitlines()[-1]


# --- (a) truncation at every byte offset ---------------------------------------------------

def truncation(source: str, compress: bool = False) -> None:
    """Cut ``source`` (optionally gzipped first) at every offset and check each prefix."""
    require_boundscheck()
    original = Path(source).read_bytes()
    data = gzip.compress(original, mtime=0) if compress else original
    report = Report(f"truncation {Path(source).name}{' (gzip)' if compress else ''}")
    full = columns(decode_capture(source, tcp_only=False))
    pcapng = original[:4] == b"\x0a\x0d\x0d\x0a"
    if pcapng:
        header_end, boundaries, record_ends = pcapng_block_ends(original)
    else:
        header_end, record_ends = 24, pcap_record_ends(original)
        boundaries = [header_end] + record_ends
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cut")
        for k in range(len(data) + 1):
            report.cases += 1
            Path(path).write_bytes(data[:k])
            case = f"cut at {k}"
            # What a reader can get out of the prefix: all of it, or what zlib can inflate.
            available = len(zlib.decompressobj(wbits=31).decompress(data[:k])) if compress and k >= 2 else k
            result, error = read(path)
            if error:
                report.fail(case, error)
                continue
            if isinstance(result, CaptureError):
                if compress and k == 1:
                    continue  # one byte cannot even say it is gzip
                if 0 < available < header_end:
                    continue
                if compress and available == 0:
                    continue  # a gzip stream that breaks before one byte inflates holds nothing readable
                report.fail(case, f"CaptureError past the file header: {result}")
                continue
            if 0 < available < header_end:
                report.fail(case, f"a cut file header read without CaptureError ({result.info.records} records)")
                continue
            expected = sum(1 for end in record_ends if end <= available)
            if not same_rows(columns(result), full, expected, expected):
                report.fail(case, f"{len(result.packets)} rows, expected the first {expected} of the full file's")
                continue
            warnings = result.accounting.warnings
            at_boundary = available in boundaries and not (compress and k < len(data))
            if available == 0:
                ok = len(warnings) == 1
            elif at_boundary:
                ok = warnings == [] or (expected == 0 and len(warnings) == 1 and "holds no records" in warnings[0])
            elif compress:
                ok = len(warnings) == 1 and "input stream failed" in warnings[0]
            else:
                ok = len(warnings) == 1 and f"after {expected} records, at byte " in warnings[0]
                start = max([b for b in boundaries if b <= available], default=0)
                ok = ok and f"at byte {start}:" in warnings[0]
            if not ok:
                report.fail(case, f"warnings {warnings!r}")
                continue
            reason = check_accounting(result)
            if reason:
                report.fail(case, reason)
    report.emit()


# --- (b) random byte flips ----------------------------------------------------------------

def byte_flips(source: str, examples: int, seed: int) -> None:
    """Flip random bytes anywhere in ``source`` (hypothesis, seeded) and check each result."""
    from hypothesis import HealthCheck, given, seed as hypothesis_seed, settings, strategies as st

    require_boundscheck()
    original = Path(source).read_bytes()
    pcapng = original[:4] == b"\x0a\x0d\x0d\x0a"
    if pcapng:
        header_end, _, record_ends = pcapng_block_ends(original)
    else:
        header_end, record_ends = 24, pcap_record_ends(original)
    full = columns(decode_capture(source, tcp_only=False))
    report = Report(f"byte flips {Path(source).name}")
    tmp = SCRATCH.name
    path = os.path.join(tmp, "flipped")

    flips = st.lists(st.tuples(st.integers(0, len(original) - 1), st.integers(1, 255)), min_size=1, max_size=8)
    # Flips that favour the headers: the first 64 bytes and the record/block headers.
    header_spots = st.sampled_from(sorted({*range(min(64, len(original))), *[e + d for e in record_ends[:-1]
                                                                               for d in range(24)]}))
    header_flips = st.lists(st.tuples(header_spots, st.integers(1, 255)), min_size=1, max_size=3)

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(changes=st.one_of(flips, header_flips))
    def one(changes):
        data = bytearray(original)
        for offset, xor in changes:
            data[offset] ^= xor
        Path(path).write_bytes(bytes(data))
        report.cases += 1
        case = f"flips {changes}"
        result, error = read(path)
        if error:
            report.fail(case, error)
            return
        if isinstance(result, CaptureError):
            if min(o for o, _ in changes) >= header_end:
                report.fail(case, f"CaptureError for damage past the file header: {result}")
            return
        first = min(o for o, _ in changes)
        intact = sum(1 for end in record_ends if end <= first)
        if not same_rows(columns(result), full, intact):
            report.fail(case, f"records before the first flipped byte ({intact}) changed")
            return
        reason = check_accounting(result) or check_isolated_records(path)
        if reason:
            report.fail(case, reason)

    one()
    report.emit()


# --- (c) decoder fuzz: arbitrary bytes under every link type ------------------------------

def decoder_fuzz(examples: int, seed: int) -> None:
    """Random and mutated packets under every link type we decode: no exception, no over-read."""
    from hypothesis import HealthCheck, given, seed as hypothesis_seed, settings, strategies as st

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from helpers import (
        Rec, arcnet, e_tag, eth, fabricpath, fddi, ipoib, ipv4, ipv6, ipv6_fragment_header, ipv6_opts_header,
        juniper_ether, llc_snap, mpls, nflog, null, ppp, pppoe, sll2, tcp, timestamps, write_pcap,
    )

    require_boundscheck()
    report = Report("decoder fuzz")
    tmp = SCRATCH.name
    seeds = [
        eth(ipv4("10.0.0.1", "10.0.0.2", tcp(1, 2, opts=timestamps(1, 2), payload=b"x" * 20))),
        eth(ipv6("::1", "::2", tcp(1, 2, payload=b"y" * 9), ext=(ipv6_opts_header(0), ipv6_fragment_header(0, True, 5)))),
        eth(ipv4("10.0.0.1", "10.0.0.2", tcp(1, 2, payload=b"z" * 40), mf=True, ident=9)),
        eth(ipv4("10.0.0.1", "10.0.0.2", b"z" * 16, frag_offset=16, ident=9)),
        ipv4("10.0.0.1", "10.0.0.2", ipv6("::1", "::2", tcp(3, 4)), proto=41),
    ]
    linktypes = [0, 1, 9, 10, 12, 14, 50, 101, 104, 108, 113, 129, 178, 228, 229, 239, 242, 276]
    mutated = st.tuples(st.sampled_from(seeds), st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)),
                                                         max_size=6), st.integers(0, 200)).map(
        lambda t: bytes(_mutate(t[0], t[1]))[: t[2] or None])
    # Well-formed down to TCP, with arbitrary option bytes, IPv6 extension bytes, data offsets
    # and a capture cut anywhere: the shapes where a decoder's bounds checks matter most.
    link = st.sampled_from([
        (1, lambda p: eth(p)), (1, lambda p: eth(p, vlans=((0x8100, 1),))), (276, lambda p: sll2(p)),
        (0, lambda p: null(p)), (101, lambda p: p), (1, lambda p: eth(llc_snap(p), len(llc_snap(p)) % 1501)),
        (1, lambda p: eth(e_tag(p), 0x893F)), (1, lambda p: eth(fabricpath(p), 0x8903)),
        (1, lambda p: eth(pppoe(p, compressed=True), 0x8864)), (9, lambda p: ppp(mpls(p, (16,)), 0x0281)),
        (239, nflog), (10, fddi), (242, ipoib), (129, arcnet), (178, lambda p: juniper_ether(eth(p))),
    ])
    ipv6_ext = st.lists(st.one_of(
        st.builds(ipv6_opts_header, st.sampled_from([0, 60]), st.integers(0, 3)),
        st.builds(ipv6_fragment_header, st.integers(0, 3).map(lambda k: 8 * k), st.booleans()),
        st.tuples(st.sampled_from([0, 43, 44, 60, 51, 135]), st.binary(min_size=2, max_size=40))), max_size=3)

    # Option lists: well-formed options and NOPs, then one bad piece (a stray kind byte, a length
    # byte of any value, bytes after end-of-list) where the parser must stop without over-reading.
    good_option = st.one_of(st.just(b"\x01"), st.builds(lambda kind, data: bytes([kind, len(data) + 2]) + data,
                                                         st.sampled_from([2, 3, 4, 5, 8, 30]), st.binary(max_size=34)))
    bad_tail = st.one_of(st.just(b""), st.binary(min_size=1, max_size=1), st.binary(min_size=2, max_size=12),
                         st.builds(lambda kind, length: bytes([kind, length]), st.integers(2, 255), st.integers(0, 255)))
    options = st.builds(lambda parts, tail: (b"".join(parts) + tail)[-40:], st.lists(good_option, max_size=6), bad_tail)

    @st.composite
    def shaped(draw):
        segment = bytearray(tcp(draw(st.integers(0, 65535)), 2, opts=draw(options),
                                payload=draw(st.binary(max_size=8)), flags=draw(st.integers(0, 0x1FF))))
        if draw(st.integers(0, 3)) == 0:
            segment[12] = (segment[12] & 0x0F) | (draw(st.integers(0, 15)) << 4)
        if draw(st.booleans()):
            fragment = draw(st.integers(0, 3)) == 0
            packet = ipv4("10.0.0.1", "10.0.0.2", bytes(segment), options=draw(st.binary(max_size=40)),
                          mf=fragment and draw(st.booleans()), frag_offset=8 * draw(st.integers(0, 3)) if fragment else 0,
                          ident=3)
        else:
            packet = ipv6("::1", "::2", bytes(segment), ext=tuple(draw(ipv6_ext)))
        linktype, frame = draw(link)
        data = frame(packet)
        data = data[: draw(st.integers(0, len(data)))] if draw(st.integers(0, 2)) == 0 else data
        return linktype, data, len(data) + draw(st.sampled_from([0, 0, 1, 1000]))

    record = st.one_of(st.tuples(st.sampled_from(linktypes), st.one_of(st.binary(max_size=120), mutated),
                                 st.integers(0, 70000)), shaped())

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(records=st.lists(record, min_size=1, max_size=8))
    def one(records):
        report.cases += 1
        path = os.path.join(tmp, "fuzz.pcap")
        for linktype in {lt for lt, _, _ in records}:
            recs = [Rec(data, origlen=origlen if origlen % 3 else len(data))
                    for lt, data, origlen in records if lt == linktype]
            write_pcap(path, recs, linktype=linktype)
            result, error = read(path)
            case = f"linktype {linktype}: {[r.data.hex() for r in recs]}"
            if error or isinstance(result, CaptureError):
                report.fail(case, error or f"CaptureError {result}")
                return
            reason = check_accounting(result) or check_isolated_records(path)
            if reason:
                report.fail(case, reason)
                return

    one()
    report.emit()


def _mutate(packet: bytes, changes: list[tuple[int, int]]) -> bytearray:
    data = bytearray(packet)
    for offset, value in changes:
        if offset < len(data):
            data[offset] = value
    return data


# --- (d) every corpus capture ----------------------------------------------------------------

def corpus(paths: list[str]) -> None:
    """Decode every given capture; records of files up to 5000 records are also decoded alone."""
    require_boundscheck()
    report = Report("corpus")
    for path in paths:
        report.cases += 1
        result, error = read(path)
        if error:
            report.fail(path, error)
            continue
        if isinstance(result, CaptureError):
            continue  # which files may refuse is pinned by test_accounting
        reason = check_accounting(result) or (check_isolated_records(path) if result.info.records <= 5000 else None)
        if reason:
            report.fail(path, reason)
    report.emit()


# --- (e) every encapsulation cut at every length ---------------------------------------------

def record_cuts() -> None:
    """Each hand-built packet of test_link_types (every link type and IP shape), captured with
    every snapshot length from 0 to its full size: each cut decodes alone exactly as in its batch."""
    tests_dir = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(tests_dir), str(tests_dir / "decode")]
    from helpers import Rec, write_pcap
    from test_link_types import GOOD, NOT_TCP

    require_boundscheck()
    report = Report("record cuts")
    tmp = SCRATCH.name
    cases = {**{k: (lt, data) for k, (lt, data, _) in GOOD.items()},
             **{k: (lt, data.data if isinstance(data, Rec) else data) for k, (lt, data, _) in NOT_TCP.items()}}
    for name, (linktype, data) in cases.items():
        path = os.path.join(tmp, "cuts.pcap")
        write_pcap(path, [Rec(data[:k], origlen=len(data)) for k in range(len(data) + 1)], linktype=linktype)
        report.cases += len(data) + 1
        result, error = read(path)
        reason = error or (f"CaptureError {result}" if isinstance(result, CaptureError) else None)
        reason = reason or check_accounting(result) or check_isolated_records(path)
        if reason:
            report.fail(name, reason)
    report.emit()
