"""Check rules: what a rule says, read from a TOML rules file or from one line of text.

>>> load_rules("rules.toml")                      # [[rule]] tables, errors name FILE:LINE
>>> parse_inline("retransmission_rate < 0.02 scope=server severity=warning")

Every mistake (bad TOML, unknown metric or key, bad comparison, missing limit) is a
``UsageError`` whose message starts with where it is ("rules.toml:12: ") and, when a close
spelling exists, ends with "hint: did you mean 'retransmission_rate'?".
"""

from __future__ import annotations

import difflib
import operator
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from .metrics import METRICS

COMPARISONS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
               "==": operator.eq, "!=": operator.ne}
SCOPES = ("capture", "server", "host", "session")
SEVERITIES = ("error", "warning")
# Which sessions a rule looks at; values are one item or a list of items (any may match).
FILTER_KEYS = ("host", "port", "server", "orig_addr", "resp_addr", "resp_port", "conn_state", "close_type")
RULE_KEYS = ("name", "metric", "comparison", "limit", "expr", "scope", "severity", "filter",
             "max_increase", "max_decrease")
TOP_LEVEL_KEYS = ("rule",)
INLINE_KEYS = ("scope", "severity", "name", "max_increase", "max_decrease")  # besides the filters

_RULE_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
_EXPRESSION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|==|!=|<|>|=<|=>|=|<>)\s*([^\s]+)\s*(.*)$")


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may move from the baseline: ``amount`` absolute, or a fraction if ``relative``."""

    amount: float
    relative: bool

    def bound(self, old: float, sign: int) -> float:
        """The furthest allowed value from ``old`` (sign +1: upwards, -1: downwards)."""
        step = abs(old) * self.amount if self.relative else self.amount
        return old + sign * step

    def __str__(self) -> str:
        return f"{self.amount * 100:g}%" if self.relative else f"{self.amount:g}"


@dataclass(frozen=True)
class Rule:
    """One check: ``metric comparison limit`` per ``scope``, over the sessions ``filters`` keep."""

    metric: str
    comparison: str | None = None
    limit: float | None = None
    scope: str = "capture"
    severity: str = "error"
    filters: dict[str, tuple] = field(default_factory=dict)
    max_increase: Tolerance | None = None
    max_decrease: Tolerance | None = None
    name: str = ""
    file: str | None = None  # where the rule was written, for messages and annotations
    line: int | None = None

    @property
    def title(self) -> str:
        """The rule's name, or its expression when it has none."""
        return self.name or self.expression

    @property
    def expression(self) -> str:
        parts = []
        if self.comparison is not None:
            parts.append(f"{self.metric} {self.comparison} {format_limit(self.limit)}")
        for word, tol in (("max_increase", self.max_increase), ("max_decrease", self.max_decrease)):
            if tol is not None:
                parts.append(f"{self.metric} {word} {tol}")
        text = ", ".join(parts)
        if self.scope != "capture":
            text += f" per {self.scope}"
        if self.filters:
            text += " where " + " ".join(f"{k}={','.join(map(str, v))}" for k, v in self.filters.items())
        return text

    @property
    def location(self) -> str:
        """"rules.toml:12", "rules.toml" or "inline"."""
        if self.file is None:
            return "inline"
        return f"{self.file}:{self.line}" if self.line else self.file

    def passes(self, value: float) -> bool:
        """Whether ``value`` meets the comparison (True when the rule has only baseline tolerances)."""
        return self.comparison is None or bool(COMPARISONS[self.comparison](value, self.limit))

    @property
    def baseline_only(self) -> bool:
        return self.comparison is None


def format_limit(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def hint(word: str, choices) -> str:
    """"; hint: did you mean 'x'?" for the closest choice, or "" when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; hint: did you mean '{close[0]}'?" if close else ""


# -------------------------------------------------------------------------- rules files


def load_rules(path: str | Path) -> list[Rule]:
    """The rules of a TOML rules file (``[[rule]]`` tables), validated."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read rules file {path}: {exc.strerror or exc}") from None
    return parse_rules_text(text, str(path))


