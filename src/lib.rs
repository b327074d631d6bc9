//! splitbench: a GPU benchmarking harness for device-edge co-inference (split computing).
#![warn(missing_docs)]

pub mod channel;
pub mod compress;
pub mod cpu;
pub mod data;
mod error;
pub mod eval;
pub mod gpu;
pub mod model;
pub mod plan;
pub mod report;
pub mod study;
pub mod tensor;
#[cfg(feature = "train")]
pub mod train;

pub use error::{Error, Result};
