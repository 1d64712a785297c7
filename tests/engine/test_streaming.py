"""Streaming: session records do not depend on how the capture is cut into batches.

The engine emits sessions as they end and frees their state; sessions seen in one packet
are stashed and replayed later. None of that may change a record: every capture of the
corpus and samples gives the same sessions with per-packet analysis, without it, and in
batches of a few records. A long capture of short sessions is emitted as it goes, with
only the sessions of the last few seconds held.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import tcpanalyze
from helpers import BASE_TS_NS, Rec, corpus_files, eth, ipv4, sample_files, tcp, write_pcap
from tcpanalyze import EngineOptions
from tcpanalyze.capture import CaptureReader
from tcpanalyze.decode import Decoder
from tcpanalyze.engine import Engine
from tcpanalyze.pipeline import iter_sessions
from tcpanalyze.errors import CaptureError
from tcpanalyze.engine.streaming import sessions_frame
from tcpanalyze.frames import FIXED_CODES, public_sessions
from tcpanalyze.packets import READ_AHEAD_BATCHES, Accounting, decoded_batches

CAPTURES = corpus_files() + sample_files()
# Batches this small are slow on big captures; those get a prime size that still cuts
# sessions at many places.
SMALL_BATCH, BIG_CAPTURE_BATCH, BIG_CAPTURE_RECORDS = 7, 997, 3000
# Captures this small are also analysed one record per batch (every boundary at once).
TINY_CAPTURE_RECORDS = 120
NEVER = EngineOptions(idle_timeout_s=1e12, closed_linger_s=1e12)
ADDRESS_COLUMNS = ["orig_addr", "resp_addr"]
CLIENT, SERVER = "10.0.0.1", "10.0.0.2"


def _analyze(path: Path, **kwargs) -> tcpanalyze.Analysis:
    try:
        return tcpanalyze.analyze(str(path), **kwargs)
    except CaptureError:
        pytest.skip("not readable as a capture")


def _values(sessions: pd.DataFrame) -> pd.DataFrame:
    """The records with address columns as plain text (their dtype is pinned by its own test)."""
    return sessions.assign(**{c: sessions[c].astype(str) for c in ADDRESS_COLUMNS})


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_sessions_do_not_depend_on_per_packet_results_stash_or_batch_boundaries(path):
    with_packets = _analyze(path, packets=True)
    streamed = _analyze(path, packets=False)
    small = BIG_CAPTURE_BATCH if with_packets.accounting.records >= BIG_CAPTURE_RECORDS else SMALL_BATCH
    batched = _analyze(path, packets=False, max_records=small, options=NEVER)
    pd.testing.assert_frame_equal(_values(with_packets.sessions), _values(streamed.sessions))
    pd.testing.assert_frame_equal(_values(with_packets.sessions), _values(batched.sessions))


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_sessions_of_small_captures_are_the_same_in_one_record_batches(path):
    whole = _analyze(path, packets=False)
    if whole.accounting.records >= TINY_CAPTURE_RECORDS:
        pytest.skip("covered by the batch-boundary test above")
    one_by_one = _analyze(path, packets=False, max_records=1, options=NEVER)
    pd.testing.assert_frame_equal(_values(whole.sessions), _values(one_by_one.sessions))


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_address_columns_are_categorical_however_the_sessions_were_emitted(path):
    # frames.py: addresses are categoricals. Sessions emitted in several chunks (some ended
    # early, the rest at the end of the file) must not turn them into plain objects.
    sessions = _analyze(path, packets=False).sessions
    for column in ADDRESS_COLUMNS:
        assert isinstance(sessions[column].dtype, pd.CategoricalDtype), f"{column}: {sessions[column].dtype}"


def test_fixed_codes_are_emitted_as_their_categoricals_and_keep_their_order_in_the_frame(short_sessions_capture):
    # engine/session.py: a byte per session instead of its text, in the categories the sessions table has;
    # sessions_frame unites the chunks without reordering them as it does the address categories.
    engine = Engine(EngineOptions(closed_linger_s=5))
    chunks = []
    with CaptureReader(short_sessions_capture) as reader:
        for _, tcp_batch in decoded_batches(reader, Decoder(), Accounting(), max_records=200):
            engine.process(tcp_batch)
            chunks.extend(engine.emit_arrays())
    chunks.extend(engine.emit_arrays(final=True))
    assert len(chunks) > 2
    for chunk in chunks:
        for name, categories in FIXED_CODES.items():
            assert list(chunk[name].categories) == list(categories), name
    frame = sessions_frame(chunks[::-1])  # ids out of order: the frame sorts them
    assert frame["session_id"].tolist() == list(range(SHORT_SESSIONS))
    for name, categories in FIXED_CODES.items():
        assert list(frame[name].cat.categories) == list(categories), name
    assert set(frame["conn_state"]) == {"SF"} and set(frame["close_type"]) == {"fin"}


# ---- emission as sessions end -----------------------------------------------------------

SHORT_SESSIONS, SESSION_GAP_S = 300, 1.0
LINGER = EngineOptions(closed_linger_s=5)


def short_session(k: int) -> list[Rec]:
    """Session k, starting at k seconds: SYN, SYN-ACK, ACK, 10 bytes, FIN, FIN, ACK (10 ms apart)."""
    port = 20000 + k
    t0 = BASE_TS_NS + int(k * SESSION_GAP_S * 1e9)

    def c(i, flags, seq, ack=0, data=b""):
        return Rec(eth(ipv4(CLIENT, SERVER, tcp(port, 80, seq=seq, ack=ack, flags=flags, payload=data))),
                   t0 + i * 10_000_000)

    def s(i, flags, seq, ack=0):
        return Rec(eth(ipv4(SERVER, CLIENT, tcp(80, port, seq=seq, ack=ack, flags=flags))), t0 + i * 10_000_000)

    return [c(0, "S", 1000), s(1, "SA", 5000, 1001), c(2, "A", 1001, 5001), c(3, "PA", 1001, 5001, b"x" * 10),
            c(4, "FA", 1011, 5001), s(5, "FA", 5001, 1012), c(6, "A", 1012, 5002)]


@pytest.fixture(scope="module")
def short_sessions_capture(tmp_path_factory) -> Path:
    packets = [rec for k in range(SHORT_SESSIONS) for rec in short_session(k)]
    return write_pcap(tmp_path_factory.mktemp("streaming") / "short-sessions.pcap", packets)


def test_closed_sessions_are_yielded_before_the_end_of_the_file(short_sessions_capture):
    accounting = Accounting()
    records_read_at_first_yield = None
    chunks = []
    for chunk in iter_sessions(str(short_sessions_capture), accounting, options=LINGER, max_records=50):
        if len(chunk) and records_read_at_first_yield is None:
            records_read_at_first_yield = accounting.records
        chunks.append(chunk)
    total = 7 * SHORT_SESSIONS
    assert accounting.records == total
    # each session ends 5 s (plus a batch) after its close: the first ones leave early (the
    # reader is a few batches ahead of the analysis)
    assert records_read_at_first_yield is not None and records_read_at_first_yield <= 100 + READ_AHEAD_BATCHES * 50
    streamed = pd.concat([c for c in chunks if len(c)], ignore_index=True)
    assert streamed.session_id.tolist() == list(range(SHORT_SESSIONS))


def test_engine_holds_only_the_sessions_of_the_last_few_seconds(short_sessions_capture):
    engine = Engine(LINGER, per_packet=False)
    chunks, live = [], []
    with CaptureReader(str(short_sessions_capture)) as reader:
        for _, packets in decoded_batches(reader, Decoder(), Accounting(), max_records=50):
            engine.process(packets)
            chunks.extend(engine.emit())
            live.append(engine.flows.live)
    # a session closes 60 ms after it starts and lingers 5 s; one starts every second
    assert max(live) <= 12, live
    held_at_end = engine.flows.live
    chunks.extend(engine.emit(final=True))
    assert held_at_end <= 12 and engine.flows.live == 0
    streamed = public_sessions(pd.concat([c for c in chunks if len(c)], ignore_index=True))  # analyze's dtypes
    whole = tcpanalyze.analyze(str(short_sessions_capture), packets=False, options=NEVER).sessions
    assert len(whole) == SHORT_SESSIONS
    pd.testing.assert_frame_equal(_values(streamed), _values(whole))
    assert (whole.conn_state == "SF").all() and (whole.close_type == "fin").all()


# ---- idle timeout -------------------------------------------------------------------------

def _at(t: float, src: str, sport: int, dst: str, dport: int, flags: str, seq: int, ack: int = 0,
        data: bytes = b"") -> Rec:
    return Rec(eth(ipv4(src, dst, tcp(sport, dport, seq=seq, ack=ack, flags=flags, payload=data))),
               BASE_TS_NS + round(t * 1e9))


def idle_then_resumed() -> list[Rec]:
    """A session idle for 100 s (another host's SYN at 60 s moves the clock), then two more packets."""
    c = lambda t, *a, **k: _at(t, CLIENT, 40000, SERVER, 80, *a, **k)  # noqa: E731
    s = lambda t, *a, **k: _at(t, SERVER, 80, CLIENT, 40000, *a, **k)  # noqa: E731
    return [c(0.00, "S", 1000), s(0.01, "SA", 5000, 1001), c(0.02, "A", 1001, 5001),
            c(0.03, "PA", 1001, 5001, b"x" * 10), s(0.04, "A", 5001, 1011),
            _at(60.0, "10.0.0.3", 41000, SERVER, 80, "S", 3000),
            c(100.0, "PA", 1011, 5001, b"x" * 10), s(100.01, "A", 5001, 1021)]


IDLE_50 = EngineOptions(idle_timeout_s=50)


def _idle_split(sessions: pd.DataFrame) -> list[tuple]:
    return [tuple(row) for row in sessions[["session_id", "orig_port", "partial", "handshake", "orig_pkts",
                                            "resp_pkts"]].itertuples(index=False)]


IDLE_SPLIT = [(0, 40000, False, "complete", 3, 2), (1, 41000, False, "unanswered", 1, 0),
              (2, 40000, True, "partial", 1, 1)]


@pytest.mark.parametrize("packets", [True, False], ids=["per_packet", "streaming"])
def test_idle_session_is_emitted_and_a_later_packet_on_its_tuple_starts_a_new_partial_session(tmp_path, packets):
    path = write_pcap(tmp_path / "idle.pcap", idle_then_resumed())
    sessions = tcpanalyze.analyze(str(path), packets=packets, options=IDLE_50, max_records=1).sessions
    assert _idle_split(sessions) == IDLE_SPLIT


def test_session_idle_less_than_the_timeout_stays_one_session(tmp_path):
    path = write_pcap(tmp_path / "idle.pcap", idle_then_resumed())
    sessions = tcpanalyze.analyze(str(path), options=EngineOptions(idle_timeout_s=200), max_records=1).sessions
    assert _idle_split(sessions) == [(0, 40000, False, "complete", 4, 3), (1, 41000, False, "unanswered", 1, 0)]


@pytest.mark.parametrize("max_records", [1, 2, 3, 4, 5, 6, 7, 8, 1 << 16])
def test_idle_timeout_split_does_not_depend_on_batch_boundaries(tmp_path, max_records):
    # The idle check runs after each batch, on the batch's latest time: a packet that comes
    # after the timeout in the same batch as the clock's advance joins the idle session.
    path = write_pcap(tmp_path / "idle.pcap", idle_then_resumed())
    sessions = tcpanalyze.analyze(str(path), options=IDLE_50, max_records=max_records).sessions
    assert _idle_split(sessions) == IDLE_SPLIT


def closed_then_late_fin() -> list[Rec]:
    """A session closed at 0.05 s; another host's SYN at 70 s; the server's FIN again at 80 s."""
    c = lambda t, *a, **k: _at(t, CLIENT, 40000, SERVER, 80, *a, **k)  # noqa: E731
    s = lambda t, *a, **k: _at(t, SERVER, 80, CLIENT, 40000, *a, **k)  # noqa: E731
    return [c(0.00, "S", 1000), s(0.01, "SA", 5000, 1001), c(0.02, "A", 1001, 5001), c(0.03, "FA", 1001, 5001),
            s(0.04, "FA", 5001, 1002), c(0.05, "A", 1002, 5002),
            _at(70.0, "10.0.0.3", 41000, SERVER, 80, "S", 3000),
            s(80.0, "FA", 5001, 1002)]


@pytest.mark.parametrize("max_records", [1, 6, 7, 1 << 16])
def test_packet_after_the_closed_linger_starts_a_new_session_whatever_the_batch_size(tmp_path, max_records):
    # closed_linger_s = 60 (the default): the closed session is emitted once the clock
    # passes 60.05 s, so the late FIN at 80 s opens a new partial session. With the clock's
    # advance (70 s) and the late FIN in one batch, the FIN joins the emitted session instead.
    path = write_pcap(tmp_path / "late-fin.pcap", closed_then_late_fin())
    sessions = tcpanalyze.analyze(str(path), max_records=max_records).sessions
    assert _idle_split(sessions) == [(0, 40000, False, "complete", 4, 2), (1, 41000, False, "unanswered", 1, 0),
                                     (2, 40000, True, "partial", 0, 1)]
