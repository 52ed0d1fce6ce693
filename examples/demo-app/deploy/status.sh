#!/bin/sh
# Is environment ENV's app up? One try, no waiting (the caller polls):
#
#   status.sh [--live] ENV [SHA]
#
# Exit 0 when the app deploy.sh started is running (and runs commit SHA, when
# given) and GET /health on its port answers 200; with --live, any HTTP answer
# will do (the deployment is live; whether it is healthy is for the monitor).
# Exit 1 otherwise (not running, other commit, refused, timeout, bad status),
# with the reason on stderr; 2 on usage.
#
# Environment: DEPLOY_ROOT, <ENV>_PORT, PYTHON as for deploy.sh;
#   STATUS_TIMEOUT  seconds for the HTTP request (default: 2)
set -eu
USAGE="status.sh [--live] ENV [SHA]"
. "$(dirname "$0")/lib.sh"

LIVE=0
if [ "${1:-}" = --live ]; then LIVE=1; shift; fi
[ $# -eq 1 ] || [ $# -eq 2 ] || usage
check_env "$1"
WANT=${2:-}
PORT=$(env_port)

pid=$(running_pid)
[ -n "$pid" ] || die "$ENV_NAME is not running"
if [ -n "$WANT" ]; then
    have=$(cat "$ENV_DIR/sha" 2>/dev/null || true)
    case $have in
        "$WANT"*) ;;
        *) die "$ENV_NAME runs ${have:-nothing known}, not $WANT" ;;
    esac
fi

"$PYTHON" - "http://127.0.0.1:$PORT/health" "$LIVE" "${STATUS_TIMEOUT:-2}" <<'PY' || die "$ENV_NAME (pid $pid, port $PORT) is not healthy"
import sys, urllib.error, urllib.request
url, live, timeout = sys.argv[1], sys.argv[2] == "1", float(sys.argv[3])
try:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        status = r.status
except urllib.error.HTTPError as e:
    status = e.code
except OSError as e:
    sys.exit(f"{url}: {e}")
if status != 200 and not live:
    sys.exit(f"{url}: HTTP {status}")
PY
echo "$ENV_NAME is up (pid $pid, port $PORT)"
