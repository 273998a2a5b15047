#!/usr/bin/env bash
# Benchmark (issue 20, "Speed"): remote-write of 50 000 series into one receiver Prometheus, by
# Prometheus's own remote-write (an agent scraping a static target of 50 000 series) and by
# Barometer's writer (benches/remote_write.rs: the daemon's metrics, writer and router with the
# same 50 000 series registered), in alternating passes of the same run; then /metrics p99 with
# and without Barometer's remote-write running, alternated as well.
#
#   bash bench/remote_write.sh      # needs prometheus, python3, curl; installs wrk if missing
#
# A round is one delivery of every series: a scrape for the agent, an `interval` tick for
# Barometer; its time runs from the moment the sender holds the samples (Prometheus: the
# scrape's end; Barometer: the time its requests are stamped with) until the receiver has
# committed all of them (bench/remote_write_rounds.py).
#
# Everything listens on 127.0.0.1 (free ports) and lives in a temp dir removed on exit.
# SERIES, ROUNDS (per pass), PASSES, INTERVAL (s), REPEATS (of each wrk run) and WRK_ARGS
# change the run. RECEIVER_NICE (default 19) is the receiver's nice value during the /metrics
# measurement: in production the receiver runs elsewhere, and here its ingestion (about three
# times the daemon's CPU for a round) would otherwise be charged to the daemon's /metrics; 0
# measures with the receiver as a peer on the same cores. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
SERIES=${SERIES:-50000}
ROUNDS=${ROUNDS:-6}
PASSES=${PASSES:-2}
INTERVAL=${INTERVAL:-2}
REPEATS=${REPEATS:-3}
WRK_ARGS=${WRK_ARGS:--t2 -c16 -d10s}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 300); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done; echo "no answer from $1" >&2; return 1; }
# Stops one process this script started, and forgets it.
stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
  pids=("${keep[@]}")
}
run_wrk() { wrk $WRK_ARGS --latency "$1" | awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} END {print rps, p99}'; }
to_ms() { python3 -c "v='$1'; print(float(v[:-2]) if v.endswith('ms') else float(v[:-2]) / 1000 if v.endswith('us') else float(v[:-1]) * 1000)"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null

cargo build --release --quiet
cargo bench --bench remote_write --no-run --quiet
bench_bin=$(cargo bench --bench remote_write --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "remote_write" and m.get("executable"):
        print(m["executable"])')
bin=$PWD/target/release/barometer

# The receiver: no scrapes of its own, so every sample it appends came by remote-write.
r_port=$(free_port)
printf 'global: {}\n' >"$work/receiver.yml"
prometheus --config.file="$work/receiver.yml" --storage.tsdb.path="$work/receiver" \
  --storage.tsdb.retention.time=1d --web.enable-remote-write-receiver \
  --web.listen-address="127.0.0.1:$r_port" >"$work/receiver.log" 2>&1 &
pids+=($!)
receiver_pid=$!
receiver=http://127.0.0.1:$r_port
wait_http "$receiver/-/ready"

# The static target: the gauges in the text format, served from a file.
mkdir -p "$work/target"
python3 - "$work/target/metrics" "$SERIES" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("# HELP bench_series A synthetic series of the remote-write benchmark.\n# TYPE bench_series gauge\n")
    for i in range(int(sys.argv[2])):
        f.write(f'bench_series{{series="{i:05}"}} {i}\n')
PY
t_port=$(free_port)
python3 -m http.server "$t_port" --bind 127.0.0.1 --directory "$work/target" >/dev/null 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$t_port/metrics"
b_port=$(free_port)
# Barometer's series carry the labels a scrape gives the agent's (the same instance, a job name
# of the same length), so both send the same bytes.
start_barometer() {
  env RW_INTERVAL="${INTERVAL}s" RW_JOB=bench-baro RW_INSTANCE="127.0.0.1:$t_port" RW_SERIES="$SERIES" \
    RW_LISTEN="127.0.0.1:$b_port" "$@" "$bench_bin" >>"$work/baro.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$b_port/metrics"
}

a_port=$(free_port)
cat >"$work/agent.yml" <<EOF
global:
  scrape_interval: ${INTERVAL}s
  scrape_timeout: ${INTERVAL}s
scrape_configs:
  - job_name: bench-prom
    static_configs:
      - targets: ["127.0.0.1:$t_port"]
remote_write:
  - url: $receiver/api/v1/write
EOF
for pass in $(seq "$PASSES"); do
  echo "== pass $pass: Prometheus agent remote-write ($SERIES series, scrape every ${INTERVAL}s)"
  prometheus --enable-feature=agent --config.file="$work/agent.yml" --storage.agent.path="$work/agent$pass" \
    --web.listen-address="127.0.0.1:$a_port" >"$work/agent.log" 2>&1 &
  agent=$!
  pids+=($agent)
  wait_http "http://127.0.0.1:$a_port/-/ready"
  python3 bench/remote_write_rounds.py "$receiver" bench-prom "$SERIES" "$ROUNDS" --scrape | tee -a "$work/prom.txt" | grep -v '^took_s'
  queue=$(curl -fs "http://127.0.0.1:$a_port/api/v1/status/config" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["yaml"])' |
    sed -n '/^remote_write:/,/^[a-z]/p' | sed -n '/queue_config:/,/metadata_config:/p' |
    grep -vE 'queue_config|metadata_config' | tr -s ' \n' ' ')
  shards=$(curl -fs "http://127.0.0.1:$a_port/metrics" | awk '/^prometheus_remote_storage_shards\{/ {print $2}')
  stop "$agent"

  echo "== pass $pass: Barometer remote-write ($SERIES series, interval ${INTERVAL}s)"
  start_barometer RW_RECEIVER="$receiver"
  python3 bench/remote_write_rounds.py "$receiver" bench-baro "$SERIES" "$ROUNDS" | tee -a "$work/baro.txt" | grep -v '^took_s'
  stop "${pids[-1]}"
done

RECEIVER_NICE=${RECEIVER_NICE:-19}
# Every thread: Linux keeps nice per thread, and `renice -p` changes only the one it names (the
# receiver's Go runtime has started its others by now; later ones inherit from them).
for t in /proc/"$receiver_pid"/task/*; do renice -n "$RECEIVER_NICE" -p "${t##*/}" >/dev/null; done
echo "== /metrics p99 (wrk $WRK_ARGS), $REPEATS times each, alternating; receiver at nice $RECEIVER_NICE"
# Barometer's own /metrics (the same 50 000 series) with its writer sending a round every
# interval, and the same process without a receiver; a demo daemon beside it on the machine.
d_port=$(free_port)
BAROMETER__STORAGE__PATH="$work/demo" "$bin" serve --demo --listen "127.0.0.1:$d_port" >"$work/demo.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do curl -fs -o /dev/null "http://127.0.0.1:$d_port/readyz" && break; sleep 0.2; done
sent() { curl -fs "http://127.0.0.1:$b_port/metrics" | awk '/^barometer_remote_write_samples_total\{.*outcome="sent"/ {print $2}'; }
for i in $(seq "$REPEATS"); do
  start_barometer
  sleep 2
  read -r rps p99 <<<"$(run_wrk "http://127.0.0.1:$b_port/metrics")"
  echo "idle $rps $(to_ms "$p99")" | tee -a "$work/p99_baro.txt"
  read -r rps p99 <<<"$(run_wrk "http://127.0.0.1:$d_port/metrics")"
  echo "idle $rps $(to_ms "$p99")" >>"$work/p99_demo.txt"
  body=$(curl -fs "http://127.0.0.1:$b_port/metrics" | wc -c)
  stop "${pids[-1]}"

  start_barometer RW_RECEIVER="$receiver"
  sleep 2
  s0=$(sent)
  read -r rps p99 <<<"$(run_wrk "http://127.0.0.1:$b_port/metrics")"
  s1=$(sent)
  echo "writing $rps $(to_ms "$p99") $(python3 -c "print(round(($s1 - $s0) / $SERIES, 1))")" | tee -a "$work/p99_baro.txt"
  read -r rps p99 <<<"$(run_wrk "http://127.0.0.1:$d_port/metrics")"
  echo "writing $rps $(to_ms "$p99")" >>"$work/p99_demo.txt"
  stop "${pids[-1]}"
