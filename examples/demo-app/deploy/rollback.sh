#!/bin/sh
# Redeploy the head of BRANCH to ENV:
#
#   rollback.sh BRANCH ENV
#
# The agent rolls back in git: it pushes a `git revert` of the bad commits to the
# environment's branch, then runs rollback_command. So a rollback here is just a
# deploy of the branch's new head (the revert). Same environment as deploy.sh.
set -eu
[ $# -eq 2 ] || { echo "usage: rollback.sh BRANCH ENV" >&2; exit 2; }
exec sh "$(dirname "$0")/deploy.sh" "$1" "$1" "$2"
