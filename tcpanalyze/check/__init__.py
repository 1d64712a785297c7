"""``tcpanalyze check``: gate CI pipelines on captured traffic.

>>> from tcpanalyze.check import load_rules, run_check
>>> report = run_check("run.pcap", load_rules("rules.toml"), baseline="good.pcap")
>>> report.exit_code, [r.status for r in report.results]

``rules`` reads rules (TOML files, inline text), ``metrics`` defines what they measure,
``scope`` groups sessions by capture, server, host or session, ``evaluate`` judges them and
``outputs`` writes the summary, JUnit XML, JSON and GitHub annotations.
"""

from __future__ import annotations

from ..capture import CaptureSpec, capture_label
from .evaluate import CHECK_COLUMNS, CheckReport, RuleResult, ScopeOutcome, evaluate, needs
from .metrics import METRICS
from .rules import Rule, load_rules, parse_inline, parse_rules_text

__all__ = ["CHECK_COLUMNS", "CheckReport", "METRICS", "Rule", "RuleResult", "ScopeOutcome", "evaluate", "load_rules",
           "parse_inline", "parse_rules_text", "run_check"]


def run_check(path: CaptureSpec, rules: list[Rule], baseline: CaptureSpec | None = None, *, options=None, select=None,
              progress=None, workers: int = 1, client=None, display_filter: str | None = None,
              filter_engine: str = "builtin") -> CheckReport:
    """Analyse ``path`` (and ``baseline``) as far as the rules need, and evaluate the rules.

    Only what the rules read is kept: the sessions, and when a rule needs them the RTT samples
    and the packets anomaly detection reads (``Analysis.evidence``), never the packets table. ``select``
    (an ``Analysis`` -> ``Analysis`` function) narrows both analyses before the rules see them;
    ``progress`` is the capture reader's progress callback; ``workers``, ``client`` and
    ``display_filter`` (``analyze``'s ``filter``: the sessions with a packet it matches) and
    ``filter_engine`` are ``analyze``'s.
    """
    from ..pipeline import analyze

    evidence = any(needs(rules))
    select = select or (lambda analysis: analysis)
    settings = {"packets": False, "evidence": evidence, "options": options, "progress": progress,
                "workers": workers, "client": client, "columns": CHECK_COLUMNS, "filter": display_filter,
                "filter_engine": filter_engine}
    analysis = select(analyze(path, **settings))
    old = select(analyze(baseline, **settings)) if baseline is not None else None
    if needs(rules)[1]:  # the anomalies found, nothing else reads the evidence packets
        for found in (analysis, old):
            if found is not None:
                found.drop_evidence_packets()
    return evaluate(rules, analysis, old, capture=capture_label(path),
                    baseline_name=None if baseline is None else capture_label(baseline))
