#!/bin/sh
# Deploy commit SHA of BRANCH to environment ENV on this machine:
#
#   deploy.sh SHA BRANCH ENV
#
# Checks SHA out (detached) in $DEPLOY_ROOT/ENV/app, fetched from $DEPLOY_REMOTE,
# stops the environment's previous app, starts the new one in the background on
# the environment's port and returns at once: status.sh says when it is up.
# The current repository's working tree is never touched.
#
# Environment:
#   DEPLOY_ROOT    where environments live (default: $PWD/.deploy)
#   DEPLOY_REMOTE  the repository to fetch from (default: the URL of this repo's `origin`)
#   <ENV>_PORT     the port, e.g. STAGING_PORT=8001 (default: $DEPLOY_ROOT/ENV/port, else
#                  8001 for staging, 8000 for production); remembered in $DEPLOY_ROOT/ENV/port
#   APP_LOG        the app's JSON log (default: $DEPLOY_ROOT/ENV/logs/app.log)
#   PYTHON         the interpreter that runs the app (default: python3)
#   STOP_TIMEOUT   seconds between SIGTERM and SIGKILL for the old app (default: 5)
#
# Exit status: 0 started, 1 failed (nothing was stopped if the commit could not be
# fetched), 2 usage.
set -eu
USAGE="deploy.sh SHA BRANCH ENV"
. "$(dirname "$0")/lib.sh"

[ $# -eq 3 ] || usage
SHA=$1 BRANCH=$2
case $SHA in '' | -*) usage ;; esac
case $BRANCH in '' | -*) usage ;; esac
check_env "$3"

BASE=$PWD
if [ -z "${DEPLOY_REMOTE:-}" ]; then
    DEPLOY_REMOTE=$(git remote get-url origin 2>/dev/null) || die "no DEPLOY_REMOTE and no 'origin' remote in $PWD"
    BASE=$(git rev-parse --show-toplevel)
fi
# A relative path means relative to here (or to this repo, for origin), not to the checkout.
case $DEPLOY_REMOTE in
    /* | *:*) ;;
    *) DEPLOY_REMOTE=$BASE/$DEPLOY_REMOTE ;;
esac
# From here on git works on the checkout only, whatever repository the caller's
# environment points at (a hook or a worktree may export these).
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_COMMON_DIR GIT_OBJECT_DIRECTORY
PORT=$(env_port)
LOG=${APP_LOG:-$ENV_DIR/logs/app.log}
CHECKOUT=$ENV_DIR/app

# 1. The code, at exactly SHA, before anything is stopped.
mkdir -p "$ENV_DIR"
if [ ! -d "$CHECKOUT/.git" ]; then
    rm -rf "$CHECKOUT"
    git init -q "$CHECKOUT"
fi
git -C "$CHECKOUT" fetch -q --no-tags --prune "$DEPLOY_REMOTE" "+refs/heads/*:refs/remotes/deploy/*" \
    || die "cannot fetch from $DEPLOY_REMOTE"
COMMIT=$(git -C "$CHECKOUT" rev-parse -q --verify "$SHA^{commit}" 2>/dev/null) \
    || COMMIT=$(git -C "$CHECKOUT" rev-parse -q --verify "refs/remotes/deploy/$SHA^{commit}" 2>/dev/null) \
    || die "commit '$SHA' is not on any branch of $DEPLOY_REMOTE"
if ! git -C "$CHECKOUT" merge-base --is-ancestor "$COMMIT" "refs/remotes/deploy/$BRANCH" 2>/dev/null; then
    echo "deploy.sh: warning: $COMMIT is not on $BRANCH of $DEPLOY_REMOTE" >&2
fi
git -C "$CHECKOUT" -c advice.detachedHead=false checkout -q --force --detach "$COMMIT"
git -C "$CHECKOUT" clean -q -fdx

# 2. The old app out, the new one in, detached from us (own session, no terminal).
stop_app
mkdir -p "$(dirname "$LOG")"
cd "$CHECKOUT"
APP_LOG=$LOG PORT=$PORT setsid nohup "$PYTHON" "$CHECKOUT/app.py" --port "$PORT" >"$ENV_DIR/app.out" 2>&1 </dev/null &
echo $! >"$PIDFILE"
echo "$PORT" >"$ENV_DIR/port"
echo "$COMMIT" >"$ENV_DIR/sha"
echo "deployed $COMMIT ($BRANCH) to $ENV_NAME: pid $(cat "$PIDFILE"), http://127.0.0.1:$PORT/ (log $LOG)"
