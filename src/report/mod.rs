//! Outputs: CSV rows (serde structs with units in column names), run manifests. Reads
//! measurements; never measures.

mod manifest;
mod rows;
mod study;

pub use manifest::{git_revision, model_hash, unix_time, RunInfo, WGPU_VERSION};
pub use rows::{profile_rows, read_profile_csv, write_csv, ProfileManifest, ProfileRow};
pub use study::{CandidateRow, CdfRow, LayerRow, Study, TradeoffRow};
