#!/usr/bin/env bash
# The README's test command (`make test` runs this): install what is missing, lint, type-check, test.
set -euo pipefail
cd "$(dirname "$0")/.."
SHOPFLOOR_BOOTSTRAP=test SHOPFLOOR_EXTRAS=test scripts/bootstrap.sh
echo "== ruff";  .venv/bin/ruff check .
echo "== ruff format --check"; .venv/bin/ruff format --check .
echo "== mypy";  .venv/bin/mypy
echo "== pytest"; .venv/bin/python -m pytest "$@"
