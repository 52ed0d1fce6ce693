"""Detection: sources, event parsing, fingerprints, severity, and `agent scan` (agent_cli.detect.scan).

Nothing is imported here, so importing one submodule does not import them all.
"""
