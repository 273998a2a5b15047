#!/usr/bin/env bash
# Benchmark (issue 5): wrk against /metrics of the demo daemon and against Debian's
# prometheus-node-exporter, in the same run; then against barometer again while it syncs a real
# Prometheus (the load a full sync puts on the process).
#
#   apt-get install -y wrk prometheus-node-exporter prometheus && bash bench/metrics.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 300); do curl -fs "$1" >/dev/null && return 0; sleep 0.2; done; echo "no answer from $1" >&2; return 1; }
run_wrk() { wrk -t2 -c16 -d"$DURATION" --latency "$1" | awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} END {print rps, p99}'; }

cargo build --release --quiet
bin=$PWD/target/release/barometer

b_port=$(free_port)
BAROMETER__STORAGE__PATH="$work/store" "$bin" serve --demo --listen "127.0.0.1:$b_port" >"$work/b.log" 2>&1 &
pids+=($!)
n_port=$(free_port)
prometheus-node-exporter --web.listen-address="127.0.0.1:$n_port" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 300); do curl -fs "http://127.0.0.1:$b_port/readyz" >/dev/null && break; sleep 0.2; done
wait_http "http://127.0.0.1:$n_port/metrics"
sleep 1

read -r b_rps b_p99 <<<"$(run_wrk "http://127.0.0.1:$b_port/metrics")"
read -r n_rps n_p99 <<<"$(run_wrk "http://127.0.0.1:$n_port/metrics")"
b_size=$(curl -fs "http://127.0.0.1:$b_port/metrics" | wc -c)
n_size=$(curl -fs "http://127.0.0.1:$n_port/metrics" | wc -c)

# Under sync: a Prometheus with a year of 15-minute samples for 100 series, synced by the daemon
# (100 series; the first sync of a fresh daemon backfills the whole year).
python3 - "$work/h.om" <<'PY'
import sys, time
now = int(time.time()); start = now - 366 * 86400
with open(sys.argv[1], "w") as f:
    f.write("# TYPE bench_requests counter\n")
    for s in range(100):
        v = 0
        for t in range(start - start % 900, now - 60, 900):
            v += 100 + s
            f.write(f'bench_requests_total{{series="{s}"}} {v} {t}\n')
    f.write("# EOF\n")
PY
mkdir -p "$work/pdata"
promtool tsdb create-blocks-from openmetrics --max-block-duration=240h "$work/h.om" "$work/pdata" >/dev/null
printf 'global:\n  scrape_interval: 1m\n' > "$work/p.yml"
p_port=$(free_port)
prometheus --config.file="$work/p.yml" --storage.tsdb.path="$work/pdata" \
  --web.listen-address="127.0.0.1:$p_port" --storage.tsdb.retention.time=100y >/dev/null 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$p_port/-/ready"
{
  printf '[prometheus]\nurl = "http://127.0.0.1:%s"\nbackfill_since = "365d"\ninterval = "1s"\n' "$p_port"
  for s in $(seq 0 99); do
    printf '[[prometheus.query]]\nname = "q%s"\nunit = "requests"\nquery = '"'"'sum(increase(bench_requests_total{series="%s"}[${step}]))'"'"'\n' "$s" "$s"
  done
} > "$work/sync.toml"
# A fresh daemon: its first sync backfills the whole year while wrk runs.
s2_port=$(free_port)
BAROMETER__STORAGE__PATH="$work/store3" "$bin" --config "$work/sync.toml" serve --listen "127.0.0.1:$s2_port" >"$work/s2.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$s2_port/healthz"
read -r y_rps y_p99 <<<"$(run_wrk "http://127.0.0.1:$s2_port/metrics")"
syncs=$(grep -c "sync done" "$work/s2.log" || true)
first=$(grep -m1 "sync done" "$work/s2.log" | grep -o 'points=[0-9]*' || true)

echo "wrk -t2 -c16 -d$DURATION, loopback, same run"
echo "barometer (demo)      /metrics: $b_rps req/s, p99 $b_p99 ($b_size bytes)"
echo "node_exporter         /metrics: $n_rps req/s, p99 $n_p99 ($n_size bytes)"
echo "barometer while syncing       : $y_rps req/s, p99 $y_p99 (syncs finished during the run: $syncs, the first storing $first)"
echo "p99 while syncing / idle: $(python3 -c "
def ms(v): return float(v[:-2]) if v.endswith('ms') else (float(v[:-2])/1000 if v.endswith('us') else float(v[:-1])*1000)
print(round(ms('$y_p99') / ms('$b_p99'), 2))")"
echo "throughput barometer / node_exporter: $(python3 -c "print(round($b_rps / $n_rps))")x"
