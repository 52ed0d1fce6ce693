#!/bin/sh
# Stop environment ENV's app (SIGTERM, then SIGKILL after $STOP_TIMEOUT seconds):
#
#   stop.sh ENV
#
# Only a process that really is this environment's app is signalled; a stale
# pidfile is just removed. Stopping what is not running succeeds (exit 0).
# Environment: DEPLOY_ROOT, STOP_TIMEOUT as for deploy.sh.
set -eu
USAGE="stop.sh ENV"
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || usage
check_env "$1"
stop_app
