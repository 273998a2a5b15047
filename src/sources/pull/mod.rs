//! Pull plumbing written once: retries with backoff and jitter ([`retry`]); each source's health
//! lives in [`crate::health`], which `/metrics` and the status API read.
//!
//! A source says what to fetch and how to map it; [`retry`] decides how often and when to try
//! again.

pub use crate::retry::{self, RetryPolicy, Retryable};

pub use crate::health::{Health, SourceHealth};
