//! `splitbench eval`: top-1 accuracy of trained weights on a test set through the GPU
//! engine, for the whole model or one configuration of the study.

use super::args::{GpuEvalArgs, TrainedModelArgs};
use anyhow::Result;
use splitbench::compress::Config;
use splitbench::eval::TrainedFiles;
use splitbench::study::accuracy::{evaluate_config, Evaluation};

/// Flags of `splitbench eval`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    m: TrainedModelArgs,
    #[command(flatten)]
    gpu: GpuEvalArgs,
    /// A configuration of the study, `<split node>/<variant>` (e.g.
    /// `layer2.1.conv2/bn8+4bit-tensor`): evaluates the whole split pipeline (device part,
    /// bottleneck, quantize/pack, wire frame, unpack, edge part). Its trained files are
    /// found next to --weights (see models/README.md). Default: the whole model.
    #[arg(long, value_parser = config)]
    config: Option<Config>,
}

/// A configuration in the study's grammar (`--config`).
fn config(s: &str) -> Result<Config, String> {
    s.parse().map_err(|e: splitbench::Error| e.to_string())
}

/// Evaluates and prints one line.
pub fn run(a: &Args) -> Result<()> {
    let p = a.m.prepare()?;
    let g = &p.model.graph;
    let config = a.config.clone().unwrap_or_else(|| Config::device_only(g));
    // A configuration that does not fit the model is refused before any data or GPU work.
    config.resolve(g)?;
    let test = a.m.test_set()?;
    let ctx = a.gpu.adapter.context()?;
    let files = TrainedFiles::beside(&a.m.weights_file()?);
    let e = Evaluation {
        ctx: &ctx,
        model: &p,
        files: &files,
        test: &test,
        batch: a.gpu.batch,
    };
    let t0 = std::time::Instant::now();
    let r = evaluate_config(&e, &config, a.gpu.limit)?;
    let what = match (&a.config, r.frame_bytes) {
        (None, _) => "whole model".to_string(),
        (Some(c), Some(b)) => format!("config {c} ({b} frame bytes per image)"),
        (Some(c), None) => format!("config {c}"),
    };
    let acc = r.accuracy;
    println!(
        "{} ({}, {what}) on {} test set, {} images, GPU engine on {} ({}), batch {}: top-1 {:.2}% ({}/{}) in {:.1} s",
        a.m.model,
        a.m.weights_file()?.display(),
        a.m.data.dataset.name(),
        acc.total,
        ctx.summary.name,
        ctx.summary.backend,
        a.gpu.batch,
        100.0 * acc.top1(),
        acc.correct,
        acc.total,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
