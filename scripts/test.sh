#!/usr/bin/env bash
# The README's test command (`make test` runs this): install what is missing, lint, type-check, test.
set -euo pipefail
cd "$(dirname "$0")/.."
SHOPFLOOR_BOOTSTRAP=test SHOPFLOOR_EXTRAS=test scripts/bootstrap.sh
echo "== ruff";  .venv/bin/ruff check .
echo "== ruff format --check"; .venv/bin/ruff format --check .
echo "== mypy";  .venv/bin/mypy
# Two workers, one test file each at a time (module fixtures stay in one process); SHOPFLOOR_TEST_WORKERS=0 runs serially.
workers="${SHOPFLOOR_TEST_WORKERS:-2}"
echo "== pytest ($workers workers)"
if [ "$workers" = 0 ]; then .venv/bin/python -m pytest "$@"; else .venv/bin/python -m pytest -n "$workers" --dist loadfile "$@"; fi
