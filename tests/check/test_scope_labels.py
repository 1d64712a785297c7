"""Scope labelling: codes into sorted keys, not a labelled copy of the sessions."""

import numpy as np
import pandas as pd

from tcpanalyze.check.scope import ScopedView


def _sessions() -> pd.DataFrame:
    addr = pd.CategoricalDtype(["10.0.0.9", "10.0.0.1", "10.0.0.2"])
    return pd.DataFrame({
        "session_id": np.array([7, 3, 5], np.int64),
        "orig_addr": pd.Series(["10.0.0.9", "10.0.0.1", "10.0.0.2"], dtype=addr),
        "orig_port": np.array([1000, 1001, 1002], np.uint16),
        "resp_addr": pd.Series(["10.0.0.2", "10.0.0.2", "10.0.0.2"], dtype=addr),
        "resp_port": np.array([80, 443, 80], np.uint16),
    })


def test_host_scope_labels_a_session_for_each_endpoint_once_for_a_session_to_itself():
    view = ScopedView(_sessions(), "host", {})
    assert list(view.keys) == ["10.0.0.1", "10.0.0.2", "10.0.0.9"]
    labelled = sorted(zip(view.per_row(view.sessions["session_id"].to_numpy()), view.keys[view.codes]))
    assert labelled == [(3, "10.0.0.1"), (3, "10.0.0.2"), (5, "10.0.0.2"), (7, "10.0.0.2"), (7, "10.0.0.9")]


def test_server_scope_keys_are_sorted_addr_port_texts():
    view = ScopedView(_sessions(), "server", {})
    assert list(view.keys) == ["10.0.0.2:443", "10.0.0.2:80"]
    assert list(view.keys[view.codes]) == ["10.0.0.2:80", "10.0.0.2:443", "10.0.0.2:80"]


def test_restricted_view_keeps_the_given_scopes_in_order_and_lists_sessions_by_first_row():
    narrowed = ScopedView(_sessions(), "host", {}).restrict(["10.0.0.9", "10.0.0.2"])
    assert list(narrowed.keys) == ["10.0.0.9", "10.0.0.2"]
    sessions = narrowed.as_sessions()
    assert list(sessions.keys) == [7, 5, 3]
    assert list(sessions.codes) == [0, 1, 2]
