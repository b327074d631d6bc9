//! GPU side (layer 3, uses `model`, `cpu`): executes a node range of a graph and returns
//! tensors and timings; knows nothing of planning. Modules depend one way, each only on
//! those to its left:
//!
//! ```text
//! shaders -> tiling -> pipelines -> context -> dispatch -> buffers -> launch
//!     -> executor -> timing -> { pass_timer, codec }
//! ```
//!
//! `shaders` (registry, generated prelude, the layouts WGSL and Rust share), `tiling`
//! (which kernel and tile compute a convolution: candidates and the heuristic), `pipelines`
//! (compiled from a device), `context` (adapter, device, queue; owns the pipelines),
//! `dispatch` (dispatch records, running them), `buffers` (upload, read back), `launch`
//! (kernel parameters and workgroup counts), `executor` (a graph range), then timing:
//! `timing` (per-node profile), `pass_timer` (one pass, for benches), `codec` (feature
//! encode/decode).

pub mod buffers;
pub mod codec;
mod context;
mod dispatch;
mod executor;
mod launch;
mod pass_timer;
mod pipelines;
pub mod shaders;
pub mod tiling;
mod timing;

pub use context::{list_adapters, AdapterSummary, GpuContext};
pub use dispatch::Dispatch;
pub use executor::{Executor, Step};
pub use launch::{fold_1d, Builder, PoolKind};
pub use pass_timer::PassTimer;
pub use tiling::{conv_plan, ConvPlan, ConvShape, DeviceClass};
pub use timing::{
    percentile, profile, profile_nodes, profile_whole, time_dispatch_groups, RangeProfile, Stats,
    TimingMethod,
};
