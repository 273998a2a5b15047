//! The system map at scale (issue #18): `/system` for 200 components over 52 weeks. Goal: the
//! page renders in < 50 ms median.
//!
//! The store holds, for each of the 200 components' services, an SLO's hourly good/total counts
//! and an hourly p95 over the 52 weeks (plus the SLO's 28-day window before them): 5.5 M points.
//! The components sit in five layers of 40, each depending on two of the layer below. Timed:
//! (1) the whole request's work after a store change (a sync committed: the map read from the
//! store with every rule applied by `App::system_view`, and the page rendered); (2) the whole
//! request's work while the store is unchanged (the map from `App::system_view`'s cache, and the
//! page rendered): every page view but the first after a sync; (3) the rendering alone.
//!
//! Run with `cargo bench --bench system`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use barometer::app::App;
use barometer::config::{Config, Sources};
use barometer::model::{series, Component, ComponentKind, SeriesKey, SystemModel};
use barometer::query::slo_defs;
use barometer::store::WriteBatch;
use chrono::{TimeZone, Utc};

const COMPONENTS: usize = 200;
const LAYERS: usize = 5;
const WEEKS: i64 = 52;
const HOUR_MS: i64 = 3_600_000;
const WEEK_MS: i64 = 7 * 24 * HOUR_MS;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::load(&Sources {
        env: Some(Default::default()),
        overrides: vec![(
            "storage.path".to_owned(),
            dir.path().join("store").display().to_string(),
        )],
        ..Sources::default()
    })
    .expect("default configuration");
    let mut app = App::build(config).expect("app");

    // Mondays: 52 complete weeks ending the week before 2026-11-23, business time pinned.
    let now = Utc
        .with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .unwrap_or_default();
    barometer::clock::pin(now);
    let last = Utc
        .with_ymd_and_hms(2026, 11, 16, 0, 0, 0)
        .single()
        .unwrap_or_default()
        .timestamp_millis();
    let weeks: Vec<i64> = (0..WEEKS).rev().map(|i| last - i * WEEK_MS).collect();
    let (from, to) = (weeks[0] - 4 * WEEK_MS, last + WEEK_MS);

    let per_layer = COMPONENTS / LAYERS;
    let mut components = Vec::new();
    let mut extra = Vec::new();
    let names: Vec<String> = (0..COMPONENTS).map(|i| format!("svc-{i:03}")).collect();
    for (i, name) in names.iter().enumerate() {
        let layer = i / per_layer;
        let depends_on = if layer + 1 < LAYERS {
            let below = (layer + 1) * per_layer;
            vec![
                names[below + i % per_layer].clone(),
                names[below + (i * 7 + 3) % per_layer].clone(),
            ]
        } else {
            Vec::new()
        };
        components.push(Component {
            name: name.clone(),
            kind: [
                ComponentKind::Frontend,
                ComponentKind::Service,
                ComponentKind::Service,
                ComponentKind::Queue,
                ComponentKind::Database,
            ][layer],
            team: (i % 9 != 0).then(|| format!("team-{}", i % 12)),
            product: Some(format!("product-{}", i % 3)),
            service: name.clone(),
            depends_on,
            latency_objective: Some(0.3),
            origin: "bench".to_owned(),
        });
        extra.push(format!("{name}-availability"));
    }
    app.system = Arc::new(SystemModel::new(components).expect("a valid model"));
    let slo_extra: Vec<(&str, &str, f64)> = extra
        .iter()
        .zip(&names)
        .map(|(slo, svc)| (slo.as_str(), svc.as_str(), 0.999))
        .collect();
    app.slos = Arc::new(slo_defs(&app.config, &slo_extra));

    let started = Instant::now();
    let mut points = 0u64;
    for (i, (slo, svc)) in extra.iter().zip(&names).enumerate() {
        let labels = [("slo", slo.as_str()), ("service", svc.as_str())];
        let total = SeriesKey::new(series::SLO_TOTAL, labels).expect("key");
        let good = SeriesKey::new(series::SLO_GOOD, labels).expect("key");
        let p95 = SeriesKey::new(
            series::QUERY,
            [
                ("query", "latency_p95"),
                ("service", svc.as_str()),
                ("unit", "seconds"),
            ],
        )
        .expect("key");
        // One batch per service-month keeps sled's batches small (BENCHMARKS.md, store).
        let mut t = from;
        while t < to {
            let mut batch = WriteBatch::new();
            let end = (t + 4 * WEEK_MS).min(to);
            while t < end {
                let h = (t / HOUR_MS) as f64;
                let n = 1000.0 + 300.0 * (h / 24.0).sin();
                let bad = if (t / HOUR_MS + i as i64) % 97 == 0 {
                    5.0
                } else {
                    0.0
                };
                batch.put_point(&total, t, n);
                batch.put_point(&good, t, n - bad);
                batch.put_point(
                    &p95,
                    t,
                    0.2 + 0.002 * (i % 60) as f64 + 0.05 * (h / 7.0).cos(),
                );
                points += 3;
                t += HOUR_MS;
            }
            app.store.commit(batch).expect("commit");
        }
    }
    println!(
        "store: {COMPONENTS} services, {points} points written in {}",
        ms(started.elapsed())
    );

    let cal = app.calendar();
    let view = app.system_view(&weeks).expect("the map");
    assert_eq!(view.components.len(), COMPONENTS);
    let page = barometer::serve::system::render_page(&view, cal);
    println!(
        "map: {} weak spots, {} next moves; page {} kB",
        view.assessment.weak_spots.len(),
        view.assessment.next_moves.len(),
        page.len() / 1024
    );

    let runs = 30;
    let (mut cold, mut warm, mut render) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        // As after a sync: the cached map is of an older store.
        app.system_cache = Arc::default();
        let t = Instant::now();
        let v = app.system_view(&weeks).expect("the map");
        std::hint::black_box(barometer::serve::system::render_page(&v, cal));
        cold.push(t.elapsed());
        let t = Instant::now();
        let v = app.system_view(&weeks).expect("the map");
        std::hint::black_box(barometer::serve::system::render_page(&v, cal));
        warm.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(barometer::serve::system::render_page(&view, cal));
        render.push(t.elapsed());
    }
    println!(
        "/system, {COMPONENTS} components × {WEEKS} weeks, median of {runs}: after a store change (read + rules + render) {}, store unchanged (cached map + render) {}, render alone {} (goal < 50 ms)",
        ms(median(cold)),
        ms(median(warm)),
        ms(median(render))
    );
}
