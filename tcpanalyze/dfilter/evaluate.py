"""A parsed display filter over a frame's columns: one numpy boolean mask, no per-row Python.

Address and text columns are compared once per distinct value (``pd.factorize``) and the
answers spread back by code. A field that is absent from a row (another IP version, ``<NA>``,
the column's "none" value) fails every comparison there, as in Wireshark; ``!=`` is
Wireshark 4.0's "all not equal" (the field is present and no occurrence equals the value),
``!==`` "any not equal", ``===`` "all equal"; ``==``, ``<``..., ``in``, ``contains`` and
``matches`` hold when any occurrence does.
"""

from __future__ import annotations

import difflib
import ipaddress
import operator
import re

import numpy as np
import pandas as pd

from ..errors import UsageError
from .fields import DERIVED, Field
from .grammar import Logic, Name, Not, Quoted, Test

_ORDER = {"==": operator.eq, "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}


def check_names(tree, fields: dict[str, Field], text: str, other_way: str = "",
                lacking: dict[str, str] | None = None) -> None:
    """UsageError naming the closest fields for the first name ``fields`` does not have, or saying
    why not if ``lacking`` (field or prefix: reason) knows (``other_way``: what else the user can
    do, said last)."""
    for name in _names(tree):
        why = [reason for field, reason in (lacking or {}).items() if name.text.startswith(field)]
        if why:
            raise UsageError(f"display filter {text!r}: {name.text!r} at column {name.at} is a Wireshark field "
                             f"we do not compute: {why[0]}{other_way}")
        if name.text not in fields:
            close = difflib.get_close_matches(name.text, list(fields), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else " (the README lists the fields)"
            raise UsageError(f"display filter {text!r}: no field {name.text!r} at column {name.at}{hint}{other_way}")


def _names(tree):
    if isinstance(tree, Test):
        yield tree.field
    elif isinstance(tree, Not):
        yield from _names(tree.item)
    else:
        for item in tree.items:
            yield from _names(item)


def mask(tree, frame: pd.DataFrame, fields: dict[str, Field], base_ns: int | None = None) -> np.ndarray:
    """The rows of ``frame`` the filter ``tree`` selects."""
    if isinstance(tree, Not):
        return ~mask(tree.item, frame, fields, base_ns)
    if isinstance(tree, Logic):
        combine = np.logical_and if tree.op == "and" else np.logical_or
        return combine.reduce([mask(item, frame, fields, base_ns) for item in tree.items])
    return _test(tree, frame, fields[tree.field.text], base_ns)


def _test(test: Test, frame: pd.DataFrame, field: Field, base_ns: int | None) -> np.ndarray:
    occurrences = [_occurrence(frame, column, field, base_ns) for column in field.columns]
    present = np.logical_or.reduce([p for _, p in occurrences])
    if test.op is None:
        if field.kind == "bool":
            return np.logical_or.reduce([p & (v != 0) for v, p in occurrences])
        return present
    if field.kind == "label":
        raise UsageError(f"{test.field.text} is a label (present or not): use it bare, not with {test.op}")
    op = "==" if test.op in ("!=", "===", "!==") else test.op
    hits = [p & _hit(op, test.values, v, field, test.field) for v, p in occurrences]
    if test.op == "!=":
        return present & ~np.logical_or.reduce(hits)
    if test.op == "===":
        return present & np.logical_and.reduce([h | ~p for h, (_, p) in zip(hits, occurrences)])
    if test.op == "!==":
        return np.logical_or.reduce([p & ~h for h, (_, p) in zip(hits, occurrences)])
    return np.logical_or.reduce(hits)


def _occurrence(frame: pd.DataFrame, column: str, field: Field, base_ns: int | None):
    """(values, present) of one column for ``field``: numbers as an int64/float64 array, addresses
    and text as a ``(codes, uniques)`` pair."""
    series = frame[column] if column in frame.columns else DERIVED[column](frame)
    present = series.notna().to_numpy(bool, copy=True)
    if field.version is not None:
        present &= frame["ip_version"].to_numpy() == field.version
    if field.tunnel:
        present &= _through(frame["tunnel"], field.tunnel, field.innermost)
    if field.kind in ("addr", "text"):
        codes, uniques = pd.factorize(series.astype(object) if field.kind == "addr" else series)
        return (codes, np.asarray(uniques, dtype=object)), present
    float_column = pd.api.types.is_float_dtype(series.dtype)
    values = series.to_numpy(dtype=np.float64 if float_column else np.int64, na_value=0)
    if field.bit:
        values = (values & field.bit) != 0
        return values.astype(np.int64), present & (values if field.kind == "label" else True)
    if field.absent is not None:
        present &= values != field.absent
    if field.relative:
        values = values - (base_ns or 0)
    return values, present


def _through(chains: pd.Series, kinds: tuple[str, ...], innermost: bool) -> np.ndarray:
    """Packets whose tunnel chain (``gre>vxlan``) holds one of ``kinds`` (as its last layer
    when ``innermost``)."""
    categorical = chains.astype("category").array
    layers = [str(c).split(">") for c in categorical.categories]
    table = np.array([(ls[-1] in kinds) if innermost else bool(set(ls) & set(kinds)) for ls in layers], dtype=bool)
    return np.append(table, False)[categorical.codes]  # code -1 (untunnelled) reads the appended False


def _hit(op: str, literals: tuple, values, field: Field, name: Name) -> np.ndarray:
    """Where the values match ``op`` against the literals (``in``: any literal or range)."""
    if field.kind in ("addr", "text"):
        codes, uniques = values
        table = np.array([_scalar_hit(op, literals, u, field, name) for u in uniques], dtype=bool)
        return np.append(table, False)[codes]  # code -1 (missing) reads the appended False
    if op in ("contains", "matches"):
        raise UsageError(f"{name.text}: {op} needs a text field, and this one is a number")
    if op == "&":  # Wireshark's bitwise and: any of the mask's bits set
        return (values.astype(np.int64) & _number(literals[0], field, name)) != 0
    if op != "in":
        return _ORDER[op](values, _number(literals[0], field, name))
    hit = np.zeros(len(values), bool)
    for item in literals:
        if isinstance(item, tuple):
            hit |= (values >= _number(item[0], field, name)) & (values <= _number(item[1], field, name))
        else:
            hit |= values == _number(item, field, name)
    return hit


def _scalar_hit(op: str, literals: tuple, value, field: Field, name: Name) -> bool:
    """One distinct address or text value against the literals (few per column: plain Python)."""
    if field.kind == "addr":
        value = ipaddress.ip_address(value)
        if op == "in":
            return any(_address_in(value, item, name) for item in literals)
        if op == "==":
            return value in _network(literals[0], name, value.version)
        if op in _ORDER:
            return _ORDER[op](value, _network(literals[0], name, value.version).network_address)
        raise UsageError(f"{name.text}: {op} needs a text field, and this one is an address")
    value = str(value)
    if op == "in":
        return any(_text(lo) <= value <= _text(hi) if isinstance(item, tuple) else value == _text(item)
                   for item in literals for lo, hi in [item if isinstance(item, tuple) else (item, item)])
    if op == "contains":
        return _text(literals[0]) in value
    if op == "matches":
        return re.search(_text(literals[0]), value) is not None
    return _ORDER[op](value, _text(literals[0]))


def _address_in(value, item, name: Name) -> bool:
    if isinstance(item, tuple):
        return _network(item[0], name, value.version).network_address <= value <= \
            _network(item[1], name, value.version).network_address
    return value in _network(item, name, value.version)


def _network(literal, name: Name, version: int):
    text = literal.text if isinstance(literal, Quoted) else literal
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise UsageError(f"{name.text}: {text!r} is not an address or address/prefix") from None
    if network.version != version:  # an IPv6 literal against an IPv4 field never matches
        return ipaddress.ip_network("::/128" if version == 4 else "0.0.0.0/32")
    return network


def _text(literal) -> str:
    return literal.text if isinstance(literal, Quoted) else literal


def _number(literal, field: Field, name: Name) -> int | float:
    if isinstance(literal, Quoted):
        raise UsageError(f"{name.text} is a number: compare it with a number, not \"{literal.text}\"")
    # a flag (a boolean, or one bit of a field such as tcp.flags.syn) compares with True/False too
    text = {"true": "1", "false": "0"}.get(literal.lower(), literal) if field.kind == "bool" or field.bit else literal
    try:
        number = int(text, 0)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            raise UsageError(f"{name.text}: {text!r} is not a number") from None
    return round(number * 1_000_000_000) if field.kind == "seconds" else number