def parse_rules_text(text: str, filename: str = "<rules>") -> list[Rule]:
    """Rules from the text of a TOML rules file; ``filename`` is used in error messages."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\(at line (\d+), column \d+\)", message)
        line = where.group(1) if where else len(text.splitlines())  # "(at end of document)"
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        raise UsageError(f"{filename}:{line}: invalid TOML: {message}") from None
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            raise UsageError(f"{filename}:{_key_line(text, key, 0, None) or '?'}: unknown table or key "
                             f"'{key}' (rules are [[rule]] tables){hint(key, TOP_LEVEL_KEYS)}")
    tables = doc.get("rule", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise UsageError(f"{filename}: 'rule' must be an array of tables, written [[rule]]")
    headers = [i + 1 for i, line in enumerate(text.splitlines()) if _RULE_HEADER.match(line)]
    rules = []
    for index, table in enumerate(tables):
        start = headers[index] if index < len(headers) else None
        end = headers[index + 1] if index + 1 < len(headers) else None
        rules.append(_rule_from_table(table, _Where(filename, text, start, end)))
    if not rules:
        raise UsageError(f"{filename}: no rules (write each as a [[rule]] table)")
    return rules


@dataclass
class _Where:
    """Where a rule's table sits in its file, to give each error the line of the key at fault."""

    filename: str
    text: str
    start: int | None  # line of the [[rule]] header (1-based)
    end: int | None  # line of the next header

    def error(self, message: str, key: str | None = None) -> UsageError:
        line = _key_line(self.text, key, self.start, self.end) if key and self.start else None
        line = line or self.start
        return UsageError(f"{self.filename}:{line}: {message}" if line else f"{self.filename}: {message}")


def _key_line(text: str, key: str, start: int | None, end: int | None) -> int | None:
    """The 1-based line where ``key = ...`` (or ``[key]``) is written between two lines, if found."""
    pattern = re.compile(rf"^\s*(\[\[?\s*)?{re.escape(key)}\s*(=|\]|\.)")
    lines = text.splitlines()
    first = start or 1
    for number in range(first, (end or len(lines) + 1)):
        if pattern.match(lines[number - 1]):
            return number
    return None


def _rule_from_table(table: dict, where: _Where) -> Rule:
    for key in table:
        if key not in RULE_KEYS:
            raise where.error(f"unknown rule key '{key}'{hint(key, RULE_KEYS)}", key)
    if "expr" in table:
        if any(k in table for k in ("metric", "comparison", "limit")):
            raise where.error("give either expr or metric/comparison/limit, not both", "expr")
        expr = table["expr"]
        if not isinstance(expr, str):
            raise where.error("expr must be a string such as \"retransmission_rate < 0.02\"", "expr")
        metric, comparison, limit, rest = _split_expression(expr, where, "expr")
        if rest:
            raise where.error(f"unexpected text after the limit in expr: {rest!r}", "expr")
    else:
        metric = table.get("metric")
        if metric is None:
            raise where.error("rule has no metric (write metric = \"...\", or expr = \"metric < limit\")")
        if not isinstance(metric, str):
            raise where.error("metric must be a string", "metric")
        comparison, limit = table.get("comparison"), table.get("limit")
    if "expr" not in table:
        _check_metric(metric, where)
    max_increase = _tolerance(table, "max_increase", where)
    max_decrease = _tolerance(table, "max_decrease", where)
    if comparison is None and limit is None:
        if max_increase is None and max_decrease is None:
            raise where.error(f"rule for '{metric}' has no comparison and limit (and no max_increase or "
                              "max_decrease)")
    else:
        _check_comparison(comparison, where)
        limit = _check_limit(limit, where)
    name = table.get("name", "")
    if not isinstance(name, str):
        raise where.error("name must be a string", "name")
    return Rule(metric=metric, comparison=comparison, limit=limit,
                scope=_choice(table, "scope", SCOPES, "capture", where),
                severity=_choice(table, "severity", SEVERITIES, "error", where),
                filters=_filters(table.get("filter", {}), where), max_increase=max_increase,
                max_decrease=max_decrease, name=name, file=where.filename, line=where.start)


def _check_metric(metric: str, where: _Where, key: str | None = "metric") -> None:
    if metric not in METRICS:
        raise where.error(f"unknown metric '{metric}'{hint(metric, METRICS)}", key)


def _check_comparison(comparison, where: _Where, key: str | None = "comparison") -> None:
    if comparison is None:
        raise where.error("rule has a limit but no comparison (one of <, <=, >, >=, ==, !=)")
    if comparison not in COMPARISONS:
        raise where.error(f"bad comparison {comparison!r}: use one of {', '.join(COMPARISONS)}"
                          f"{_comparison_hint(str(comparison))}", key)


