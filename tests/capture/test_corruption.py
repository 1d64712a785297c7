"""Damaged captures: cut at every byte, bytes flipped anywhere, random records under every link type.

The checks themselves live in ``corruption_checks.py``; they run here in subprocesses with
``NUMBA_BOUNDSCHECK=1`` and a private numba cache (see ``helpers.boundscheck_env``), so a
kernel reading outside an array raises IndexError and the check fails, instead of reading
garbage. Each check also decodes every record alone in a buffer that ends where the record
ends, which turns a read past the record (but inside the file) into the same IndexError.
The subprocess timeout catches a hang.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import CORPUS_DIR, boundscheck_env, corpus_files

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 600
SEED = 20261122

CHECKS = {
    "truncate-pcap": f"truncation({str(CORPUS_DIR / 'eth-http-get-fin.pcap')!r})",
    "truncate-pcap-gzip": f"truncation({str(CORPUS_DIR / 'eth-http-get-fin.pcap')!r}, compress=True)",
    "truncate-pcapng": f"truncation({str(CORPUS_DIR / 'tcp-zero-window-linux-probes-as-keepalive.pcapng')!r})",
    "truncate-pcap-fragments": f"truncation({str(CORPUS_DIR / 'ipv4-frag-every-segment-socks-http.pcap')!r})",
    "flip-pcap": f"byte_flips({str(CORPUS_DIR / 'eth-http-get-fin.pcap')!r}, 300, {SEED})",
    "flip-pcapng": f"byte_flips({str(CORPUS_DIR / 'pcapng-11-ifaces-eth-null-raw.pcapng')!r}, 300, {SEED})",
    "decoder-fuzz": f"decoder_fuzz(400, {SEED})",
    "record-cuts": "record_cuts()",
    "corpus": f"corpus({[str(p) for p in corpus_files()]!r})",
}
# At least this many cases must have run: a check that silently did nothing proves nothing.
MIN_CASES = {"truncate-pcap": 6336, "truncate-pcapng": 2193, "truncate-pcap-fragments": 5282, "flip-pcap": 300,
             "flip-pcapng": 300, "decoder-fuzz": 400, "corpus": 50, "truncate-pcap-gzip": 1000,
             "record-cuts": 5000}


# Two interpreters side by side (one per core here), each running its share of the checks in
# turn: starting an interpreter (numba, pandas) costs more than most checks.
GROUPS = [["truncate-pcap", "truncate-pcap-fragments", "flip-pcap", "corpus"],
          ["truncate-pcap-gzip", "truncate-pcapng", "flip-pcapng", "decoder-fuzz", "record-cuts"]]


def _command(names: list[str]) -> list[str]:
    calls = "; ".join(f"corruption_checks.{CHECKS[name]}" for name in names)
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import corruption_checks; {calls}"
    return [sys.executable, "-c", code]


@pytest.fixture(scope="module")
def reports():
    """Run every check (bounds-checked kernels) and collect its JSON report, or its failure output."""
    assert sorted(sum(GROUPS, [])) == sorted(CHECKS)
    env = {**os.environ, **boundscheck_env()}
    running = [(names, subprocess.Popen(_command(names), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
               for names in GROUPS]
    out: dict[str, object] = {}
    for names, proc in running:
        try:
            stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            stderr += f"\ntimed out after {TIMEOUT_S} s: a hang".encode()
        lines = stdout.decode().strip().splitlines()
        for name, line in zip(names, lines):
            out[name] = json.loads(line)
        for name in names[len(lines):]:
            out[name] = f"no report (exit {proc.returncode}): {stderr.decode()[-3000:]}"
    return out


def _assert_clean(reports, name):
    report = reports[name]
    assert isinstance(report, dict), report
    assert report["failures"] == []
    assert report["cases"] >= MIN_CASES[name]


@pytest.mark.parametrize("name", ["truncate-pcap", "truncate-pcap-gzip", "truncate-pcapng", "truncate-pcap-fragments"])
def test_cut_at_every_byte_keeps_complete_records_and_warns_where_the_file_ends(reports, name):
    _assert_clean(reports, name)


@pytest.mark.parametrize("name", ["flip-pcap", "flip-pcapng"])
def test_flipped_bytes_raise_only_capture_error_and_keep_the_records_before_them(reports, name):
    _assert_clean(reports, name)


def test_random_records_under_every_link_type_decode_without_reading_past_the_record(reports):
    _assert_clean(reports, "decoder-fuzz")


def test_every_encapsulation_cut_at_every_snapshot_length_never_reads_past_the_record(reports):
    _assert_clean(reports, "record-cuts")


def test_every_corpus_capture_decodes_with_bounds_checks_on(reports):
    _assert_clean(reports, "corpus")
