"""The report: what an analysed capture says, in text, markdown, JSON or self-contained HTML.

>>> from tcpanalyze.report import build_report
>>> report = build_report(tcpanalyze.analyze("capture.pcap"))
>>> report.as_dict()["problems"]
"""

from .model import REPORT_COLUMNS, SCHEMA_VERSION, Report, build_report

__all__ = ["REPORT_COLUMNS", "SCHEMA_VERSION", "Report", "build_report"]
