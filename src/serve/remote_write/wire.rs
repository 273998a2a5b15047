//! The remote-write 1.0 wire format: the protobuf messages of `prometheus/prompb/types.proto`
//! and `remote.proto` that protocol 1.0 uses (`WriteRequest`, `TimeSeries`, `Label`, `Sample`),
//! compressed with snappy's block format, and the conversion of the daemon's metric families
//! into them.
//!
//! The spec ("Prometheus Remote-Write Specification", version 1.0, prometheus.io/docs/specs):
//! every series carries `__name__`; labels are sorted by name, with no empty values and no
//! repeated names; samples of a series are in timestamp order, in milliseconds; the body is
//! snappy's *block* (not framed) format. Histograms go out as their classic series
//! (`_bucket{le=…}`, `_sum`, `_count`), as a scrape would produce them.

use std::collections::BTreeMap;

use prometheus::proto::{MetricFamily, MetricType};

/// `prometheus.WriteRequest` (field 3, metadata, is optional in 1.0 and not sent).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series, each with its samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries` (exemplars and native histograms are not part of 1.0's core).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Sorted by name, `__name__` included.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// In timestamp order.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, prost::Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value (never empty: an empty value means "no such label").
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// A series' identity: its sorted labels, `__name__` first among equals by sorting.
pub type SeriesLabels = Vec<(String, String)>;

/// Builds a request from series → samples, labels sorted and empty values dropped as the spec
/// asks; series without samples are left out.
pub fn request(series: &BTreeMap<SeriesLabels, Vec<(i64, f64)>>) -> WriteRequest {
    let timeseries = series
        .iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|(labels, samples)| {
            let mut labels: Vec<Label> = labels
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(name, value)| Label {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect();
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            let mut samples: Vec<Sample> = samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect();
            samples.sort_by_key(|s| s.timestamp);
            TimeSeries { labels, samples }
        })
        .collect();
    WriteRequest { timeseries }
}

/// The request's body: protobuf, then snappy's block format.
pub fn encode(request: &WriteRequest) -> Result<Vec<u8>, snap::Error> {
    use prost::Message as _;
    snap::raw::Encoder::new().compress_vec(&request.encode_to_vec())
}

/// One series of the current values: its labels as the request carries them (sorted by name,
/// `__name__` included, no empty value) and its value.
pub type Current = (Vec<Label>, f64);

/// Every sample of the `families` whose name `keep` accepts, the way a scrape would read the
/// exposition: gauges and counters as they are; histograms as `_bucket`, `_sum` and `_count`;
/// summaries as their quantiles, `_sum` and `_count`. `extra` labels are added to every series.
///
/// The labels are built once, in the request's own form, and moved into the request later: a
/// round of 50 000 series spent most of its time copying and comparing label strings when
/// they went through a map first (BENCHMARKS.md, "Remote-write").
pub fn flatten(
    families: &[MetricFamily],
    extra: &[(String, String)],
    keep: impl Fn(&str) -> bool,
) -> Vec<Current> {
    let mut out = Vec::with_capacity(
        families
            .iter()
            .filter(|f| keep(f.name()))
            .map(|f| f.get_metric().len())
            .sum(),
    );
    for family in families.iter().filter(|f| keep(f.name())) {
        let name = family.name();
        for m in family.get_metric() {
            let mut push = |suffix: &str, more: Option<(&str, String)>, value: f64| {
                let mut labels: Vec<Label> =
                    Vec::with_capacity(m.get_label().len() + extra.len() + 2);
                labels.extend(
                    m.get_label()
                        .iter()
                        .map(|l| (l.name(), l.value()))
                        .chain(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(k, v)| Label {
                            name: k.to_owned(),
                            value: v.to_owned(),
                        }),
                );
                labels.push(Label {
                    name: "__name__".to_owned(),
                    value: format!("{name}{suffix}"),
                });
                if let Some((k, v)) = more {
                    labels.push(Label {
                        name: k.to_owned(),
                        value: v,
                    });
                }
                labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
                out.push((labels, value));
            };
            match family.get_field_type() {
                MetricType::GAUGE => push("", None, m.get_gauge().get_value()),
                MetricType::COUNTER => push("", None, m.get_counter().get_value()),
                // The daemon registers no untyped metric (the crate deprecates the type).
                MetricType::UNTYPED => {}
                MetricType::HISTOGRAM => {
                    let h = m.get_histogram();
                    for b in h.get_bucket() {
                        let le = b.upper_bound();
                        push(
                            "_bucket",
                            Some(("le", le_label(le))),
                            b.cumulative_count() as f64,
                        );
                    }
                    let count = h.get_sample_count() as f64;
                    push("_bucket", Some(("le", "+Inf".to_owned())), count);
                    push("_sum", None, h.get_sample_sum());
                    push("_count", None, count);
                }
                MetricType::SUMMARY => {
                    let s = m.get_summary();
                    for q in s.get_quantile() {
                        push("", Some(("quantile", le_label(q.quantile()))), q.value());
                    }
                    push("_sum", None, s.sample_sum());
                    push("_count", None, s.sample_count() as f64);
                }
            }
        }
    }
    out
}

