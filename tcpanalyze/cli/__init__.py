"""The ``tcpanalyze`` command line: ``app`` and its commands, one module each.

Importing this package registers every command on ``app``; ``main`` is the console script.
"""

from .app import app, main
from . import (  # noqa: F401  (registers the commands)
    anomalies, check, export_streams, follow, interfaces, live, packets, plot, report, sessions, stats,
)

__all__ = ["app", "main"]
