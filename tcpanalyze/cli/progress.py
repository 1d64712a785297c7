"""A progress bar on stderr while a capture is read: on a terminal only, and only for long runs.

>>> with ReadProgress() as progress:
...     result = analyze(path, progress=progress)

It is updated once per batch of records (a few hundred thousand), never per packet, and
is transient: it disappears before the accounting line is printed.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

# Runs shorter than this show no bar at all (no flicker for small files).
SHOW_AFTER_S = 1.0


class ReadProgress:
    """A ``CaptureReader`` progress callback drawing a rich progress bar on stderr.

    Disabled unless stderr is a terminal (``console`` and ``show_after_s`` are for tests).
    """

    def __init__(self, console: "Console | None" = None, show_after_s: float | None = None) -> None:
        self.enabled = console.is_terminal if console is not None else sys.stderr.isatty()
        self._console = console
        self._show_after_s = SHOW_AFTER_S if show_after_s is None else show_after_s
        self._started = time.monotonic()
        self._bar: Progress | None = None
        self._task = None

    def __call__(self, records: int, done_bytes: int, total_bytes: int | None) -> None:
        if not self.enabled or time.monotonic() - self._started < self._show_after_s:
            return
        if self._bar is None:
            self._start(total_bytes)
        assert self._bar is not None
        self._bar.update(self._task, completed=done_bytes, records=records)

    def _start(self, total_bytes: int | None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(TextColumn("reading"), BarColumn(), DownloadColumn(),
                             TextColumn("{task.fields[records]:,} records"), TimeElapsedColumn(),
                             console=self._console or Console(stderr=True), transient=True)
        self._task = self._bar.add_task("reading", total=total_bytes, records=0)
        self._bar.start()

    def __enter__(self) -> "ReadProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
