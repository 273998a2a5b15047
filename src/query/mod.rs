//! The read side: reads the store, hands the slices to the pure analysis, and gives the faces
//! (`serve`, `digest`, `cli`) typed results.
//!
//! Every face reads through here, so a figure is computed one way whether it is served, mailed
//! or printed; and no face reaches into `sources` or into another face for data.

pub mod bugs;
pub mod business;
mod business_rows;
pub mod revenue;
pub mod rollup;
pub mod settings;
pub mod slo;
pub mod slo_rows;
pub mod system;
pub mod teams;
pub mod views;

pub use settings::{Settings, SettingsError};
pub use slo::{slo_defs, slo_weeks, slo_weeks_at, SloDef};
pub use views::{DoraCache, Weekly};
