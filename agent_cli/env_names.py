"""Which environment variable names validation may see: the allow-list and the never-passed deny patterns.

Shared by the config (which refuses a `[validate] pass_env` name matching a deny
pattern at load time) and the sandbox (which builds the scrubbed environment),
so neither has to import the other.
"""

from __future__ import annotations

import fnmatch

# Passed through from the agent's environment when set: what a toolchain needs to find itself.
ALLOWED_NAMES = frozenset({
    "PATH", "LANG", "LANGUAGE", "TZ", "TERM",
    "VIRTUAL_ENV", "CONDA_PREFIX", "PYENV_ROOT", "PYENV_VERSION", "UV_PYTHON",
    "NODE_ENV", "NVM_DIR", "NVM_BIN", "JAVA_HOME", "GOROOT", "GOPATH", "GOFLAGS", "CARGO_HOME", "RUSTUP_HOME",
})
ALLOWED_PREFIXES = ("LC_",)
# Never passed, whatever the config says: the agent's own credentials and anything named like a secret.
DENIED_PATTERNS = ("ANTHROPIC_*", "AGENT_*", "GIT_*", "SSH_*", "*TOKEN*", "*SECRET*", "*PASSWORD*", "*PASSWD*",
                   "*_KEY", "*WEBHOOK*", "*CREDENTIAL*", "*_AUTH")


def denied_name(name: str) -> str | None:
    """The deny pattern `name` matches (case-insensitive), or None."""
    upper = name.upper()
    return next((p for p in DENIED_PATTERNS if fnmatch.fnmatchcase(upper, p)), None)
