#!/usr/bin/env python3
"""Generate the large synthetic benchmark captures, deterministically from a seed.

    python benchmarks/make_captures.py [--which mixed|synflood|all] [--scale 1.0]
                                       [--seed 1] [--out benchmarks/data] [--force] [--jobs N]

Files (classic little-endian microsecond pcap, Ethernet, headers only: each record is cut
after the TCP options, while the IP length and the record's original length keep the true
sizes, as a header-slicing capture would):

* ``mixed-2m.pcap``: about 2,000,000 packets over about 50,000 concurrent TCP connections
  seen from a tap near the clients: handshakes with options, request/response data with
  delayed ACKs and slow start, ~1 % segment loss upstream of the tap (fast retransmissions
  after SACKed dup-ACKs, RTO retransmissions), reordering, duplicated capture, zero-window
  stalls with probes and window updates, FIN and RST closes, refused and unanswered SYNs,
  ~5 % IPv6.
* ``synflood-1m.pcap``: 1,000,000 spoofed SYNs to 198.18.0.10:80 over ~20 s, seen near the
  target, which never answers them (its listen backlog is full), plus a handful of
  legitimate connections to the same server, half of which need a SYN retransmission.

All addresses are in the benchmark ranges 198.18.0.0/15 (RFC 2544) and 2001:db8::/32
(RFC 3849). A file is regenerated only when its sidecar ``<name>.params.json`` records other
parameters (or ``--force``).

How it is built: each connection is simulated by a small event-driven TCP model in plain
Python (one ``random.Random`` per connection, so the result does not depend on how the work
is split between processes), which appends one row of numbers per packet. The rows become
numpy columns; sequence numbers, TCP timestamps, IP IDs and duplicates are then computed
vectorised, everything is sorted by time once, and the record bytes are laid out for a
whole chunk of packets at a time as a 2-D ``uint8`` array, one row per record.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import math
import multiprocessing
import os
import random
import struct
import sys
import time
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

GENERATOR_VERSION = 1
DEFAULT_OUT_DIR = Path(__file__).resolve().parent / "data"

# ----------------------------------------------------------------------------------------
# Constants of the model (and where the numbers come from)
# ----------------------------------------------------------------------------------------

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

CAPTURE_EPOCH_S = 1_700_000_000  # 2023-11-14T22:13:20Z: fixed, so files are byte-identical

INITIAL_CWND_SEGMENTS = 10  # RFC 6928, Linux TCP_INIT_CWND
DUPTHRESH = 3  # RFC 6675: a hole is lost once 3 segments above it are SACKed
RTO_MIN_S = 0.200  # Linux TCP_RTO_MIN
SYN_RTO_S = 1.0  # RFC 6298 initial RTO: SYN retransmitted at +1 s, then +2 s (t = 1 s, 3 s)
PERSIST_MAX_BACKOFF = 64  # zero-window probe interval doubles, capped (Linux caps at 120 s)
DELACK_LINUX_S = 0.040  # Linux TCP_DELACK_MIN
DELACK_WINDOWS_S = 0.200  # Windows delayed-ACK timer default
HOST_PROCESSING_S = 20e-6  # kernel turnaround between receiving a segment and answering it
FRAME_OVERHEAD_BYTES = 78  # Ethernet+IP+TCP+TS headers plus preamble/IFG, for link pacing

# Mixed-capture impairments (probabilities per data segment unless said otherwise)
LOSS_RATE = 0.01  # lost upstream of the tap: absent from the capture, later retransmitted
REORDER_RATE = 0.003  # delayed past its successor (upstream of the tap)
DUPLICATE_RATE = 0.002  # per packet: captured twice (SPAN port / two taps)
SYNACK_LOSS_RATE = 0.005  # per connection: SYN-ACK lost, the client retransmits its SYN

# Option layouts (kind of the TCP options block of a packet) and their lengths in bytes.
OPT_NONE = 0  # no options (or SACK only)
OPT_TS = 1  # NOP NOP TS                                  (Linux established segment)
OPT_SYN_TS = 2  # MSS SACK_PERM TS NOP WS                 (Linux SYN and SYN-ACK)
OPT_SYN_WINDOWS = 3  # MSS NOP WS NOP NOP SACK_PERM       (Windows SYN, no timestamps)
OPT_SYN_NOTS = 4  # MSS NOP NOP SACK_PERM NOP WS          (Linux SYN-ACK to a SYN without TS)
OPTION_BASE_LEN = np.array([0, 12, 20, 12, 12], dtype=np.int64)
MAX_SACK_BLOCKS = 3  # what fits next to the timestamp option in 40 bytes of options

# What a connection does (mixed capture)
CONN_NORMAL, CONN_REFUSED, CONN_UNANSWERED = 0, 1, 2
(CLOSE_CLIENT_FIN, CLOSE_SERVER_FIN, CLOSE_CLIENT_RST, CLOSE_SERVER_RST,
 CLOSE_FIN_THEN_RST) = range(5)

# Server ports of the mixed capture and how common each is
SERVER_PORTS = np.array([443, 80, 8443, 22, 8080, 25, 993, 5432, 3306, 6379])
SERVER_PORT_WEIGHTS = np.array([0.55, 0.2, 0.05, 0.05, 0.04, 0.03, 0.03, 0.02, 0.02, 0.01])

# Synthetic address ranges (RFC 2544 benchmark range, RFC 3849 documentation prefix)
CLIENT_NET4 = 0xC6120000  # 198.18.0.0/16: clients (198.18.1.0 and up)
SERVER_NET4 = 0xC6130000  # 198.19.0.0/16: servers
FLOOD_TARGET4 = 0xC612000A  # 198.18.0.10
FLOOD_LEGIT_NET4 = 0xC613C800  # 198.19.200.0/24: legitimate clients of the flooded server
CLIENT_NET6 = bytes.fromhex("20010db8000c00000000000000000000")  # 2001:db8:c::/48
SERVER_NET6 = bytes.fromhex("20010db8005e00000000000000000000")  # 2001:db8:5e::/48
MAX_HOSTS_PER_NET = 65_000  # clients from 198.18.1.0, servers from 198.19.0.1
GATEWAY_MAC = 0x0200C6120001

# ----------------------------------------------------------------------------------------
# Packet rows produced by the simulation
# ----------------------------------------------------------------------------------------

# One row of float64 per packet. Sequence numbers are relative to the sender's ISN (SYN = 0),
# acknowledgement numbers and SACK edges relative to the peer's ISN.
ROW_COLUMNS = ("ts_s", "conn", "direction", "flags", "seq_rel", "ack_rel", "window_raw",
               "payload_len", "opt_kind", "sack_ref")
SACK_ROW_LEN = 1 + 2 * MAX_SACK_BLOCKS  # block count, then (left, right) edges


class PacketLog:
    """Rows of simulated packets, appended one at a time, read out as numpy arrays."""

    def __init__(self) -> None:
        self._rows = array("d")
        self._sacks = array("d")
        self._n_sacks = 0

    def add(self, ts_s: float, conn: int, direction: int, flags: int, seq_rel: int,
            ack_rel: int, window_raw: int, payload_len: int, opt_kind: int,
            sack_blocks: list[tuple[int, int]] | None = None) -> None:
        sack_ref = -1
        if sack_blocks:
            sack_ref = self._n_sacks
            self._n_sacks += 1
            blocks = sack_blocks[:MAX_SACK_BLOCKS]
            row = [float(len(blocks))] + [0.0] * (2 * MAX_SACK_BLOCKS)
            for k, (left, right) in enumerate(blocks):
                row[1 + 2 * k] = left
                row[2 + 2 * k] = right
            self._sacks.extend(row)
        self._rows.extend((ts_s, conn, direction, flags, seq_rel, ack_rel, window_raw,
                           payload_len, opt_kind, sack_ref))

    def __len__(self) -> int:
        return len(self._rows) // len(ROW_COLUMNS)

    def latest_ts_since(self, first_row: int) -> float:
        """The latest timestamp among the rows added since row `first_row` (-inf if none)."""
        return max(self._rows[first_row * len(ROW_COLUMNS)::len(ROW_COLUMNS)], default=-math.inf)

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, sacks): float64 arrays shaped (packets, ROW_COLUMNS) and (sacks, SACK_ROW_LEN)."""
        rows = np.frombuffer(self._rows, dtype=np.float64).reshape(-1, len(ROW_COLUMNS))
        sacks = np.frombuffer(self._sacks, dtype=np.float64).reshape(-1, SACK_ROW_LEN)
        return rows.copy(), sacks.copy()


# ----------------------------------------------------------------------------------------
# TCP model: endpoints, one bulk transfer, one connection
# ----------------------------------------------------------------------------------------
#
# Times are "capture-point times": a packet is logged at the instant it passes the tap. An
# endpoint at one-way delay d from the tap reacts to a packet seen at time t at t + 2d (it
# receives it at t + d, and what it sends then reaches the tap d later), so both hosts can be
# simulated on the tap's clock.


