"""Times remote-write rounds as the receiver sees them (bench/remote_write.sh, issue #20).

A round is one sender delivering one sample of each of the SERIES series (a scrape of the peer's
target, an `interval` tick of Barometer's writer). The receiver's own counter of appended samples
(`prometheus_tsdb_head_samples_appended_total`, moved when a write request commits, after which
the samples are queryable) is polled as fast as loopback allows; a round is done at the first
poll that shows SERIES more samples than before it. Rounds are apart (the senders' interval is
longer than a round), so a round's start is the first growth after a quiet spell.

The sender-side start is read back from the receiver once the rounds are over: every sample of
a round carries the same timestamp — the scrape's start for Prometheus, the moment the writer
stamped its batch for Barometer. For Prometheus the scrape's own length (its
`scrape_duration_seconds`, remote-written beside the series) is added: remote-write starts when
the scraped samples are committed, as Barometer's starts once it holds the gathered values.

    python3 remote_write_rounds.py RECEIVER_URL JOB SERIES ROUNDS [--scrape]

Prints each round (and a `took_s=` line for it) and the rounds' median.
"""

import http.client
import json
import statistics
import sys
import time
import urllib.parse

url, job, series, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
scrape = "--scrape" in sys.argv[5:]
parsed = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
QUIET = 0.3  # seconds without growth that end a round
TIMEOUT = 120.0


def appended():
    """The receiver's appended-samples counter, and when it was read (after the answer)."""
    conn.request("GET", "/metrics")
    body = conn.getresponse().read().decode()
    at = time.time()
    total = 0.0
    for line in body.splitlines():
        if line.startswith("prometheus_tsdb_head_samples_appended_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total, at


def query(promql):
    q = urllib.parse.urlencode({"query": promql})
    conn.request("GET", f"/api/v1/query?{q}")
    body = json.loads(conn.getresponse().read())
    assert body["status"] == "success", body
    return body["data"]["result"]


deadline = time.time() + TIMEOUT
base, at = appended()
# Let a round already under way finish first: start from a quiet receiver.
quiet_since = at
while at - quiet_since < QUIET:
    v, at = appended()
    if v != base:
        base, quiet_since = v, at
done = []
while len(done) < rounds:
    assert time.time() < deadline, f"only {len(done)} rounds within {TIMEOUT} s"
    v, at = appended()
    if v == base:
        time.sleep(0.002)
        continue
    while v < base + series:
        assert time.time() < deadline, f"round {len(done) + 1}: {v - base} of {series} samples"
        v, at = appended()
    done.append(at)
    quiet_since = at
    while at - quiet_since < QUIET:
        v2, at = appended()
        if v2 != v:
            v, quiet_since = v2, at
    base = v

if scrape:
    # The scrape's own figures follow the series in the sender's last, partial batch, which
    # waits for the queue's `batch_send_deadline` (5 s).
    time.sleep(6)
# Each round's timestamp: the latest sample of series 00000 at or before the round ended.
window = f"{int(TIMEOUT + 60)}s"
stamps = sorted(
    float(t)
    for r in query(f'bench_series{{job="{job}",series="00000"}}[{window}]')
    for t, _ in r["values"]
)
lengths = {}
if scrape:
    for r in query(f'scrape_duration_seconds{{job="{job}"}}[{window}]'):
        for t, d in r["values"]:
            lengths[float(t)] = float(d)
times = []
for i, t_done in enumerate(done, 1):
    start = max(t for t in stamps if t <= t_done)
    assert not scrape or start in lengths, f"round {i}: no scrape_duration_seconds at {start}"
    collected = start + lengths.get(start, 0.0)
    took = t_done - collected
    times.append(took)
    extra = f" (scrape {lengths.get(start, 0.0) * 1000:.0f} ms before it)" if scrape else ""
    print(f"round {i}: all {series} samples in the receiver {took * 1000:.0f} ms after the sender held them{extra}")
    print(f"took_s={took:.4f}")
print(f"median of these rounds: {statistics.median(times) * 1000:.0f} ms")
