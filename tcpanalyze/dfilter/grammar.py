"""Wireshark display-filter syntax, parsed with pyparsing into a small tree (``Node``s).

>>> parse("tcp.port in {80, 443} && !tcp.analysis.retransmission")
Logic(op='and', items=(Test(...), Not(...)))

The grammar knows no field names: ``fields`` says what a name means, ``evaluate`` what a tree
selects. Precedence as in Wireshark 4.0: ``!``/``not`` binds tightest, then ``&&``/``and``,
then ``||``/``or``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pyparsing as pp

from ..errors import UsageError

OPERATORS = {"==": "==", "eq": "==", "any_eq": "==", "!=": "!=", "ne": "!=", "all_ne": "!=",
             "===": "===", "all_eq": "===", "!==": "!==", "~=": "!==", "any_ne": "!==",
             "<": "<", "lt": "<", ">": ">", "gt": ">", "<=": "<=", "le": "<=", ">=": ">=", "ge": ">=",
             "contains": "contains", "matches": "matches", "~": "matches", "&": "&", "bitwise_and": "&"}


@dataclass(frozen=True)
class Name:
    """A field name where the filter has it (``at``: 1-based column)."""

    text: str
    at: int


@dataclass(frozen=True)
class Test:
    """``field OP value`` (``op`` normalised: ``==``, ``!=``, ``<``, ... ``in``, ``&``), or a bare field (op None)."""

    field: Name
    op: str | None = None
    values: tuple = ()  # literal texts (str), quoted strings (Quoted) or ranges (tuple of two)


@dataclass(frozen=True)
class Quoted:
    """A double-quoted string literal, unescaped."""

    text: str


@dataclass(frozen=True)
class Not:
    item: object


@dataclass(frozen=True)
class Logic:
    op: str  # "and" or "or"
    items: tuple


def parse(text: str):
    """The tree of a display filter; UsageError with the column of a syntax error."""
    try:
        return _grammar().parse_string(text, parse_all=True)[0]
    except pp.ParseBaseException as exc:
        raise UsageError(f"display filter {text!r}: syntax error at column {exc.col}: "
                         f"{exc.msg.replace('Expected', 'expected')}") from None


@cache
def _grammar() -> pp.ParserElement:
    keywords = pp.MatchFirst([pp.CaselessKeyword(w) for w in ("and", "or", "not", "in", "contains", "matches",
                                                               "eq", "ne", "lt", "gt", "le", "ge", "bitwise_and",
                                                               "any_eq", "all_ne", "all_eq", "any_ne")])
    # A literal or a name: letters, digits and _:/- with single dots (``..`` separates a range).
    word = pp.Regex(r"(?:[A-Za-z0-9_:/\-]|\.(?!\.))+")
    field = (~keywords + pp.Regex(r"[A-Za-z_][A-Za-z0-9_.\-]*")).set_name("field name")
    field.set_parse_action(lambda s, loc, t: Name(t[0], pp.col(loc, s)))
    quoted = pp.QuotedString('"', esc_char="\\").set_parse_action(lambda t: Quoted(t[0]))
    value = (quoted | ~keywords + word).set_name("value")
    item = (value + pp.Suppress("..") + value).set_parse_action(lambda t: (t[0], t[1])) | value
    members = pp.Suppress("{") - pp.DelimitedList(item, delim=pp.Optional(",").suppress()) - pp.Suppress("}")
    # ``&`` (bitwise and: the field has one of the mask's bits) is no ``&&``
    symbol = pp.one_of("=== !== == != ~= <= >= < > ~") | pp.Regex(r"&(?!&)")
    words = pp.MatchFirst([pp.CaselessKeyword(w) for w in OPERATORS if w[0].isalpha()])
    compare = field + (symbol | words).set_parse_action(lambda t: OPERATORS[t[0].lower()]) - value
    member = field + pp.CaselessKeyword("in").set_parse_action(lambda: "in") - pp.Group(members)
    test = (member.copy().set_parse_action(lambda t: Test(t[0], "in", tuple(t[2])))
            | compare.copy().set_parse_action(lambda t: Test(t[0], t[1], (t[2],)))
            | field.copy().add_parse_action(lambda t: Test(t[0])))
    return pp.infix_notation(test.set_name("field test"), [
        (pp.one_of("! not", caseless=True), 1, pp.OpAssoc.RIGHT, lambda t: Not(t[0][1])),
        (pp.one_of("&& and", caseless=True), 2, pp.OpAssoc.LEFT, lambda t: Logic("and", tuple(t[0][0::2]))),
        (pp.one_of("|| or", caseless=True), 2, pp.OpAssoc.LEFT, lambda t: Logic("or", tuple(t[0][0::2]))),
    ])
