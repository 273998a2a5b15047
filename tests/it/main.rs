//! Black-box and store-level tests, one binary (faster to link than one per file).

mod config;
mod crash;
mod dashboard;
mod demo_story;
mod deploy;
mod digest;
mod dora_exact;
mod export;
mod fake_github;
mod github;
mod golden;
mod hardening;
mod helpers;
mod layers;
mod products;
mod prom;
mod prom_exact;
mod revenue;
mod revenue_attributes;
mod revenue_exports;
mod serve;
mod store;
mod support;
mod system;
mod teams;
mod weeks;
