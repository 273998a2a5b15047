use super::*;

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
