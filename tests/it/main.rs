//! Black-box and store-level tests, one binary (faster to link than one per file).

mod config;
mod crash;
mod helpers;
mod serve;
mod store;
