#!/usr/bin/env bash
# `make bench`: every benchmark, each reporting ratios against a baseline measured in the same run, then ONE table.
# Each script appends its rows (bench/table.py's Row, JSON lines) to $SHOPFLOOR_BENCH_TABLE; the table is printed
# at the end and kept in bench/results/ (git-ignored) with each script's own output.
set -euo pipefail
cd "$(dirname "$0")/.."
SHOPFLOOR_BOOTSTRAP=test SHOPFLOOR_EXTRAS=test,bench scripts/bootstrap.sh
mkdir -p bench/results
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
export SHOPFLOOR_BENCH_TABLE="bench/results/table-${stamp}.jsonl"
: > "$SHOPFLOOR_BENCH_TABLE"
# Each script with its defaults; kpi_api also with the read model's two target rows (--growth --targets).
for run in "edge_poll" "collector_steps" "collector_throughput" "kpi_api" "kpi_api --growth --targets" "report_pdf" "hostile_rss"; do
  read -r name args <<<"$run"
  echo "== $run"
  # shellcheck disable=SC2086  # $args is a word list on purpose
  .venv/bin/python "bench/${name}.py" $args | tee -a "bench/results/${name}-${stamp}.txt"
done
echo
echo "== all figures, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m); load average $(cut -d' ' -f1-3 /proc/loadavg)"
.venv/bin/python bench/table.py "$SHOPFLOOR_BENCH_TABLE" | tee "bench/results/table-${stamp}.md"
