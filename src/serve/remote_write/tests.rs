use super::client::SendError;
use super::*;
use crate::config::RemoteAuth;

#[test]
fn only_5xx_429_and_network_failures_are_retried() {
    let status = |status: u16, retry_after: Option<u64>| SendError::Status {
        status,
        body: String::new(),
        retry_after: retry_after.map(Duration::from_secs),
    };
    assert_eq!(
        SendError::Network("refused".into()).verdict(),
        Verdict::Backoff
    );
    assert_eq!(status(503, None).verdict(), Verdict::Backoff);
    assert_eq!(status(429, None).verdict(), Verdict::Backoff);
    assert_eq!(
        status(429, Some(7)).verdict(),
        Verdict::After(Duration::from_secs(7))
    );
    // A 400 (an out-of-order sample, a bad label) would be refused again: dropped and counted.
    assert_eq!(status(400, None).verdict(), Verdict::Fail);
    assert_eq!(status(400, None).reason(), "http_4xx");
    assert_eq!(status(502, None).reason(), "http_5xx");
}

#[test]
fn history_samples_carry_their_name_shard_and_week() {
    let family = crate::serve::export::Family {
        name: "barometer_revenue_arr",
        help: "h",
        samples: vec![(vec![("currency", "EUR".to_owned())], 120.0, 1_000)],
    };
    let out = week_stamped(&[family], Some("eu"));
    let labels: Vec<(&str, &str)> = out[0]
        .0
         .0
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("__name__", "barometer_revenue_arr"),
            ("currency", "EUR"),
            ("shard", "eu")
        ]
    );
    assert_eq!((out[0].0 .1, out[0].1), (1_000, 120.0));
}

#[test]
fn a_round_goes_out_in_bounded_requests_and_only_week_samples_await_acks() {
    let stats = RemoteWriteStats::new(&prometheus::Registry::new()).unwrap();
    let config = RemoteWriteConfig {
        name: "central".into(),
        url: "http://127.0.0.1:9/api/v1/write".into(),
        tenant: None,
        headers: Default::default(),
        auth: RemoteAuth::None,
        timestamps: Stamping::Week,
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(10),
        max_backoff: Duration::from_secs(60),
        queue_capacity: 64,
    };
    let series = |name: &str, i: usize| -> SeriesLabels {
        vec![
            ("__name__".into(), name.into()),
            ("i".into(), format!("{i:05}")),
        ]
    };
    let current: Vec<wire::Current> = (0..4_500)
        .map(|i| {
            let labels = series("g", i)
                .into_iter()
                .map(|(name, value)| wire::Label { name, value })
                .collect();
            (labels, i as f64)
        })
        .collect();
    let week = vec![((series("w", 0), 1_000), 2.0)];
    let shared = Mutex::new(Shared::default());

    assert!(enqueue(
        &shared,
        &Notify::new(),
        &config,
        &stats,
        Some(current),
        week
    ));

    let s = lock(&shared);
    let sizes: Vec<usize> = s.queue.iter().map(|b| b.samples).collect();
    assert_eq!(
        sizes,
        [2_000, 2_000, 500, 1],
        "at most 2 000 samples a request, the current values before the week-stamped ones"
    );
    // The current values are not acknowledged one by one; the week-stamped sample is.
    let keys: Vec<usize> = s.queue.iter().map(|b| b.keys.len()).collect();
    assert_eq!(keys, [0, 0, 0, 1]);
    assert_eq!(s.pending.len(), 1);
    use prost::Message as _;
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&s.queue[0].body)
        .unwrap();
    let first = wire::WriteRequest::decode(raw.as_slice()).unwrap();
    assert_eq!(first.timeseries.len(), 2_000);
    assert_eq!(stats.queued.with_label_values(&["central"]).get(), 4);
}

#[test]
fn a_round_counts_as_changed_when_a_figure_moved_not_when_the_queue_counters_did() {
    let series = |name: &str, value: f64| -> wire::Current {
        let labels = [("__name__", name), ("service", "api")]
            .into_iter()
            .map(|(n, v)| wire::Label {
                name: n.to_owned(),
                value: v.to_owned(),
            })
            .collect();
        (labels, value)
    };
    let round = |arr: f64, sent: f64| {
        fingerprint(&[
            series("barometer_revenue_arr", arr),
            series("barometer_remote_write_samples_total", sent),
        ])
    };
    assert_eq!(round(120.0, 1.0), round(120.0, 1.0));
    assert_eq!(round(120.0, 1.0), round(120.0, 4_000.0), "own counters");
    assert_ne!(round(120.0, 1.0), round(121.0, 1.0), "a figure moved");
}
