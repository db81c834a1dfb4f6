#!/usr/bin/env bash
# `make bench`: every benchmark, each reporting ratios against a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
SHOPFLOOR_BOOTSTRAP=test SHOPFLOOR_EXTRAS=test scripts/bootstrap.sh
mkdir -p bench/results
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
for bench in bench/edge_poll.py bench/collector_steps.py bench/collector_throughput.py bench/kpi_api.py bench/report_pdf.py bench/hostile_rss.py; do
  name="$(basename "$bench" .py)"
  echo "== $name"
  .venv/bin/python "$bench" | tee "bench/results/${name}-${stamp}.txt"
done
