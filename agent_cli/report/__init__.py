"""Metrics and the executive report (text, Markdown, JSON, HTML), read from the state file.

`metrics` and `build_report` only read; `render` turns the report into one of FORMATS.
"""

from agent_cli.report.build import build_report
from agent_cli.report.metrics import PERIODS, metrics, windows
from agent_cli.report.render import FORMATS, render

__all__ = ["FORMATS", "PERIODS", "build_report", "metrics", "render", "windows"]