done

col() { awk -v k="$2" -v c="$3" '$1 == k {print $c}' "$work/$1" | median; }
p_med=$(awk -F= '/^took_s/ {print $2}' "$work/prom.txt" | median)
b_med=$(awk -F= '/^took_s/ {print $2}' "$work/baro.txt" | median)
echo
echo "series=$SERIES passes=$PASSES rounds/pass=$ROUNDS interval=${INTERVAL}s; receiver at nice $RECEIVER_NICE for /metrics; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Prometheus agent queue_config: $queue; shards at the end of the last pass: $shards"
echo "Prometheus remote-write: median $(python3 -c "print(round($p_med * 1000))") ms a round, $(python3 -c "print(round($SERIES / $p_med))") samples/s"
echo "Barometer remote-write:  median $(python3 -c "print(round($b_med * 1000))") ms a round, $(python3 -c "print(round($SERIES / $b_med))") samples/s"
echo "ratio Barometer/Prometheus (time): $(python3 -c "print(round($b_med / $p_med, 2))")  (goal <= 1.5)"
echo "Barometer /metrics ($body bytes), medians of $REPEATS: p99 $(col p99_baro.txt idle 3) ms idle ($(col p99_baro.txt idle 2) req/s), $(col p99_baro.txt writing 3) ms while remote-writing ($(col p99_baro.txt writing 2) req/s; $(col p99_baro.txt writing 4) rounds sent during a wrk run)"
echo "demo daemon /metrics beside it:   p99 $(col p99_demo.txt idle 3) ms idle ($(col p99_demo.txt idle 2) req/s), $(col p99_demo.txt writing 3) ms while the writer runs ($(col p99_demo.txt writing 2) req/s)"
