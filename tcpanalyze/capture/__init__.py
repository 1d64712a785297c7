"""Capture layer: bytes in, record batches out (pcap, pcapng, gzip, stdin, several files merged)."""

from .merge import CaptureSpec, MergedReader, capture_files, capture_label, open_reader
from .reader import BATCH_RECORDS, CaptureReader
from .records import MAX_RECORD_LEN, CaptureInfo, Interface, RecordBatch

__all__ = ["BATCH_RECORDS", "CaptureReader", "CaptureInfo", "CaptureSpec", "Interface", "MAX_RECORD_LEN",
           "MergedReader", "RecordBatch", "capture_files", "capture_label", "open_reader"]
