#!/usr/bin/env bash
# Benchmark (issue 21): store open + the first `GET /` of a 5-year, 200-service store, in a fresh
# `barometer serve` each run (time from process start to the whole first body; median of RUNS).
#
#   bash bench/first_view.sh
#
# The store is built once (a few minutes) and kept in BENCH_DIR (default $TMPDIR/barometer-first-view);
# BENCH_SERVICES / BENCH_WEEKS scale it down, RUNS sets the number of runs (default 5);
# BENCH_TOUCH=deployment changes a service's deployments before each "changed" run instead of a
# point no view reads.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench --bench first_view
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
