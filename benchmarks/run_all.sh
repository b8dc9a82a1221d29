#!/usr/bin/env bash
# Run every benchmark, one after the other, from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
"$PY" -m benchmarks.engine "$@"
"$PY" -m benchmarks.annotation
"$PY" -m benchmarks.tiles
"$PY" -m benchmarks.annotation_service
"$PY" -m benchmarks.thumbnails
"$PY" -m benchmarks.auth_burst
