//! splitbench: a GPU benchmarking harness for device-edge co-inference (split computing).
#![warn(missing_docs)]

pub mod channel;
mod error;
pub mod model;
pub mod tensor;

pub use error::{Error, Result};
