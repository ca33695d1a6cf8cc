#!/usr/bin/env bash
# Run the test suite against a real MongoDB (FiftyOne's own, in a temporary folder, or the
# server in FIFTYONE_DATABASE_URI). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export FIFTYONE_DO_NOT_TRACK=true
export FIFTYONE_DATABASE_VALIDATION=false
exec .venv/bin/python -m pytest "$@"
