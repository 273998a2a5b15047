#!/usr/bin/env bash
# Benchmark (issue 17): import 1 M Zendesk-shaped tickets (20 000 organisations, 2 years) and
# derive the weekly support figures with barometer, next to the same figures in DuckDB
# (read_csv + SQL), in the same run. A revenue file (5 000 paying customers × 24 months) is
# imported by both, so tickets per 100 customers and the revenue-weighted pain exercise the join.
#
#   pip install duckdb && bash bench/tickets.sh
#
# Prints wall times (median of RUNS), rows/s, peak RSS, the ratio to DuckDB, and checks that
# every weekly figure agrees between the two.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
# Business time pinned, so the 104 weeks the support view covers are the data's two years.
export BAROMETER_NOW=2026-11-25T12:00:00Z
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# KEEP=DIR keeps the generated files (and the last store) in DIR, for profiling.
if [ -n "${KEEP:-}" ]; then trap - EXIT; rm -rf "$work"; work=$KEEP; mkdir -p "$work"; fi
cargo build --release --quiet
bin=$PWD/target/release/barometer

python3 - "$work/tickets.csv" "$work/revenue.csv" <<'PY'
import random, sys
from datetime import datetime, timedelta
random.seed(17)
start = datetime(2024, 12, 2)                     # the first of the 104 weeks
span = (datetime(2026, 11, 25, 12) - start).total_seconds()
tags = ["checkout_latency", "billing", "invoice", "login", "sso", "export", "import", "api",
        "webhooks", "mobile", "performance", "outage", "how_to", "feature_request", "refund",
        "enterprise", "onboarding", "permissions", "search", "notifications"]
prio = ["low", "normal", "normal", "normal", "high", "urgent"]
kind = ["question", "incident", "problem", "task"]
fmt = "%Y-%m-%d %H:%M:%S"
n = 1_000_000
created = sorted(random.random() * span for _ in range(n))
with open(sys.argv[1], "w") as f:
    f.write("Id,Requester,Organization,Subject,Tags,Status,Priority,Ticket type,"
            "Created at,Solved at,First reply time in minutes\n")
    for i, s in enumerate(created):
        c = start + timedelta(seconds=int(s))
        org = "" if random.random() < 0.02 else f"cus_{random.randrange(20000):05d}"
        t = " ".join(random.sample(tags, random.choice([1, 1, 2, 3])))
        solved, status = "", "open"
        if random.random() < 0.9:
            solved = (c + timedelta(seconds=int(random.expovariate(1 / 108000)))).strftime(fmt)
            status = "solved"
        reply = str(int(random.expovariate(1 / 120))) if random.random() < 0.85 else ""
        f.write(f"{100000 + i},user{i % 50000}@example.test,{org},Ticket {i},{t},{status},"
                f"{random.choice(prio)},{random.choice(kind)},{c.strftime(fmt)},{solved},{reply}\n")
# Customers cus_00000..cus_04999 pay, each from a month in the first year on.
with open(sys.argv[2], "w") as f:
    f.write("customer_id,month,mrr,plan,segment\n")
    for c in range(5000):
        mrr = random.choice([99, 299, 999, 2999])
        for m in range(random.randrange(12), 24):
            if random.random() < 0.05:
                mrr = round(mrr * random.choice([0.8, 1.25]), 2)
            f.write(f"cus_{c:05d},{2024 + (m + 11) // 12}-{(m + 11) % 12 + 1:02d},{mrr},pro,smb\n")
PY
rows=$(( $(wc -l < "$work/tickets.csv") - 1 ))
revrows=$(( $(wc -l < "$work/revenue.csv") - 1 ))

cat > "$work/duck.py" <<'PY'
import json, sys, time, duckdb
tickets, revenue, now, out = sys.argv[1:5]
t, cpu = time.perf_counter(), time.process_time()
con = duckdb.connect()
con.execute(f"""CREATE TABLE r AS SELECT customer_id, month, mrr FROM read_csv('{revenue}', header=true,
  columns={{'customer_id':'VARCHAR','month':'VARCHAR','mrr':'DOUBLE','plan':'VARCHAR','segment':'VARCHAR'}})""")
