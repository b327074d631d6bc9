//! `splitbench accuracy`: every configuration of the study through the GPU split pipeline;
//! the accuracy table `tradeoff --accuracy-table` reads.

use super::args::{GpuEvalArgs, TrainedModelArgs};
use anyhow::Result;
use splitbench::eval::TrainedFiles;
use splitbench::study::accuracy::{
    self, AccuracyEvent, Evaluation, DETAIL_CSV, SUMMARY_CSV, TABLE_CSV,
};
use std::path::PathBuf;

/// Flags of `splitbench accuracy`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    m: TrainedModelArgs,
    // Every configuration is evaluated on the first --limit test images (default: all).
    #[command(flatten)]
    gpu: GpuEvalArgs,
    /// Output folder: `accuracy.csv` (details) and `accuracy_table.csv` (`config,accuracy`
    /// in percent, for `tradeoff --accuracy-table`). Configurations already in
    /// `accuracy.csv` with the same image count are kept, not re-evaluated.
    #[arg(long)]
    out: PathBuf,
}

/// Evaluates what is missing, writes the three files, prints the summary.
pub fn run(a: &Args) -> Result<()> {
    let p = a.m.prepare()?;
    let test = a.m.test_set()?;
    let ctx = a.gpu.adapter.context()?;
    let files = TrainedFiles::beside(&a.m.weights_file()?);
    let detail = a.out.join(DETAIL_CSV);
    let e = Evaluation {
        ctx: &ctx,
        model: &p,
        files: &files,
        test: &test,
        batch: a.gpu.batch,
    };
    let summary = accuracy::run(&e, a.gpu.limit, &a.out, &mut |e| match e {
        AccuracyEvent::Start {
            configs,
            kept,
            images,
        } => println!(
            "{configs} configurations of {} on the first {images} {} test images, GPU engine \
                 on {} ({kept} already in {})",
            a.m.model,
            a.m.data.dataset.name(),
            ctx.summary.name,
            detail.display()
        ),
        AccuracyEvent::Evaluated {
            index,
            configs,
            row,
        } => println!(
            "[{}/{configs}] {}: {:.2}% ({}/{}){} in {:.1} s",
            index + 1,
            row.config,
            row.accuracy_pct,
            row.correct,
            row.images,
            row.frame_bytes
                .map(|b| format!(", {b} B/image"))
                .unwrap_or_default(),
            row.seconds
        ),
    })?;
    for r in &summary {
        println!(
            "{}: {} {:.2}% ({:+.2} points vs the base model), {} B/image, {:.1}x fewer than f32",
            r.split, r.config, r.accuracy_pct, r.gap_points, r.frame_bytes, r.reduction_vs_f32
        );
    }
    println!(
        "wrote {}, {} and {}",
        detail.display(),
        a.out.join(TABLE_CSV).display(),
        a.out.join(SUMMARY_CSV).display()
    );
    Ok(())
}
