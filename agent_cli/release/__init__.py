"""Release: deploy a fix to an environment, verify it on evidence, promote it or roll it back.

Kept free of `fix/` and `detect/` internals: git operations live on GitRepo, the probe is
shared with the http source, and `assess` is one pure function over sample verdicts.
Nothing is imported here: an idle `agent run` needs none of it.
"""