con.execute(f"""CREATE TABLE t AS SELECT "Organization" AS org, "Tags" AS tags, "Created at" AS created,
  "Solved at" AS solved, "First reply time in minutes" AS reply_min FROM read_csv('{tickets}', header=true,
  columns={{'Id':'VARCHAR','Requester':'VARCHAR','Organization':'VARCHAR','Subject':'VARCHAR','Tags':'VARCHAR',
  'Status':'VARCHAR','Priority':'VARCHAR','Ticket type':'VARCHAR','Created at':'TIMESTAMP',
  'Solved at':'TIMESTAMP','First reply time in minutes':'DOUBLE'}})""")
# The definitions of docs/support.md: weeks from Monday (UTC); a week's month is its Thursday's;
# a customer's ARR is 12 × its MRR in the ticket's month; backlog = opened − solved by week end.
weeks = con.execute(f"""
  WITH w AS (SELECT unnest(range(date_trunc('week', (SELECT min(created) FROM t)),
                                 date_trunc('week', TIMESTAMP '{now}') + INTERVAL 1 DAY, INTERVAL 7 DAY)) AS w),
  mt AS (SELECT month, sum(mrr) AS total, count(*) FILTER (WHERE mrr > 0) AS customers FROM r GROUP BY month),
  o AS (SELECT date_trunc('week', t.created) AS w, count(*) AS opened,
               median(reply_min / 60) AS first_h,
               sum(coalesce(r.mrr, 0) / mt.total * 100) AS weighted
        FROM t LEFT JOIN r ON r.customer_id = t.org AND r.month = strftime(t.created, '%Y-%m')
               LEFT JOIN mt ON mt.month = strftime(date_trunc('week', t.created) + INTERVAL 3 DAY, '%Y-%m')
        GROUP BY 1),
  s AS (SELECT date_trunc('week', solved) AS w, count(*) AS solved,
               median(epoch(solved - created) / 3600) AS resolution_h
        FROM t WHERE solved IS NOT NULL GROUP BY 1)
  SELECT epoch_ms(w.w), coalesce(o.opened, 0), coalesce(s.solved, 0),
         sum(coalesce(o.opened, 0) - coalesce(s.solved, 0)) OVER (ORDER BY w.w) AS backlog,
         o.first_h, s.resolution_h, mt.customers, coalesce(o.opened, 0) * 100.0 / mt.customers,
         coalesce(o.weighted, 0)
  FROM w LEFT JOIN o USING (w) LEFT JOIN s USING (w)
         LEFT JOIN mt ON mt.month = strftime(w.w + INTERVAL 3 DAY, '%Y-%m')
  ORDER BY w.w""").fetchall()
# Top customer pains over the last 4 weeks: per tag, tickets and the ARR of the distinct
# customers who raised them (each once, at its highest ARR in the window).
pains = con.execute(f"""
  WITH c AS (SELECT t.org, 12 * coalesce(r.mrr, 0) AS arr, unnest(string_split(t.tags, ' ')) AS topic
             FROM t LEFT JOIN r ON r.customer_id = t.org AND r.month = strftime(t.created, '%Y-%m')
             WHERE t.created >= date_trunc('week', TIMESTAMP '{now}') - INTERVAL 21 DAY),
  per AS (SELECT topic, org, count(*) AS n, max(arr) AS arr FROM c GROUP BY topic, org)
  SELECT topic, sum(n) AS tickets, sum(arr) FILTER (WHERE org IS NOT NULL) AS arr_at_stake
  FROM per GROUP BY topic ORDER BY arr_at_stake DESC, tickets DESC, topic""").fetchall()
print(f"{time.perf_counter() - t:.3f} {time.process_time() - cpu:.3f}")
keys = ["week_start", "opened", "solved", "backlog", "first_response_median_h",
        "resolution_median_h", "customers", "per_100_customers", "revenue_weighted"]
json.dump({"weeks": [dict(zip(keys, w)) for w in weeks],
           "pains": [{"topic": p[0], "tickets": p[1], "arr_at_stake": p[2]} for p in pains]},
          open(out, "w"))