@dataclass
class Endpoint:
    """One host of a simulated connection; its sequence numbers are relative to its ISN."""

    direction: int  # direction of the packets it sends: 0 client->server, 1 server->client
    delay_s: float  # one-way delay between this host and the capture point
    segment_bytes: int  # payload of a full segment it sends (peer's MSS less option bytes)
    wscale: int  # shift of the receive window it advertises
    initial_window: int  # receive window (bytes) it advertises right after the handshake
    max_window: int  # receive-buffer limit (bytes)
    delack_s: float  # delayed-ACK timer
    opt_kind: int  # option layout of its non-SYN segments (OPT_TS or OPT_NONE)
    link_bps: float  # bottleneck rate of the path from this host to its peer
    snd_nxt: int = 0
    rcv_nxt: int = 0
    # A delayed ACK (due time, ack number, window field) that a segment may still carry.
    pending_ack: tuple[float, int, int] | None = None

    def window_bytes(self) -> int:
        """Receive window it offers: grows with the bytes received (buffer autotuning)."""
        return min(self.max_window, self.initial_window + max(self.rcv_nxt - 1, 0))

    def window_raw(self) -> int:
        """The 16-bit window field for window_bytes() under its scale shift."""
        return min(self.window_bytes() >> self.wscale, 0xFFFF)


@dataclass
class ZeroWindowStall:
    """The receiving application stops reading for a while, so the window closes."""

    after_bytes: int  # bytes of the transfer received before the application stalls
    duration_s: float


# Event kinds of a BulkTransfer and the states of the sender's segments.
EV_ARRIVAL, EV_ACK, EV_DELACK, EV_RTO, EV_PERSIST, EV_STALL_END = range(6)
SEG_IN_FLIGHT, SEG_SACKED, SEG_LOST, SEG_RETX_IN_FLIGHT, SEG_ACKED = range(5)


