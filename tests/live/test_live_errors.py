"""What goes wrong before a live capture starts gets one line saying how to fix it, and exit 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from helpers import REPO_ROOT
from live_helpers import require_loopback_capture

from tcpanalyze.capture.dumpcap import dumpcap_failure, list_interfaces


def tcpanalyze(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tcpanalyze", *args], capture_output=True, text=True, timeout=60,
                          cwd=str(REPO_ROOT), env={**os.environ, **(env or {})})


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    return line


def test_unknown_interface_is_one_line_pointing_at_the_interfaces_command():
    require_loopback_capture()
    line = one_error_line(tcpanalyze("live", "-i", "nosuch0", "--duration", "1"))
    assert line == ("tcpanalyze: error: unknown interface 'nosuch0': `tcpanalyze interfaces` lists the ones "
                    "that can be captured")


def test_missing_dumpcap_says_how_to_install_it(tmp_path):
    # PATH holds nothing but an empty directory: no dumpcap to be found
    line = one_error_line(tcpanalyze("live", "-i", "lo", env={"PATH": str(tmp_path)}))
    assert line.startswith("tcpanalyze: error: dumpcap not found: ")
    assert "apt-get install tshark" in line
    line = one_error_line(tcpanalyze("interfaces", env={"PATH": str(tmp_path)}))
    assert line.startswith("tcpanalyze: error: dumpcap not found: ")


def test_bad_capture_filter_names_the_filter_and_the_reason():
    require_loopback_capture()
    line = one_error_line(tcpanalyze("live", "-i", "lo", "--capture-filter", "tcp port", "--duration", "1"))
    assert line == ("tcpanalyze: error: invalid capture filter 'tcp port': can't parse filter expression: "
                    "syntax error (the syntax is in `man pcap-filter`)")


def test_no_permission_message_says_how_to_grant_it():
    # dumpcap's own words when an unprivileged user tries (run as nobody when we are root)
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None or shutil.which("dumpcap") is None:
        pytest.skip("needs root, setpriv and dumpcap to run dumpcap as an unprivileged user")
    denied = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", shutil.which("dumpcap"),
                             "-i", "lo", "-a", "duration:1", "-w", "-"], capture_output=True, text=True, timeout=30)
    assert denied.returncode != 0
    message = str(dumpcap_failure(denied.stderr, "lo"))
    assert message.startswith("no permission to capture on 'lo': run as root, or let dumpcap capture: sudo setcap")


def test_usage_errors_before_anything_starts(tmp_path):
    assert one_error_line(tcpanalyze("live")) == \
        "tcpanalyze: error: live needs an interface: -i IFACE (`tcpanalyze interfaces` lists them)"
    line = one_error_line(tcpanalyze("live", "-i", "lo", "--count", "1", "--write", str(tmp_path / "no" / "x.pcapng")))
    assert line == f"tcpanalyze: error: {tmp_path / 'no' / 'x.pcapng'}: cannot write: No such file or directory"


def test_interfaces_lists_loopback_with_its_address():
    require_loopback_capture()
    loopback = [i for i in list_interfaces() if i.name == "lo"]
    assert len(loopback) == 1 and loopback[0].loopback and "127.0.0.1" in loopback[0].addresses
    result = tcpanalyze("interfaces", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert '"name":"lo"' in result.stdout and '"127.0.0.1"' in result.stdout
