"""The sessions, packets and anomalies a rule looks at, each row labelled with its scope key.

Scope keys: ``"capture"`` (one scope), a server ``"10.0.0.2:443"`` / ``"[fd00::2]:443"``
(responder address and port), a host address (a session counts for both its endpoints), or
a session id (int).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cached_property

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..quantiles import GroupQuantiles

CAPTURE = "capture"


def server_keys(addr: pd.Series, port: pd.Series) -> pd.Series:
    """``addr:port`` per row, IPv6 addresses in brackets; the text of each distinct pair is made
    once (a capture's 500k sessions have some 60k servers)."""
    addr_codes = pd.factorize(addr)[0].astype(np.int64) + 1  # 0: no address
    ports = port.astype("Int64").fillna(-1).to_numpy(np.int64) + 1  # 0: no port
    pair, first = np.unique(addr_codes * 65537 + ports, return_index=True, return_inverse=True)[1:]
    text = addr.iloc[pair].astype(str)
    text = text.where(~text.str.contains(":", regex=False), "[" + text + "]")
    texts = (text + ":" + port.iloc[pair].astype("Int64").astype(str)).to_numpy(object)
    return pd.Series(texts[first], index=addr.index, dtype=text.dtype)


def filter_sessions(sessions: pd.DataFrame, filters: dict[str, tuple]) -> pd.DataFrame:
    """The sessions every filter matches (a filter matches when any of its values does)."""
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
    """A rule's view of an analysis: its filtered sessions with a ``scope`` column, and (built on
    first use) the packets and anomalies of those sessions with theirs.

    For host scope a session appears twice, once per endpoint address.
    """

    def __init__(self, sessions: pd.DataFrame, scope: str, filters: dict[str, tuple], *,
                 rtt: Callable[[], Iterable[pd.DataFrame]] | None = None, anomalies: pd.DataFrame | None = None,
                 complete: bool = True) -> None:
        self.scope = scope
        self.filters = filters
        self.complete = complete  # the capture was read to its end
        self._rtt = rtt  # the RTT samples, a batch at a time (``Analysis.rtt_sample_batches``)
        self._anomalies = anomalies
        chosen = filter_sessions(sessions, filters)
        self.sessions = _label(chosen, scope)
        if scope == CAPTURE:
            self.keys = pd.Index([CAPTURE])
        else:
            self.keys = pd.Index(pd.unique(self.sessions["scope"])).sort_values()

    def restrict(self, keys) -> ScopedView:
        """The same view keeping only the sessions of these scopes (for listing offenders)."""
        view = object.__new__(ScopedView)
        view.scope, view.filters, view.complete = self.scope, self.filters, self.complete
        view._rtt, view._anomalies = self._rtt, self._anomalies
        view.sessions = self.sessions[self.sessions["scope"].isin(list(keys))]
        view.keys = pd.Index(list(keys))
        return view

    def as_sessions(self) -> ScopedView:
        """This view's sessions, each its own scope."""
        view = object.__new__(ScopedView)
        view.scope, view.filters, view.complete = "session", self.filters, self.complete
        view._rtt, view._anomalies = self._rtt, self._anomalies
        unique = self.sessions.drop_duplicates("session_id")
        view.sessions = unique.assign(scope=unique["session_id"].to_numpy())
        view.keys = pd.Index(view.sessions["session_id"].to_numpy())
        return view

    @property
    def has_rtt_samples(self) -> bool:
        return self._rtt is not None

    @cached_property
    def rtt_ns(self) -> GroupQuantiles:
        """The RTT samples (ns) of the view's sessions by scope (group i: ``keys[i]``; host scope:
        a session's samples count for both its endpoints), read a batch at a time."""
        if self._rtt is None:
            raise UsageError("this metric needs the RTT samples (tcpanalyze.analyze keeps them unless it is given"
                             " a bare sessions frame)")
        ids = self.sessions["session_id"].to_numpy(np.int64)
        codes = self.keys.get_indexer(self.sessions["scope"])
        first, second = _scope_of_session(ids, codes)
        quantiles = GroupQuantiles(len(self.keys))
        for batch in self._rtt():
            session, ns = batch["session_id"].to_numpy(np.int64), batch["ack_rtt_ns"].to_numpy(np.int64)
            for scope_of in (first, second):
                quantiles.add_by_id(scope_of, session, ns)
        return quantiles

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


def _scope_of_session(ids: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays by session id giving a session's scope codes (-1: none): its first and, for a
    session listed twice (host scope), its second."""
    size = int(ids.max()) + 1 if ids.size else 0
    first, second = np.full(size, -1, np.int64), np.full(size, -1, np.int64)
    order = np.argsort(ids, kind="stable")
    ids, codes = ids[order], codes[order]
    listed_first = np.r_[True, ids[1:] != ids[:-1]] if ids.size else np.empty(0, np.bool_)
    first[ids[listed_first]] = codes[listed_first]
    second[ids[~listed_first]] = codes[~listed_first]
    return first, second


def _label(sessions: pd.DataFrame, scope: str) -> pd.DataFrame:
    if scope == CAPTURE:
        return sessions.assign(scope=CAPTURE)
    if scope == "server":
        return sessions.assign(scope=server_keys(sessions["resp_addr"], sessions["resp_port"]).to_numpy())
    if scope == "session":
        return sessions.assign(scope=sessions["session_id"].to_numpy())
    orig = sessions["orig_addr"].astype(str).to_numpy()
    resp = sessions["resp_addr"].astype(str).to_numpy()
    twice = np.flatnonzero(resp != orig)  # a session to itself counts once
    rows = np.concatenate([np.arange(len(sessions)), twice])
    # one take of the rows, not a concat of two frames: far cheaper on wide frames of text columns
    return sessions.iloc[rows].reset_index(drop=True).assign(scope=np.concatenate([orig, resp[twice]]))
