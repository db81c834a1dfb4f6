#!/usr/bin/env bash
# The README's demo command (`make demo` runs this): install what is missing, then run everything locally.
set -euo pipefail
cd "$(dirname "$0")/.."
SHOPFLOOR_BOOTSTRAP=demo SHOPFLOOR_EXTRAS=all scripts/bootstrap.sh
exec .venv/bin/shopfloor demo "$@"
