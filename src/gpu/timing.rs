//! Per-node and whole-range timing of an executor; after `executor` in `gpu`'s order, on
//! the core of `clock` (methods, statistics, timestamp queries).

use super::buffers;
use super::clock::{time_dispatch_groups_async, time_groups_once, Queries, Stats, TimingMethod};
use super::context::GpuContext;
use super::dispatch::Dispatch;
use super::executor::Executor;
use super::launch::Builder;
use crate::error::{Error, Result};
use crate::model::Act;
use crate::tensor::Tensor;
use web_time::Instant;

/// Timing of a profiled range.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RangeProfile {
    /// Method of the per-node times.
    pub method: TimingMethod,
    /// Per step of the executor (same order).
    pub per_node: Vec<Stats>,
    /// Method of the whole-range time.
    pub whole_method: TimingMethod,
    /// The whole range in one submission.
    pub whole: Stats,
}

impl RangeProfile {
    /// Sum of per-node medians (to set beside the whole-range median).
    pub fn sum_of_medians_ms(&self) -> f64 {
        self.per_node.iter().map(|s| s.median_ms).sum()
    }
}

/// Profiles an executor: `warmup` untimed runs, then `reps` timed runs per node (with
/// `method`, default the best the device supports) and `reps` whole-range runs.
pub fn profile(
    exec: &Executor<'_>,
    warmup: usize,
    reps: usize,
    method: Option<TimingMethod>,
) -> Result<RangeProfile> {
    pollster::block_on(profile_async(exec, warmup, reps, method))
}

/// [`profile`] for callers that cannot block (a browser).
pub async fn profile_async(
    exec: &Executor<'_>,
    warmup: usize,
    reps: usize,
    method: Option<TimingMethod>,
) -> Result<RangeProfile> {
    if reps == 0 {
        return Err(Error::InvalidArg("reps must be at least 1".into()));
    }
    let features = exec.context().features;
    let method = method.unwrap_or_else(|| TimingMethod::best_per_node(features));
    let supported = TimingMethod::best_per_node(features);
    let rank = |m: TimingMethod| m as u8;
    if rank(method) < rank(supported) {
        return Err(Error::Unsupported(format!(
            "timing method {} (the adapter supports at best {})",
            method.as_str(),
            supported.as_str()
        )));
    }
    let whole_method = TimingMethod::best_whole(features);
    let ctx = exec.context();
    let nodes: Vec<Vec<&Dispatch>> = exec
        .steps()
        .iter()
        .map(|s| s.dispatches.iter().collect())
        .collect();
    let whole = vec![nodes.iter().flatten().copied().collect::<Vec<_>>()];
    let steps = nodes.len() as u32;
    let node_q = (method != TimingMethod::WallClock).then(|| Queries::new(&ctx.device, 2 * steps));
    let whole_q = (whole_method != TimingMethod::WallClock).then(|| Queries::new(&ctx.device, 2));

    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let whole_once = || async {
        Ok::<f64, Error>(time_groups_once(ctx, whole_method, whole_q.as_ref(), &whole).await?[0])
    };
    for _ in 0..warmup {
        whole_once().await?;
    }
    let mut per_node: Vec<Vec<f64>> = vec![Vec::with_capacity(reps); nodes.len()];
    let mut whole_ms = Vec::with_capacity(reps);
    // Interleave the two kinds of measurement so drift affects both alike.
    for _ in 0..reps {
        let times = time_groups_once(ctx, method, node_q.as_ref(), &nodes).await?;
        for (acc, t) in per_node.iter_mut().zip(times) {
            acc.push(t);
        }
        whole_ms.push(whole_once().await?);
    }
    if let Some(e) = scope.pop().await {
        return Err(Error::gpu_from("timed run", e));
    }
    Ok(RangeProfile {
        method,
        per_node: per_node.iter().map(|s| Stats::of(s)).collect(),
        whole_method,
        whole: Stats::of(&whole_ms),
    })
}

/// Per-node times of an executor's steps only, without [`profile`]'s whole-range runs: for
/// callers that need the node medians alone (pruned prefixes), in half the runs.
pub fn profile_nodes(
    exec: &Executor<'_>,
    warmup: usize,
    reps: usize,
) -> Result<(TimingMethod, Vec<Stats>)> {
    pollster::block_on(profile_nodes_async(exec, warmup, reps))
}

