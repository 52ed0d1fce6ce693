# Shared by deploy.sh, status.sh, stop.sh and rollback.sh (sourced, not run).
#
# Layout of one environment, under $DEPLOY_ROOT/$ENV/:
#   app/        a git checkout of the deployed commit (detached HEAD)
#   app.pid     the running app's pid
#   port        the port it listens on (127.0.0.1)
#   sha         the deployed commit
#   app.out     the app's stdout and stderr
#   logs/app.log  its JSON-lines log (unless APP_LOG says otherwise)

DEPLOY_ROOT=${DEPLOY_ROOT:-$PWD/.deploy}
case $DEPLOY_ROOT in /*) ;; *) DEPLOY_ROOT=$PWD/$DEPLOY_ROOT ;; esac
PYTHON=${PYTHON:-python3}
STOP_TIMEOUT=${STOP_TIMEOUT:-5}

die() {
    echo "$(basename "$0"): $*" >&2
    exit "${EXIT_CODE:-1}"
}

usage() {
    EXIT_CODE=2 die "usage: $USAGE"
}

# check_env NAME: environment names become directory and variable names.
check_env() {
    case $1 in
        '' | -* | *[!A-Za-z0-9_-]*) EXIT_CODE=2 die "bad environment name '$1' (letters, digits, - and _ only)" ;;
    esac
    ENV_NAME=$1
    ENV_DIR=$DEPLOY_ROOT/$ENV_NAME
    PIDFILE=$ENV_DIR/app.pid
}

# env_port: $<ENV>_PORT (e.g. STAGING_PORT), else the env's port file, else 8001 for
# staging and 8000 for production.
env_port() {
    var=$(printf '%s' "$ENV_NAME" | tr 'a-z-' 'A-Z_')_PORT
    eval "port=\${$var:-}"
    if [ -z "$port" ] && [ -s "$ENV_DIR/port" ]; then
        port=$(cat "$ENV_DIR/port")
    fi
    if [ -z "$port" ]; then
        case $ENV_NAME in
            staging) port=8001 ;;
            production) port=8000 ;;
            *) EXIT_CODE=2 die "no port for environment '$ENV_NAME': set $var or write $ENV_DIR/port" ;;
        esac
    fi
    case $port in
        '' | *[!0-9]*) EXIT_CODE=2 die "bad port '$port' for environment '$ENV_NAME'" ;;
    esac
    echo "$port"
}

# is_our_app PID: true when PID is alive and runs this environment's app.py (a pid
# reused by another process, or a zombie, is not ours).
is_our_app() {
    if [ -r "/proc/$1/cmdline" ]; then
        tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$ENV_DIR/app/app.py"
    else
        ps -p "$1" -o args= 2>/dev/null | grep -qF "$ENV_DIR/app/app.py"
    fi
}

# running_pid: the pid from the pidfile when it is our app, else nothing.
running_pid() {
    [ -s "$PIDFILE" ] || return 0
    pid=$(cat "$PIDFILE")
    case $pid in '' | *[!0-9]*) return 0 ;; esac
    if is_our_app "$pid"; then echo "$pid"; fi
}

# stop_app: SIGTERM, then SIGKILL after $STOP_TIMEOUT seconds; removes the pidfile.
stop_app() {
    pid=$(running_pid)
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        waited=0
        while is_our_app "$pid" && [ "$waited" -lt "$((STOP_TIMEOUT * 10))" ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        if is_our_app "$pid"; then
            echo "$(basename "$0"): pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s, sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
            waited=0
            while is_our_app "$pid" && [ "$waited" -lt 50 ]; do
                sleep 0.1
                waited=$((waited + 1))
            done
        fi
        echo "stopped $ENV_NAME (pid $pid)"
    fi
    rm -f "$PIDFILE"
}
