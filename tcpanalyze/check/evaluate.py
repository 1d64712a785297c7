"""Evaluate rules on an analysis (and optionally a baseline analysis): what passed, what failed, who.

>>> report = evaluate(rules, tcpanalyze.analyze("run.pcap"))
>>> report.exit_code          # 0 all passed (or only warnings failed), 1 an error-severity rule failed

A scope whose metric has no data (a rate with no data packets, a percentile with no samples)
is skipped, not failed. With a baseline, each scope is compared with the same scope of the
baseline; a scope the baseline does not have is checked against the limit only.

A capture with no TCP packets (an empty file, a header alone, records that could not be
read) is an input error, not a pass: every rule would pass on nothing. A rule on
``tcp_packets`` (``tcp_packets >= 0``) says that an empty capture is acceptable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import malloc
from ..capture import capture_label
from ..detect import DETECTOR_COLUMNS, DetectConfig, detect_anomalies
from ..detect.inputs import require_columns
from ..errors import CaptureError
from .metrics import METRIC_COLUMNS, METRICS, Metric
from .rules import COMPARISONS, Rule, format_limit
from .scope import CAPTURE, ScopedView

MAX_OFFENDERS = 5  # sessions listed per failed scope
MAX_KEPT = 1000  # scope outcomes kept per rule and status (the counts stay exact)
MAX_DETAILS = 5  # anomaly messages listed per failed scope


@dataclass
class Offender:
    """A session that contributes to a failure, with its own value of the metric."""

    session_id: int
    value: float


@dataclass
class ScopeOutcome:
    """A rule's verdict on one scope."""

    scope: object  # "capture", "10.0.0.2:80", "10.0.0.1" or a session id
    value: float
    status: str  # pass, fail, skip
    reason: str = ""
    baseline: float | None = None
    offenders: list[Offender] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # anomaly messages, for anomaly metrics

    def label(self, scope: str) -> str:
        return CAPTURE if scope == CAPTURE else f"{scope} {self.scope}"


@dataclass
class RuleResult:
    """A rule's verdict: fail if any scope failed, skip if every scope was skipped, else pass."""

    rule: Rule
    status: str
    counts: dict[str, int]  # scopes per status
    failed: list[ScopeOutcome]  # worst first
    passed: list[ScopeOutcome]
    skipped: list[ScopeOutcome]
    note: str = ""  # why the whole rule was skipped

    @property
    def outcomes(self) -> list[ScopeOutcome]:
        return self.failed + self.passed + self.skipped


@dataclass
class CheckReport:
    """Every rule's result on one capture (and its baseline)."""

    capture: str
    baseline: str | None
    results: list[RuleResult]
    warnings: list[str] = field(default_factory=list)  # what the readers said (a damaged tail, no records...)

    @property
    def failed(self) -> list[RuleResult]:
        return [r for r in self.results if r.status == "fail"]

    @property
    def exit_code(self) -> int:
        """1 when a rule of error severity failed, else 0."""
        return int(any(r.rule.severity == "error" for r in self.failed))


def needs(rules: list[Rule]) -> tuple[bool, bool]:
    """Whether the rules need the per-packet table, and anomaly detection."""
    metrics = [METRICS[r.metric] for r in rules]
    return any(m.needs_packets for m in metrics), any(m.needs_anomalies for m in metrics)


def anomalies_of(analysis) -> pd.DataFrame:
    """The analysis' anomalies, detected now if the analysis does not carry them."""
    found = getattr(analysis, "anomalies", None)
    if found is not None:
        return found
    return detect_anomalies(analysis.sessions, getattr(analysis, "detector_packets", None), DetectConfig())


