"""The sessions, RTT samples and anomalies a rule looks at, each session labelled with its scope.

Scope keys: ``"capture"`` (one scope), a server ``"10.0.0.2:443"`` / ``"[fd00::2]:443"``
(responder address and port), a host address (a session counts for both its endpoints), or
a session id (int).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import cached_property

import numpy as np
import pandas as pd

from .. import malloc
from ..errors import UsageError
from ..frames import endpoint
from ..quantiles import GroupQuantiles, groups_by_id

CAPTURE = "capture"


def server_keys(addr: pd.Series, port: pd.Series) -> pd.Series:
    """``addr:port`` per row, IPv6 addresses in brackets."""
    pair, texts = _server_pairs(addr, port)
    return pd.Series(texts[pair], index=addr.index, dtype="str")


def _server_pairs(addr: pd.Series, port: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's (address, port) pair as a code, and the ``addr:port`` text of each code (NaN
    when either is missing): the text of each distinct pair is made once, in Python (a capture's
    1.25M sessions have some 150k servers; pandas' text operations took 100 bytes a session)."""
    addr_codes, names = pd.factorize(addr)  # -1: no address
    ports = port.to_numpy(np.int64, na_value=-1)  # -1: no port
    key = addr_codes.astype(np.int64)
    key += 1
    key *= 65537
    key += ports
    key += 1
    pair, distinct = pd.factorize(key, size_hint=1 << 16)  # a table grown to the pairs, not sized to the rows
    del key
    row = np.empty(distinct.size, np.int64)
    row[pair] = np.arange(pair.size)  # a row of each pair (any: they share address and port)
    names = [str(name) for name in names]
    texts = [np.nan if a < 0 or p < 0 else endpoint(names[a], p) for a, p in zip(addr_codes[row].tolist(), ports[row].tolist())]
    return pair, np.asarray(texts, dtype=object)


def filter_sessions(sessions: pd.DataFrame, filters: dict[str, tuple]) -> pd.DataFrame:
    """The sessions every filter matches (a filter matches when any of its values does)."""
    if not filters:
        return sessions  # not a copy of every row
    keep = np.ones(len(sessions), np.bool_)
    for key, values in filters.items():
        if key == "host":
            texts = {str(v) for v in values}
            match = sessions["orig_addr"].astype(str).isin(texts) | sessions["resp_addr"].astype(str).isin(texts)
        elif key == "port":
            ports = _ports(values, key)
            match = sessions["orig_port"].isin(ports) | sessions["resp_port"].isin(ports)
        elif key == "resp_port":
            match = sessions["resp_port"].isin(_ports(values, key))
        elif key == "server":
            match = server_keys(sessions["resp_addr"], sessions["resp_port"]).isin({str(v) for v in values})
        else:  # orig_addr, resp_addr, conn_state, close_type: text columns
            match = sessions[key].astype(str).isin({str(v) for v in values})
        keep &= np.asarray(match, np.bool_)
    return sessions[keep]


def _ports(values: tuple, key: str) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        raise UsageError(f"filter {key} takes port numbers, not {values!r}") from None


