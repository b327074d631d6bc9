//! The default trade-off study on the local GPU: `cargo bench --bench study`.
//!
//! Runs `splitbench tradeoff` for resnet18-cifar (3x32x32, 10 classes, as in Shao & Zhang)
//! and mobilenet_v2 (3x224x224, ImageNet size; about 40 s on lavapipe) and writes
//! `results/<device>/<model>/{tradeoff,layers,candidates,cdf}.csv`, `manifest.json` and the
//! charts. Modest repetitions (`STUDY_REPS`, 5 on CPU adapters) keep it short; the
//! manifests record them. Without `--bench` (`cargo test --benches`) it only says it skipped.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use splitbench::gpu::GpuContext;
use std::path::Path;
use std::process::Command;

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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results")
        .join(&device);
    let runs: Vec<(&str, Vec<String>)> = vec![
        (
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
            vec![
                "--input".into(),
                "3x224x224".into(),
                "--input-note".into(),
                "3x224x224 ImageNet input, 1000 classes".into(),
            ],
        ),
    ];
    let pb = ProgressBar::new(runs.len() as u64);
    pb.set_style(
        ProgressStyle::with_template("study {pos}/{len} [{bar:20}] {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    for (model, extra) in &runs {
        pb.set_message(model.to_string());
        let out = root.join(model);
        let reps_s = reps.to_string();
        let mut args: Vec<&str> = vec!["tradeoff", "--model", model, "--reps", &reps_s];
        args.extend(extra.iter().map(String::as_str));
        let out_s = out.to_string_lossy().to_string();
        args.extend(["--out", &out_s]);
        let status = pb.suspend(|| {
            println!("== splitbench {}", args.join(" "));
            Command::new(env!("CARGO_BIN_EXE_splitbench"))
                .args(&args)
                .status()
                .context("running splitbench")
        })?;
        if !status.success() {
            bail!("splitbench tradeoff --model {model} failed ({status})");
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    println!("study written to {}", root.display());
    Ok(())
}
