"""Shared fixtures; capture builders live in ``helpers.py`` (importable as ``helpers``)."""

from __future__ import annotations

import sys

import pytest

from helpers import CORPUS_DIR


@pytest.fixture(scope="session")
def corpus_dir():
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS_DIR}")
    return CORPUS_DIR


def pytest_terminal_summary(terminalreporter):
    differential = sys.modules.get("test_differential_dpkt")
    if differential is not None and differential.AGREEMENT["files"]:
        terminalreporter.write_line(differential.agreement_summary())