class BulkTransfer:
    """One application write of `nbytes` from `sender` to `receiver`, simulated event by event.

    The sender does slow start from IW10, SACK-based loss recovery (a segment is lost when
    DUPTHRESH segments above it are SACKed; cwnd halves), RTO with backoff, and zero-window
    probing; a FIFO bottleneck paces its segments. The receiver ACKs every second segment
    or after its delayed-ACK timer, at once (with SACK blocks) when data arrives out of order
    or fills a hole, and offers a window that shrinks to zero during a ZeroWindowStall.
    ``run()`` logs the packets and returns the transfer; ``receiver_done_s`` is when the
    receiver had all the data, ``last_logged_s`` its last packet (late duplicates included),
    and ``receiver.pending_ack`` a final ACK the receiver has not sent yet.
    """

    def __init__(self, conn: ConnectionSim, sender: Endpoint, receiver: Endpoint,
                 start_s: float, nbytes: int, stall: ZeroWindowStall | None = None) -> None:
        self.conn, self.snd, self.rcv = conn, sender, receiver
        self.start_s = start_s
        self.base = sender.snd_nxt
        self.end = sender.snd_nxt + nbytes
        self.stall = stall
        self._events: list[tuple] = []
        self._tiebreak = 0
        # sender state
        self.seg_start: list[int] = []
        self.seg_end: list[int] = []
        self.seg_state: list[int] = []
        self.una = self.nxt = self.base
        self.una_idx = 0
        self.pipe = 0  # segments believed in flight (RFC 6675 "pipe")
        self.cwnd = float(INITIAL_CWND_SEGMENTS)
        self.ssthresh = math.inf
        self.cwnd_cap = conn.cwnd_cap_segments
        self.recovery_point: int | None = None
        self.recovery_grows = False  # after an RTO cwnd slow-starts again; in fast recovery not
        self.fast_retransmit_due = False
        self.lost_heap: list[int] = []
        self.link_free_s = start_s
        self.snd_window_raw = sender.window_raw()  # it receives nothing during the transfer
        self.right_edge = self.una + (receiver.window_raw() << receiver.wscale)
        self.high_sacked_idx = -1
        self.unsacked: list[int] = []  # sent segments neither SACKed nor ACKed, in order
        # Linux: srtt + 4 rttvar, at least 200 ms; the bottleneck queue can double the RTT.
        self.rto_s = RTO_MIN_S + 4 * conn.rtt_s
        self.rto_backoff = 1
        self.rto_deadline: float | None = None
        self.rto_queued = False
        self.persist_queued = False
        self.persist_backoff = 1
        # receiver state
        self.r_nxt = receiver.rcv_nxt
        self.ooo_starts: list[int] = []  # merged out-of-order ranges above r_nxt
        self.ooo_ends: list[int] = []
        self.unacked_segments = 0
        self.delack_token = 0
        self.stall_right_edge: int | None = None
        self.stall_started = False
        self.window_reopened_s: float | None = None
        self.receiver_done_s: float | None = None
        self.final_ack_pending_s: float | None = None
        self.first_row = len(conn.log)
        self.last_logged_s = start_s  # set by run(): the connection's next phase starts after it

    # -- driver -----------------------------------------------------------------------

    def run(self) -> BulkTransfer:
        self._try_send(self.start_s)
        handlers = {EV_ARRIVAL: self._on_arrival, EV_ACK: self._on_ack,
                    EV_DELACK: self._on_delack, EV_RTO: self._on_rto,
                    EV_PERSIST: self._on_persist, EV_STALL_END: self._on_stall_end}
        while self._events:
            now, _, kind, a, b, c = heapq.heappop(self._events)
            handlers[kind](now, a, b, c)
        self.snd.snd_nxt = self.end
        self.rcv.rcv_nxt = self.r_nxt
        self.last_logged_s = max(self.start_s, self.conn.log.latest_ts_since(self.first_row))
        if self.final_ack_pending_s is not None:
            window_raw = min(self._advertised_window() >> self.rcv.wscale, 0xFFFF)
            self.rcv.pending_ack = (self.final_ack_pending_s, self.r_nxt, window_raw)
        return self

    def _schedule(self, at_s: float, kind: int, a=0, b=0, c=None) -> None:
        self._tiebreak += 1
        heapq.heappush(self._events, (at_s, self._tiebreak, kind, a, b, c))

    # -- sender -----------------------------------------------------------------------

    def _try_send(self, now: float) -> None:
        """Send retransmissions, then new data, while cwnd and the peer's window allow."""
        if self.fast_retransmit_due:  # RFC 6675: the first one goes out whatever the pipe
            self.fast_retransmit_due = False
            idx = self._pop_lost()
            if idx >= 0:
                self._retransmit(now, idx)
        while self.pipe < self.cwnd:
            idx = self._pop_lost() if self.lost_heap else -1
            if idx >= 0:
                self._retransmit(now, idx)
                continue
            if self.nxt >= self.end:
                break
            room = self.right_edge - self.nxt
            size = min(self.snd.segment_bytes, self.end - self.nxt)
            if room < size:
                if room <= 0 or self.pipe > 0:
                    break
                size = room  # the receiver offers less than a segment and nothing is in flight
            self.unsacked.append(len(self.seg_start))
            self.seg_start.append(self.nxt)
            self.seg_end.append(self.nxt + size)
            self.seg_state.append(SEG_IN_FLIGHT)
            self.pipe += 1
            self._transmit(now, self.nxt, self.nxt + size)
            self.nxt += size
        if self.pipe > 0:
            self._arm_rto(now, restart=False)
        elif self.nxt < self.end and self.right_edge <= self.nxt:
            self._arm_persist(now)

    def _retransmit(self, now: float, idx: int) -> None:
        self.seg_state[idx] = SEG_RETX_IN_FLIGHT
        self.pipe += 1
        self._transmit(now, self.seg_start[idx], self.seg_end[idx])
        if idx == self.una_idx:  # Linux re-arms the RTO when it resends the head
            self._arm_rto(now, restart=True)

    def _transmit(self, now: float, start: int, end: int, probe: bool = False) -> None:
        """Queue one segment on the bottleneck; log it unless it is lost before the tap."""
        conn = self.conn
        at_s = max(now, self.link_free_s)
        gap_s = (end - start + FRAME_OVERHEAD_BYTES) * 8.0 / self.snd.link_bps
        self.link_free_s = at_s + gap_s
        if conn.rng.random() < conn.loss_rate:
            return
        if conn.rng.random() < conn.reorder_rate:  # held back just past its successor
            at_s += min(gap_s * conn.rng.uniform(1.1, 2.0) + conn.rng.uniform(0, 5e-5),
                        0.5 * conn.rtt_s)
        flags = ACK if probe or end != self.end else ACK | PSH
        conn.log.add(at_s, conn.index, self.snd.direction, flags, start, self.snd.rcv_nxt,
                     self.snd_window_raw, end - start, self.snd.opt_kind)
        self._schedule(at_s + 2 * self.rcv.delay_s + HOST_PROCESSING_S, EV_ARRIVAL,
                       start, end, probe)

    def _pop_lost(self) -> int:
        while self.lost_heap:
            idx = heapq.heappop(self.lost_heap)
            if self.seg_state[idx] == SEG_LOST:
                return idx
        return -1

    def _on_ack(self, now: float, ack: int, window_bytes: int, sack_blocks) -> None:
        """An ACK reaches the sender: advance, note SACKs and losses, grow cwnd, send."""
        newly_delivered = 0
        if ack > self.una:
            newly_delivered += self._advance_una(ack)
            self.rto_backoff = self.persist_backoff = 1
            if self.una < self.nxt:
                self._arm_rto(now, restart=True)
            else:
                self.rto_deadline = None
        if ack >= self.una:
            self.right_edge = ack + window_bytes
        if sack_blocks:
            newly_delivered += self._apply_sack(sack_blocks)
            self._detect_losses()
        if self.recovery_point is not None and self.una >= self.recovery_point:
            self.recovery_point = None
        if newly_delivered and (self.recovery_point is None or self.recovery_grows):
            if self.cwnd < self.ssthresh:
                self.cwnd += newly_delivered
            else:
                self.cwnd += newly_delivered / self.cwnd
            self.cwnd = min(self.cwnd, self.cwnd_cap)
        self._try_send(now)

    def _advance_una(self, ack: int) -> int:
        """Cumulative ACK up to `ack`: returns how many segments it newly delivered."""
        delivered = 0
        states, ends = self.seg_state, self.seg_end
        while self.una_idx < len(ends) and ends[self.una_idx] <= ack:
            state = states[self.una_idx]
            if state == SEG_IN_FLIGHT or state == SEG_RETX_IN_FLIGHT:
                self.pipe -= 1
                delivered += 1
            elif state == SEG_LOST:
                delivered += 1
            states[self.una_idx] = SEG_ACKED
            self.una_idx += 1
        self.una = ack
        del self.unsacked[:bisect_left(self.unsacked, self.una_idx)]
        return delivered

    def _apply_sack(self, sack_blocks) -> int:
        """Mark the segments inside the SACK blocks; returns how many were newly SACKed."""
        delivered = 0
        unsacked = self.unsacked
        for left, right in sack_blocks:
            if right <= self.una:
                continue  # D-SACK
            first = bisect_left(self.seg_start, max(left, self.una))
            last = bisect_right(self.seg_end, right) - 1
            if last < first:
                continue
            lo, hi = bisect_left(unsacked, first), bisect_right(unsacked, last)
            for idx in unsacked[lo:hi]:
                state = self.seg_state[idx]
                if state == SEG_IN_FLIGHT or state == SEG_RETX_IN_FLIGHT:
                    self.pipe -= 1
                self.seg_state[idx] = SEG_SACKED
                delivered += 1
            del unsacked[lo:hi]
            self.high_sacked_idx = max(self.high_sacked_idx, last)
        return delivered

    def _detect_losses(self) -> None:
        """RFC 6675 IsLost: an un-SACKed segment with DUPTHRESH SACKed segments above it.

        The k-th un-SACKed segment below the highest SACKed one (`high`) has high - idx
        segments above it up to `high`, below_high - 1 - k of them un-SACKed; the SACKed
        count only falls as k grows, so the lost ones are a prefix."""
        unsacked, high = self.unsacked, self.high_sacked_idx
        below_high = bisect_left(unsacked, high)
        for k in range(below_high):
            idx = unsacked[k]
            if (high - idx) - (below_high - 1 - k) < DUPTHRESH:
                break
            if self.seg_state[idx] == SEG_IN_FLIGHT:
                self._mark_lost(idx)

    def _mark_lost(self, idx: int) -> None:
        self.seg_state[idx] = SEG_LOST
        self.pipe -= 1
        heapq.heappush(self.lost_heap, idx)
        if self.recovery_point is None:  # enter fast recovery
            self.ssthresh = max(self.cwnd / 2, 2.0)
            self.cwnd = self.ssthresh
            self.recovery_point = self.nxt
            self.recovery_grows = False
            self.fast_retransmit_due = True

    def _arm_rto(self, now: float, restart: bool) -> None:
        if self.rto_deadline is None or restart:
            self.rto_deadline = now + self.rto_s * self.rto_backoff
        if not self.rto_queued:
            self.rto_queued = True
            self._schedule(self.rto_deadline, EV_RTO)

    def _on_rto(self, now: float, *_) -> None:
        """Retransmission timeout: everything un-SACKed is lost, cwnd restarts at 1."""
        self.rto_queued = False
        if self.rto_deadline is None or self.receiver_done_s is not None:
            return
        if now < self.rto_deadline:  # restarted since it was queued
            self.rto_queued = True
            self._schedule(self.rto_deadline, EV_RTO)
            return
        states = self.seg_state
        for idx in self.unsacked:
            if states[idx] == SEG_IN_FLIGHT or states[idx] == SEG_RETX_IN_FLIGHT:
                states[idx] = SEG_LOST
                self.pipe -= 1
                heapq.heappush(self.lost_heap, idx)
        self.ssthresh = max(self.cwnd / 2, 2.0)
        self.cwnd = 1.0
        self.recovery_point = self.nxt
        self.recovery_grows = True
        self.rto_backoff *= 2
        self.rto_deadline = None
        self._try_send(now)

    def _arm_persist(self, now: float) -> None:
        if not self.persist_queued:
            self.persist_queued = True
            interval = max(RTO_MIN_S, self.rto_s) * self.persist_backoff
            self._schedule(now + interval, EV_PERSIST)

    def _on_persist(self, now: float, *_) -> None:
        """Persist timer: probe a zero window."""
        self.persist_queued = False
        if self.nxt >= self.end or self.pipe > 0 or self.receiver_done_s is not None:
            return
        if self.right_edge > self.nxt:
            self._try_send(now)
            return
        reopened_s = self.window_reopened_s
        if reopened_s is not None and now < reopened_s + 2 * self.snd.delay_s:
            return  # the window update is on its way; it restarts sending
        # Zero window: probe with one byte of new data (BSD/Windows style, which is what
        # Wireshark calls a ZeroWindowProbe); the receiver drops it and re-ACKs.
        self._transmit(now, self.nxt, self.nxt + 1, probe=True)
        self.persist_backoff = min(self.persist_backoff * 2, PERSIST_MAX_BACKOFF)
        self._arm_persist(now)

    # -- receiver ---------------------------------------------------------------------

    def _on_arrival(self, now: float, start: int, end: int, probe: bool) -> None:
        """A segment reaches the receiver: ACK it now, or later (delayed ACK)."""
        if probe:
            self._send_ack(now)  # the probe byte is dropped; the ACK repeats the window
            return
        if end <= self.r_nxt or self._inside_ooo(start, end):
            self._send_ack(now, dsack=(start, end))  # duplicate: D-SACK (RFC 2883)
            return
        if start > self.r_nxt:
            self._add_ooo(start, end)
            self._send_ack(now, recent_start=start)  # out of order: ACK at once
            return
        filled_hole = bool(self.ooo_starts)
        self.r_nxt = end
        while self.ooo_starts and self.ooo_starts[0] <= self.r_nxt:
            self.r_nxt = max(self.r_nxt, self.ooo_ends[0])
            del self.ooo_starts[0], self.ooo_ends[0]
        self.rcv.rcv_nxt = self.r_nxt
        self._maybe_start_stall(now)
        if self.r_nxt >= self.end and self.receiver_done_s is None:
            self.receiver_done_s = now
        if filled_hole:
            self._send_ack(now)
            return
        self.unacked_segments += 1
        if self.unacked_segments >= 2:
            self._send_ack(now)
        else:
            self._schedule(now + self.rcv.delack_s, EV_DELACK, self.delack_token)

    def _on_delack(self, now: float, token: int, *_) -> None:
        if token != self.delack_token or self.unacked_segments == 0:
            return
        if self.r_nxt >= self.end and not self.ooo_starts:
            # The transfer's last ACK: the connection sends it at this time, unless the
            # receiver has a segment of its own to send first (then the ACK rides on it).
            self.final_ack_pending_s = now
            self.unacked_segments = 0
            return
        self._send_ack(now)

    def _send_ack(self, now: float, recent_start: int | None = None,
                  dsack: tuple[int, int] | None = None) -> None:
        rcv = self.rcv
        window_raw = min(self._advertised_window() >> rcv.wscale, 0xFFFF)
        blocks: list[tuple[int, int]] = [dsack] if dsack else []
        if self.ooo_starts:
            blocks.extend(self._sack_blocks(recent_start))
        blocks = blocks[:MAX_SACK_BLOCKS]
        self.conn.log.add(now, self.conn.index, rcv.direction, ACK, rcv.snd_nxt, self.r_nxt,
                          window_raw, 0, rcv.opt_kind, blocks)
        self.unacked_segments = 0
        self.delack_token += 1
        self.final_ack_pending_s = None
        self._schedule(now + 2 * self.snd.delay_s + HOST_PROCESSING_S, EV_ACK, self.r_nxt,
                       window_raw << rcv.wscale, tuple(blocks) if blocks else None)

    def _advertised_window(self) -> int:
        if self.stall_right_edge is None:
            return self.rcv.window_bytes()
        free = self.stall_right_edge - self.r_nxt
        # Receiver-side silly-window avoidance (RFC 1122 4.2.3.3): offer 0, not a sliver.
        return free if free >= self.snd.segment_bytes else 0

    def _maybe_start_stall(self, now: float) -> None:
        stall = self.stall
        if stall is None or self.stall_started or self.r_nxt - self.base < stall.after_bytes:
            return
        self.stall_started = True
        offered = (self.rcv.window_bytes() >> self.rcv.wscale) << self.rcv.wscale
        self.stall_right_edge = self.r_nxt + offered  # the right edge stops moving
        self._schedule(now + stall.duration_s, EV_STALL_END)

    def _on_stall_end(self, now: float, *_) -> None:
        self.stall_right_edge = None
        self.window_reopened_s = now
        self._send_ack(now)  # the application read the buffer: window update

    def _inside_ooo(self, start: int, end: int) -> bool:
        i = bisect_right(self.ooo_starts, start) - 1
        return i >= 0 and self.ooo_ends[i] >= end

    def _add_ooo(self, start: int, end: int) -> None:
        """Insert [start, end) into the merged out-of-order ranges."""
        starts, ends = self.ooo_starts, self.ooo_ends
        i = bisect_right(starts, start)
        if i > 0 and ends[i - 1] >= start:
            i -= 1
            ends[i] = max(ends[i], end)
        else:
            starts.insert(i, start)
            ends.insert(i, end)
        while i + 1 < len(starts) and starts[i + 1] <= ends[i]:
            ends[i] = max(ends[i], ends[i + 1])
            del starts[i + 1], ends[i + 1]

    def _sack_blocks(self, recent_start: int | None) -> list[tuple[int, int]]:
        """SACK blocks, the one holding the latest arrival first, then the highest (RFC 2018)."""
        starts, ends = self.ooo_starts, self.ooo_ends
        first = len(starts) - 1
        if recent_start is not None:
            first = bisect_right(starts, recent_start) - 1
        blocks = [(starts[first], ends[first])]
        for i in range(len(starts) - 1, -1, -1):
            if len(blocks) == MAX_SACK_BLOCKS:
                break
            if i != first:
                blocks.append((starts[i], ends[i]))
        return blocks


