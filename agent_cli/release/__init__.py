"""Release: deploy a fix to an environment, verify it on evidence, promote it or roll it back.

Kept free of `fix/` and `detect/` internals: git operations live on GitRepo, the probe is
shared with the http source, and `assess` is one pure function over sample verdicts.
"""

from agent_cli.release.assess import assess
from agent_cli.release.deploy import deploy
from agent_cli.release.rollback import rollback, rollback_deployment
from agent_cli.release.verify import verify

__all__ = ["assess", "deploy", "rollback", "rollback_deployment", "verify"]
