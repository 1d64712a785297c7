"""Capture layer: bytes in, record batches out (pcap, pcapng, gzip, stdin)."""

from .reader import BATCH_RECORDS, CaptureReader
from .records import MAX_RECORD_LEN, CaptureInfo, Interface, RecordBatch

__all__ = ["BATCH_RECORDS", "CaptureReader", "CaptureInfo", "Interface", "MAX_RECORD_LEN", "RecordBatch"]
