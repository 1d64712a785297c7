"""Shared fixtures; capture builders live in ``helpers.py`` (importable as ``helpers``)."""

from __future__ import annotations

import sys

import pytest

from helpers import CORPUS_DIR


@pytest.fixture(scope="session")
def corpus_dir():
    """``tests/corpus/``: the public captures the tests read (provenance in its README)."""
    return CORPUS_DIR


def pytest_sessionstart(session):
    """Compile every kernel before the first test (once per machine: at once when they are cached),
    so that no test's output carries the first-run compile messages."""
    from tcpanalyze import jit

    jit.ensure_compiled()


def pytest_terminal_summary(terminalreporter):
    differential = sys.modules.get("test_differential_dpkt")
    if differential is not None and differential.AGREEMENT["files"]:
        terminalreporter.write_line(differential.agreement_summary())
