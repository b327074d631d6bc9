//! GPU side (layer 3, uses `model`, `cpu`): context, shaders, kernel dispatches, graph
//! executor and timing. Executes a
//! node range of a graph and returns tensors and timings; knows nothing of planning.

pub mod buffers;
pub mod codec;
mod context;
mod kernels;
pub mod shaders;

pub use context::{list_adapters, AdapterSummary, GpuContext};
pub use kernels::{conv_plan, fold_1d, Builder, ConvPlan, Dispatch, PoolKind};
mod executor;
mod pass_timer;
mod timing;

pub use executor::{Executor, Step};
pub use pass_timer::PassTimer;
pub use timing::{percentile, profile, time_dispatch_groups, RangeProfile, Stats, TimingMethod};
