#!/usr/bin/env bash
# Benchmark (issue 3): fetch 1 year of 1-hour steps for 50 series from a real Prometheus with
# `barometer sync`, next to curl fetching the same query_range requests, in the same run.
#
#   bash bench/prometheus.sh            # needs prometheus, promtool, curl, python3; builds release
#
# Prints wall times (median of RUNS), the overhead ratio and barometer's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SERIES=${SERIES:-50}
work=$(mktemp -d)
prom_pid=
cleanup() { [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cargo build --release --quiet
bin=$PWD/target/release/barometer

now=$(date +%s)
python3 - "$work/history.om" "$SERIES" "$now" <<'PY'
import sys
path, n, now = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start = now - 366 * 86400
step = 900  # one sample every 15 minutes per series
with open(path, "w") as f:
    f.write("# TYPE bench_requests counter\n")
    for s in range(n):
        v = 0
        for t in range(start - start % step, now - 60, step):
            v += 100 + (t // step * 7 + s) % 50
            f.write(f'bench_requests_total{{series="{s}"}} {v} {t}\n')
    f.write("# EOF\n")
PY
mkdir -p "$work/data"
promtool tsdb create-blocks-from openmetrics --max-block-duration=240h "$work/history.om" "$work/data" >/dev/null
printf 'global:\n  scrape_interval: 1m\n' > "$work/prometheus.yml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=100y >/dev/null 2>&1 &
prom_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.2; done

{
  printf '[prometheus]\nurl = "http://127.0.0.1:%s"\nstep = "1h"\nbackfill_since = "365d"\ntimeout = "60s"\n' "$port"
  for s in $(seq 0 $((SERIES - 1))); do
    printf '[[prometheus.query]]\nname = "q%s"\nunit = "requests"\nquery = '"'"'sum(increase(bench_requests_total{series="%s"}[${step}]))'"'"'\n' "$s" "$s"
  done
} > "$work/barometer.toml"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
b_times=(); c_times=(); rss=()
for run in $(seq "$RUNS"); do
  rm -rf "$work/store"
  # The same window barometer computes: complete hourly steps of the last 365 days.
  t_now=$(date +%s)
  end=$(( t_now / 3600 * 3600 ))
  start=$(( ( (t_now - 365 * 86400 + 3599) / 3600 ) * 3600 + 3600 ))
  s0=$(date +%s.%N)
  for s in $(seq 0 $((SERIES - 1))); do
    curl -fsS -o "$work/out.json" "http://127.0.0.1:$port/api/v1/query_range" \
      --data-urlencode "query=sum(increase(bench_requests_total{series=\"$s\"}[1h]))" \
      --data-urlencode "start=$start" --data-urlencode "end=$end" --data-urlencode "step=3600"
  done
  s1=$(date +%s.%N)
  c_times+=("$(echo "$s1 - $s0" | bc)")
  out=$( { /usr/bin/time -f "TIME %e %M" env BAROMETER__STORAGE__PATH="$work/store" \
      "$bin" --config "$work/barometer.toml" sync --source prometheus >/dev/null; } 2>&1 | grep '^TIME')
  b_times+=("$(echo "$out" | awk '{print $2}')")
  rss+=("$(echo "$out" | awk '{print $3}')")
done
points=$(python3 -c "import json; d=json.load(open('$work/out.json')); print(len(d['data']['result'][0]['values']))")
b=$(printf '%s\n' "${b_times[@]}" | median)
c=$(printf '%s\n' "${c_times[@]}" | median)
r=$(printf '%s\n' "${rss[@]}" | median)
echo "series=$SERIES points_per_series=$points runs=$RUNS"
echo "curl (sequential, same requests): ${c_times[*]} s -> median $c s"
echo "barometer sync (fetch + store):   ${b_times[*]} s -> median $b s"
echo "ratio barometer/curl: $(echo "scale=2; $b / $c" | bc)"
echo "barometer peak RSS: $(( r / 1024 )) MB"
