"""The README's examples stay true: every ``$ tcpanalyze ...`` block is run again and its output
compared, and the ``pycon`` blocks run as doctests.

A ``$ tcpanalyze ...`` line is followed by what it printed (stdout and stderr as they
interleave on a terminal) up to the next ``$`` line or the end of the block; ``$ echo $?``
then gives the exit code (0 otherwise). Commands run in an empty directory where
``sample_pcaps/`` resolves, so examples that write files (``-o seq.png``) leave nothing behind.
No README output carries a per-run figure (time taken, a date of the run), so the comparison
is exact.
"""

from __future__ import annotations

import doctest
import re

import pytest

from helpers import REPO_ROOT

from cli_run import command_args, run_tcpanalyze, sample_workdir

README = (REPO_ROOT / "README.md").read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def shell_examples() -> list[tuple[str, str, int]]:
    """(command line, expected output, expected exit code) for each ``$ tcpanalyze`` line."""
    examples = []
    for lang, body in FENCE.findall(README):
        if lang or not body.startswith("$ "):
            continue
        for chunk in re.split(r"^(?=\$ )", body, flags=re.MULTILINE)[1:]:
            command, _, output = chunk[2:].partition("\n")
            if command == "echo $?":
                line, shown, _ = examples[-1]
                examples[-1] = (line, shown, int(output.strip()))
            else:
                assert command.startswith("tcpanalyze "), f"README runs something else: {command}"
                examples.append((command, output.rstrip("\n"), 0))
    return examples


EXAMPLES = shell_examples()


def test_the_tour_has_every_command_it_promises():
    tour = README[README.index("## A tour"): README.index("## Command line")]
    commands = {line.split()[2] for line in tour.splitlines() if line.startswith("$ tcpanalyze ")}
    assert {"report", "sessions", "packets", "follow", "anomalies", "plot"} <= commands
    assert "docs/images/real-zero-window-seq.png" in tour and (REPO_ROOT / "docs/images/real-zero-window-seq.png").is_file()


@pytest.mark.parametrize("line, expected, exit_code", EXAMPLES, ids=[e[0][:80] for e in EXAMPLES])
def test_readme_shell_example_prints_what_the_readme_shows(line, expected, exit_code, tmp_path):
    result = run_tcpanalyze(command_args(line), cwd=sample_workdir(tmp_path), merged=True)
    assert result.stdout.decode().rstrip("\n") == expected
    assert result.returncode == exit_code


def test_readme_python_examples(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    blocks = [body for lang, body in FENCE.findall(README) if lang == "pycon"]
    assert blocks
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for i, body in enumerate(blocks):
        runner.run(parser.get_doctest(body, {}, f"README pycon block {i + 1}", str(REPO_ROOT / "README.md"), 0))
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0
