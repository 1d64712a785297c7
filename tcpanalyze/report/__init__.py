"""The report: what an analysed capture says, in text, markdown, JSON or self-contained HTML.

>>> from tcpanalyze.report import build_report
>>> report = build_report(tcpanalyze.analyze("capture.pcap"))
>>> report.as_dict()["problems"]
"""

from .model import SCHEMA_VERSION, Report, build_report

__all__ = ["SCHEMA_VERSION", "Report", "build_report"]
