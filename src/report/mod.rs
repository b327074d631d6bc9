//! Outputs: CSV rows (serde structs with units in column names), run manifests, charts of a
//! study (PNG + SVG) and reading a study's CSVs back. Reads measurements; never measures.

mod charts;
mod csvio;
mod manifest;
mod rows;
mod study;

pub use charts::{draw_charts, draw_study, Drawn, CHART_SIZE};
pub use csvio::{
    read_study, redraw, write_study, ACCURACY_LATENCY_CSV, BYTES_CSV, CANDIDATES_CSV, CDF_CSV,
    LAYERS_CSV, TITLE_TXT, TRADEOFF_CSV,
};
pub use manifest::{git_revision, model_hash, unix_time, RunInfo, WGPU_VERSION};
pub use rows::{profile_rows, read_profile_csv, write_csv, ProfileManifest, ProfileRow};
pub use study::{AccuracyLatencyRow, BytesRow, CandidateRow, CdfRow, LayerRow, Study, TradeoffRow};
