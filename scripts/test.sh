#!/usr/bin/env bash
# The whole suite: lint, then pytest (unit, request, migration and browser tests).
# The tests start their own Redis server on a spare port (tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
pytest "$@"
