"""read_packets / decode_capture: the DataFrame contract, and every sample packet as its author described it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import tcpanalyze
from helpers import EXPECTED_DIR, SAMPLE_DIR, eth, ipv4, mss, tcp, timestamps, udp, write_pcap
from tcpanalyze.capture import CaptureReader
from tcpanalyze.frames import PACKET_COLUMNS, STATUS_COLUMNS
from tcpanalyze.packets import decode_capture

SYNTH_EXPECTED = sorted(EXPECTED_DIR.glob("synth-*.json")) if EXPECTED_DIR.is_dir() else []


@pytest.fixture
def small_capture(tmp_path):
    return write_pcap(tmp_path / "small.pcap", [
        eth(ipv4("10.0.0.1", "10.0.0.2", tcp(40000, 80, seq=1, flags="S", opts=mss(1460)))),
        eth(ipv4("10.0.0.2", "10.0.0.1", tcp(80, 40000, seq=9, ack=2, flags="SA", opts=timestamps(5, 6)))),
        eth(ipv4("10.0.0.1", "10.0.0.2", udp(), proto=17)),
        eth(b"\x00" * 28, 0x0806),
    ])


def test_read_packets_has_the_documented_columns_and_dtypes(small_capture):
    df = tcpanalyze.read_packets(str(small_capture))
    assert list(df.columns) == [name for name, _, _ in PACKET_COLUMNS]
    assert {name: str(df[name].dtype) for name in df.columns} == {name: dtype for name, dtype, _ in PACKET_COLUMNS}


def test_read_packets_all_records_adds_status_columns_and_keeps_every_record(small_capture):
    df = tcpanalyze.read_packets(str(small_capture), all_records=True)
    assert list(df.columns) == [name for name, _, _ in PACKET_COLUMNS + STATUS_COLUMNS]
    assert {name: str(df[name].dtype) for name, _, _ in STATUS_COLUMNS} == {n: d for n, d, _ in STATUS_COLUMNS}
    assert df["frame"].tolist() == [1, 2, 3, 4]
    assert df["record_class"].tolist() == ["tcp", "tcp", "other_ip", "non_ip"]
    assert df["status"].tolist() == ["tcp", "tcp", "not_tcp", "non_ip"]
    assert df["ip_proto"].tolist()[:3] == [6, 6, 17]


def test_read_packets_keeps_only_tcp_rows_by_default_and_counts_all_in_attrs(small_capture):
    df = tcpanalyze.read_packets(str(small_capture))
    assert df["frame"].tolist() == [1, 2]
    acc = df.attrs["accounting"]
    assert (acc["records"], acc["tcp"], acc["other_ip"], acc["non_ip"], acc["malformed"]) == (4, 2, 1, 1, 0)
    assert acc["other_ip_protocols"] == {"udp": 1}
    assert df.attrs["warnings"] == []


def test_options_a_segment_did_not_carry_are_missing_not_zero(small_capture):
    df = tcpanalyze.read_packets(str(small_capture))
    assert df["mss"].tolist() == [1460, pd.NA]
    assert df["ts_val"].tolist() == [pd.NA, 5] and df["ts_ecr"].tolist() == [pd.NA, 6]
    assert df["wscale"].isna().all() and df["sack_le1"].isna().all()
    assert df["sack_perm"].tolist() == [False, False]


def test_addresses_are_categorical_text(small_capture):
    df = tcpanalyze.read_packets(str(small_capture))
    assert df["src_addr"].tolist() == ["10.0.0.1", "10.0.0.2"]
    assert df["dst_addr"].tolist() == ["10.0.0.2", "10.0.0.1"]


def test_payload_offset_points_at_the_payload_bytes_in_the_file(tmp_path):
    data = b"GET / HTTP/1.1\r\n\r\n"
    path = write_pcap(tmp_path / "p.pcap", [eth(ipv4("10.0.0.1", "10.0.0.2", tcp(1, 2, flags="PA", payload=data)))])
    df = tcpanalyze.read_packets(str(path))
    start = int(df["rec_off"][0] + df["payload_off"][0])
    assert path.read_bytes()[start : start + int(df["payload_len"][0])] == data


def test_decode_capture_keeps_all_rows_when_asked(small_capture):
    decoded = decode_capture(str(small_capture), tcp_only=False)
    assert len(decoded.packets) == 4
    assert decoded.info.file_format == "pcap"
    assert decoded.packets["status"].tolist() == [0, 0, 1, 3]


def test_batches_split_anywhere_decode_the_same_rows(tmp_path):
    packets = [eth(ipv4("10.0.0.1", "10.0.0.2", tcp(1, 2, seq=k, payload=bytes(k)))) for k in range(50)]
    path = write_pcap(tmp_path / "b.pcap", packets)
    whole = decode_capture(str(path))
    for size in (1, 7, 49):
        split = decode_capture(str(path), max_records=size)
        for name in ("frame", "seq_raw", "payload_len", "rec_off", "ts_ns"):
            assert np.array_equal(split.packets[name], whole.packets[name]), (size, name)


# --- sample_pcaps/expected/synth-*.json: every packet as described ----------------------

def _normalised_class(packet: dict) -> tuple[str, str | None]:
    """(class, reason) with the two documented disagreements of test_accounting._expected_counts."""
    klass, reason = packet["class"], packet.get("reason")
    if reason == "ip_fragment":
        return "other_ip", "ip_fragment"
    if reason == "tcp_header_truncated" and "options" in packet.get("what", ""):
        return "tcp", None
    return klass, reason


@pytest.mark.parametrize("spec_path", SYNTH_EXPECTED, ids=lambda p: p.name)
def test_every_sample_packet_decodes_as_described(spec_path):
    spec = json.loads(spec_path.read_text())
    capture = SAMPLE_DIR / spec["file"]
    df = tcpanalyze.read_packets(str(capture), all_records=True).set_index("frame", drop=False)
    with CaptureReader(str(capture)) as reader:
        list(reader.batches())
        interfaces = reader.info.interfaces
    assert (df["status"] != "non_packet_record").sum() == len(spec["packets"])
    for packet in spec["packets"]:
        # Frames are numbered as Wireshark numbers them (a pcapng Custom Block takes a number).
        row = df.loc[packet.get("wireshark_frame", packet["frame"])]
        where = f"{spec['file']} frame {packet['frame']}"
        klass, reason = _normalised_class(packet)
        assert row["record_class"] == klass, where
        if reason is not None:
            assert row["status"] == reason, where
        if packet["ts_ns"] is not None:  # a Simple Packet Block has none (ours: the previous packet's)
            assert row["ts_ns"] == packet["ts_ns"], where
        assert (row["caplen"], row["origlen"]) == (packet["caplen"], packet["len"]), where
        section = packet.get("section", 0)
        global_ids = [k for k, itf in enumerate(interfaces) if itf.section == section]
        assert row["iface"] == global_ids[packet["iface"]], where
        if klass != "tcp" or "src_port" not in packet:
            continue
        for name in ("src_addr", "dst_addr", "src_port", "dst_port", "seq_raw", "ack_raw", "tcp_flags", "win_raw",
                     "payload_len", "truncated"):
            assert row[name] == packet[name], f"{where}: {name}"
        if "options" not in packet:  # the capture cut the options: the sample does not say what is left
            continue
        opts = packet["options"]
        assert bool(row["options_malformed"]) == opts["malformed"], where
        for name in ("mss", "wscale", "ts_val", "ts_ecr"):
            value = row[name]
            assert (None if value is pd.NA else int(value)) == opts[name], f"{where}: {name}"
        assert bool(row["sack_perm"]) == opts["sack_perm"], where
        blocks = [[int(row[f"sack_le{k}"]), int(row[f"sack_re{k}"])] for k in range(1, int(row["sack_count"]) + 1)]
        assert blocks == [list(b) for b in opts["sack"]], where
        assert bool(row["reassembled"]) == ("reassembled_from" in packet), where
