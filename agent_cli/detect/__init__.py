"""Detection: sources, event parsing, fingerprints, severity, and `agent scan`."""

from agent_cli.detect.events import Event, Frame, parse_block
from agent_cli.detect.fingerprint import FINGERPRINT_VERSION, fingerprint
from agent_cli.detect.masking import template
from agent_cli.detect.scan import dry_run_events, scan
from agent_cli.detect.scan_result import ScanResult

__all__ = ["Event", "Frame", "FINGERPRINT_VERSION", "ScanResult", "dry_run_events", "fingerprint", "parse_block", "scan", "template"]
