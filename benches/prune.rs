//! Device time of compacted (structurally pruned) prefixes of resnet18-cifar: for uniform
//! pruning ratios 0, 0.25, 0.5, 0.75, 0.9 the model is compacted, then the device part up
//! to each paper split point (stem, layer1..layer4) is timed on the local GPU with
//! `gpu::profile_whole` (the whole prefix in one submission, GPU timestamps where the
//! adapter has them). Prints a table and writes `results/<adapter>/prune_speedup.csv` with a
//! manifest beside it.
//!
//! `cargo bench --bench prune` runs the measurement (3x32x32, width 64, batch 1, 5 reps; 20
//! with `SPLITBENCH_BENCH=full`); `cargo test --benches` runs a tiny version (width 8, two
//! ratios, one rep) and writes nothing. `SPLITBENCH_ADAPTER` picks the adapter.

mod common;

use anyhow::Context;
use splitbench::compress::{compact, PruneConfig};
use splitbench::gpu::{profile_whole, Executor, GpuContext};
use splitbench::model::{self, paper_split_points, ZooOptions};
use splitbench::report::{self, RunInfo};
use splitbench::tensor::Rng;

/// One row of `prune_speedup.csv`: one pruning ratio and one split point.
#[derive(serde::Serialize)]
struct PruneSpeedupRow {
    model: String,
    /// Uniform pruning ratio of every stage.
    ratio: f32,
    /// Paper split point (`stem`, `layer1` .. `layer4`).
    split: String,
    /// Last node run on the device.
    split_node: String,
    batch: usize,
    /// FLOPs of the device prefix per sample.
    device_flops: u64,
    /// FLOPs relative to the unpruned prefix.
    flops_fraction: f64,
    /// Learnable parameters of the prefix.
    device_params: u64,
    /// Feature at the split, `C x H x W`.
    feature_shape: String,
    /// Feature size per sample as f32.
    feature_bytes: usize,
    device_ms_median: f64,
    device_ms_p5: f64,
    device_ms_p95: f64,
    reps: usize,
    /// Unpruned median / this median, same split.
    speedup: f64,
    timing: String,
}

#[derive(serde::Serialize)]
struct Manifest {
    #[serde(flatten)]
    run: RunInfo,
    model: String,
    input: String,
    width: usize,
    weights: String,
    ranking: &'static str,
    batch: usize,
    warmup: usize,
    reps: usize,
    ratios: Vec<f32>,
}

fn main() -> anyhow::Result<()> {
    let bench = std::env::args().any(|a| a == "--bench");
    let ctx = match GpuContext::new(std::env::var("SPLITBENCH_ADAPTER").ok().as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skipped: no adapter ({e})");
            return Ok(());
        }
    };
    let (width, ratios, warmup, reps): (usize, Vec<f32>, usize, usize) = if bench {
        let reps = if common::full() { 20 } else { 5 };
        (64, vec![0.0, 0.25, 0.5, 0.75, 0.9], 2, reps)
    } else {
        (8, vec![0.0, 0.5], 0, 1)
    };
    let batch = 1;
    let name = "resnet18-cifar";
    let opts = ZooOptions {
        width: Some(width),
        ..Default::default()
    };
    let seed = 7;
    let prepared = model::prepare(name, &opts, None, seed)?;
    let base = &prepared.model;
    let input = base.graph.input_shape();
    let x = Rng::new(1).vec(batch * input.numel(), -1.0, 1.0);
    let splits = paper_split_points(&base.graph);
    eprintln!(
        "prune bench on {} ({}), {name} {input} width {width}, batch {batch}, {reps} reps",
        ctx.summary.name, ctx.summary.backend
    );

    let mut rows: Vec<PruneSpeedupRow> = Vec::new();
    for &r in &ratios {
        let m = compact(base, &PruneConfig::uniform(r)?)?;
        for &(label, id) in &splits {
            let exec = Executor::new(&ctx, &m, 1..id + 1, batch, &[])?;
            exec.set_input(0, &x)?;
            // The prefix in one submission: its total is what the table compares.
            let (method, whole) = profile_whole(&exec, warmup, reps)?;
            let prefix = &m.graph.nodes[..=id];
            let flops: u64 = prefix.iter().map(|n| n.flops(&m.graph)).sum();
            let base_flops: u64 = base.graph.nodes[..=id]
                .iter()
                .map(|n| n.flops(&base.graph))
                .sum();
            let unpruned_ms = rows
                .iter()
                .find(|row| row.ratio == 0.0 && row.split == label)
                .map_or(whole.median_ms, |row| row.device_ms_median);
            let feat = m.graph.nodes[id].shape;
            rows.push(PruneSpeedupRow {
                model: name.into(),
                ratio: r,
                split: label.into(),
                split_node: m.graph.nodes[id].name.clone(),
                batch,
                device_flops: flops,
                flops_fraction: flops as f64 / base_flops as f64,
                device_params: prefix.iter().map(|n| n.param_count()).sum(),
                feature_shape: feat.to_string(),
                feature_bytes: feat.bytes_f32(),
                device_ms_median: whole.median_ms,
                device_ms_p5: whole.p5_ms,
                device_ms_p95: whole.p95_ms,
                reps: whole.count,
                speedup: unpruned_ms / whole.median_ms,
                timing: method.as_str().into(),
            });
        }
    }

    println!(
        "{:>5}  {:<6}  {:>13}  {:>6}  {:>11}  {:>10}  {:>8}",
        "ratio", "split", "device_flops", "flops", "feature", "median_ms", "speed-up"
    );
    for r in &rows {
        println!(
            "{:>5.2}  {:<6}  {:>13}  {:>5.1}%  {:>11}  {:>10.3}  {:>7.2}x",
            r.ratio,
            r.split,
            r.device_flops,
            100.0 * r.flops_fraction,
            r.feature_shape,
            r.device_ms_median,
            r.speedup
        );
    }
    if !bench {
        return Ok(());
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results")
        .join(ctx.summary.file_safe_name());
    let csv = dir.join("prune_speedup.csv");
    report::write_csv(&csv, &rows)?;
    let manifest = Manifest {
        run: RunInfo::new(&ctx.summary),
        model: name.into(),
        input: input.to_string(),
        width,
        weights: prepared.weights_source.clone(),
        ranking: "L1 norm of the fused (BN-folded) filters",
        batch,
        warmup,
        reps,
        ratios,
    };
    let mpath = dir.join("prune_speedup.manifest.json");
    std::fs::write(&mpath, serde_json::to_string_pretty(&manifest)?)
        .with_context(|| mpath.display().to_string())?;
    eprintln!("wrote {} and {}", csv.display(), mpath.display());
    Ok(())
}
