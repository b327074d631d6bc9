//! splitbench: a GPU benchmarking harness for device-edge co-inference (split computing).
#![warn(missing_docs)]

pub mod channel;
pub mod compress;
pub mod cpu;
mod error;
pub mod gpu;
pub mod model;
pub mod report;
pub mod tensor;

pub use error::{Error, Result};
