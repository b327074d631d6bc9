//! The GPU clock: timing methods, statistics and the timestamp core that times groups of
//! dispatches; after `buffers` in `gpu`'s order, before `launch`.
//!
//! Preferred: timestamps written between the dispatches of one compute pass
//! (`timestamp-inside-pass`); else one pass per group with pass-boundary timestamps
//! (`timestamp-pass`); else wall clock around a submission followed by a completed
//! `device.poll(wait)` (`wall-clock`, which includes submission and driver overhead).

use super::buffers::map_read;
use super::context::GpuContext;
use super::dispatch::{encode_all, Dispatch};
use crate::error::{Error, Result};
use web_time::Instant;

/// How a time was measured; recorded in every CSV row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum TimingMethod {
    /// `write_timestamp` between dispatches of one pass.
    #[serde(rename = "timestamp-inside-pass")]
    TimestampInsidePass,
    /// Timestamps at the boundaries of a pass per node (or of the one whole-range pass).
    #[serde(rename = "timestamp-pass")]
    TimestampPass,
    /// Host clock around submit + wait.
    #[serde(rename = "wall-clock")]
    WallClock,
}

impl TimingMethod {
    /// The name written in CSVs and manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            TimingMethod::TimestampInsidePass => "timestamp-inside-pass",
            TimingMethod::TimestampPass => "timestamp-pass",
            TimingMethod::WallClock => "wall-clock",
        }
    }

    /// How a whole range in one submission is timed: pass timestamps, else wall clock.
    pub fn best_whole(features: wgpu::Features) -> Self {
        if features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            TimingMethod::TimestampPass
        } else {
            TimingMethod::WallClock
        }
    }

    /// The best per-node method the device supports.
    pub fn best_per_node(features: wgpu::Features) -> Self {
        if features.contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES) {
            TimingMethod::TimestampInsidePass
        } else if features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            TimingMethod::TimestampPass
        } else {
            TimingMethod::WallClock
        }
    }
}

/// Median and spread of repeated measurements, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Median.
    pub median_ms: f64,
    /// 5th percentile.
    pub p5_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// Number of samples.
    pub count: usize,
}

impl Stats {
    /// Percentiles by linear interpolation between order statistics.
    pub fn of(samples: &[f64]) -> Self {
        let mut s: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
        s.sort_by(f64::total_cmp);
        Self {
            median_ms: percentile(&s, 0.5),
            p5_ms: percentile(&s, 0.05),
            p95_ms: percentile(&s, 0.95),
            count: s.len(),
        }
    }
}

/// The `q`-quantile (0..=1) of sorted values, interpolated; 0 for no values.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        }
    }
}

/// A timestamp query set with its resolve and readback buffers, `count` timestamps.
pub(crate) struct Queries {
    pub(crate) set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    staging: wgpu::Buffer,
    count: u32,
}

impl Queries {
    pub(crate) fn new(dev: &wgpu::Device, count: u32) -> Self {
        let bytes = count as u64 * 8;
        Self {
            set: dev.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count,
            }),
            resolve: dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamp resolve"),
                size: bytes,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
            staging: dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamp readback"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            count,
        }
    }

    pub(crate) fn finish(&self, enc: &mut wgpu::CommandEncoder) {
        enc.resolve_query_set(&self.set, 0..self.count, &self.resolve, 0);
        enc.copy_buffer_to_buffer(&self.resolve, 0, &self.staging, 0, self.count as u64 * 8);
    }

    /// Durations in ms of the pairs (2i, 2i+1), read on `ctx`.
    pub(crate) async fn read_pairs(&self, ctx: &GpuContext) -> Result<Vec<f64>> {
        let ticks: Vec<u64> = map_read(ctx, &self.staging, self.count as u64 * 8).await?;
        let period_ns = ctx.timestamp_period_ns();
        Ok(ticks
            .chunks(2)
            .map(|p| p[1].saturating_sub(p[0]) as f64 * period_ns / 1e6)
            .collect())
    }
}

/// Submits `enc` and waits for the GPU.
pub(crate) fn submit(ctx: &GpuContext, enc: wgpu::CommandEncoder) -> Result<()> {
    ctx.queue.submit([enc.finish()]);
    ctx.wait()
}

