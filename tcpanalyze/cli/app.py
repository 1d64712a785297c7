"""The ``tcpanalyze`` application: global options, the options every command shares, error handling.

The commands live in their own modules of this package, one each. Data goes to stdout,
warnings and summaries to stderr.

Exit codes: 0 fine, 1 a check failed, 2 usage or input error. Errors are one line; ``--debug``
shows the traceback. This module is the one place that maps exceptions to exit codes.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Optional, TextIO

import typer

try:  # typer bundles click from 0.20 on
    from typer._click import exceptions as click_errors
    from typer._click.utils import PacifyFlushWrapper
except ImportError:  # pragma: no cover - older typer, click installed beside it
    from click import exceptions as click_errors
    from click.utils import PacifyFlushWrapper

from ..errors import TcpanalyzeError, UsageError
from ..output import Format
from ..version import __version__

if TYPE_CHECKING:
    from ..engine import EngineOptions

# Every command's help ends with this (as its epilog), and so does the application's.
EXIT_CODES = "Exit codes: 0 fine, 1 a check failed, 2 usage or input error (one line on stderr; --debug: traceback)."

app = typer.Typer(
    name="tcpanalyze",
    help="Read pcap/pcapng captures, rebuild TCP sessions and say what happened in them.",
    epilog=f"{EXIT_CODES}\n\nExample: tcpanalyze report sample_pcaps/real-zero-window.pcap",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_state = {"debug": False}

FILE_ARG = typer.Argument(..., help="Capture file (pcap, pcapng, optionally gzip-compressed), a directory or a "
                          "quoted glob of files read as one capture, or - for stdin.")
FILES_ARG = typer.Argument(..., help="Capture file (pcap, pcapng, optionally gzip-compressed), or - for stdin. "
                           "Several files, a directory or a quoted glob (a dumpcap ring buffer) are read as one "
                           "capture, merged in time order as mergecap does.")


def capture_spec(files: list[str]) -> str | list[str]:
    """What the FILES arguments name: one path (a file, directory or glob), or several read as one."""
    if len(files) > 1 and "-" in files:
        raise UsageError("standard input (-) cannot be read together with other files")
    return files[0] if len(files) == 1 else files
FORMAT_OPT = typer.Option(Format.table, "--format", "-f", help="Output format.")
WORKERS_OPT = typer.Option(1, "--workers", min=1, metavar="N",
                           help="Split the sessions among N worker processes fed from one read of the capture "
                                "(the same results; meant for machines with many cores: README, \"Big captures\").")
CHECKSUMS_OPT = typer.Option(False, "--verify-checksums",
                             help="Check IPv4 header and TCP checksums (off by default, as in Wireshark: hosts that "
                                  "offload checksums capture wrong ones) and leave packets with a wrong one out of "
                                  "the analysis, counted per session (bad_checksum_pkts, Zeek's C/c history letters).")
SCHEDULER_OPT = typer.Option(None, "--scheduler", metavar="tcp://HOST:PORT",
                             help="Run the analysis on the workers of this Dask distributed scheduler, which "
                                  "read the capture from storage they share with this machine (same results).")
OUTPUT_OPT = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout.")


def _version(value: bool) -> None:
    if value:
        print(f"tcpanalyze {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback on errors."),
) -> None:
    _state["debug"] = debug


def analysis_options(verify_checksums: bool) -> EngineOptions | None:
    """The analysis settings the command-line options ask for (None: the defaults)."""
    from ..engine import EngineOptions

    return EngineOptions(verify_checksums=True) if verify_checksums else None


def output_path(output: Optional[Path]) -> str | None:
    """The ``-o`` option as the writers take it (None: stdout)."""
    return None if output is None else str(output)


@contextlib.contextmanager
def open_text_output(output: Optional[Path] | str) -> Iterator[TextIO]:
    """The ``-o`` option opened for text: stdout for None or ``-``; an unwritable path is a one-line error."""
    if output is None or str(output) == "-":
        yield sys.stdout
        return
    try:
        handle = open(output, "w", encoding="utf-8")
    except OSError as exc:
        raise TcpanalyzeError(f"{output}: cannot write: {exc.strerror}") from None
    with handle:
        yield handle


def report_accounting(accounting: dict) -> None:
    """One stderr line counting the records by class (the TCP ones from tunnels by tunnel chain;
    why any were not TCP), then the warnings."""
    parts = [f"{accounting[k]} {label}" for k, label in
             (("tcp", "TCP"), ("other_ip", "other IP"), ("non_ip", "non-IP"), ("malformed", "malformed"))]
    reasons = {k: v for k, v in accounting["by_status"].items() if k not in ("tcp", "not_tcp", "non_ip")}
    detail = f" ({', '.join(f'{k}: {v}' for k, v in sorted(reasons.items()))})" if reasons else ""
    tunnelled = accounting.get("tcp_by_tunnel", {})
    notes = [f"{n} from {chain}" for chain, n in sorted(tunnelled.items())]
    if accounting.get("tcp_bad_checksum"):
        notes.append(f"{accounting['tcp_bad_checksum']} with a wrong checksum, left out of the analysis")
    if notes:
        parts[0] += f" ({', '.join(notes)})"
    print(f"{accounting['records']} records: {', '.join(parts)}{detail}", file=sys.stderr)
    for warning in accounting["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)


def main() -> None:
    """Console-script entry point: run the app, turning our errors into one line and exit 2."""
    # numba checks at import whether np.dot & co. can be compiled by importing scipy's BLAS
    # bindings: 0.4 s of CPU per start, measured on the benchmark. No kernel of ours calls
    # BLAS, and this process runs only ours, so tell Python that module does not exist.
    sys.modules.setdefault("scipy.linalg.cython_blas", None)
    try:
        code = app(standalone_mode=False)
    except TcpanalyzeError as exc:
        if _state["debug"]:
            raise
        print(f"tcpanalyze: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click_errors.UsageError as exc:  # a bad option or argument: one line, and where to look
        command = exc.ctx.command_path if exc.ctx is not None else "tcpanalyze"
        if exc.format_message():  # (none after the help that a bare command prints)
            print(f"tcpanalyze: error: {exc.format_message()} (see '{command} --help')", file=sys.stderr)
        sys.exit(2)
    except click_errors.ClickException as exc:
        print(f"tcpanalyze: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("tcpanalyze: aborted", file=sys.stderr)
        sys.exit(130)
    except (BrokenPipeError, SystemExit) as exc:
        # The reader of our output went away (e.g. `| head`): not an error of ours, exit 0 so
        # `set -o pipefail` scripts go on. click ends that case itself with exit 1, after
        # wrapping stdout to silence the flush at exit: that wrapper tells it from a real exit.
        if isinstance(exc, SystemExit) and not isinstance(sys.stdout, PacifyFlushWrapper):
            raise
        sys.stderr.close()
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