PY

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timed() { # timed CMD...: "TIME <wall s> <peak RSS kB> <CPU s>" of CMD as one fresh process (stdout to $work/out)
  { /usr/bin/time -f "TIME %e %M %U %S" env BAROMETER__STORAGE__PATH="$work/store" "$@"; } 2>&1 >"$work/out" \
    | grep '^TIME'
}
rev=(); imp=(); der=(); duck=(); rss=(); cpu=(); duckcpu=()
for run in $(seq "$RUNS"); do
  rm -rf "$work/store"
  out=$(timed "$bin" import revenue "$work/revenue.csv")
  rev+=("$(echo "$out" | awk '{print $2}')"); rss+=("$(echo "$out" | awk '{print $3}')")
  c=$(echo "$out" | awk '{print $4 + $5}')
  out=$(timed "$bin" import tickets "$work/tickets.csv")
  imp+=("$(echo "$out" | awk '{print $2}')"); rss+=("$(echo "$out" | awk '{print $3}')")
  c=$(echo "$out" | awk -v c="$c" '{print c + $4 + $5}')
  out=$(timed "$bin" support --last 104 --format json)
  cp "$work/out" "$work/barometer.json"
  der+=("$(echo "$out" | awk '{print $2}')"); rss+=("$(echo "$out" | awk '{print $3}')")
  cpu+=("$(echo "$out" | awk -v c="$c" '{print c + $4 + $5}')")
  out=$(python3 "$work/duck.py" "$work/tickets.csv" "$work/revenue.csv" "$BAROMETER_NOW" \
      "$work/duck.json")
  duck+=("$(echo "$out" | awk '{print $1}')"); duckcpu+=("$(echo "$out" | awk '{print $2}')")
done
v=$(printf '%s\n' "${rev[@]}" | median); i=$(printf '%s\n' "${imp[@]}" | median)
d=$(printf '%s\n' "${der[@]}" | median); k=$(printf '%s\n' "${duck[@]}" | median)
r=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
total=$(echo "$v + $i + $d" | bc)
echo "tickets=$rows revenue_rows=$revrows runs=$RUNS"
echo "barometer import revenue:    ${rev[*]} s -> median $v s"
echo "barometer import tickets:    ${imp[*]} s -> median $i s ($(echo "$rows / $i" | bc) rows/s)"
echo "barometer support (derive):  ${der[*]} s -> median $d s"
echo "barometer total:             $total s; peak RSS $(( r / 1024 )) MB (RSS per run: ${rss[*]} kB)"
echo "duckdb read_csv + SQL:       ${duck[*]} s -> median $k s"
echo "ratio barometer/duckdb: $(echo "scale=2; $total / $k" | bc)"
# CPU seconds (user + system) move less with the machine's load than wall times do.
bc_=$(printf '%s\n' "${cpu[@]}" | median); dc=$(printf '%s\n' "${duckcpu[@]}" | median)
echo "CPU seconds: barometer ${cpu[*]} -> median $bc_; duckdb ${duckcpu[*]} -> median $dc"

python3 - "$work/barometer.json" "$work/duck.json" <<'PY'
import json, sys
b, d = (json.load(open(p)) for p in sys.argv[1:3])
bw, dw = b["weeks"], d["weeks"]
assert len(bw) == len(dw), (len(bw), len(dw))
bad = 0
for x, y in zip(bw, dw):
    for k, v in x.items():
        w = y[k]
        same = (v is None and w is None) or (v is not None and w is not None
                                              and abs(v - w) <= 1e-6 * max(1.0, abs(v)))
        if not same:
            bad += 1
            if bad <= 5:
                print(f"MISMATCH week {x['week_start']} {k}: barometer {v}, duckdb {w}")
last = bw[-2]  # the last complete week
print(f"weeks {len(bw)}, figures per week {len(bw[0])}, mismatches {bad}")
print(f"last complete week: opened {last['opened']}/{dw[-2]['opened']}, backlog "
      f"{last['backlog']}/{dw[-2]['backlog']}, resolution median "
      f"{last['resolution_median_h']:.4f}/{dw[-2]['resolution_median_h']:.4f} h, per 100 "
      f"{last['per_100_customers']:.4f}/{dw[-2]['per_100_customers']:.4f}, weighted "
      f"{last['revenue_weighted']:.4f}/{dw[-2]['revenue_weighted']:.4f} (barometer/duckdb)")
bp = [(p["topic"], p["tickets"], round(p["arr_at_stake"], 2)) for p in b["pains"]]
dp = [(p["topic"], p["tickets"], round(p["arr_at_stake"] or 0.0, 2)) for p in d["pains"]]
print(f"top pain: barometer {bp[0]}, duckdb {dp[0]}; pain tables agree: {bp == dp}")
PY
