#!/usr/bin/env bash
# Benchmark (issue 7): a full GitHub sync of 20 repos × 2 years against the fake GitHub (requests
# made vs the fewest possible, wall time, and a second sync with nothing new), then the weekly DORA
# figures over 1 M stored events next to the same computation in DuckDB SQL, in the same run.
#
#   pip install duckdb && bash bench/github.sh
#
# BENCH_REPOS and BENCH_DORA_REPOS scale the two parts down; BENCH_ONLY=sync|dora runs one.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import duckdb' 2>/dev/null || echo "duckdb is not installed (pip install duckdb): the DuckDB side will be skipped" >&2
exec cargo bench --bench github