@dataclass
class ConnectionPlan:
    """What one simulated connection will do (a row of ConnectionPlans)."""

    start_s: float
    kind: int
    rtt_s: float
    client_delay_s: float
    server_delay_s: float
    down_bps: float
    up_bps: float
    windows_client: bool
    client_mss: int
    server_mss: int
    client_wscale: int
    server_wscale: int
    client_max_window: int
    server_max_window: int
    zero_window: bool
    close_kind: int
    n_exchanges: int
    synack_lost: bool


class ConnectionSim:
    """Simulates one connection (handshake, request/response exchanges, close) into a log."""

    def __init__(self, index: int, plan: ConnectionPlan, log: PacketLog, rng: random.Random,
                 loss_rate: float, reorder_rate: float) -> None:
        self.index, self.plan, self.log, self.rng = index, plan, log, rng
        self.loss_rate, self.reorder_rate = loss_rate, reorder_rate
        self.rtt_s = plan.rtt_s
        has_ts = not plan.windows_client
        opt_kind = OPT_TS if has_ts else OPT_NONE
        option_bytes = 12 if has_ts else 0
        segment = min(plan.client_mss, plan.server_mss) - option_bytes
        bdp_segments = plan.down_bps * plan.rtt_s / 8 / segment
        self.cwnd_cap_segments = max(8.0, 2 * bdp_segments + 4)  # the bottleneck's buffer
        client_initial = 262_144 if plan.windows_client else 64_256
        self.client = Endpoint(
            direction=0, delay_s=plan.client_delay_s, segment_bytes=segment,
            wscale=plan.client_wscale, initial_window=min(client_initial, plan.client_max_window),
            max_window=plan.client_max_window,
            delack_s=DELACK_WINDOWS_S if plan.windows_client else DELACK_LINUX_S,
            opt_kind=opt_kind, link_bps=plan.up_bps)
        self.server = Endpoint(
            direction=1, delay_s=plan.server_delay_s, segment_bytes=segment,
            wscale=plan.server_wscale, initial_window=min(65_160, plan.server_max_window),
            max_window=plan.server_max_window, delack_s=DELACK_LINUX_S, opt_kind=opt_kind,
            link_bps=plan.down_bps)
        self.client_syn_opt = OPT_SYN_WINDOWS if plan.windows_client else OPT_SYN_TS
        self.server_syn_opt = OPT_SYN_TS if has_ts else OPT_SYN_NOTS
        self.server_syn_window = 65_160 if has_ts else 64_240

    # -- packet helpers ---------------------------------------------------------------

    def log_packet(self, ep: Endpoint, ts_s: float, flags: int, seq_rel: int | None = None,
                   payload_len: int = 0, window_raw: int | None = None,
                   opt_kind: int | None = None) -> None:
        """Log a packet from `ep` carrying its current ACK number and window."""
        self.log.add(ts_s, self.index, ep.direction, flags,
                     ep.snd_nxt if seq_rel is None else seq_rel,
                     ep.rcv_nxt if flags & ACK else 0,
                     ep.window_raw() if window_raw is None else window_raw,
                     payload_len, ep.opt_kind if opt_kind is None else opt_kind)

    def flush_delayed_ack(self, ep: Endpoint, next_send_s: float) -> None:
        """Send `ep`'s pending delayed ACK if it falls due before its next segment."""
        if ep.pending_ack is not None and ep.pending_ack[0] < next_send_s:
            due_s, ack_rel, window_raw = ep.pending_ack
            self.log.add(due_s, self.index, ep.direction, ACK, ep.snd_nxt, ack_rel, window_raw,
                         0, ep.opt_kind)
        ep.pending_ack = None

    def reply_time(self, ep: Endpoint, seen_s: float) -> float:
        """When `ep`'s immediate answer to a packet seen at `seen_s` passes the tap."""
        return seen_s + 2 * ep.delay_s + HOST_PROCESSING_S

    # -- connection phases ------------------------------------------------------------

    def run(self) -> None:
        start = self.plan.start_s
        if self.plan.kind == CONN_REFUSED:
            self._refused(start)
        elif self.plan.kind == CONN_UNANSWERED:
            self._unanswered(start)
        else:
            first_data_s = self._handshake(start)
            last_s = self._exchanges(first_data_s)
            self._close(last_s)

    def _send_syn(self, ts_s: float) -> None:
        self.log_packet(self.client, ts_s, SYN, seq_rel=0, window_raw=64_240,
                        opt_kind=self.client_syn_opt)

    def _refused(self, t0: float) -> None:
        """SYN answered by RST,ACK (nothing listens): seq 0, window 0, no options."""
        self._send_syn(t0)
        self.server.rcv_nxt = 1
        self.log_packet(self.server, self.reply_time(self.server, t0), RST | ACK, seq_rel=0,
                        window_raw=0, opt_kind=OPT_NONE)

    def _unanswered(self, t0: float) -> None:
        """SYN never answered: retransmitted after 1 s and 2 s more, then abandoned."""
        for offset_s in (0.0, SYN_RTO_S, 3 * SYN_RTO_S):
            self._send_syn(t0 + offset_s)

    def _handshake(self, t0: float) -> float:
        """SYN, SYN-ACK, ACK; returns when the client sends its first data."""
        client, server = self.client, self.server
        self._send_syn(t0)
        syn_s = t0
        if self.plan.synack_lost:  # lost upstream of the tap: the client's SYN times out
            syn_s = t0 + SYN_RTO_S
            self._send_syn(syn_s)
        server.rcv_nxt = 1
        synack_s = self.reply_time(server, syn_s)
        self.log_packet(server, synack_s, SYN | ACK, seq_rel=0,
                        window_raw=self.server_syn_window, opt_kind=self.server_syn_opt)
        server.snd_nxt = client.snd_nxt = client.rcv_nxt = 1
        ack_s = self.reply_time(client, synack_s)
        self.log_packet(client, ack_s, ACK)
        return ack_s + self.rng.uniform(50e-6, 2e-3)

    def _exchanges(self, t: float) -> float:
        """Request/response rounds; returns when the client has the last response."""
        client, server, rng = self.client, self.server, self.rng
        stall_exchange = 0 if self.plan.zero_window else -1
        for k in range(self.plan.n_exchanges):
            self.flush_delayed_ack(client, t)
            request = BulkTransfer(self, client, server, t, self._request_bytes()).run()
            server_time_s = min(rng.lognormvariate(math.log(0.004), 1.2), 2.0)
            respond_s = max(request.receiver_done_s + server_time_s,
                            request.last_logged_s + HOST_PROCESSING_S)
            self.flush_delayed_ack(server, respond_s)
            response_bytes, stall = self._response_bytes(), None
            if k == stall_exchange:
                stall = ZeroWindowStall(after_bytes=client.segment_bytes * rng.randint(2, 30),
                                        duration_s=rng.uniform(0.5, 4.0))
                response_bytes = max(response_bytes, stall.after_bytes + client.max_window
                                     + client.segment_bytes * rng.randint(10, 60))
            response = BulkTransfer(self, server, client, respond_s, response_bytes, stall).run()
            t = response.receiver_done_s
            if k + 1 < self.plan.n_exchanges:
                t += min(rng.lognormvariate(math.log(0.3), 1.5), 20.0)  # user think time
            t = max(t, response.last_logged_s + HOST_PROCESSING_S)
        return t

    def _request_bytes(self) -> int:
        rng = self.rng
        if rng.random() < 0.015:  # an upload
            return int(min(rng.lognormvariate(math.log(60_000), 1.2), 4_000_000))
        return int(min(max(rng.lognormvariate(math.log(450), 0.8), 40), 16_000))

    def _response_bytes(self) -> int:
        return int(min(max(self.rng.lognormvariate(math.log(1_900), 1.8), 60), 30_000_000))

    def _close(self, last_response_s: float) -> None:
        client, server, rng = self.client, self.server, self.rng
        client_done_s = last_response_s + min(rng.lognormvariate(math.log(0.2), 1.5), 10.0)
        idle_timeout_s = last_response_s + rng.uniform(5.0, 15.0)
        kind = self.plan.close_kind
        if kind == CLOSE_CLIENT_FIN:
            self._fin_exchange(client, server, client_done_s)
        elif kind == CLOSE_SERVER_FIN:
            self._fin_exchange(server, client, idle_timeout_s)
        elif kind == CLOSE_CLIENT_RST:
            self._reset(client, client_done_s)
        elif kind == CLOSE_SERVER_RST:
            self._reset(server, idle_timeout_s)
        else:  # client FIN, the server aborts (it had unread data): RST instead of FIN
            self.flush_delayed_ack(client, client_done_s)
            self.log_packet(client, client_done_s, FIN | ACK)
            client.snd_nxt += 1
            server.rcv_nxt += 1
            self._reset(server, self.reply_time(server, client_done_s))
        self.flush_delayed_ack(client, math.inf)
        self.flush_delayed_ack(server, math.inf)

    def _fin_exchange(self, closer: Endpoint, peer: Endpoint, t: float) -> None:
        """FIN from `closer`; the peer answers FIN,ACK (or ACK, then FIN); last ACK."""
        self.flush_delayed_ack(closer, t)
        self.log_packet(closer, t, FIN | ACK)
        closer.snd_nxt += 1
        peer.rcv_nxt += 1
        peer_s = self.reply_time(peer, t)
        self.flush_delayed_ack(peer, peer_s)
        if self.rng.random() < 0.3:  # the peer's application closes a little later
            self.log_packet(peer, peer_s, ACK)
            peer_s += self.rng.uniform(1e-4, 0.05)
        self.log_packet(peer, peer_s, FIN | ACK)
        peer.snd_nxt += 1
        closer.rcv_nxt += 1
        self.log_packet(closer, self.reply_time(closer, peer_s), ACK)

    def _reset(self, ep: Endpoint, t: float) -> None:
        self.flush_delayed_ack(ep, t)
        self.log_packet(ep, t, RST | ACK)