def evaluate(rules: list[Rule], analysis, baseline=None, *, capture: str | None = None,
             baseline_name: str | None = None) -> CheckReport:
    """Evaluate every rule on ``analysis`` (an ``Analysis``), comparing with ``baseline`` if given."""
    _, want_anomalies = needs(rules)
    if not any(rule.metric == "tcp_packets" for rule in rules):
        for source in (analysis, baseline):
            if source is not None:
                _require_tcp(source)
    sources = [_Source(analysis, want_anomalies)]
    if baseline is not None:
        sources.append(_Source(baseline, want_anomalies))
    results = []
    for rule in rules:
        results.append(_evaluate_rule(rule, *sources))
        malloc.trim()  # the rule's working arrays back to the system: the next rule starts from what is live
    # A rule passing on a capture cut short must not hide that the capture was cut short.
    warnings = [w for source in (analysis, baseline) if source is not None for w in getattr(source, "warnings", [])]
    return CheckReport(capture or str(getattr(analysis, "path", "") or "capture"),
                       baseline_name or (str(getattr(baseline, "path", "")) if baseline is not None else None),
                       results, warnings)


def _require_tcp(analysis) -> None:
    """CaptureError if the capture gave no TCP packet at all."""
    accounting = getattr(analysis, "accounting", None)
    if accounting is None or accounting.by_class.get("tcp", 0):
        return
    path = getattr(analysis, "path", None)
    name = capture_label(path) if path is not None else "capture"
    why = "; ".join(w.removeprefix(f"{name}: ") for w in accounting.warnings) or (
        f"{accounting.records:,} records: {accounting.by_class.get('other_ip', 0):,} other IP, "
        f"{accounting.by_class.get('non_ip', 0):,} non-IP, {accounting.by_class.get('malformed', 0):,} malformed")
    raise CaptureError(f"{name}: no TCP packets to check ({why}); every rule would pass on nothing. "
                       f"The rule 'tcp_packets >= 0' accepts an empty capture")


# The session columns ``check`` reads: its metrics' and anomaly detection's (``run_check``
# analyses with these alone: a fraction of the memory on captures of many sessions).
CHECK_COLUMNS = tuple(dict.fromkeys((*METRIC_COLUMNS, *DETECTOR_COLUMNS)))


class _Source:
    """An analysis and its anomalies (detected once, if any rule needs them)."""

    def __init__(self, analysis, want_anomalies: bool) -> None:
        self.analysis = analysis
        self.anomalies = anomalies_of(analysis) if want_anomalies else None
        self.sessions = require_columns(analysis.sessions, CHECK_COLUMNS, "check")

    def view(self, rule: Rule) -> ScopedView:
        accounting = getattr(self.analysis, "accounting", None)
        rtt = self.analysis.rtt_sample_batches if getattr(self.analysis, "has_rtt_samples", False) else None
        return ScopedView(self.sessions, rule.scope, rule.filters, rtt=rtt, anomalies=self.anomalies,
                          complete=accounting is None or accounting.complete)


def _evaluate_rule(rule: Rule, source: _Source, baseline: _Source | None = None) -> RuleResult:
    metric = METRICS[rule.metric]
    has_tolerance = rule.max_increase is not None or rule.max_decrease is not None
    if rule.baseline_only and baseline is None:
        return RuleResult(rule, "skip", {"pass": 0, "fail": 0, "skip": 0}, [], [], [],
                          note="compares with a baseline: give --baseline")
    view = source.view(rule)
    if not len(view.keys):
        return RuleResult(rule, "skip", {"pass": 0, "fail": 0, "skip": 0}, [], [], [],
                          note=f"no {rule.scope} to check: no session matches the filters")
    values = metric.measure(view)
    old = metric.measure(baseline.view(rule)) if baseline is not None and has_tolerance else None
    keys = _worst_first(values, rule, old)
    new_values = values.reindex(keys).to_numpy(np.float64)
    old_values = np.full(len(keys), np.nan) if old is None else old.reindex(keys).to_numpy(np.float64)
    statuses = _statuses(rule, new_values, old_values)
    counts, outcomes = {}, {}
    for status in ("pass", "fail", "skip"):
        chosen = np.flatnonzero(statuses == status)
        counts[status] = int(chosen.size)
        # verdicts in bulk above; the few scopes kept get their full outcome (reason, offenders)
        outcomes[status] = [_judge(rule, keys[i], float(new_values[i]),
                                   None if old is None else float(old_values[i])) for i in chosen[:MAX_KEPT]]
    if outcomes["fail"]:
        _add_offenders(rule, metric, view, outcomes["fail"])
    status = "fail" if counts["fail"] else ("skip" if not counts["pass"] else "pass")
    return RuleResult(rule, status, counts, outcomes["fail"], outcomes["pass"], outcomes["skip"])


