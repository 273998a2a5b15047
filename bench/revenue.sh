#!/usr/bin/env bash
# Benchmark (issue 4): import 1 M snapshot rows (20 000 customers × 50 months) and derive MRR and
# NRR/GRR with barometer, next to the same derivation in DuckDB (read_csv + SQL), in the same run.
#
#   pip install duckdb && bash bench/revenue.sh
#
# Prints wall times (median of RUNS), rows/s, peak RSS and the ratio to DuckDB.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet
bin=$PWD/target/release/barometer

python3 - "$work/snapshots.csv" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    f.write("customer_id,month,mrr,plan,segment\n")
    for c in range(20000):
        mrr = random.choice([99, 299, 999, 2999])
        seg = "smb" if mrr < 999 else "enterprise"
        for m in range(50):
            if random.random() < 0.05:
                mrr = round(mrr * random.choice([0.8, 1.25]), 2)
            f.write(f"cus_{c:05d},{2021 + m // 12}-{m % 12 + 1:02d},{mrr},pro,{seg}\n")
PY
rows=$(( $(wc -l < "$work/snapshots.csv") - 1 ))

cat > "$work/duck.py" <<'PY'
import sys, time, duckdb
t = time.perf_counter()
con = duckdb.connect()
con.execute(f"CREATE TABLE s AS SELECT customer_id, month, mrr FROM read_csv('{sys.argv[1]}', header=true, columns={{'customer_id':'VARCHAR','month':'VARCHAR','mrr':'DOUBLE','plan':'VARCHAR','segment':'VARCHAR'}})")
mrr = con.execute("SELECT month, sum(mrr) AS mrr, 12 * sum(mrr) AS arr, count(*) AS customers FROM s GROUP BY month ORDER BY month").fetchall()
nrr = con.execute("""
  WITH m AS (SELECT customer_id, CAST(month || '-01' AS DATE) AS d, mrr FROM s WHERE mrr > 0)
  SELECT a.d + INTERVAL 12 MONTH AS month,
         sum(coalesce(b.mrr, 0)) / sum(a.mrr) AS nrr,
         sum(least(coalesce(b.mrr, 0), a.mrr)) / sum(a.mrr) AS grr
  FROM m a LEFT JOIN m b ON b.customer_id = a.customer_id AND b.d = a.d + INTERVAL 12 MONTH
  WHERE a.d + INTERVAL 12 MONTH <= (SELECT max(d) FROM m)
  GROUP BY 1 ORDER BY 1""").fetchall()
print(f"{time.perf_counter() - t:.3f} {len(mrr)} {nrr[-1][1]:.6f}")
PY

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
imp=(); der=(); duck=(); rss=()
for run in $(seq "$RUNS"); do
  rm -rf "$work/store"
  out=$( { /usr/bin/time -f "TIME %e %M" env BAROMETER__STORAGE__PATH="$work/store" \
      "$bin" import revenue "$work/snapshots.csv" >/dev/null; } 2>&1 | grep '^TIME')
  imp+=("$(echo "$out" | awk '{print $2}')"); rss+=("$(echo "$out" | awk '{print $3}')")
  out=$( { /usr/bin/time -f "TIME %e %M" env BAROMETER__STORAGE__PATH="$work/store" \
      "$bin" revenue --format json > "$work/derived.json"; } 2>&1 | grep '^TIME')
  der+=("$(echo "$out" | awk '{print $2}')"); rss+=("$(echo "$out" | awk '{print $3}')")
  duck+=("$(python3 "$work/duck.py" "$work/snapshots.csv" | awk '{print $1}')")
done
last_nrr=$(python3 -c "import json; print(f\"{json.load(open('$work/derived.json'))[-1]['nrr_cohort_12m']:.6f}\")")
duck_nrr=$(python3 "$work/duck.py" "$work/snapshots.csv" | awk '{print $3}')
i=$(printf '%s\n' "${imp[@]}" | median); d=$(printf '%s\n' "${der[@]}" | median)
k=$(printf '%s\n' "${duck[@]}" | median); r=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
total=$(echo "$i + $d" | bc)
echo "rows=$rows runs=$RUNS"
echo "barometer import:            ${imp[*]} s -> median $i s ($(echo "$rows / $i" | bc) rows/s)"
echo "barometer derive (revenue):  ${der[*]} s -> median $d s"
echo "barometer import + derive:   $total s; peak RSS $(( r / 1024 )) MB"
echo "duckdb read_csv + SQL:       ${duck[*]} s -> median $k s"
echo "ratio barometer/duckdb: $(echo "scale=2; $total / $k" | bc)"
echo "last month NRR: barometer $last_nrr, duckdb $duck_nrr"
