"""Diagnosis: code context, suspect commits, redaction, providers (anthropic, offline)."""

from agent_cli.diagnose.step import DiagnoseResult, diagnose

__all__ = ["DiagnoseResult", "diagnose"]
