//! GPU side: context, shaders, kernel dispatches, graph executor and timing. Executes a
//! node range of a graph and returns tensors and timings; knows nothing of planning.

pub mod buffers;
pub mod codec;
mod context;
mod kernels;
pub mod shaders;

pub use context::{list_adapters, AdapterSummary, GpuContext};
pub use kernels::{fold_1d, Builder, Dispatch, PoolKind};
mod executor;
mod timing;

pub use executor::{Executor, Step};
pub use timing::{
    percentile, profile, time_dispatch_groups, RangeProfile, Stats, TimingMethod,
};
