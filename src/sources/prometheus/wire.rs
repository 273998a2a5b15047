//! The Prometheus HTTP API's answers, as read from `/api/v1/query_range` and `/api/v1/query`
//! (<https://prometheus.io/docs/prometheus/latest/querying/api/>).

use serde::Deserialize;

/// The API's answer envelope (<https://prometheus.io/docs/prometheus/latest/querying/api/>).
#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub(super) enum Envelope {
    Success {
        data: Data,
        #[serde(default)]
        warnings: Vec<String>,
    },
    Error {
        #[serde(rename = "errorType")]
        error_type: String,
        error: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
pub(super) enum Data {
    Matrix(Vec<MatrixSeries>),
    Vector(Vec<VectorSample>),
    Scalar(Sample),
    String(serde::de::IgnoredAny),
}

#[derive(Debug, Deserialize)]
pub(super) struct MatrixSeries {
    #[serde(default)]
    pub(super) values: Vec<Sample>,
}

#[derive(Debug, Deserialize)]
pub(super) struct VectorSample {
    pub(super) value: Sample,
}

/// `[unix seconds (float), "value"]`; values are strings so that `NaN` and `±Inf` survive JSON.
#[derive(Debug, Deserialize)]
pub(super) struct Sample(pub(super) f64, pub(super) String);

impl Sample {
    pub(super) fn point(&self) -> Result<(i64, f64), String> {
        let v: f64 = self
            .1
            .parse()
            .map_err(|_| format!("sample value {:?} is not a number", self.1))?;
        Ok(((self.0 * 1000.0).round() as i64, v))
    }
}
