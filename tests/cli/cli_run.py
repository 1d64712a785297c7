"""Running the ``tcpanalyze`` console entry point in a fresh interpreter, as a user would."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from helpers import REPO_ROOT, SAMPLE_DIR


def run_tcpanalyze(args: list[str], cwd: Path = REPO_ROOT, stdin: bytes | None = None, *, merged: bool = False,
                   timeout: float = 300) -> subprocess.CompletedProcess:
    """``tcpanalyze ARGS`` (this checkout's package, whatever is installed) in ``cwd``; bytes out.

    ``merged``: stderr goes into stdout, unbuffered, interleaved as a terminal would show them.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    if merged:
        env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run([sys.executable, "-m", "tcpanalyze", *args], cwd=cwd, env=env, input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merged else subprocess.PIPE,
                          timeout=timeout)


def command_args(line: str) -> list[str]:
    """The arguments of a ``tcpanalyze ...`` command line as a shell would split them."""
    words = shlex.split(line, comments=True)
    assert words[0] == "tcpanalyze", line
    return words[1:]


def sample_workdir(tmp_path: Path) -> Path:
    """An empty directory where ``sample_pcaps/...`` resolves: examples that write files write them here."""
    (tmp_path / "sample_pcaps").symlink_to(SAMPLE_DIR)
    return tmp_path
