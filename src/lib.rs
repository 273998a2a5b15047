//! Barometer links business and engineering signals on one weekly axis.
//!
//! # Layout
//! Data flows one way: sources → store → query (the read side) → analysis → the faces (serve,
//! digest, cli). `docs/architecture.md` has the picture; `tests/it/layers.rs` keeps the arrows.
//!
//! - [`model`]: the shared vocabulary (series keys, points, events, revenue rows, [`model::Month`],
//!   [`model::Calendar`], coverage and pressure vocabularies).
//! - [`config`]: layered configuration, validated into one [`config::Config`].
//! - [`clock`]: business time, pinnable for reproducible runs.
//! - [`sources`]: where data comes from: GitHub, Prometheus, revenue CSV files, and the built-in
//!   [`sources::demo`] organisation.
//! - [`store`]: the embedded sled store, the only module that touches sled.
//! - [`health`]: readiness and the health counters of the syncs and the digest.
//! - [`query`]: the read side: store reads handed to the analysis, typed results for the faces,
//!   and the analysis [`query::Settings`] derived once from the configuration.
//! - [`analysis`]: pure analysis: DORA, reliability, revenue, trends, change points, the weekly
//!   engine and the pressure index.
//! - [`app`]: [`app::App::build`]: the store opened once, every setting derived once.
//! - [`serve`]: the daemon: JSON API, dashboard, `/metrics`, background tasks, shutdown.
//! - [`digest`]: the weekly digest for architects (Markdown, HTML, JSON; files and webhook).
//! - [`cli`]: the command line, one file per command group.
//! - [`telemetry`]: the tracing subscriber.
//! - [`redact`]: secrets inside URLs, masked wherever a URL is shown.
//! - [`quote`]: bad values quoted in errors, cut at 200 bytes.
//! - [`retry`]: backoff with jitter, rate-limit waits and a cancellable sleep, for every pull.
//! - [`sheet`]: CSV cells that a spreadsheet will not run as formulas.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analysis;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod digest;
pub mod health;
pub mod model;
pub mod query;
pub mod quote;
pub mod redact;
pub mod retry;
pub mod serve;
pub mod sheet;
pub mod sources;
pub mod store;
pub mod telemetry;