/// [`profile_nodes`] for callers that cannot block (a browser).
pub async fn profile_nodes_async(
    exec: &Executor<'_>,
    warmup: usize,
    reps: usize,
) -> Result<(TimingMethod, Vec<Stats>)> {
    let groups: Vec<Vec<Dispatch>> = exec.steps().iter().map(|s| s.dispatches.clone()).collect();
    time_dispatch_groups_async(exec.context(), &groups, warmup, reps).await
}

/// The whole range in one submission only, timed as [`profile`] times it (pass
/// timestamps, else wall clock), without the per-node runs: for callers that need the
/// range's time alone (a bottleneck, a pruned prefix's total).
pub fn profile_whole(
    exec: &Executor<'_>,
    warmup: usize,
    reps: usize,
) -> Result<(TimingMethod, Stats)> {
    pollster::block_on(profile_whole_async(exec, warmup, reps))
}

/// [`profile_whole`] for callers that cannot block (a browser).
pub async fn profile_whole_async(
    exec: &Executor<'_>,
    warmup: usize,
    reps: usize,
) -> Result<(TimingMethod, Stats)> {
    if reps == 0 {
        return Err(Error::InvalidArg("reps must be at least 1".into()));
    }
    let ctx = exec.context();
    let method = TimingMethod::best_whole(ctx.features);
    let all = vec![exec
        .steps()
        .iter()
        .flat_map(|s| s.dispatches.iter())
        .collect::<Vec<_>>()];
    let q = (method != TimingMethod::WallClock).then(|| Queries::new(&ctx.device, 2));
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let mut ms = Vec::with_capacity(reps);
    for i in 0..warmup + reps {
        let t = time_groups_once(ctx, method, q.as_ref(), &all).await?[0];
        if i >= warmup {
            ms.push(t);
        }
    }
    if let Some(e) = scope.pop().await {
        return Err(Error::gpu_from("timed run", e));
    }
    Ok((method, Stats::of(&ms)))
}

/// Runs `exec` once, reading its outputs back, and times the range's pass on the GPU (pass
/// timestamps, else wall clock up to the completed submission, readback included then):
/// one real inference with its own time, for the offloading pipeline.
pub fn run_timed(exec: &Executor<'_>) -> Result<(Vec<Tensor>, f64, TimingMethod)> {
    pollster::block_on(run_timed_async(exec))
}

/// [`run_timed`] for callers that cannot block (a browser).
pub async fn run_timed_async(exec: &Executor<'_>) -> Result<(Vec<Tensor>, f64, TimingMethod)> {
    let ctx = exec.context();
    let method = TimingMethod::best_whole(ctx.features);
    if method == TimingMethod::WallClock {
        let t = Instant::now();
        let out = exec.run_async().await?;
        return Ok((out, t.elapsed().as_secs_f64() * 1e3, method));
    }
    let q = Queries::new(&ctx.device, 2);
    let out = exec
        .run_with_async(|enc| {
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: None,
                    timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                        query_set: &q.set,
                        beginning_of_pass_write_index: Some(0),
                        end_of_pass_write_index: Some(1),
                    }),
                });
                exec.encode(&mut pass);
            }
            q.finish(enc);
        })
        .await?;
    Ok((out, q.read_pairs(ctx).await?[0], method))
}

/// The clock's resolution as this device reports it: the smallest positive duration of 32
/// timestamped passes around a tiny dispatch, ms. A browser may quantize timestamps (Chrome
/// to 100 us unless its WebGPU developer features are on), which shows here as a step far
/// above the kernel's time. `None` without timestamps or when every duration was 0.
pub async fn timer_resolution_async(ctx: &GpuContext) -> Result<Option<f64>> {
    if !ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
        return Ok(None);
    }
    const PASSES: usize = 32;
    let x = buffers::upload(ctx, "resolution x", &[1.0f32; 64]);
    let y = buffers::zeroed(ctx, "resolution y", 64 * 4);
    let d = Builder::new(ctx).activation(64, Act::Relu, &x, &y)?;
    let groups: Vec<Vec<&Dispatch>> = (0..PASSES).map(|_| vec![&d]).collect();
    let q = Queries::new(&ctx.device, 2 * PASSES as u32);
    let times = time_groups_once(ctx, TimingMethod::TimestampPass, Some(&q), &groups).await?;
    Ok(times
        .into_iter()
        .filter(|t| *t > 0.0)
        .min_by(f64::total_cmp))
}
