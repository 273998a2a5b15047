//! Barometer links business and engineering signals on one weekly axis.
//!
//! # Layout
//! Data flows one way: sources → store → analysis → serve / digest.
//!
//! - [`config`]: layered configuration, validated into one [`config::Config`].
//! - [`model`]: the shared vocabulary (series keys, points, deployments, changes, incidents,
//!   revenue rows).
//! - [`sources`]: where data comes from: GitHub, Prometheus, revenue CSV files, and the built-in
//!   [`sources::demo`] organisation.
//! - [`store`]: the embedded sled store, the only module that touches sled.
//! - [`serve`]: the daemon — HTTP server, `/metrics`, background tasks, shutdown.
//! - [`digest`]: the weekly digest for architects (Markdown, HTML, JSON; files and webhook).
//! - [`telemetry`]: the tracing subscriber.
//! - [`clock`]: business time, pinnable for reproducible runs.
//! - [`cli`]: the command line.

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
pub mod serve;
pub mod sources;
pub mod store;
pub mod telemetry;