# ----------------------------------------------------------------------------------------
# Connection plans and addresses (vectorised)
# ----------------------------------------------------------------------------------------


@dataclass
class ConnectionPlans:
    """ConnectionPlan fields as arrays, one element per connection."""

    start_s: np.ndarray
    kind: np.ndarray
    rtt_s: np.ndarray
    client_delay_s: np.ndarray
    server_delay_s: np.ndarray
    down_bps: np.ndarray
    up_bps: np.ndarray
    windows_client: np.ndarray
    client_mss: np.ndarray
    server_mss: np.ndarray
    client_wscale: np.ndarray
    server_wscale: np.ndarray
    client_max_window: np.ndarray
    server_max_window: np.ndarray
    zero_window: np.ndarray
    close_kind: np.ndarray
    n_exchanges: np.ndarray
    synack_lost: np.ndarray

    def __len__(self) -> int:
        return len(self.start_s)

    def rows(self, lo: int, hi: int) -> list[ConnectionPlan]:
        columns = [getattr(self, f.name)[lo:hi].tolist() for f in fields(self)]
        return [ConnectionPlan(*values) for values in zip(*columns)]


def draw_plans(n: int, rng: np.random.Generator, start_window_s: float, ipv6: np.ndarray,
               tap_near_client: bool = True) -> ConnectionPlans:
    """Draw the parameters of `n` connections (kinds, paths, hosts, sizes of their stories)."""
    kind = rng.choice([CONN_NORMAL, CONN_REFUSED, CONN_UNANSWERED], size=n, p=[0.95, 0.03, 0.02])
    rtt_s = np.clip(rng.lognormal(math.log(0.035), 0.8, n), 0.002, 0.6)
    near_s = np.minimum(rng.uniform(5e-5, 1e-3, n), rtt_s / 8)  # the tap's side of the path
    far_s = rtt_s / 2 - near_s
    down_bps = np.clip(rng.lognormal(math.log(40e6), 1.0, n), 2e6, 1e9)
    windows_client = rng.random(n) < 0.2
    client_mss = np.where(ipv6, 1440, 1460) - np.where(rng.random(n) < 0.1, 60, 0)  # VPNs
    zero_window = (kind == CONN_NORMAL) & (rng.random(n) < 0.015)
    client_max_window = np.where(windows_client, rng.integers(1 << 19, 1 << 23, n),
                                 rng.integers(1 << 20, 6 << 20, n))
    client_max_window = np.where(zero_window, rng.integers(32_768, 131_072, n), client_max_window)
    close_kind = rng.choice([CLOSE_CLIENT_FIN, CLOSE_SERVER_FIN, CLOSE_CLIENT_RST,
                             CLOSE_SERVER_RST, CLOSE_FIN_THEN_RST], size=n,
                            p=[0.6, 0.3, 0.05, 0.03, 0.02])
    return ConnectionPlans(
        start_s=np.sort(rng.uniform(0.0, start_window_s, n)),
        kind=kind,
        rtt_s=rtt_s,
        client_delay_s=near_s if tap_near_client else far_s,
        server_delay_s=far_s if tap_near_client else near_s,
        down_bps=down_bps,
        up_bps=down_bps * rng.uniform(0.1, 1.0, n),
        windows_client=windows_client,
        client_mss=client_mss,
        server_mss=np.where(ipv6, 1440, 1460),
        client_wscale=np.where(windows_client, 8, 7),
        server_wscale=rng.choice([7, 9, 10], size=n, p=[0.6, 0.3, 0.1]),
        client_max_window=client_max_window,
        server_max_window=rng.integers(1 << 18, 6 << 20, n),
        zero_window=zero_window,
        close_kind=close_kind,
        n_exchanges=np.minimum(rng.geometric(0.45, n), 30),
        synack_lost=rng.random(n) < SYNACK_LOSS_RATE,
    )


@dataclass
class ConnectionTable:
    """Per-connection header values; [:, 0] is the client's side, [:, 1] the server's."""

    ipv6: np.ndarray  # bool
    ip4: np.ndarray  # (n, 2) uint32 addresses
    ip6: np.ndarray  # (n, 2, 16) uint8 addresses
    port: np.ndarray  # (n, 2)
    mac: np.ndarray  # (n, 2) uint64, 48-bit MAC of the sender on the tapped link
    isn: np.ndarray  # (n, 2) uint32
    mss: np.ndarray  # (n, 2) MSS announced in SYN / SYN-ACK
    wscale: np.ndarray  # (n, 2)
    ts_offset: np.ndarray  # (n, 2) TSval at the sender's clock zero
    delay_s: np.ndarray  # (n, 2) one-way delay sender <-> tap (the sender's clock lag)
    ttl: np.ndarray  # (n, 2) TTL / hop limit as seen at the tap
    ip_id_start: np.ndarray  # (n, 2)
    flow_label: np.ndarray  # (n, 2)

    def __len__(self) -> int:
        return len(self.ipv6)

    @staticmethod
    def concat(tables: list[ConnectionTable]) -> ConnectionTable:
        return ConnectionTable(**{f.name: np.concatenate([getattr(t, f.name) for t in tables])
                                  for f in fields(ConnectionTable)})


