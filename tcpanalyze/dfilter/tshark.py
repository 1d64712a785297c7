"""A display filter evaluated by tshark itself: Wireshark's exact semantics and every field it
knows, at tshark's speed (a second pass over the file, by tshark).

>>> keep = TsharkFilter.run("trace.pcap", "http.request.method == \"GET\"")
>>> packets[keep.mask(packets)]
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..capture import CaptureSpec, capture_files
from ..errors import UsageError


@dataclass(frozen=True)
class TsharkFilter:
    """The frames ``tshark -r FILE -Y TEXT`` selects; ``mask(frame)`` keeps the rows of those frames."""

    text: str
    frames: np.ndarray  # sorted frame numbers

    @classmethod
    def run(cls, path: CaptureSpec, text: str) -> "TsharkFilter":
        """Run tshark over ``path`` (one capture file); UsageError when tshark is missing or refuses the filter."""
        files = capture_files(path)
        if len(files) != 1 or files[0] == "-":
            raise UsageError("a display filter evaluated by tshark needs one capture file (not standard input "
                             "or several files): tshark numbers the frames of one file")
        tshark = shutil.which("tshark")
        if tshark is None:
            raise UsageError("tshark is not installed (it evaluates the filter): install Wireshark's tshark, "
                             "or drop --tshark to use the built-in filter fields")
        done = subprocess.run([tshark, "-n", "-r", files[0], "-Y", text, "-T", "fields", "-e", "frame.number"],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise UsageError(f"display filter {text!r}: tshark: {_reason(done.stderr)}")
        return cls(text, np.array(sorted(int(n) for n in done.stdout.split()), np.int64))

    def mask(self, frame: pd.DataFrame, base_ns: int | None = None) -> np.ndarray:
        """The rows of ``frame`` (a packets table) whose frame tshark selected; ``base_ns`` is unused."""
        return np.isin(frame["frame"].to_numpy(), self.frames)


def _reason(stderr: str) -> str:
    """tshark's own error line (it may warn first, e.g. about running as root)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    said = [line.removeprefix("tshark:").strip() for line in lines if line.startswith("tshark:")]
    return (said or lines or ["failed"])[-1]