def _comparison_hint(text: str) -> str:
    swapped = {"=<": "<=", "=>": ">=", "=": "==", "<>": "!="}.get(text)
    return f"; hint: did you mean '{swapped}'?" if swapped else ""


def _check_limit(limit, where: _Where):
    if limit is None:
        raise where.error("rule has a comparison but no limit")
    if isinstance(limit, bool) or isinstance(limit, (int, float)):
        return limit
    raise where.error(f"limit must be a number (or true/false), not {limit!r}", "limit")


def _choice(table: dict, key: str, choices: tuple, default: str, where: _Where) -> str:
    value = table.get(key, default)
    if value not in choices:
        raise where.error(f"bad {key} {value!r}: use one of {', '.join(choices)}{hint(str(value), choices)}", key)
    return value


def _filters(raw, where: _Where) -> dict[str, tuple]:
    if not isinstance(raw, dict):
        raise where.error("filter must be a table, e.g. filter = { port = 443 }", "filter")
    filters = {}
    for key, value in raw.items():
        if key not in FILTER_KEYS:
            raise where.error(f"unknown filter '{key}'{hint(key, FILTER_KEYS)}", "filter")
        values = tuple(value) if isinstance(value, list) else (value,)
        if not values or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
            raise where.error(f"filter {key} takes a string or number, or a list of them", "filter")
        filters[key] = values
    return filters


def _tolerance(table: dict, key: str, where: _Where) -> Tolerance | None:
    if key not in table:
        return None
    tol = parse_tolerance(table[key])
    if tol is None:
        raise where.error(f"{key} must be a number (absolute) or a percentage string such as \"20%\", "
                          f"not {table[key]!r}", key)
    return tol


def parse_tolerance(value) -> Tolerance | None:
    """``"20%"`` -> relative 0.2; ``0.01`` or ``"0.01"`` -> absolute; None if neither or negative."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Tolerance(float(value), False) if value >= 0 else None
    if isinstance(value, str):
        text = value.strip()
        relative = text.endswith("%")
        try:
            amount = float(text.rstrip("%").strip())
        except ValueError:
            return None
        if amount < 0:
            return None
        return Tolerance(amount / 100, True) if relative else Tolerance(amount, False)
    return None


# ------------------------------------------------------------------------ inline rules


def parse_inline(text: str, source: str = "--rule") -> Rule:
    """One rule from text: ``METRIC OP LIMIT [key=value ...]`` (keys: scope, severity, name,
    max_increase, max_decrease and the filter keys), or ``METRIC max_increase=20%``."""
    where = _Where(source, "", None, None)
    words = text.split()
    if len(words) >= 2 and words[1].partition("=")[0] in ("max_increase", "max_decrease"):
        metric, comparison, limit, rest = words[0], None, None, " ".join(words[1:])
    else:
        metric, comparison, limit, rest = _split_expression(text, where, None)
    table: dict = {"metric": metric}
    if comparison is not None:
        table.update(comparison=comparison, limit=limit)
    filters = {}
    for word in rest.split():
        key, eq, value = word.partition("=")
        if not eq or not value:
            raise where.error(f"expected key=value after the rule, got {word!r}")
        if key in FILTER_KEYS:
            filters[key] = [int(v) if v.isdigit() else v for v in value.split(",")]
        elif key in INLINE_KEYS:
            table[key] = value
        else:
            raise where.error(f"unknown key '{key}' in {text!r}{hint(key, FILTER_KEYS + INLINE_KEYS)}")
    if filters:
        table["filter"] = filters
    rule = _rule_from_table(table, where)
    return Rule(**{**rule.__dict__, "file": None, "line": None})


def _split_expression(text: str, where: _Where, key: str | None) -> tuple[str, str, float, str]:
    match = _EXPRESSION.match(text)
    if match is None:
        raise where.error(f"cannot read rule {text!r}: expected METRIC OP LIMIT, e.g. "
                          "\"retransmission_rate < 0.02\"", key)
    metric, comparison, limit_text, rest = match.groups()
    _check_metric(metric, where, key)
    _check_comparison(comparison, where, key)
    lowered = limit_text.lower()
    if lowered in ("true", "false"):
        return metric, comparison, lowered == "true", rest
    try:
        limit = float(limit_text)
    except ValueError:
        raise where.error(f"limit must be a number (or true/false), not {limit_text!r}", key) from None
    return metric, comparison, int(limit) if limit.is_integer() and "." not in limit_text else limit, rest
