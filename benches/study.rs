//! The default trade-off study on the local GPU: `cargo bench --bench study`.
//!
//! Runs `splitbench tradeoff` for resnet18-cifar (3x32x32, 10 classes, as in Shao & Zhang),
//! mobilenet_v2 (3x224x224, ImageNet size; about 40 s on lavapipe) and the trained
//! resnet18-cifar of models/ (width 16, 1x28x28 Fashion-MNIST, with its accuracy table when
//! `ACCURACY_TABLE` exists, giving chart (f), and `--min-accuracy` one point below the base
//! model's accuracy in it, the paper's constraint) and writes
//! `results/<device>/<run>/{tradeoff,layers,candidates,cdf}.csv`, `manifest.json` and the
//! charts. Modest repetitions (`STUDY_REPS`, 5 on CPU adapters) keep it short; the
//! manifests record them. Without `--bench` (`cargo test --benches`) it only says it skipped.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use splitbench::gpu::GpuContext;
use std::path::Path;
use std::process::Command;

/// The accuracy table of the trained width-16 Fashion-MNIST model, relative to the
/// repository root; used when present (it is produced separately, not by this bench).
const ACCURACY_TABLE: &str = "results/accuracy/resnet18-cifar-w16-fashion-mnist/accuracy_table.csv";

/// The accuracy of device-only (`fc/none`, the unchanged base model) in an accuracy table.
fn base_accuracy(table: &Path) -> Result<Option<f64>> {
    let text =
        std::fs::read_to_string(table).with_context(|| format!("reading {}", table.display()))?;
    for line in text.lines() {
        if let Some(v) = line.trim().strip_prefix("fc/none,") {
            let v: f64 = v
                .trim()
                .parse()
                .with_context(|| format!("{}: accuracy `{v}` of fc/none", table.display()))?;
            return Ok(Some(v));
        }
    }
    Ok(None)
}

fn main() -> Result<()> {
    if !std::env::args().any(|a| a == "--bench") {
        println!("study: skipped in test mode (run `cargo bench --bench study`)");
        return Ok(());
    }
    let ctx = match GpuContext::new(None) {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("SPLITBENCH_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                bail!("SPLITBENCH_REQUIRE_GPU=1 but {e}");
            }
            println!("skipped: no adapter ({e})");
            return Ok(());
        }
    };
    let device = ctx.summary.file_safe_name();
    let cpu = ctx.summary.device_type == "Cpu";
    drop(ctx);
    let reps = std::env::var("STUDY_REPS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(if cpu { 5 } else { 20 });
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("results").join(&device);
    // (output folder, model, flags)
    let mut runs: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "resnet18-cifar",
            "resnet18-cifar",
            vec![
                "--input".into(),
                "3x32x32".into(),
                "--classes".into(),
                "10".into(),
                "--input-note".into(),
                "3x32x32 CIFAR-10 input, 10 classes, as in Shao & Zhang".into(),
            ],
        ),
        (
            "mobilenet_v2",
            "mobilenet_v2",
            vec![
                "--input".into(),
                "3x224x224".into(),
                "--input-note".into(),
                "3x224x224 ImageNet input, 1000 classes".into(),
            ],
        ),
    ];
    let mut fashion: Vec<String> = [
        "--input",
        "1x28x28",
        "--classes",
        "10",
        "--width",
        "16",
        "--input-note",
        "1x28x28 Fashion-MNIST, 10 classes, width 16 (the trained model of models/)",
    ]
    .map(String::from)
    .to_vec();
    // Relative, so the manifest and chart (f) name it as in the repository.
    if manifest_dir.join(ACCURACY_TABLE).is_file() {
        fashion.extend(["--accuracy-table".into(), ACCURACY_TABLE.into()]);
        // The paper's constraint: within 1 point of the base model (device-only's row).
        match base_accuracy(&manifest_dir.join(ACCURACY_TABLE))? {
            Some(base) => {
                fashion.extend(["--min-accuracy".into(), format!("{:.2}", base - 1.0)]);
            }
            None => println!(
                "note: no device-only row (`fc/none`) in {ACCURACY_TABLE}: no --min-accuracy"
            ),
        }
    } else {
        println!("note: {ACCURACY_TABLE} does not exist yet: resnet18-cifar-w16-fashion-mnist runs without accuracies (no chart f)");
    }
    runs.push((
        "resnet18-cifar-w16-fashion-mnist",
        "resnet18-cifar",
        fashion,
    ));
    let pb = ProgressBar::new(runs.len() as u64);
    pb.set_style(
        ProgressStyle::with_template("study {pos}/{len} [{bar:20}] {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    for (folder, model, extra) in &runs {
        pb.set_message(folder.to_string());
        let out = root.join(folder);
        let reps_s = reps.to_string();
        let mut args: Vec<&str> = vec!["tradeoff", "--model", model, "--reps", &reps_s];
        args.extend(extra.iter().map(String::as_str));
        let out_s = out.to_string_lossy().to_string();
        args.extend(["--out", &out_s]);
        let status = pb.suspend(|| {
            println!("== splitbench {}", args.join(" "));
            Command::new(env!("CARGO_BIN_EXE_splitbench"))
                .current_dir(manifest_dir)
                .args(&args)
                .status()
                .context("running splitbench")
        })?;
        if !status.success() {
            bail!("splitbench tradeoff --model {model} ({folder}) failed ({status})");
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    println!("study written to {}", root.display());
    Ok(())
}
