//! Store throughput against raw sled, in the same run.
//!
//! `insert`: 10 M points (228 hourly series × 5 years) in batches of 9 600 points (400 day
//! blocks), through `Store::commit`, and the same keys and values (the store's day blocks) through
//! plain `sled::Db::apply_batch`. Each
//! measured iteration appends the next tenth of the data set (flat sampling, 10 samples plus one
//! warm-up), so the databases grow to the full size while being measured.
//! `scan`: one series over 5 years (43 800 points) read back from those full databases.
//!
//! `BENCH_POINTS` scales the data set down for a quick look (default 10 000 000).

use std::time::{Duration, Instant};

use barometer::model::{Point, SeriesKey};
use barometer::store::{encode_block, Store, WriteBatch};
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};

const HOUR_MS: i64 = 3_600_000;
const FIVE_YEARS_H: i64 = 5 * 8_760;
/// Points per commit: 400 day blocks of 24 hourly points, under `store::BATCH_ENTRIES` entries.
const BATCH: usize = 400 * 24;
/// 2020-09-14T00:00:00Z: block-aligned, so every batch covers whole blocks in both contenders.
const START_MS: i64 = 1_600_041_600_000;

fn total_points() -> u64 {
    std::env::var("BENCH_POINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000)
}

fn series(n: u64) -> Vec<SeriesKey> {
    (0..n)
        .map(|i| {
            SeriesKey::new(
                "slo_good_events",
                [
                    ("service", format!("svc-{i:03}")),
                    ("slo", "availability".into()),
                ],
            )
            .expect("valid key")
        })
        .collect()
}

fn value(s: usize, h: i64) -> f64 {
    (s as f64) * 1_000.0 + (h % 977) as f64
}

/// The same 17-byte block keys the store uses (tag, series id, sign-flipped block start).
fn raw_key(id: u64, block_start: i64) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[0] = 2;
    k[1..9].copy_from_slice(&id.to_be_bytes());
    k[9..].copy_from_slice(&((block_start as u64) ^ (1 << 63)).to_be_bytes());
    k
}

fn point(s: usize, h: i64) -> Point {
    Point {
        ts: START_MS + h * HOUR_MS,
        value: value(s, h),
    }
}

fn sled_config(dir: &std::path::Path) -> sled::Config {
    sled::Config::new()
        .path(dir)
        .mode(sled::Mode::HighThroughput)
}

/// The data set: every (series, hour) pair, cut into the slices one iteration appends.
struct Plan {
    keys: Vec<SeriesKey>,
    per_series: i64,
    slices: Vec<Vec<(usize, i64, i64)>>,
}

impl Plan {
    /// 11 slices: one per measured sample and one for the warm-up.
    fn new(total: u64) -> Self {
        let n_series = total.div_ceil(FIVE_YEARS_H as u64);
        let per_series = (total / n_series) as i64;
        let keys = series(n_series);
        let mut batches = Vec::new();
        for s in 0..keys.len() {
            let mut h = 0;
            while h < per_series {
                let end = (h + BATCH as i64).min(per_series);
                batches.push((s, h, end));
                h = end;
            }
        }
        let per_slice = batches.len().div_ceil(11);
        let slices = batches.chunks(per_slice).map(<[_]>::to_vec).collect();
        Self {
            keys,
            per_series,
            slices,
        }
    }

    fn slice_points(&self) -> u64 {
        self.slices[0].iter().map(|(_, a, b)| (b - a) as u64).sum()
    }
}

fn write_store(store: &Store, plan: &Plan, slice: usize) {
    for &(s, from, to) in &plan.slices[slice] {
        let mut batch = WriteBatch::new();
        batch.put_points(&plan.keys[s], (from..to).map(|h| point(s, h)));
        store.commit(batch).expect("commit");
    }
}

fn write_raw(db: &sled::Db, plan: &Plan, slice: usize) {
    for &(s, from, to) in &plan.slices[slice] {
        let mut batch = sled::Batch::default();
        for day in (from..to).step_by(24) {
            let points: Vec<Point> = (day..(day + 24).min(to)).map(|h| point(s, h)).collect();
            batch.insert(&raw_key(s as u64, points[0].ts), encode_block(&points));
        }
        db.apply_batch(batch).expect("apply");
    }
}

fn store_vs_sled(c: &mut Criterion) {
    let plan = Plan::new(total_points());
    let store_dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(store_dir.path()).expect("open");
    let raw_dir = tempfile::tempdir().expect("tempdir");
    let db = sled_config(raw_dir.path()).open().expect("open");

    let mut g = c.benchmark_group("insert");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(plan.slice_points()));
    let total: u64 = plan.keys.len() as u64 * plan.per_series as u64;
    let mut next = 0;
    g.bench_function(BenchmarkId::new("barometer_store", total), |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                write_store(&store, &plan, next.min(plan.slices.len() - 1));
                next += 1;
            }
            t.elapsed()
        })
    });
    let mut next = 0;
    g.bench_function(BenchmarkId::new("raw_sled_apply_batch", total), |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                write_raw(&db, &plan, next.min(plan.slices.len() - 1));
                next += 1;
            }
            t.elapsed()
        })
    });
    g.finish();
    // Let both settle the same way before reading.
    store.flush().expect("flush");
    db.flush().expect("flush");

    let probe = plan.keys.len() / 2;
    let (from, to) = (START_MS, START_MS + plan.per_series * HOUR_MS);
    let mut g = c.benchmark_group("scan_one_series_5y");
    g.throughput(Throughput::Elements(plan.per_series as u64));
    g.bench_function("barometer_store", |b| {
        b.iter(|| {
            let points = store.range(&plan.keys[probe], from, to).expect("range");
            assert_eq!(points.len() as i64, plan.per_series);
            points
        })
    });
    // The store assigned ids in insertion order, so series `probe` has id `probe` in both.
    g.bench_function("raw_sled_range", |b| {
        b.iter(|| {
            let last_block = START_MS + (plan.per_series - 1) / 24 * 24 * HOUR_MS;
            // Decoded the way the store does it: one output vector, extended block by block.
            let mut points: Vec<Point> = Vec::new();
            for kv in db.range(raw_key(probe as u64, from)..=raw_key(probe as u64, last_block)) {
                let (_, v) = kv.expect("read");
                points.extend(
                    v.chunks_exact(16)
                        .map(|c| {
                            let mut ts = [0u8; 8];
                            let mut val = [0u8; 8];
                            ts.copy_from_slice(&c[..8]);
                            val.copy_from_slice(&c[8..]);
                            Point {
                                ts: i64::from_le_bytes(ts),
                                value: f64::from_bits(u64::from_le_bytes(val)),
                            }
                        })
                        .filter(|p| p.ts >= from && p.ts < to),
                );
            }
            assert_eq!(points.len() as i64, plan.per_series);
            points
        })
    });
    g.finish();
}

criterion_group!(benches, store_vs_sled);
criterion_main!(benches);
