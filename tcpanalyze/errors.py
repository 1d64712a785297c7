"""The exceptions tcpanalyze raises on purpose; the CLI maps them to exit codes in one place.

A damaged capture tail is not an exception: readers keep what they read and add a warning
(see ``CaptureReader.warnings``). Exceptions are for input that cannot be read at all.
"""

from __future__ import annotations


class TcpanalyzeError(Exception):
    """Base class of every error tcpanalyze reports to users (exit code 2 in the CLI)."""

    exit_code = 2


class CaptureError(TcpanalyzeError):
    """The input is not a capture we can read: missing, unreadable, or not pcap/pcapng."""


class UsageError(TcpanalyzeError):
    """A caller asked for something that does not exist (bad option, unknown session...)."""
