"""The weekly DORA figures of benches/github.rs, computed in DuckDB SQL from the same data.

Usage (called by the benchmark):
  python3 bench/dora_duckdb.py DIR BAROMETER_ANALYSE_S BAROMETER_TOTAL_S SINCE_MS

DIR holds deployments.csv, changes.csv, commits.csv, incidents.csv and barometer.csv (Barometer's
answer). The SQL does what Barometer does on this data (a linear main line of squash merges):
  - change set of a successful deployment = the main-line commits after the previous successful
    deployment's commit (for a service's first, those of the 30 days before it, not before the
    sync's horizon) and up to its own (positions from a recursive walk of the commit graph, as
    Barometer walks parents), each mapped to the PR it is the merge commit of, else a direct
    commit;
  - lead time = deployment time - min(first commit, PR opened); weekly median (quantile_cont =
    Hyndman & Fan type 7, as Barometer);
  - change failure rate = (failure status or an incident attributed) / deployments, an incident
    going to the latest deployment of its service at or before it, within 24 h (ASOF join).
It checks that both give the same figures, then prints the times and the ratio.
"""

import statistics
import sys
import time

import duckdb

out, bar_analyse, bar_total = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
since_ms = int(sys.argv[4])
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")

load_t0 = time.perf_counter()
for name in ["deployments", "changes", "commits", "incidents"]:
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv_auto('{out}/{name}.csv', header=true)")
load_s = time.perf_counter() - load_t0

QUERY = """
WITH RECURSIVE chain(repo, sha, authored_ms, pos) AS (
    SELECT repo, sha, authored_ms, 0 FROM commits WHERE parent IS NULL OR parent = ''
    UNION ALL
    SELECT c.repo, c.sha, c.authored_ms, chain.pos + 1
    FROM commits c JOIN chain ON c.repo = chain.repo AND c.parent = chain.sha
),
deps AS (
    SELECT d.*, chain.pos FROM deployments d JOIN chain USING (repo, sha)
),
ok AS (
    SELECT *, coalesce(lag(pos) OVER (PARTITION BY service ORDER BY at_ms, id), -1) AS prev_pos
    FROM deps WHERE state = 'success'
),
shipped AS (
    -- A main-line commit without a PR is a change of its own, timed from its author time. The
    -- first deployment of a service is credited with the commits of the 30 days before it
    -- (2 592 000 000 ms, Barometer's `github.first_deploy_lookback`, by commit time, which is the
    -- author time here), never before the sync's horizon (`github.backfill_since`, 730 days
    -- before the benchmark's pinned now, as Barometer's settings resolved it: SINCE_MS).
    SELECT ok.service, ok.at_ms,
           ok.at_ms - coalesce(least(c.first_commit_ms, c.created_ms), m.authored_ms) AS lead_ms
    FROM ok
    JOIN chain m ON m.repo = ok.repo AND m.pos > ok.prev_pos AND m.pos <= ok.pos
        AND (ok.prev_pos >= 0
             OR m.authored_ms >= greatest(ok.at_ms - 2592000000, SINCE_MS))
    LEFT JOIN changes c ON c.repo = m.repo AND c.merge_sha = m.sha
),
attributed AS (
    SELECT d.service, d.id
    FROM incidents i ASOF JOIN deps d ON d.repo = i.repo AND d.at_ms <= i.opened_ms
    WHERE d.at_ms >= i.opened_ms - 24 * 3600 * 1000
),
cfr AS (
    SELECT d.service,
           date_trunc('week', make_timestamp(d.at_ms * 1000)) AS week,
           avg(CASE WHEN d.state <> 'success' OR a.id IS NOT NULL THEN 1.0 ELSE 0.0 END) AS cfr
    FROM deps d LEFT JOIN (SELECT DISTINCT service, id FROM attributed) a USING (service, id)
    GROUP BY ALL
),
lead AS (
    SELECT service, date_trunc('week', make_timestamp(at_ms * 1000)) AS week,
           quantile_cont(lead_ms, 0.5) / 1000.0 AS lead_p50_s
    FROM shipped GROUP BY ALL
)
SELECT cfr.service, epoch_ms(cfr.week) AS week_ms, lead.lead_p50_s, cfr.cfr
FROM cfr LEFT JOIN lead USING (service, week)
ORDER BY 1, 2
"""

times = []
rows = None
for _ in range(3):
    t0 = time.perf_counter()
    rows = con.execute(QUERY.replace("SINCE_MS", str(since_ms))).fetchall()
    times.append(time.perf_counter() - t0)
duck = statistics.median(times)

# Same figures? Barometer's weekly rows (weeks with deployments) against DuckDB's.
want = {}
with open(f"{out}/barometer.csv") as f:
    next(f)
    for line in f:
        service, week, lead, cfr = line.rstrip("\n").split(",")
        want[(service, int(week))] = (float(lead) if lead else None, float(cfr))
got = {(s, int(w)): (l, c) for s, w, l, c in rows}
mismatch = [
    (k, want.get(k), got.get(k))
    for k in set(want) | set(got)
    if k not in want or k not in got
    or abs(want[k][1] - got[k][1]) > 1e-6
    or (want[k][0] is None) != (got[k][0] is None)
    or (want[k][0] is not None and abs(want[k][0] - got[k][0]) > 0.01)
]
print(f"duckdb {duckdb.__version__}: load CSV {load_s * 1000:.0f} ms + query {duck * 1000:.0f} ms "
      f"(median of 3) = {(load_s + duck) * 1000:.0f} ms; {len(rows)} service-weeks")
print(f"same figures as barometer: {not mismatch} ({len(want)} service-weeks compared"
      + (f"; first differences: {sorted(mismatch, key=str)[:3]}" if mismatch else "") + ")")
print(f"ratio barometer/duckdb: analysis {bar_analyse / duck:.3f}x; "
      f"with the store read vs CSV load {bar_total / (load_s + duck):.3f}x (below 1 = barometer faster)")
if mismatch:
    sys.exit(1)
