"""Session records put back in session_id order (pipeline/id_order.py): the same records in the
same order whether the waiting sessions stay in memory or go to disk, and in bounded pieces."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tcpanalyze.packets import Accounting
from tcpanalyze.pipeline import id_order, iter_sessions
from tcpanalyze.pipeline.id_order import InIdOrder

ROOT = Path(__file__).resolve().parents[2]
# 500 loopback connections, 499 of which end out of id order; sessions inside two VXLAN tenants
CAPTURES = [ROOT / "tests" / "corpus" / "gzip-loopback-echo-500-conns.pcap.gz",
            ROOT / "sample_pcaps" / "real-tunnel-vxlan-two-tenants.pcap",
            ROOT / "sample_pcaps" / "real-many-short-conns.pcap"]


def _chunks(path: Path, size: int = 10) -> list[pd.DataFrame]:
    """The capture's session records as an engine emits them when few end at a time: in chunks of
    ``size`` in order of their end, each chunk ordered by id."""
    records = pd.concat(list(iter_sessions(str(path), Accounting())), ignore_index=True)
    by_end = records.sort_values(["end", "session_id"], kind="stable", ignore_index=True)
    return [by_end.iloc[k : k + size].sort_values("session_id", ignore_index=True)
            for k in range(0, len(by_end), size)]


def _as_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False)


def test_ids_split_across_chunks_come_out_in_order() -> None:
    ended = [pd.DataFrame({"session_id": ids, "x": ids}) for ids in ([1, 4], [0, 2], [5], [3, 6])]
    released = [part["session_id"].tolist() for part in InIdOrder().reordered(iter(ended))]
    assert released == [[0, 1, 2], [3, 4, 5, 6]]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_spilled_or_not_the_same_records_in_id_order(path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    chunks = _chunks(path)
    in_memory = pd.concat(list(InIdOrder().reordered(iter(chunks))), ignore_index=True)
    assert in_memory["session_id"].tolist() == list(range(len(in_memory)))
    monkeypatch.setattr(id_order, "WINDOW_IDS", 7)
    monkeypatch.setattr(id_order, "BLOCK_ROWS", 5)
    spilled_parts = list(InIdOrder(spill_rows=3, directory=str(tmp_path)).reordered(iter(chunks)))
    assert all(part["session_id"].max() - part["session_id"].min() < 7 for part in spilled_parts)
    assert _as_text(pd.concat(spilled_parts, ignore_index=True)) == _as_text(in_memory)
    assert not list(tmp_path.iterdir())  # the spill files are gone


def test_the_spill_files_are_removed_when_the_reader_stops_early(tmp_path: Path) -> None:
    chunks = _chunks(CAPTURES[0])
    ordered = InIdOrder(spill_rows=3, directory=str(tmp_path)).reordered(iter(chunks))
    spilled = next((True for _ in ordered if any(tmp_path.iterdir())), False)
    assert spilled
    ordered.close()
    assert not list(tmp_path.iterdir())
