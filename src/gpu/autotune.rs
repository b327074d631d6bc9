//! Choosing a convolution's plan by measurement on the device; after `launch` in `gpu`'s
//! order, before `executor`, which asks it for the plan of every convolution it prepares.
//!
//! The best tile differs between a CPU implementation, a laptop iGPU, a discrete card and
//! a phone, so the candidates of [`tiling::candidates`] are timed on the device itself,
//! with GPU timestamps, on the layer's own buffers: after one untimed run of each (a
//! driver may compile a pipeline on its first dispatch), one round of all of them (each in a
//! submission of its own, `time_alone`), then three more of those within
//! [`KEEP_WITHIN`] of the fastest, each keeping its fastest run (the least disturbed by
//! whatever else the machine does); then a final of the [`FINALISTS`] fastest and the
//! heuristic's pick, [`FINAL_RUNS`] runs each, alternating, won by the lowest median (what
//! the layer's later runs will take). The choice is kept for the context and in the cache
//! file (`tilecache`), so a second run measures nothing. Without timestamps, or with
//! autotuning off, the heuristic picks.

use super::clock::{submit, time_groups_once, Queries, Stats, TimingMethod};
use super::context::GpuContext;
use super::dispatch::{encode_all, Dispatch};
use super::launch::Builder;
use super::tilecache::{TileChoice, TileSource};
use super::tiling::{self, ConvPlan, ConvShape};
use crate::error::{Error, Result};
use crate::model::{Conv2d, Shape};
use web_time::Instant;

/// Candidates slower than this factor times the fastest after the first round are not
/// timed again (generous: one disturbed first run must not drop the best candidate).
pub const KEEP_WITHIN: f64 = 2.0;
/// Rounds of timing (the first over every candidate).
pub const ROUNDS: usize = 4;
/// Candidates, by their fastest run over the rounds, that go to the final.
pub const FINALISTS: usize = 4;
/// Runs of each finalist in the final, alternating; the lowest median wins.
pub const FINAL_RUNS: usize = 5;

/// The buffers of one convolution, as [`Builder::conv2d_planned`] binds them.
#[derive(Clone, Copy)]
pub struct ConvBuffers<'b> {
    /// Input.
    pub x: &'b wgpu::Buffer,
    /// Weights `[out_c, in_c / groups, kh, kw]`.
    pub weight: &'b wgpu::Buffer,
    /// Bias, if any.
    pub bias: Option<&'b wgpu::Buffer>,
    /// Residual added before the activation, if any.
    pub residual: Option<&'b wgpu::Buffer>,
    /// Output.
    pub y: &'b wgpu::Buffer,
}

/// The plan for `c` on `batch` inputs of shape `input`: chosen earlier (in this process or
/// a previous one, see `tilecache`), else measured among the candidates with `bufs` (which
/// it overwrites: call it before the layer runs), else the heuristic's.
pub fn choose(
    ctx: &GpuContext,
    c: &Conv2d,
    batch: usize,
    input: Shape,
    bufs: ConvBuffers<'_>,
) -> Result<TileChoice> {
    let shape = ConvShape::new(c, batch, input)?;
    let k = Builder::new(ctx);
    // Held throughout: a second thread asking for the same shape waits for this answer
    // instead of measuring it again.
    let mut tiles = ctx.tiles();
    if let Some(choice) = tiles.lookup(&shape) {
        return Ok(choice);
    }
    let timed = ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY);
    if !tiles.autotune() || !timed {
        let choice = TileChoice {
            plan: tiling::heuristic(&shape, k.device_class())?,
            source: TileSource::Heuristic,
            ms: None,
        };
        tiles.record(choice, 0.0);
        return Ok(choice);
    }
    let t0 = Instant::now();
    let (plan, ms) = measure(ctx, &k, c, &shape, bufs)?;
    let choice = TileChoice {
        plan,
        source: TileSource::Tuned,
        ms: Some(ms),
    };
    tiles.record(choice, t0.elapsed().as_secs_f64() * 1e3);
    Ok(choice)
}

