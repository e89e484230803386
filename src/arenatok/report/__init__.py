"""`arenatok report`: the numbers of a built dataset (`build_report`) and its files
(`write_report`: report.json and report.html)."""

from arenatok.report.numbers import build_report
from arenatok.report.report_page import write_report

__all__ = ["build_report", "write_report"]
