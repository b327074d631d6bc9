//! Outputs (layer 6, uses `compress` for the configuration types, `gpu` for the adapter):
//! the row types of every CSV (serde structs, units in column names), the manifests, CSV
//! reading and writing, and the charts of a study (PNG + SVG). Reads rows, never measures;
//! imports nothing from `plan`, `study` or the CLI (the layers that fill its rows).

mod charts;
mod csvio;
mod kernel_times;
mod kernels;
mod manifests;
mod rows;

pub use charts::{draw_charts, draw_link_validation, draw_study, Drawn, CHART_SIZE};
pub use csvio::{
    csv_string, read_profile_csv, read_profile_csv_str, read_study, redraw, write_csv, write_study,
    ACCURACY_LATENCY_CSV, BYTES_CSV, CANDIDATES_CSV, CDF_CSV, LAYERS_CSV, MANIFEST_JSON, TITLE_TXT,
    TRADEOFF_CSV,
};
pub use kernel_times::{
    kernels_path, pruned_path, read_kernel_times_csv, read_pruned_times_csv, KernelKind,
    KernelTimeRow, PrunedTimeRow,
};
pub use kernels::{KernelEfficiencyManifest, KernelEfficiencyRow};
pub use manifests::{
    git_revision, unix_time, BrowserInfo, ChannelInfo, ChoiceSummary, DeviceProfileInfo,
    LinkSummary, NodeTile, OffloadManifest, OutputCheck, PredictorError, ProfileKernels,
    ProfileManifest, RunInfo, TradeoffManifest, WebResult, WGPU_VERSION,
};
pub use rows::{
    AccuracyLatencyRow, BytesRow, CandidateRow, CdfRow, ChannelRole, Family, LayerRow,
    LinkCheckRow, OffloadRow, ProfileRow, Study, TradeoffRow,
};
