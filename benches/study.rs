//! The default trade-off study on the local GPU: `cargo bench --bench study`.
//!
//! Runs the study (`splitbench::study`: measure, plan, write) for resnet18-cifar (3x32x32,
//! 10 classes, as in Shao & Zhang), mobilenet_v2 (3x224x224, ImageNet size) and the trained
//! resnet18-cifar of models/ (width 16, 1x28x28 Fashion-MNIST, with its accuracy table when
//! [`ACCURACY_TABLE`] exists, giving chart (f), and a minimum accuracy one point below the
//! base model's accuracy in it, the paper's constraint), on one GPU context, and writes
//! `results/<device>/<run>/` (CSVs, charts, manifest). Modest repetitions (5 on CPU
//! adapters, 20 on GPUs; 4x as many with `SPLITBENCH_BENCH=full`) keep it short; the
//! manifests record them. Without `--bench` (`cargo test --benches`) it only says it
//! skipped.

mod common;

use anyhow::{bail, Result};
use splitbench::gpu::GpuContext;
use splitbench::model::{self, Shape, ZooOptions};
use splitbench::study::{self, AccuracyTable, Progress, TradeoffOptions};
use std::path::Path;
use std::time::Instant;

/// The accuracy table of the trained width-16 Fashion-MNIST model, relative to the
/// repository root; used when present (it is produced separately, not by this bench).
const ACCURACY_TABLE: &str = "results/accuracy/resnet18-cifar-w16-fashion-mnist/accuracy_table.csv";

/// One study of the bench.
struct Run {
    /// Folder under `results/<device>/`.
    folder: &'static str,
    model: &'static str,
    opts: ZooOptions,
    note: &'static str,
    /// Whether the accuracy table applies.
    accuracy: bool,
}

/// A one-line log of the stages on stderr (the bench runs without a terminal in CI).
struct Log(Instant);

impl Progress for Log {
    fn stage(&mut self, what: &str, total: Option<usize>) {
        let n = total.map(|n| format!(" ({n})")).unwrap_or_default();
        eprintln!("  {:>6.1} s  {what}{n}", self.0.elapsed().as_secs_f64());
    }
    fn step(&mut self) {}
}

fn main() -> Result<()> {
    if !std::env::args().any(|a| a == "--bench") {
        println!("study: skipped in test mode (run `cargo bench --bench study`)");
        return Ok(());
    }
    let ctx = match GpuContext::new(std::env::var("SPLITBENCH_ADAPTER").ok().as_deref()) {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("SPLITBENCH_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                bail!("SPLITBENCH_REQUIRE_GPU=1 but {e}");
            }
            println!("skipped: no adapter ({e})");
            return Ok(());
        }
    };
    let cpu = ctx.summary.device_type == "Cpu";
    let reps = if cpu { 5 } else { 20 } * if common::full() { 4 } else { 1 };
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .join("results")
        .join(ctx.summary.file_safe_name());
    let runs = [
        Run {
            folder: "resnet18-cifar",
            model: "resnet18-cifar",
            opts: ZooOptions {
                input: Some(Shape::new(3, 32, 32)),
                classes: Some(10),
                width: None,
            },
            note: "3x32x32 CIFAR-10 input, 10 classes, as in Shao & Zhang",
            accuracy: false,
        },
        Run {
            folder: "mobilenet_v2",
            model: "mobilenet_v2",
            opts: ZooOptions {
                input: Some(Shape::new(3, 224, 224)),
                ..Default::default()
            },
            note: "3x224x224 ImageNet input, 1000 classes",
            accuracy: false,
        },
        Run {
            folder: "resnet18-cifar-w16-fashion-mnist",
            model: "resnet18-cifar",
            opts: ZooOptions {
                input: Some(Shape::new(1, 28, 28)),
                classes: Some(10),
                width: Some(16),
            },
            note: "1x28x28 Fashion-MNIST, 10 classes, width 16 (the trained model of models/)",
            accuracy: true,
        },
    ];
    // Relative, so the manifest and chart (f) name it as in the repository.
    let table = if manifest_dir.join(ACCURACY_TABLE).is_file() {
        let mut t = AccuracyTable::read(&manifest_dir.join(ACCURACY_TABLE))?;
        t.path = ACCURACY_TABLE.into();
        Some(t)
    } else {
        println!(
            "note: {ACCURACY_TABLE} does not exist yet: resnet18-cifar-w16-fashion-mnist runs \
             without accuracies (no chart f)"
        );
        None
    };
    for run in &runs {
        let t0 = Instant::now();
        let mut opts = TradeoffOptions {
            reps,
            input_note: Some(run.note.into()),
            ..Default::default()
        };
        if run.accuracy {
            if let Some(t) = &table {
                // The paper's constraint: within 1 point of the base model (device-only).
                opts.min_accuracy = t.device_only().map(|base| {
                    // Two decimals, as the table's accuracies.
                    ((base - 1.0) * 100.0).round() / 100.0
                });
                if opts.min_accuracy.is_none() {
                    println!("note: no device-only row in {ACCURACY_TABLE}: no minimum accuracy");
                }
                opts.accuracy = Some(t.clone());
            }
        }
        println!(
            "== {} ({}, {reps} reps)",
            run.folder,
            run.opts.input.map(|s| s.to_string()).unwrap_or_default()
        );
        let p = model::prepare(run.model, &run.opts, None, opts.seed)?;
        let m = study::measure(&ctx, &p, &opts, &mut Log(t0))?;
        let r = study::plan(&m, &opts)?;
        let out = root.join(run.folder);
        let w = study::write(&out, &m, &r, &opts)?;
        print!("{}", study::summary_text(&r.summaries));
        println!(
            "wrote {} files to {} in {:.1} s",
            w.files.len(),
            out.display(),
            t0.elapsed().as_secs_f64()
        );
    }
    println!("study written to {}", root.display());
    Ok(())
}