/// [`submit`] for callers that cannot block (a browser).
pub(crate) async fn submit_async(ctx: &GpuContext, enc: wgpu::CommandEncoder) -> Result<()> {
    ctx.queue.submit([enc.finish()]);
    ctx.wait_async().await
}

/// One measurement of each group of dispatches, in ms: with `InsidePass`, timestamps
/// around each group inside one pass; with `Pass`, one timestamped pass per group; with
/// wall clock (or without `q`), one submission per group timed up to a completed wait.
/// `q` holds two timestamps per group.
pub(crate) async fn time_groups_once(
    ctx: &GpuContext,
    method: TimingMethod,
    q: Option<&Queries>,
    groups: &[Vec<&Dispatch>],
) -> Result<Vec<f64>> {
    let dev = &ctx.device;
    let Some(q) = q.filter(|_| method != TimingMethod::WallClock) else {
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            let mut enc = dev.create_command_encoder(&Default::default());
            encode_all(
                &mut enc.begin_compute_pass(&Default::default()),
                g.iter().copied(),
            );
            let t = Instant::now();
            submit_async(ctx, enc).await?;
            out.push(t.elapsed().as_secs_f64() * 1e3);
        }
        return Ok(out);
    };
    let mut enc = dev.create_command_encoder(&Default::default());
    if method == TimingMethod::TimestampInsidePass {
        let mut pass = enc.begin_compute_pass(&Default::default());
        for (i, g) in groups.iter().enumerate() {
            pass.write_timestamp(&q.set, 2 * i as u32);
            encode_all(&mut pass, g.iter().copied());
            pass.write_timestamp(&q.set, 2 * i as u32 + 1);
        }
    } else {
        for (i, g) in groups.iter().enumerate() {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &q.set,
                    beginning_of_pass_write_index: Some(2 * i as u32),
                    end_of_pass_write_index: Some(2 * i as u32 + 1),
                }),
            });
            encode_all(&mut pass, g.iter().copied());
        }
    }
    q.finish(&mut enc);
    ctx.queue.submit([enc.finish()]);
    q.read_pairs(ctx).await
}

/// Times arbitrary groups of dispatches (e.g. the encode and the decode of a feature):
/// `warmup` untimed runs of every group, then `reps` timed runs, each group timed on its own
/// with the best method the device supports (timestamps around the group inside one pass,
/// else one timestamped pass per group, else wall clock around submit + wait per group).
/// Returns the method and one [`Stats`] per group.
pub fn time_dispatch_groups(
    ctx: &GpuContext,
    groups: &[Vec<Dispatch>],
    warmup: usize,
    reps: usize,
) -> Result<(TimingMethod, Vec<Stats>)> {
    pollster::block_on(time_dispatch_groups_async(ctx, groups, warmup, reps))
}

/// [`time_dispatch_groups`] for callers that cannot block (a browser).
pub async fn time_dispatch_groups_async(
    ctx: &GpuContext,
    groups: &[Vec<Dispatch>],
    warmup: usize,
    reps: usize,
) -> Result<(TimingMethod, Vec<Stats>)> {
    if reps == 0 {
        return Err(Error::InvalidArg("reps must be at least 1".into()));
    }
    let method = TimingMethod::best_per_node(ctx.features);
    let groups: Vec<Vec<&Dispatch>> = groups.iter().map(|g| g.iter().collect()).collect();
    let n = groups.len() as u32;
    let q = (method != TimingMethod::WallClock && n > 0).then(|| Queries::new(&ctx.device, 2 * n));
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
    for _ in 0..warmup {
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        encode_all(
            &mut enc.begin_compute_pass(&Default::default()),
            groups.iter().flatten().copied(),
        );
        submit_async(ctx, enc).await?;
    }
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(reps); groups.len()];
    for _ in 0..reps {
        let times = time_groups_once(ctx, method, q.as_ref(), &groups).await?;
        for (acc, t) in samples.iter_mut().zip(times) {
            acc.push(t);
        }
    }
    if let Some(e) = scope.pop().await {
        return Err(Error::gpu_from("timed run", e));
    }
    Ok((method, samples.iter().map(|s| Stats::of(s)).collect()))
}
