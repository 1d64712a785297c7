"""Every report format on real samples and corpus files: the JSON validates against the documented
schema, and the text and markdown forms carry the same numbers as the JSON (parsed back)."""

from __future__ import annotations

import io
import json
import re

import jsonschema
import pytest

import tcpanalyze
from helpers import CORPUS_DIR, REPO_ROOT, SAMPLE_DIR
from tcpanalyze.report import build_report
from tcpanalyze.report.markdown import markdown_text
from tcpanalyze.report.text import write_text

SCHEMA = json.loads((REPO_ROOT / "docs" / "report.schema.json").read_text())
CORPUS_PICKS = ("tcp-zero-window-probes.pcap", "tcp-retrans-fastretrans-lost-dupack.pcap", "tcp-syn-scan-nmap.pcap",
                "sll-redis-loopback-15-conns.pcap", "rawip-lt12-ipv6-http-4-streams.pcap",
                "tcp-rst-connection-refused.pcap", "empty-header-only.pcap", "tcp-ooo-zerowindow-sack-http-206.pcap")
FILES = sorted(SAMPLE_DIR.glob("real-*.pcap*")) + [SAMPLE_DIR / "synth-mixed-non-tcp.pcap"] + [
    CORPUS_DIR / name for name in CORPUS_PICKS if (CORPUS_DIR / name).is_file()]
TITLES = ("Capture", "Problems, worst first", "Servers", "Sessions that need attention")


@pytest.fixture(scope="module", params=FILES, ids=lambda p: p.name)
def rendered(request) -> dict:
    report = build_report(tcpanalyze.analyze(str(request.param)))
    text = io.StringIO()
    write_text(report, text)
    return {"data": json.loads(report.to_json()), "text": text.getvalue(), "markdown": markdown_text(report)}


def test_json_validates_against_the_documented_schema(rendered):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(rendered["data"])


def test_text_carries_the_numbers_of_the_json(rendered):
    assert_same_numbers(parse_text(rendered["text"]), rendered["data"])


def test_markdown_carries_the_numbers_of_the_json(rendered):
    assert_same_numbers(parse_markdown(rendered["markdown"]), rendered["data"])


def test_schema_documents_every_field():
    """Every property in the schema has a description or a referenced definition that has one."""
    def walk(node, where):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert "description" in sub or "$ref" in sub, f"{where}.{name} has no description"
                walk(sub, f"{where}.{name}")
            for key in ("items", "additionalProperties"):
                walk(node.get(key), where)
            for name, sub in node.get("$defs", {}).items():
                walk(sub, name)
    walk(SCHEMA, "report")


# -- parsing the human formats back --------------------------------------------------------

def parse_text(text: str) -> dict:
    """Sections of the text report: facts as {label: value}, table rows as lists of cells."""
    sections: dict[str, dict] = {}
    current = None
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        line = lines[k]
        if line in TITLES:
            current = sections.setdefault(line, {"facts": {}, "rows": []})
        elif current is not None and k + 1 < len(lines) and set(lines[k + 1].strip()) == {"─"}:
            columns = re.split(r"\s{2,}", line.strip())
            k += 2
            while k < len(lines) and len(re.split(r"\s{2,}", lines[k].strip())) == len(columns):
                current["rows"].append(re.split(r"\s{2,}", lines[k].strip()))
                k += 1
            continue
        elif current is not None and (m := re.match(r"^([A-Za-z_ ()]+):\s+(.*)$", line)):
            current["facts"][m.group(1)] = m.group(2)
        k += 1
    return sections


def parse_markdown(text: str) -> dict:
    sections: dict[str, dict] = {}
    current = None
    table: list[list[str]] = []
    for line in text.splitlines() + [""]:
        if line.startswith("## "):
            current = sections.setdefault(line[3:], {"facts": {}, "rows": []})
        elif current is not None and (m := re.match(r"^- \*\*(.+?):\*\* (.*)$", line)):
            current["facts"][m.group(1)] = _unescape(m.group(2))
        elif line.startswith("|"):
            table.append([_unescape(c.strip()) for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
        elif table:
            current["rows"] = table[2:]  # header and rule first
            table = []
    return sections


def _unescape(cell: str) -> str:
    return re.sub(r"\\(.)", r"\1", cell)


def _number(cell: str) -> float | None:
    return None if cell == "-" else float(cell.replace(",", ""))


def _integers(text: str) -> list[int]:
    """The integers written with thousands separators in a line, in order."""
    return [int(n.replace(",", "")) for n in re.findall(r"\d+(?:,\d{3})*", text)]


def _counts(text: str) -> dict[str, int]:
    return {} if text == "none" else {k: int(v.replace(",", "")) for k, v in
                                      (part.rsplit(" ", 1) for part in text.split(", "))}


def assert_same_numbers(sections: dict, data: dict) -> None:
    assert list(sections) == list(TITLES)
    capture, facts = data["capture"], sections["Capture"]["facts"]
    packets = capture["packets"]
    assert facts["File"] == capture["file"]
    assert _number(facts["Sessions"]) == capture["sessions"]
    assert _number(facts["Duration (s)"]) == pytest.approx(capture["duration_s"], abs=5e-4)
    assert _integers(facts["Records"]) == [packets[k] for k in ("records", "tcp", "other_ip", "non_ip", "malformed")]
    assert _integers(facts["Bytes"]) == [
        capture["total_bytes"], capture["orig_bytes"], capture["resp_bytes"]]
    assert _counts(facts["By close type"]) == capture["sessions_by_close_type"]
    assert _counts(facts["By conn_state"]) == capture["sessions_by_conn_state"]

    problems = sections["Problems, worst first"]["rows"]
    assert [[int(r[0]), r[1], r[2], r[3], r[4]] for r in problems] == [
        [p["rank"], p["severity"], p["kind"], p["target"] or "-", p["message"]] for p in data["problems"]]

    servers = sections["Servers"]["rows"]
    assert [r[0] for r in servers] == [s["server"] for s in data["servers"]]
    for row, server in zip(servers, data["servers"]):
        assert [_number(c) for c in (row[1], row[2], row[3], row[8])] == [
            server["sessions"], server["failed_handshakes"], server["retrans_all_pkts"], server["bytes"]]
        assert row[5] == (server["rtt_to"] or "-")
        for cell, key, digits in ((row[4], "retrans_pct", 2), (row[6], "rtt_median_ms", 3), (row[7], "rtt_p95_ms", 3)):
            value = server[key]
            assert _number(cell) == (None if value is None else pytest.approx(value, abs=0.51 * 10 ** -digits))

    attention = sections["Sessions that need attention"]["rows"]
    assert [[_number(r[0]), r[1], r[2], r[3], _number(r[5]), r[6]] for r in attention] == [
        [a["session_id"], a["orig"], a["resp"], a["conn_state"], a["orig_bytes"] + a["resp_bytes"],
         "; ".join(d["message"] for d in a["diagnoses"])] for a in data["attention"]]
    for row, session in zip(attention, data["attention"]):
        assert _number(row[4]) == pytest.approx(session["duration_s"], abs=5e-4)