def _statuses(rule: Rule, value: np.ndarray, old: np.ndarray) -> np.ndarray:
    """"pass", "fail" or "skip" per scope, from its value and baseline value (NaN: none)."""
    skip = np.isnan(value)
    fail = np.zeros(value.size, np.bool_)
    if rule.comparison is not None:
        with np.errstate(invalid="ignore"):
            fail |= ~COMPARISONS[rule.comparison](value, rule.limit)
    known = ~np.isnan(old)
    for tolerance, sign in ((rule.max_increase, 1), (rule.max_decrease, -1)):
        if tolerance is not None:
            fail |= known & ((value - tolerance.bound(old, sign)) * sign > 0)
    return np.where(skip, "skip", np.where(fail, "fail", "pass"))


def _judge(rule: Rule, key, value: float, old: float | None) -> ScopeOutcome:
    if math.isnan(value):
        return ScopeOutcome(key, value, "skip", "no data")
    problems = []
    if not rule.passes(value):
        problems.append(f"not {rule.comparison} {format_limit(rule.limit)}")
    if old is not None and math.isnan(old):
        old = None
    if old is not None:
        for tolerance, sign, word in ((rule.max_increase, 1, "increase"), (rule.max_decrease, -1, "decrease")):
            if tolerance is None:
                continue
            bound = tolerance.bound(old, sign)
            if (value - bound) * sign > 0:
                problems.append(f"{word} over {tolerance} (at most {_fmt(bound)})")
    status = "fail" if problems else "pass"
    return ScopeOutcome(key, value, status, "; ".join(problems), baseline=old)


def _worst_first(values: pd.Series, rule: Rule, old: pd.Series | None) -> list:
    """Scope keys, the worst first: lowest values for a lower bound, otherwise highest (or the
    biggest move from the baseline for a rule with only tolerances)."""
    order = values
    if rule.baseline_only and old is not None:
        order = values - old.reindex(values.index).fillna(0)
    ascending = rule.comparison in (">", ">=")
    frame = pd.DataFrame({"v": order.to_numpy(), "k": np.arange(len(order))})
    frame = frame.sort_values(["v", "k"], ascending=[ascending, True], na_position="last", kind="stable")
    return values.index[frame["k"].to_numpy()].tolist()


def _add_offenders(rule: Rule, metric: Metric, view: ScopedView, failed: list[ScopeOutcome]) -> None:
    if metric.needs_anomalies:
        _add_anomaly_details(view, failed)
    if not metric.ranks_sessions:
        return
    if view.scope == "session":  # the failed scopes are the sessions themselves
        return
    scoped = view.restrict(outcome.scope for outcome in failed)  # failed[i] is scope code i
    per_session = metric.measure(scoped.as_sessions())
    ids = scoped.per_row(scoped.sessions["session_id"].to_numpy())
    members = pd.DataFrame({"scope": scoped.codes, "session_id": ids})
    members = members.assign(value=per_session.reindex(members["session_id"]).to_numpy()).dropna()
    ascending = rule.comparison in (">", ">=")
    if rule.comparison == "!=":
        members = members[members["value"] == rule.limit]
    elif not ascending:
        members = members[members["value"] > 0]
    members = members.sort_values(["value", "session_id"], ascending=[ascending, True], kind="stable")
    top = members.groupby("scope", sort=False).head(MAX_OFFENDERS)
    listed = {code: [Offender(int(sid), float(v)) for sid, v in zip(group["session_id"], group["value"])]
              for code, group in top.groupby("scope", sort=False)}
    for code, outcome in enumerate(failed):
        outcome.offenders = listed.get(code, [])


def _add_anomaly_details(view: ScopedView, failed: list[ScopeOutcome]) -> None:
    found = view.anomalies
    for outcome in failed:
        mine = found[found["scope"] == outcome.scope].drop_duplicates("anomaly_id")
        outcome.details = [f"#{row.anomaly_id} {row.kind} ({row.severity}): {row.message}"
                           for row in mine.head(MAX_DETAILS).itertuples()]


def _fmt(value: float) -> str:
    return f"{value:.6g}"
