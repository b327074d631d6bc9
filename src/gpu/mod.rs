//! GPU side (layer 3, uses `model`, `cpu`): executes a node range of a graph and returns
//! tensors and timings; knows nothing of planning. Modules depend one way, each only on
//! those to its left:
//!
//! ```text
//! shaders -> tiling -> tilecache -> pipelines -> context -> dispatch -> buffers
//!     -> clock -> launch -> autotune -> executor -> timing -> { pass_timer, codec }
//! ```
//!
//! `shaders` (registry, generated prelude, the layouts WGSL and Rust share), `tiling`
//! (which kernel and tile compute a convolution: candidates and the heuristic), `tilecache`
//! (the choices made on a device, and the file that keeps them), `pipelines`
//! (compiled from a device), `context` (adapter, device, queue; owns the pipelines and
//! the tile choices), `dispatch` (dispatch records, running them), `buffers` (upload, read
//! back), `clock` (timing methods, statistics, timestamp queries), `launch` (kernel
//! parameters and workgroup counts), `autotune` (a convolution's plan, measured on the
//! device), `executor` (a graph range), then `timing` (per-node profile), `pass_timer`
//! (one pass, for benches), `codec` (feature encode/decode).
//!
//! Every call that waits for the GPU (running, reading back, timing, building an executor)
//! has an `_async` twin, the one that does the work: in a browser (wasm32 + WebGPU, the page
//! in `web/`) nothing may block, and map and work-done callbacks only run once control
//! returns to the event loop. The native call is the twin under `pollster::block_on`.

pub mod autotune;
pub mod buffers;
mod clock;
pub mod codec;
mod context;
mod dispatch;
mod executor;
mod launch;
mod pass_timer;
mod pipelines;
pub mod shaders;
mod tilecache;
pub mod tiling;
mod timing;

pub use clock::{
    percentile, time_dispatch_groups, time_dispatch_groups_async, Stats, TimingMethod,
};
pub use context::{list_adapters, AdapterSummary, GpuContext, WGPU_VERSION};
pub use dispatch::Dispatch;
pub use executor::{Executor, Step};
pub use launch::{fold_1d, Builder, PoolKind};
pub use pass_timer::PassTimer;
pub use tilecache::{TileChoice, TileSource, TuneSummary};
pub use tiling::{conv_plan, ConvPlan, ConvShape, DeviceClass};
pub use timing::{
    profile, profile_async, profile_nodes, profile_nodes_async, profile_whole, profile_whole_async,
    run_timed, run_timed_async, timer_resolution_async, RangeProfile,
};
