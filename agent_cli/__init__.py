"""agent-cli: keeps a web application healthy without waiting for a person."""

__version__ = "0.1.0"
