"""The ``tcpanalyze`` command line. Data goes to stdout, warnings and summaries to stderr.

Exit codes: 0 fine, 1 a check failed, 2 usage or input error. Errors are one line; ``--debug``
shows the traceback. This module is the one place that maps exceptions to exit codes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import typer

from . import __version__
from .engine import analyze
from .engine.analysis import iter_sessions
from .errors import TcpanalyzeError
from .output import Format, FrameWriter, flag_text, relative_seconds
from .packets import Accounting, read_packets

app = typer.Typer(
    name="tcpanalyze",
    help="Read pcap/pcapng captures, rebuild TCP sessions and say what happened in them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_state = {"debug": False}

FILE_ARG = typer.Argument(..., help="Capture file (pcap, pcapng, optionally gzip-compressed), or - for stdin.")
FORMAT_OPT = typer.Option(Format.table, "--format", "-f", help="Output format.")
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


@app.command()
def packets(
    file: str = FILE_ARG,
    fmt: Format = FORMAT_OPT,
    output: Optional[Path] = OUTPUT_OPT,
    all_records: bool = typer.Option(False, "--all-records",
                                     help="One row per record (with its class and status), decoded only: no session analysis."),
) -> None:
    """TCP packets in file order with their session and Wireshark's analysis flags; accounting on stderr.

    Example: tcpanalyze packets sample_pcaps/real-graceful-close.pcap --format jsonl -o packets.jsonl
    """
    with FrameWriter(fmt, _path(output), packet_table) as out:
        if all_records:
            frame = read_packets(file, all_records=True)
            accounting = frame.attrs["accounting"]
        else:
            result = analyze(file)
            frame = result.packets
            accounting = result.accounting.as_dict()
        out.write(frame)
    _report_accounting(accounting)


@app.command()
def sessions(
    file: str = FILE_ARG,
    fmt: Format = FORMAT_OPT,
    output: Optional[Path] = OUTPUT_OPT,
) -> None:
    """One row per TCP session: endpoints, bytes, flags per direction, RTT, stalls, Zeek state, close.

    Example: tcpanalyze sessions sample_pcaps/real-rst-abort.pcap --format jsonl
    """
    accounting = Accounting()
    with FrameWriter(fmt, _path(output), session_table) as out:
        for chunk in iter_sessions(file, accounting):  # written as sessions end: memory stays bounded
            out.write(chunk)
    _report_accounting(accounting.as_dict())


def _path(output: Optional[Path]) -> str | None:
    return None if output is None else str(output)


def session_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The human view of sessions: who talked to whom, how much, how it went and ended."""
    retrans = frame["orig_retrans_pkts"] + frame["resp_retrans_pkts"]
    rtt = frame[["orig_rtt_mean_ms", "resp_rtt_mean_ms"]].max(axis=1)
    return pd.DataFrame({
        "id": frame["session_id"],
        "start_utc": pd.to_datetime(frame["start"], unit="s").dt.strftime("%H:%M:%S.%f").str[:-3],
        "originator": _endpoint(frame["orig_addr"], frame["orig_port"]),
        "responder": _endpoint(frame["resp_addr"], frame["resp_port"]),
        "dur_s": frame["duration"].map("{:.3f}".format),
        "pkts": frame["orig_pkts"].astype(str) + "/" + frame["resp_pkts"].astype(str),
        "bytes": frame["orig_bytes"].astype(str) + "/" + frame["resp_bytes"].astype(str),
        "state": frame["conn_state"] if "conn_state" in frame else "",
        "history": frame["history"] if "history" in frame else "",
        "close": frame["close_type"] + "/" + frame["closed_by"],
        "retrans": retrans,
        "irtt_ms": frame["irtt_ms"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}"),
        "rtt_ms": rtt.map(lambda v: "" if pd.isna(v) else f"{v:.1f}"),
    })


def packet_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The human view of a packets frame: endpoints, flag names, lengths and key options."""
    flags = frame["tcp_flags"].to_numpy()
    names = {int(v): flag_text(int(v)) for v in np.unique(flags)}
    table = {
        "frame": frame["frame"],
        "time_s": relative_seconds(frame["ts_ns"]),
        "source": _endpoint(frame["src_addr"], frame["src_port"]),
        "destination": _endpoint(frame["dst_addr"], frame["dst_port"]),
        "flags": frame["tcp_flags"].map(names),
        "seq": frame["seq_raw"],
        "ack": frame["ack_raw"],
        "win": frame["win_raw"],
        "len": frame["payload_len"],
        "options": _options_text(frame),
    }
    if "analysis" in frame:
        table["analysis"] = frame["analysis"].str.join(",")
    if "status" in frame:
        table["status"] = frame["status"]
    return pd.DataFrame(table)


def _endpoint(addr: pd.Series, port: pd.Series) -> pd.Series:
    text = addr.astype(object).where(~addr.astype(str).str.contains(":", regex=False), "[" + addr.astype(str) + "]")
    return text.astype(str) + ":" + port.astype(str)


def _options_text(frame: pd.DataFrame) -> pd.Series:
    parts = pd.Series("", index=frame.index, dtype=object)
    for column, label in (("mss", "mss="), ("wscale", "ws=")):
        present = frame[column].notna()
        parts[present] += label + frame.loc[present, column].astype(str) + " "
    parts[frame["sack_perm"]] += "sack_perm "
    for k in range(1, 5):
        present = frame[f"sack_le{k}"].notna()
        parts[present] += ("sack=" + frame.loc[present, f"sack_le{k}"].astype(str) + "-"
                           + frame.loc[present, f"sack_re{k}"].astype(str) + " ")
    parts[frame["truncated"]] += "truncated "
    parts[frame["options_malformed"]] += "bad_options "
    return parts.str.rstrip()


def _report_accounting(accounting: dict) -> None:
    parts = [f"{accounting[k]} {label}" for k, label in
             (("tcp", "TCP"), ("other_ip", "other IP"), ("non_ip", "non-IP"), ("malformed", "malformed"))]
    reasons = {k: v for k, v in accounting["by_status"].items() if k not in ("tcp", "not_tcp", "non_ip")}
    detail = f" ({', '.join(f'{k}: {v}' for k, v in sorted(reasons.items()))})" if reasons else ""
    print(f"{accounting['records']} records: {', '.join(parts)}{detail}", file=sys.stderr)
    for warning in accounting["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)


def main() -> None:
    """Console-script entry point: run the app, turning our errors into one line and exit 2."""
    try:
        app()
    except TcpanalyzeError as exc:
        if _state["debug"]:
            raise
        print(f"tcpanalyze: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): not an error of ours.
        sys.stderr.close()
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
