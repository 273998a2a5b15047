//! Where data comes from. Each source maps what it reads into [`crate::model`] types and writes
//! them to the [`crate::store::Store`] in atomic batches, with its cursor in the same batch.

pub mod demo;
