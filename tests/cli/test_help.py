"""`--help` documents the exit codes, and every command's help carries an example."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from tcpanalyze.cli import app

COMMANDS = sorted(typer.main.get_command(app).commands)


def help_text(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], terminal_width=200)
    assert result.exit_code == 0
    return " ".join(result.output.split())  # rich wraps lines: compare with whitespace collapsed


def test_main_help_documents_the_exit_codes():
    assert "Exit codes: 0 fine, 1 a check failed, 2 usage or input error." in help_text()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_an_example(command):
    assert f"Example: tcpanalyze {command} " in help_text(command)


def test_all_commands_are_checked():
    assert {"packets", "plot", "sessions"} <= set(COMMANDS)