/// The fastest candidate for `shape` and its time in ms.
fn measure(
    ctx: &GpuContext,
    k: &Builder<'_>,
    c: &Conv2d,
    shape: &ConvShape,
    b: ConvBuffers<'_>,
) -> Result<(ConvPlan, f64)> {
    let mut cands: Vec<(ConvPlan, Vec<Dispatch>, f64)> = Vec::new();
    for plan in tiling::candidates(shape, k.device_class())? {
        // A candidate the device cannot run (a scratch or packed buffer over its limits)
        // is no candidate.
        if let Ok(d) = k.conv2d_planned(&plan, c, b.x, b.weight, b.bias, b.residual, b.y) {
            cands.push((plan, d, f64::INFINITY));
        }
    }
    if cands.is_empty() {
        return Err(Error::Unsupported(format!(
            "no kernel can compute conv {} on this device",
            shape.key()
        )));
    }
    let method = TimingMethod::best_per_node(ctx.features);
    let q = Queries::new(&ctx.device, 2);
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
    // One untimed run of every candidate first: a driver may compile a pipeline on its
    // first dispatch (llvmpipe does), which must not count against the candidate.
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    encode_all(
        &mut enc.begin_compute_pass(&Default::default()),
        cands.iter().flat_map(|c| c.1.iter()),
    );
    submit(ctx, enc)?;
    for round in 0..ROUNDS {
        if round == 1 {
            let best = cands.iter().map(|c| c.2).fold(f64::INFINITY, f64::min);
            cands.retain(|c| c.2 <= best * KEEP_WITHIN);
        }
        for cand in cands.iter_mut() {
            cand.2 = cand.2.min(time_alone(ctx, method, &q, &cand.1)?);
        }
    }
    // The final: the fastest few by their fastest run, plus the heuristic's pick (first,
    // so that it wins a tie), timed again side by side; the lowest median wins. A
    // candidate's fastest run finds the contenders, but a tile that is only sometimes fast
    // (bimodal on a CPU adapter: 512x4x4 -> 512 3x3 had the lowest 5th percentile of all
    // its tiles and a median 1.37x the best one's) would be a slow pick in every later run.
    let heuristic = tiling::heuristic(shape, k.device_class())?;
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&a, &b| cands[a].2.total_cmp(&cands[b].2));
    order.truncate(FINALISTS);
    if let Some(h) = cands.iter().position(|c| c.0 == heuristic) {
        if !order.contains(&h) {
            order.push(h);
        }
    }
    order.sort_unstable();
    let mut runs = vec![Vec::with_capacity(FINAL_RUNS); order.len()];
    for _ in 0..FINAL_RUNS {
        for (i, &c) in order.iter().enumerate() {
            runs[i].push(time_alone(ctx, method, &q, &cands[c].1)?);
        }
    }
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(Error::gpu_from("timing convolution tiles", e));
    }
    let medians: Vec<f64> = runs.iter().map(|r| Stats::of(r).median_ms).collect();
    let mut win = 0;
    for i in 1..order.len() {
        if medians[i] < medians[win] {
            win = i;
        }
    }
    Ok((cands[order[win]].0, medians[win]))
}

/// One candidate's time in ms, timed in a submission of its own. Candidates share the
/// layer's output buffer, so in one pass every candidate after the first would wait on a
/// barrier inside its timed region: on llvmpipe that costs 30-60 us, a third of a small
/// layer's time, and handed the first candidate (the heuristic's pick) every close race.
fn time_alone(ctx: &GpuContext, method: TimingMethod, q: &Queries, d: &[Dispatch]) -> Result<f64> {
    let group = [d.iter().collect::<Vec<&Dispatch>>()];
    Ok(pollster::block_on(time_groups_once(ctx, method, Some(q), &group))?[0])
}