/// A request of current values, every series at `timestamp`; the labels are moved in.
pub fn current_request(series: impl Iterator<Item = Current>, timestamp: i64) -> WriteRequest {
    WriteRequest {
        timeseries: series
            .map(|(labels, value)| TimeSeries {
                labels,
                samples: vec![Sample { value, timestamp }],
            })
            .collect(),
    }
}

/// A bucket bound or quantile as the text exposition writes it (`0.5`, `1`, `+Inf`).
fn le_label(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".to_owned()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{GaugeVec, HistogramOpts, HistogramVec, Opts, Registry};

    #[test]
    fn families_flatten_like_a_scrape_and_round_trip_through_snappy() {
        let r = Registry::new();
        let g = GaugeVec::new(Opts::new("g_ratio", "h"), &["service"]).unwrap();
        g.with_label_values(&["api"]).set(0.25);
        let h = HistogramVec::new(
            HistogramOpts::new("d_seconds", "h").buckets(vec![1.0]),
            &["s"],
        )
        .unwrap();
        h.with_label_values(&["x"]).observe(0.5);
        h.with_label_values(&["x"]).observe(3.0);
        r.register(Box::new(g)).unwrap();
        r.register(Box::new(h)).unwrap();
        let shard = [("shard".to_owned(), "eu".to_owned())];
        let flat: BTreeMap<SeriesLabels, f64> = flatten(&r.gather(), &shard, |_| true)
            .into_iter()
            .map(|(labels, v)| {
                let pairs = labels.into_iter().map(|l| (l.name, l.value)).collect();
                (pairs, v)
            })
            .collect();
        let key = |pairs: &[(&str, &str)]| {
            let mut v: SeriesLabels = pairs
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect();
            v.sort();
            v
        };
        // One gauge, and the histogram's two buckets (1 and +Inf), sum and count: 5 series.
        assert_eq!(flat.len(), 5, "{flat:?}");
        let at = |pairs: &[(&str, &str)]| flat[&key(pairs)];
        assert_eq!(
            at(&[("__name__", "g_ratio"), ("service", "api"), ("shard", "eu")]),
            0.25
        );
        let hx = |n: &str, le: Option<&str>| {
            let mut p = vec![("__name__", n), ("s", "x"), ("shard", "eu")];
            p.extend(le.map(|l| ("le", l)));
            at(&p)
        };
        // 0.5 ≤ 1 falls in the first bucket; both observations in +Inf; sum 3.5.
        assert_eq!(hx("d_seconds_bucket", Some("1")), 1.0);
        assert_eq!(hx("d_seconds_bucket", Some("+Inf")), 2.0);
        assert_eq!(hx("d_seconds_sum", None), 3.5);
        assert_eq!(hx("d_seconds_count", None), 2.0);

        let series: BTreeMap<SeriesLabels, Vec<(i64, f64)>> = flat
            .into_iter()
            .map(|(k, v)| (k, vec![(2_000, v), (1_000, v)]))
            .collect();
        let req = request(&series);
        let ts = &req.timeseries[0];
        assert!(
            ts.labels.windows(2).all(|w| w[0].name < w[1].name),
            "sorted"
        );
        assert_eq!(ts.samples[0].timestamp, 1_000, "samples in time order");
        let body = encode(&req).unwrap();
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        use prost::Message as _;
        assert_eq!(WriteRequest::decode(raw.as_slice()).unwrap(), req);
    }
}