class ScopedView:
    """A rule's view of an analysis: its filtered sessions, the scope of each, and (read on use)
    the RTT samples and anomalies of those sessions by scope.

    ``keys`` are the scopes, sorted; a scope's code is its position there. A view labels rows of
    ``sessions`` with codes (``codes``): for host scope a session is labelled twice, once per
    endpoint address, and ``rows`` says which session each labelled row is (None: each session
    once, in order). Codes and positions, not a labelled copy of the sessions: that copy took
    tens of MB on a capture of 500k sessions (hundreds for host scope).
    """

    def __init__(self, sessions: pd.DataFrame, scope: str, filters: dict[str, tuple], *,
                 rtt: Callable[[], Iterable[pd.DataFrame]] | None = None, anomalies: pd.DataFrame | None = None,
                 complete: bool = True) -> None:
        self.scope = scope
        self.filters = filters
        self.complete = complete  # the capture was read to its end
        self._rtt = rtt  # the RTT samples, a batch at a time (``Analysis.rtt_sample_batches``)
        self._anomalies = anomalies
        self.sessions = filter_sessions(sessions, filters)
        self.keys, self.codes, self.rows = _label(self.sessions, scope)
        malloc.trim()  # the labelling's temporaries (tens of MB on 500k sessions) back to the system

    def per_row(self, values: np.ndarray) -> np.ndarray:
        """Values given per session, per labelled row."""
        return values if self.rows is None else values[self.rows]

    def grouped(self, values) -> pd.core.groupby.SeriesGroupBy:
        """Values given per session, grouped by scope code."""
        return pd.Series(self.per_row(np.asarray(values))).groupby(self.codes, sort=False)

    def by_code(self, values: pd.Series) -> pd.Series:
        """Values by scope key as values by scope code (keys not in the view left out)."""
        codes = self.keys.get_indexer(values.index)
        known = codes >= 0
        return pd.Series(values.to_numpy()[known], index=codes[known])

    def restrict(self, keys) -> ScopedView:
        """The same view keeping only the sessions of these scopes, in this order (for listing offenders)."""
        keys = pd.Index(list(keys))
        new_code = np.full(len(self.keys), -1, np.int64)
        new_code[self.keys.get_indexer(keys)] = np.arange(len(keys))
        codes = new_code[self.codes]
        kept = np.flatnonzero(codes >= 0)
        return self._narrowed(self.scope, keys, codes[kept], self.per_row(np.arange(len(self.sessions)))[kept])

    def as_sessions(self) -> ScopedView:
        """This view's sessions, each its own scope (in the order of their first labelled row)."""
        rows = self.per_row(np.arange(len(self.sessions)))
        ids = self.sessions["session_id"].to_numpy()[rows]
        first = np.sort(np.unique(ids, return_index=True)[1])
        return self._narrowed("session", pd.Index(ids[first]), np.arange(first.size), rows[first])

    def _narrowed(self, scope: str, keys: pd.Index, codes: np.ndarray, rows: np.ndarray) -> ScopedView:
        view = object.__new__(ScopedView)
        view.scope, view.filters, view.complete = scope, self.filters, self.complete
        view._rtt, view._anomalies = self._rtt, self._anomalies
        view.sessions, view.keys, view.codes, view.rows = self.sessions, keys, codes, rows
        return view

    @property
    def has_rtt_samples(self) -> bool:
        return self._rtt is not None

    def rtt_quantiles(self) -> GroupQuantiles:
        """The RTT samples (ns) of the view's sessions by scope code (host scope: a session's
        samples count for both its endpoints), exact, read a batch at a time, as often as the
        quantiles need: the samples are not kept (hundreds of MB on a big capture)."""
        if self._rtt is None:
            raise UsageError("this metric needs the RTT samples (tcpanalyze.analyze keeps them unless it is given"
                             " a bare sessions frame)")
        tables = _scope_of_session(self.per_row(self.sessions["session_id"].to_numpy(np.int64)), self.codes)

        def read() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for batch in self._rtt():
                session, ns = batch["session_id"].to_numpy(np.int64), batch["ack_rtt_ns"].to_numpy(np.int64)
                for scope_of in tables:
                    yield groups_by_id(scope_of, session), ns

        return GroupQuantiles(read, len(self.keys))

    @cached_property
    def anomalies(self) -> pd.DataFrame:
        """Anomalies touching the view's scopes, with a ``scope`` column.

        An anomaly's server is its target address and port, its host the target address, its
        sessions its ``session_ids``. Filters on host, port and server apply to the target;
        filters on session fields (conn_state, ...) do not apply to anomalies.
        """
        if self._anomalies is None:
            raise UsageError("anomaly metrics need anomaly detection (tcpanalyze.detect)")
        found = self._anomalies
        for key, values in self.filters.items():
            texts = {str(v) for v in values}
            if key in ("host", "resp_addr"):
                found = found[found["target_addr"].astype(str).isin(texts)]
            elif key in ("port", "resp_port"):
                found = found[found["target_port"].astype("Int64").astype(str).isin(texts)]
            elif key == "server":
                found = found[server_keys(found["target_addr"], found["target_port"]).isin(texts)]
        if self.scope == CAPTURE:
            return found.assign(scope=CAPTURE)
        if self.scope == "server":
            return found.assign(scope=server_keys(found["target_addr"], found["target_port"]))
        if self.scope == "host":
            return found.assign(scope=found["target_addr"].astype(str))
        exploded = found.explode("session_ids")
        exploded = exploded[exploded["session_ids"].notna()]
        return exploded.assign(scope=exploded["session_ids"].astype(np.int64))


def _scope_of_session(ids: np.ndarray, codes: np.ndarray) -> list[np.ndarray]:
    """Tables by session id of a session's scope code (-1: none): its first and, when a session is
    listed twice (host scope), its second."""
    size = int(ids.max()) + 1 if ids.size else 0
    order = np.argsort(ids, kind="stable")
    ids, codes = ids[order], codes[order]
    listed_first = np.r_[True, ids[1:] != ids[:-1]] if ids.size else np.empty(0, np.bool_)
    tables = []
    for listed in (listed_first, ~listed_first):
        if listed.any() or not tables:
            table = np.full(size, -1, np.int32)  # int32: half the memory of a table of 500k sessions
            table[ids[listed]] = codes[listed]
            tables.append(table)
    return tables


def _label(sessions: pd.DataFrame, scope: str) -> tuple[pd.Index, np.ndarray, np.ndarray | None]:
    """The scope keys (sorted), each labelled row's scope code, and each labelled row's session
    (None: each session once, in order)."""
    if scope == CAPTURE:
        return pd.Index([CAPTURE]), np.zeros(len(sessions), np.int64), None
    if scope == "server":
        pair, texts = _server_pairs(sessions["resp_addr"], sessions["resp_port"])
        return *_sorted_keys(texts, pair), None
    if scope == "session":
        keys, codes = np.unique(sessions["session_id"].to_numpy(), return_inverse=True)
        return pd.Index(keys), codes, None
    orig, orig_texts = _address_texts(sessions["orig_addr"])
    resp, resp_texts = _address_texts(sessions["resp_addr"])
    keys, codes = _sorted_keys(np.concatenate([orig_texts, resp_texts]), np.concatenate([orig, resp + orig_texts.size]))
    orig, resp = codes[:len(sessions)], codes[len(sessions):]
    twice = np.flatnonzero(resp != orig)  # a session to itself counts once
    return keys, np.concatenate([orig, resp[twice]]), np.concatenate([np.arange(len(sessions)), twice])


def _address_texts(addr: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's address as a code, and the text of each code."""
    codes, uniques = pd.factorize(addr, use_na_sentinel=False)
    return codes.astype(np.int64), np.asarray(uniques.astype(str), dtype=object)


def _sorted_keys(labels: np.ndarray, codes: np.ndarray) -> tuple[pd.Index, np.ndarray]:
    """The distinct ``labels``, sorted, and each row's position among them (``codes``: each row's
    position in ``labels``, which may repeat a label)."""
    keys, position = np.unique(labels, return_inverse=True)
    return pd.Index(keys), position[codes]
