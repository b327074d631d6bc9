//! `splitbench eval`: top-1 accuracy of trained weights on a test set through the GPU
//! engine, for the whole model or one configuration of the study.

use super::args::{GpuEvalArgs, TrainedModelArgs};
use anyhow::Result;
use splitbench::compress::Config;
use splitbench::data::{self, Split};
use splitbench::eval::{self, TrainedFiles};
use splitbench::gpu::GpuContext;
use splitbench::model;
use splitbench::study::accuracy::{evaluate_config, Evaluation};

/// Flags of `splitbench eval`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub m: TrainedModelArgs,
    #[command(flatten)]
    pub gpu: GpuEvalArgs,
    /// A configuration of the study, `<split node>/<variant>` (e.g.
    /// `layer2.1.conv2/bn8+4bit-tensor`): evaluates the whole split pipeline (device part,
    /// bottleneck, quantize/pack, wire frame, unpack, edge part). Its trained files are
    /// found next to --weights (see models/README.md).
    #[arg(long, value_parser = config)]
    pub config: Option<Config>,
}

/// A configuration in the study's grammar (`--config`).
fn config(s: &str) -> Result<Config, String> {
    s.parse().map_err(|e: splitbench::Error| e.to_string())
}

/// The model, the test set and the adapter of an evaluation.
pub fn setup(
    m: &TrainedModelArgs,
    g: &GpuEvalArgs,
) -> Result<(model::Prepared, data::Dataset, GpuContext)> {
    let p = model::prepare(&m.model, &m.options(), Some(&m.weights), 0)?;
    let test = data::load(m.data.dataset, Split::Test, m.data.data.as_deref())?;
    let ctx = GpuContext::new(g.adapter.adapter.as_deref())?;
    Ok((p, test, ctx))
}

/// Evaluates and prints one line.
pub fn run(a: &Args) -> Result<()> {
    let (p, test, ctx) = setup(&a.m, &a.gpu)?;
    let t0 = std::time::Instant::now();
    let (acc, what) = match &a.config {
        Some(c) => {
            let files = TrainedFiles::beside(&a.m.weights);
            let e = Evaluation {
                ctx: &ctx,
                model: &p,
                files: &files,
                test: &test,
                batch: a.gpu.batch,
            };
            let r = evaluate_config(&e, c, a.gpu.limit)?;
            let what = match r.frame_bytes {
                Some(b) => format!("config {c} ({b} frame bytes per image)"),
                None => format!("config {c}"),
            };
            (r.accuracy, what)
        }
        None => {
            let mut clf = eval::GpuClassifier::new(&ctx, &p.model, a.gpu.batch)?;
            let acc = eval::accuracy(&mut clf, &test, a.gpu.limit, &mut |_, _| {})?;
            (acc, "whole model".to_string())
        }
    };
    println!(
        "{} ({}, {what}) on {} test set, {} images, GPU engine on {} ({}), batch {}: top-1 {:.2}% ({}/{}) in {:.1} s",
        a.m.model,
        a.m.weights.display(),
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