def random_endpoint_values(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """ISNs, timestamp clocks, IP IDs and flow labels: random per host and connection."""
    return dict(
        isn=rng.integers(0, 1 << 32, (n, 2), dtype=np.uint64).astype(np.uint32),
        ts_offset=rng.integers(0, 1 << 31, (n, 2), dtype=np.uint64).astype(np.uint32),
        ip_id_start=rng.integers(0, 1 << 16, (n, 2)).astype(np.uint16),
        flow_label=rng.integers(0, 1 << 20, (n, 2)).astype(np.uint32),
    )


def ipv6_addresses(prefix: bytes, host_ids: np.ndarray) -> np.ndarray:
    """(n, 16) uint8: the /48 `prefix` with a 64-bit interface id derived from `host_ids`."""
    out = np.tile(np.frombuffer(prefix, dtype=np.uint8), (len(host_ids), 1))
    iid = (host_ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) | np.uint64(1)
    out[:, 8:] = iid.astype(">u8").view(np.uint8).reshape(-1, 8)
    return out


def unique_client_ports(client_ids: np.ndarray, server_ids: np.ndarray, server_ports: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
    """Ephemeral ports (32768-60999, Linux default range) with no 4-tuple used twice."""
    ports = rng.integers(32768, 61000, len(client_ids))
    _, host_pair = np.unique(np.stack([client_ids, server_ids], axis=1), axis=0,
                             return_inverse=True)
    pair_and_service = (host_pair.reshape(-1).astype(np.int64) << 32) | (server_ports << 16)
    for _ in range(100):
        _, first = np.unique(pair_and_service | ports, return_index=True)
        clash = np.ones(len(ports), dtype=bool)
        clash[first] = False
        if not clash.any():
            return ports
        ports[clash] = rng.integers(32768, 61000, int(clash.sum()))
    raise RuntimeError("could not make the connections' 4-tuples unique")


def mixed_connection_table(plans: ConnectionPlans, ipv6: np.ndarray,
                           rng: np.random.Generator) -> ConnectionTable:
    """Clients in 198.18.1.0+ / 2001:db8:c::/48, servers in 198.19.0.0/16 / 2001:db8:5e::/48."""
    n = len(plans)
    client_ids = rng.integers(0, min(max(n // 12, 1), MAX_HOSTS_PER_NET), n)
    server_ids = rng.integers(0, min(max(n // 100, 1), MAX_HOSTS_PER_NET), n)
    server_port = rng.choice(SERVER_PORTS, size=n, p=SERVER_PORT_WEIGHTS)
    client_port = unique_client_ports(client_ids, server_ids, server_port, rng)
    ip4 = np.stack([CLIENT_NET4 + 256 + client_ids, SERVER_NET4 + 1 + server_ids],
                   axis=1).astype(np.uint32)
    ip6 = np.stack([ipv6_addresses(CLIENT_NET6, client_ids),
                    ipv6_addresses(SERVER_NET6, server_ids)], axis=1)
    client_ttl = np.where(plans.windows_client, 128, 64)
    server_ttl = 64 - rng.integers(5, 20, n)  # the server is hops away from the tap
    values = random_endpoint_values(n, rng)
    values["isn"][plans.kind == CONN_REFUSED, 1] = 0  # the refusing RST has seq 0
    return ConnectionTable(
        ipv6=ipv6,
        ip4=ip4,
        ip6=ip6,
        port=np.stack([client_port, server_port], axis=1),
        mac=np.stack([0x020000000000 + client_ids, np.full(n, GATEWAY_MAC)],
                     axis=1).astype(np.uint64),
        mss=np.stack([plans.client_mss, plans.server_mss], axis=1),
        wscale=np.stack([plans.client_wscale, plans.server_wscale], axis=1),
        delay_s=np.stack([plans.client_delay_s, plans.server_delay_s], axis=1),
        ttl=np.stack([client_ttl, server_ttl], axis=1),
        **values,
    )


# ----------------------------------------------------------------------------------------
# Running the simulation (in worker processes)
# ----------------------------------------------------------------------------------------

_WORKER_JOB: dict = {}  # set before the pool forks: plans and impairment rates


def simulate_range(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Simulate connections [lo, hi) of the job; returns PacketLog arrays."""
    lo, hi = bounds
    job = _WORKER_JOB
    log = PacketLog()
    for index, plan in enumerate(job["plans"].rows(lo, hi), start=lo):
        rng = random.Random(f"{job['name']}:{job['seed']}:{index}")
        sim = ConnectionSim(index + job["index_offset"], plan, log, rng,
                            job["loss_rate"], job["reorder_rate"])
        sim.run()
    return log.to_arrays()


def simulate_connections(name: str, seed: int, plans: ConnectionPlans, jobs: int,
                         index_offset: int = 0, loss_rate: float = LOSS_RATE,
                         reorder_rate: float = REORDER_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Simulate all plans, split over `jobs` processes; rows come back in connection order."""
    _WORKER_JOB.update(name=name, seed=seed, plans=plans, index_offset=index_offset,
                       loss_rate=loss_rate, reorder_rate=reorder_rate)
    chunk = 500
    bounds = [(lo, min(lo + chunk, len(plans))) for lo in range(0, len(plans), chunk)]
    if jobs > 1 and len(bounds) > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            parts = pool.map(simulate_range, bounds, chunksize=1)
    else:
        parts = [simulate_range(b) for b in bounds]
    return merge_logs(parts)


def merge_logs(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate PacketLog arrays, renumbering the SACK references."""
    rows, sacks, n_sacks = [], [], 0
    sack_ref_col = ROW_COLUMNS.index("sack_ref")
    for part_rows, part_sacks in parts:
        part_rows = part_rows.copy()
        has_sack = part_rows[:, sack_ref_col] >= 0
        part_rows[has_sack, sack_ref_col] += n_sacks
        rows.append(part_rows)
        sacks.append(part_sacks)
        n_sacks += len(part_sacks)
    empty_rows = np.zeros((0, len(ROW_COLUMNS)))
    empty_sacks = np.zeros((0, SACK_ROW_LEN))
    return np.concatenate(rows or [empty_rows]), np.concatenate(sacks or [empty_sacks])


# ----------------------------------------------------------------------------------------
# Packet columns: from simulation rows to everything the headers need
# ----------------------------------------------------------------------------------------


@dataclass
class PacketColumns:
    """One array element per packet, all header values final (absolute, 32-bit)."""

    ts_us: np.ndarray  # int64 microseconds since the epoch
    conn: np.ndarray  # int64 index into the ConnectionTable
    direction: np.ndarray  # int64: 0 client->server, 1 server->client
    flags: np.ndarray
    seq: np.ndarray  # uint32
    ack: np.ndarray  # uint32
    window_raw: np.ndarray
    payload_len: np.ndarray
    opt_kind: np.ndarray
    sack_count: np.ndarray
    sack_edges: np.ndarray  # (n, 2 * MAX_SACK_BLOCKS) uint32
    tsval: np.ndarray  # uint32
    tsecr: np.ndarray  # uint32
    ip_id: np.ndarray  # uint16

    def __len__(self) -> int:
        return len(self.ts_us)

    def take(self, index: np.ndarray) -> PacketColumns:
        return PacketColumns(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def build_packet_columns(rows: np.ndarray, sacks: np.ndarray,
                         table: ConnectionTable) -> PacketColumns:
    """Turn simulation rows into final header values (not yet sorted or duplicated)."""
    col = {name: rows[:, i] for i, name in enumerate(ROW_COLUMNS)}
    conn = col["conn"].astype(np.int64)
    direction = col["direction"].astype(np.int64)
    flags = col["flags"].astype(np.int64)
    ts_s = col["ts_s"]
    own_isn = table.isn[conn, direction].astype(np.int64)
    peer_isn = table.isn[conn, 1 - direction].astype(np.int64)
    seq = ((own_isn + col["seq_rel"].astype(np.int64)) & 0xFFFFFFFF).astype(np.uint32)
    ack = np.where(flags & ACK, (peer_isn + col["ack_rel"].astype(np.int64)) & 0xFFFFFFFF, 0)

    sack_ref = col["sack_ref"].astype(np.int64)
    has_sack = sack_ref >= 0
    sack_count = np.zeros(len(rows), dtype=np.int64)
    sack_edges = np.zeros((len(rows), 2 * MAX_SACK_BLOCKS), dtype=np.uint32)
    if has_sack.any():
        picked = sacks[sack_ref[has_sack]]
        sack_count[has_sack] = picked[:, 0].astype(np.int64)
        edges = (picked[:, 1:].astype(np.int64) + peer_isn[has_sack, None]) & 0xFFFFFFFF
        used = np.arange(2 * MAX_SACK_BLOCKS)[None, :] < 2 * sack_count[has_sack, None]
        sack_edges[has_sack] = np.where(used, edges, 0).astype(np.uint32)

    ts_us = CAPTURE_EPOCH_S * 1_000_000 + np.round(ts_s * 1e6).astype(np.int64)
    tsval, tsecr = tcp_timestamps(ts_s, conn, direction, flags, table)
    return PacketColumns(
        ts_us=ts_us, conn=conn, direction=direction, flags=flags, seq=seq,
        ack=ack.astype(np.uint32), window_raw=col["window_raw"].astype(np.int64),
        payload_len=col["payload_len"].astype(np.int64), opt_kind=col["opt_kind"].astype(np.int64),
        sack_count=sack_count, sack_edges=sack_edges, tsval=tsval, tsecr=tsecr,
        ip_id=ip_ids(ts_s, conn, direction, table))


def tcp_timestamps(ts_s: np.ndarray, conn: np.ndarray, direction: np.ndarray, flags: np.ndarray,
                   table: ConnectionTable) -> tuple[np.ndarray, np.ndarray]:
    """RFC 7323 values: TSval from the sender's 1 kHz clock, TSecr = the newest peer TSval
    that had reached the sender when it sent (0 on a SYN)."""
    delay_s = table.delay_s[conn, direction]
    sent_ms = np.floor((ts_s - delay_s) * 1000.0).astype(np.int64)
    tsval = ((table.ts_offset[conn, direction].astype(np.int64) + sent_ms) & 0xFFFFFFFF)
    # Peer packet seen at the tap at t_p reached this sender at t_p + d; this one left the
    # sender at t - d: the echo is the last peer packet with t_p <= t - 2d.
    time_us = np.round(ts_s * 1e6).astype(np.int64)  # < 2**32 us (71 minutes)
    key = (conn << 32) | time_us
    tsecr = np.zeros(len(ts_s), dtype=np.int64)
    for d in (0, 1):
        senders = np.flatnonzero(direction == d)
        peers = np.flatnonzero(direction == 1 - d)
        peers = peers[np.argsort(key[peers], kind="stable")]
        lag_us = np.round(2e6 * delay_s[senders]).astype(np.int64)
        query_us = np.maximum(time_us[senders] - lag_us, 0)
        pos = np.searchsorted(key[peers], (conn[senders] << 32) | query_us, side="right") - 1
        match = pos >= 0
        match[match] &= conn[peers[pos[match]]] == conn[senders[match]]
        tsecr[senders[match]] = tsval[peers[pos[match]]]
    tsecr[((flags & SYN) != 0) & ((flags & ACK) == 0)] = 0
    return tsval.astype(np.uint32), tsecr.astype(np.uint32)


def ip_ids(ts_s: np.ndarray, conn: np.ndarray, direction: np.ndarray,
           table: ConnectionTable) -> np.ndarray:
    """IPv4 identification: a per-connection, per-direction counter from a random start."""
    order = np.lexsort((ts_s, direction, conn))
    group = conn[order] * 2 + direction[order]
    starts_at = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    group_len = np.diff(np.r_[starts_at, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts_at, group_len)
    ids = np.empty(len(order), dtype=np.int64)
    ids[order] = rank + table.ip_id_start[conn[order], direction[order]].astype(np.int64)
    return (ids & 0xFFFF).astype(np.uint16)


def add_capture_duplicates(packets: PacketColumns, rate: float,
                           rng: np.random.Generator) -> PacketColumns:
    """Capture some packets twice, 1-40 us apart, byte-identical (SPAN port artefact)."""
    twice = rng.random(len(packets)) < rate
    index = np.repeat(np.arange(len(packets)), np.where(twice, 2, 1))
    out = packets.take(index)
    second = np.r_[False, index[1:] == index[:-1]]
    out.ts_us[second] += rng.integers(1, 41, int(second.sum()))
    return out


def sort_by_time(packets: PacketColumns) -> PacketColumns:
    return packets.take(np.argsort(packets.ts_us, kind="stable"))


# ----------------------------------------------------------------------------------------
# pcap encoding: a chunk of packets at a time, one uint8 row per record
# ----------------------------------------------------------------------------------------


LINKTYPE_ETHERNET = 1
PCAP_SNAPLEN = 65535
# Column slots of a record row (pcap record header, Ethernet, IP, TCP, TCP options); the
# bytes a packet does not use (the rest of a 20-byte IPv4 header's slot, unused option
# bytes) are masked out when the rows are written.
REC_AT, ETH_AT, IP_AT, TCP_AT, OPTS_AT, ROW_WIDTH = 0, 16, 30, 70, 90, 130
ENCODE_CHUNK = 250_000


def pcap_global_header() -> bytes:
    """Classic pcap, little-endian, microsecond timestamps, Ethernet."""
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, PCAP_SNAPLEN, LINKTYPE_ETHERNET)


def used_columns_table() -> np.ndarray:
    """[is_ipv6, options_len] -> which columns of a row belong to the record."""
    column = np.arange(ROW_WIDTH)
    table = np.zeros((2, 41, ROW_WIDTH), dtype=bool)
    for is_ipv6 in (0, 1):
        for opt_len in range(41):
            ip_end = IP_AT + (40 if is_ipv6 else 20)
            table[is_ipv6, opt_len] = ((column < ip_end)
                                       | ((column >= TCP_AT) & (column < OPTS_AT + opt_len)))
    return table


USED_COLUMNS = used_columns_table()


def field(rows: np.ndarray, col: int, dtype: str) -> np.ndarray:
    """A view of the field at column `col` of every row, e.g. ``field(rows, 74, ">u4")``."""
    return np.ndarray((len(rows),), dtype=dtype, buffer=rows, offset=col,
                      strides=(rows.strides[0],))


def put_mac(rows: np.ndarray, col: int, macs: np.ndarray) -> None:
    field(rows, col, ">u2")[:] = macs >> np.uint64(32)
    field(rows, col + 2, ">u4")[:] = macs & np.uint64(0xFFFFFFFF)


def word_sum(rows: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Sum of the big-endian 16-bit words in columns [lo, hi) of every row, unfolded."""
    words = np.ndarray((len(rows), (hi - lo) // 2), dtype=">u2", buffer=rows, offset=lo,
                       strides=(rows.strides[0], 2))
    return words.sum(axis=1, dtype=np.uint64)


def internet_checksum(total: np.ndarray) -> np.ndarray:
    """Fold a word sum into the 16-bit one's-complement checksum (RFC 1071)."""
    total = np.asarray(total, dtype=np.uint64)
    for _ in range(4):
        total = (total & np.uint64(0xFFFF)) + (total >> np.uint64(16))
    return (~total) & np.uint64(0xFFFF)


# SYN option layouts: (opt_kind, bytes with MSS and window shift left zero, column of the
# shift, column of the timestamp option or None).
SYN_OPTION_LAYOUTS = (
    (OPT_SYN_TS, [2, 4, 0, 0, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 0], 19, 6),
    (OPT_SYN_WINDOWS, [2, 4, 0, 0, 1, 3, 3, 0, 1, 1, 4, 2], 7, None),
    (OPT_SYN_NOTS, [2, 4, 0, 0, 1, 1, 4, 2, 1, 3, 3, 0], 11, None),
)


def write_options(rows: np.ndarray, p: PacketColumns, mss: np.ndarray,
                  wscale: np.ndarray) -> np.ndarray:
    """Fill the options slot of each row; returns each packet's options length."""

    def put_timestamps(line: np.ndarray, at: int) -> None:
        field(rows, OPTS_AT + at + 2, ">u4")[line] = p.tsval[line]
        field(rows, OPTS_AT + at + 6, ">u4")[line] = p.tsecr[line]

    for kind, template, wscale_at, ts_at in SYN_OPTION_LAYOUTS:
        line = np.flatnonzero(p.opt_kind == kind)
        rows[line, OPTS_AT:OPTS_AT + len(template)] = template
        field(rows, OPTS_AT + 2, ">u2")[line] = mss[line]
        rows[line, OPTS_AT + wscale_at] = wscale[line]
        if ts_at is not None:
            put_timestamps(line, ts_at)
    line = np.flatnonzero(p.opt_kind == OPT_TS)
    rows[line, OPTS_AT:OPTS_AT + 4] = [1, 1, 8, 10]
    put_timestamps(line, 2)

    with_sack = p.sack_count > 0  # NOP NOP SACK, after the timestamps if any
    for at in (0, int(OPTION_BASE_LEN[OPT_TS])):
        line = np.flatnonzero(with_sack & (OPTION_BASE_LEN[p.opt_kind] == at))
        n_blocks = p.sack_count[line]
        rows[line, OPTS_AT + at:OPTS_AT + at + 3] = [1, 1, 5]
        rows[line, OPTS_AT + at + 3] = 2 + 8 * n_blocks
        for b in range(MAX_SACK_BLOCKS):
            has = line[n_blocks > b]
            field(rows, OPTS_AT + at + 4 + 8 * b, ">u4")[has] = p.sack_edges[has, 2 * b]
            field(rows, OPTS_AT + at + 8 + 8 * b, ">u4")[has] = p.sack_edges[has, 2 * b + 1]
    return OPTION_BASE_LEN[p.opt_kind] + np.where(with_sack, 4 + 8 * p.sack_count, 0)


def encode_records(p: PacketColumns, table: ConnectionTable) -> bytes:
    """pcap records (header + Ethernet/IP/TCP headers) of the packets, in their order."""
    n = len(p)
    c, d = p.conn, p.direction
    v6 = table.ipv6[c]
    i4, i6 = np.flatnonzero(~v6), np.flatnonzero(v6)
    rows = np.zeros((n, ROW_WIDTH), dtype=np.uint8)
    opt_len = write_options(rows, p, table.mss[c, d], table.wscale[c, d])
    tcp_len = 20 + opt_len + p.payload_len  # TCP header + payload, as the IP header counts it
    ip_header_len = np.where(v6, 40, 20)

    field(rows, REC_AT, "<u4")[:] = p.ts_us // 1_000_000
    field(rows, REC_AT + 4, "<u4")[:] = p.ts_us % 1_000_000
    field(rows, REC_AT + 8, "<u4")[:] = 14 + ip_header_len + 20 + opt_len  # headers only
    field(rows, REC_AT + 12, "<u4")[:] = 14 + ip_header_len + tcp_len  # length on the wire

    put_mac(rows, ETH_AT, table.mac[c, 1 - d])
    put_mac(rows, ETH_AT + 6, table.mac[c, d])
    field(rows, ETH_AT + 12, ">u2")[:] = np.where(v6, 0x86DD, 0x0800)

    rows[i4, IP_AT] = 0x45
    field(rows, IP_AT + 2, ">u2")[i4] = 20 + tcp_len[i4]
    field(rows, IP_AT + 4, ">u2")[i4] = p.ip_id[i4]
    rows[i4, IP_AT + 6] = 0x40  # don't fragment
    rows[i4, IP_AT + 8] = table.ttl[c[i4], d[i4]]
    rows[i4, IP_AT + 9] = 6
    field(rows, IP_AT + 12, ">u4")[i4] = table.ip4[c[i4], d[i4]]
    field(rows, IP_AT + 16, ">u4")[i4] = table.ip4[c[i4], 1 - d[i4]]
    field(rows, IP_AT + 10, ">u2")[i4] = internet_checksum(word_sum(rows, IP_AT, IP_AT + 20))[i4]

    field(rows, IP_AT, ">u4")[i6] = (6 << 28) | table.flow_label[c[i6], d[i6]].astype(np.int64)
    field(rows, IP_AT + 4, ">u2")[i6] = tcp_len[i6]
    rows[i6, IP_AT + 6] = 6
    rows[i6, IP_AT + 7] = table.ttl[c[i6], d[i6]]
    rows[i6, IP_AT + 8:IP_AT + 24] = table.ip6[c[i6], d[i6]]
    rows[i6, IP_AT + 24:IP_AT + 40] = table.ip6[c[i6], 1 - d[i6]]

    field(rows, TCP_AT, ">u2")[:] = table.port[c, d]
    field(rows, TCP_AT + 2, ">u2")[:] = table.port[c, 1 - d]
    field(rows, TCP_AT + 4, ">u4")[:] = p.seq
    field(rows, TCP_AT + 8, ">u4")[:] = p.ack
    rows[:, TCP_AT + 12] = ((20 + opt_len) // 4) << 4
    rows[:, TCP_AT + 13] = p.flags
    field(rows, TCP_AT + 14, ">u2")[:] = p.window_raw
    # Checksum as if the sliced-off payload were zeros (which add nothing to the sum).
    pseudo_header = np.where(v6, word_sum(rows, IP_AT + 8, IP_AT + 40),
                             word_sum(rows, IP_AT + 12, IP_AT + 20))
    total = word_sum(rows, TCP_AT, ROW_WIDTH) + pseudo_header + 6 + tcp_len.astype(np.uint64)
    field(rows, TCP_AT + 16, ">u2")[:] = internet_checksum(total)

    return rows[USED_COLUMNS[v6.astype(np.int64), opt_len]].tobytes()


def write_pcap(path: Path, packets: PacketColumns, table: ConnectionTable) -> None:
    """Write the (time-sorted) packets to `path` atomically."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as out:
        out.write(pcap_global_header())
        for lo in range(0, len(packets), ENCODE_CHUNK):
            out.write(encode_records(packets.take(slice(lo, lo + ENCODE_CHUNK)), table))
    os.replace(partial, path)


# ----------------------------------------------------------------------------------------
# The two captures
# ----------------------------------------------------------------------------------------

MIXED_CONNECTIONS = 50_000
MIXED_START_WINDOW_S = 60.0
MIXED_IPV6_SHARE = 0.05
FLOOD_SYNS = 1_000_000
FLOOD_DURATION_S = 20.0
FLOOD_LEGIT_CONNECTIONS = 16
FLOOD_ROUTER_MAC = 0x0200C6130001
FLOOD_SERVER_MAC = 0x0200C612000A


def build_mixed(scale: float, seed: int, jobs: int) -> tuple[PacketColumns, ConnectionTable]:
    """mixed-2m: ~50,000 connections x scale over 60 s x scale, seen from a tap near the clients."""
    rng = np.random.default_rng([seed, 1])
    n = max(1, round(MIXED_CONNECTIONS * scale))
    ipv6 = rng.random(n) < MIXED_IPV6_SHARE
    # more connections over a proportionally longer time: the same traffic, a longer capture
    plans = draw_plans(n, rng, MIXED_START_WINDOW_S * scale, ipv6, tap_near_client=True)
    table = mixed_connection_table(plans, ipv6, rng)
    rows, sacks = simulate_connections("mixed", seed, plans, jobs)
    packets = build_packet_columns(rows, sacks, table)
    packets = add_capture_duplicates(packets, DUPLICATE_RATE, rng)
    return sort_by_time(packets), table


def build_synflood(scale: float, seed: int, jobs: int) -> tuple[PacketColumns, ConnectionTable]:
    """synflood-1m: 1,000,000 x scale spoofed SYNs to 198.18.0.10:80, plus a few real clients."""
    rng = np.random.default_rng([seed, 2])
    n_syns = max(1, round(FLOOD_SYNS * scale))
    n_legit = max(3, round(FLOOD_LEGIT_CONNECTIONS * min(scale, 1.0)))
    flood_table, flood_rows = spoofed_syns(n_syns, rng)
    plans = draw_plans(n_legit, rng, FLOOD_DURATION_S, np.zeros(n_legit, dtype=bool),
                       tap_near_client=False)
    plans.kind[:] = CONN_NORMAL
    plans.zero_window[:] = False
    plans.close_kind[:] = np.where(rng.random(n_legit) < 0.8, CLOSE_CLIENT_FIN, CLOSE_SERVER_FIN)
    plans.synack_lost[:] = rng.random(n_legit) < 0.5  # the full backlog dropped the first SYN
    legit_table = flood_client_table(plans, rng)
    legit_rows, sacks = simulate_connections("synflood", seed, plans, jobs=1,
                                             index_offset=n_syns, reorder_rate=0.0)
    table = ConnectionTable.concat([flood_table, legit_table])
    packets = build_packet_columns(np.concatenate([flood_rows, legit_rows]), sacks, table)
    return sort_by_time(packets), table


def spoofed_syns(n: int, rng: np.random.Generator) -> tuple[ConnectionTable, np.ndarray]:
    """One SYN per spoofed 'connection': random 198.18.0.0/15 source, port and ISN, typical
    Linux SYN options, arriving at a steady random rate over FLOOD_DURATION_S."""
    source = CLIENT_NET4 + rng.integers(0, 1 << 17, n)
    for _ in range(100):
        bad = (source == FLOOD_TARGET4) | ((source & 0xFFFFFF00) == FLOOD_LEGIT_NET4)
        if not bad.any():
            break
        source[bad] = CLIENT_NET4 + rng.integers(0, 1 << 17, int(bad.sum()))
    table = ConnectionTable(
        ipv6=np.zeros(n, dtype=bool),
        ip4=np.stack([source, np.full(n, FLOOD_TARGET4)], axis=1).astype(np.uint32),
        ip6=np.zeros((n, 2, 16), dtype=np.uint8),
        port=np.stack([rng.integers(1024, 65536, n), np.full(n, 80)], axis=1),
        mac=np.tile(np.array([FLOOD_ROUTER_MAC, FLOOD_SERVER_MAC], dtype=np.uint64), (n, 1)),
        mss=np.tile([1460, 1460], (n, 1)),
        wscale=np.tile([7, 7], (n, 1)),
        delay_s=np.zeros((n, 2)),
        ttl=np.stack([rng.integers(40, 120, n), np.full(n, 64)], axis=1),
        **random_endpoint_values(n, rng),
    )
    rows = np.zeros((n, len(ROW_COLUMNS)))
    col = {name: i for i, name in enumerate(ROW_COLUMNS)}
    rows[:, col["ts_s"]] = np.sort(rng.uniform(0.0, FLOOD_DURATION_S, n))
    rows[:, col["conn"]] = np.arange(n)
    rows[:, col["flags"]] = SYN
    rows[:, col["window_raw"]] = rng.choice([64240, 29200, 65535], size=n, p=[0.7, 0.2, 0.1])
    rows[:, col["opt_kind"]] = OPT_SYN_TS
    rows[:, col["sack_ref"]] = -1
    return table, rows


def flood_client_table(plans: ConnectionPlans, rng: np.random.Generator) -> ConnectionTable:
    """Legitimate clients 198.19.200.x of the flooded server, seen near the server."""
    n = len(plans)
    client_ids = np.arange(n)
    server_port = np.full(n, 80)
    client_ttl = np.where(plans.windows_client, 128, 64) - rng.integers(5, 20, n)
    return ConnectionTable(
        ipv6=np.zeros(n, dtype=bool),
        ip4=np.stack([FLOOD_LEGIT_NET4 + 1 + client_ids, np.full(n, FLOOD_TARGET4)],
                     axis=1).astype(np.uint32),
        ip6=np.zeros((n, 2, 16), dtype=np.uint8),
        port=np.stack([unique_client_ports(client_ids, np.zeros_like(client_ids), server_port, rng),
                       server_port], axis=1),
        mac=np.tile(np.array([FLOOD_ROUTER_MAC, FLOOD_SERVER_MAC], dtype=np.uint64), (n, 1)),
        mss=np.stack([plans.client_mss, plans.server_mss], axis=1),
        wscale=np.stack([plans.client_wscale, plans.server_wscale], axis=1),
        delay_s=np.stack([plans.client_delay_s, plans.server_delay_s], axis=1),
        ttl=np.stack([client_ttl, np.full(n, 64)], axis=1),
        **random_endpoint_values(n, rng),
    )


# name -> (file name stem, millions of packets at scale 1, builder)
CAPTURES = {
    "mixed": ("mixed", 2, build_mixed),
    "synflood": ("synflood", 1, build_synflood),
}


def capture_name(which: str, scale: float) -> str:
    """The file name: ``mixed-2m.pcap`` at scale 1, ``mixed-20m.pcap`` at scale 10."""
    stem, millions, _ = CAPTURES[which]
    return f"{stem}-{millions * scale:g}m.pcap"


def generator_fingerprint() -> str:
    """Version plus a hash of this file: any change to the generator regenerates the data."""
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    return f"{GENERATOR_VERSION}-{digest}"


def ensure_capture(which: str, scale: float, seed: int, out_dir: Path, force: bool,
                   jobs: int) -> None:
    """Generate one capture unless a file made with the same parameters is present."""
    name, build = capture_name(which, scale), CAPTURES[which][2]
    path = out_dir / name
    sidecar = out_dir / (name + ".params.json")
    params = {"generator": generator_fingerprint(), "capture": which, "scale": scale,
              "seed": seed}
    if not force and path.exists() and sidecar.exists():
        try:
            recorded = json.loads(sidecar.read_text())
        except ValueError:
            recorded = {}
        if recorded.get("params") == params:
            print(f"{path}: present with the same parameters, skipped (--force to redo)")
            return
    sidecar.unlink(missing_ok=True)
    started = time.perf_counter()
    packets, table = build(scale, seed, jobs)
    write_pcap(path, packets, table)
    elapsed_s = time.perf_counter() - started
    stats = {"packets": len(packets), "connections": len(table),
             "file_bytes": path.stat().st_size, "seconds": round(elapsed_s, 1)}
    sidecar.write_text(json.dumps({"params": params, **stats}, indent=2) + "\n")
    print(f"{path}: {stats['packets']:,} packets, {stats['connections']:,} connections, "
          f"{stats['file_bytes'] / 1e6:.0f} MB, {elapsed_s:.1f} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--which", choices=["mixed", "synflood", "all"], default="all")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the number of connections / SYNs (default 1.0)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--force", action="store_true", help="regenerate even if present")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="simulation processes (default: all cores)")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    names = list(CAPTURES) if args.which == "all" else [args.which]
    for which in names:
        ensure_capture(which, args.scale, args.seed, args.out, args.force, max(args.jobs, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
