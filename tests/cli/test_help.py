"""`--help` documents the exit codes, and every command's help carries an example that works as written."""

from __future__ import annotations

import os
import re
import shutil

import pytest
import typer
from typer.testing import CliRunner

from tcpanalyze.cli import app

from cli_run import command_args, run_tcpanalyze, sample_workdir

CLICK_APP = typer.main.get_command(app)
COMMANDS = sorted(CLICK_APP.commands)
EXIT_CODES = "Exit codes: 0 fine, 1 a check failed, 2 usage or input error"


def help_text(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], terminal_width=200)
    assert result.exit_code == 0
    return " ".join(result.output.split())  # rich wraps lines: compare with whitespace collapsed


def example_line(command: str) -> str:
    """The command line after ``Example:`` in the command's help text (its docstring)."""
    found = re.findall(r"^\s*Example: (tcpanalyze .+)$", CLICK_APP.commands[command].help, re.MULTILINE)
    assert len(found) == 1, f"{command}: expected one Example line"
    return found[0]


def test_main_help_documents_the_exit_codes():
    assert EXIT_CODES in help_text()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_an_example_and_the_exit_codes(command):
    text = help_text(command)
    assert f"Example: tcpanalyze {command} " in text
    assert EXIT_CODES in text


def test_all_commands_are_checked():
    assert set(COMMANDS) == {"anomalies", "check", "export-streams", "follow", "interfaces", "live", "packets",
                             "plot", "report", "sessions", "stats"}


def can_capture() -> bool:
    return shutil.which("dumpcap") is not None and os.geteuid() == 0


@pytest.mark.parametrize("command", COMMANDS)
def test_every_example_runs_as_written(command, tmp_path):
    """The example, run in an empty directory where sample_pcaps/ resolves: exit 0, and data on stdout
    or in the files it names."""
    if command in ("live", "interfaces") and not can_capture():
        pytest.skip("needs dumpcap and root")
    workdir = sample_workdir(tmp_path)
    result = run_tcpanalyze(command_args(example_line(command)), cwd=workdir, stdin=b"")
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    written = [p for p in workdir.rglob("*") if p.is_file() and not p.is_relative_to(workdir / "sample_pcaps")]
    assert result.stdout or any(p.stat().st_size for p in written), "the example produced nothing"


def test_a_short_option_means_the_same_long_option_in_every_command():
    meanings: dict[str, set[str]] = {}
    for name, command in CLICK_APP.commands.items():
        for param in command.params:
            longs = [o for o in param.opts if o.startswith("--")]
            for short in (o for o in param.opts if re.fullmatch(r"-[A-Za-z]", o)):
                meanings.setdefault(short, set()).update(longs)
    assert {s: m for s, m in meanings.items() if len(m) > 1} == {}
    assert meanings["-Y"] == {"--filter"} and meanings["-f"] == {"--format"} and meanings["-o"] == {"--output"}


def test_a_filter_option_is_a_display_filter_in_every_command():
    """``--filter`` is Wireshark's display filter (``-Y``) wherever it exists; live's libpcap
    filter is ``--capture-filter``."""
    for name, command in CLICK_APP.commands.items():
        for param in command.params:
            if "--filter" in param.opts:
                assert "-Y" in param.opts, name
            if "--capture-filter" in param.opts:
                assert name == "live"


def test_sessions_help_explains_the_conn_state_and_history_codes():
    text = help_text("sessions")
    for code in ("S0", "SF", "REJ", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SHR", "OTH"):
        assert f"{code} " in text
    assert "upper case from the originator" in text
