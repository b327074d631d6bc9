//! The `splitbench` command line.

mod accuracy_cli;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use splitbench::gpu::{self, Executor, GpuContext, TimingMethod};
use splitbench::model::{self, Shape, ZooOptions};
use splitbench::report::{self, ProfileManifest, RunInfo};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "splitbench",
    version,
    about = "GPU benchmarking harness for device-edge co-inference (split computing)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Model selection shared by the subcommands.
#[derive(clap::Args, Clone)]
struct ModelArgs {
    /// Zoo model: resnet18, resnet34, resnet50, vgg16, mobilenet_v2, alexnet, resnet18-cifar.
    #[arg(long)]
    model: String,
    /// Per-sample input shape CxHxW (default 3x224x224; 3x32x32 for resnet18-cifar).
    #[arg(long)]
    input: Option<String>,
    /// Number of classes (default 1000; 10 for resnet18-cifar).
    #[arg(long)]
    classes: Option<usize>,
    /// Base width of ResNets (resnet18-cifar default 64).
    #[arg(long)]
    width: Option<usize>,
}

impl ModelArgs {
    fn options(&self) -> Result<ZooOptions> {
        let input = match &self.input {
            None => None,
            Some(s) => Some(parse_shape(s)?),
        };
        Ok(ZooOptions {
            input,
            classes: self.classes,
            width: self.width,
        })
    }
}

fn parse_shape(s: &str) -> Result<Shape> {
    let dims: Vec<usize> = s
        .split(['x', 'X'])
        .map(|d| d.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            anyhow!("--input '{s}': expected CxHxW with positive integers, e.g. 3x32x32")
        })?;
    match dims[..] {
        [c, h, w] if c > 0 && h > 0 && w > 0 => Ok(Shape::new(c, h, w)),
        _ => bail!("--input '{s}': expected CxHxW with positive integers, e.g. 3x32x32"),
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// List every GPU adapter with its backend, type, driver, timing features and limits.
    Devices,
    /// Per-node table of a model, its totals and its split points.
    Inspect {
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Time every node of a model on the GPU; write a CSV and a JSON manifest.
    Profile {
        #[command(flatten)]
        model: ModelArgs,
        /// Batch size.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Timed repetitions.
        #[arg(long, default_value_t = 20)]
        reps: usize,
        /// Untimed warm-up runs.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Use the first adapter whose name contains this (case-insensitive).
        #[arg(long)]
        adapter: Option<String>,
        /// Weights (safetensors with torchvision key names); default: seeded random.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Seed of the random weights.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Per-node timing: auto, inside-pass, pass or wall-clock.
        #[arg(long, default_value = "auto")]
        timing: String,
        /// Output CSV; the manifest goes to the same path with .json.
        #[arg(long)]
        out: PathBuf,
    },
    /// Top-1 accuracy of trained weights on a test set, through the GPU engine.
    Eval(accuracy_cli::EvalArgs),
    /// Train a model on the CPU (candle) and write safetensors with torchvision keys.
    #[cfg(feature = "train")]
    Train(accuracy_cli::TrainArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes, outermost first.
            let msg: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", msg.join(": "));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Eval(a) => accuracy_cli::eval(&a),
        #[cfg(feature = "train")]
        Cmd::Train(a) => accuracy_cli::train(&a),
        Cmd::Devices => devices(),
        Cmd::Inspect { model } => inspect(&model),
        Cmd::Profile {
            model,
            batch,
            reps,
            warmup,
            adapter,
            weights,
            seed,
            timing,
            out,
        } => {
            if batch == 0 {
                bail!("--batch must be at least 1");
            }
            if reps == 0 {
                bail!("--reps must be at least 1");
            }
            let timing = match timing.as_str() {
                "auto" => None,
                "inside-pass" => Some(TimingMethod::TimestampInsidePass),
                "pass" => Some(TimingMethod::TimestampPass),
                "wall-clock" => Some(TimingMethod::WallClock),
                t => bail!("--timing '{t}': expected auto, inside-pass, pass or wall-clock"),
            };
            profile(
                &model,
                batch,
                reps,
                warmup,
                adapter.as_deref(),
                weights,
                seed,
                timing,
                &out,
            )
        }
    }
}

fn devices() -> Result<()> {
    let list = gpu::list_adapters();
    if list.is_empty() {
        bail!(
            "wgpu found no adapter (on Linux without a GPU: apt-get install mesa-vulkan-drivers)"
        );
    }
    for (i, a) in list.iter().enumerate() {
        println!(
            "[{i}] {} ({}, {}, driver {} {})",
            a.name, a.backend, a.device_type, a.driver, a.driver_info
        );
        println!(
            "    timestamps: pass={} inside-passes={} inside-encoders={}  f16={}  subgroups={} (sizes {}..{})",
            a.timestamps,
            a.timestamps_inside_passes,
            a.timestamps_inside_encoders,
            a.f16,
            a.subgroups,
            a.subgroup_sizes.0,
            a.subgroup_sizes.1
        );
        println!(
            "    limits: storage binding {} MiB, buffer {} MiB, workgroup storage {} KiB, {} invocations/workgroup, {} workgroups/dim",
            a.max_storage_buffer_binding_size >> 20,
            a.max_buffer_size >> 20,
            a.max_compute_workgroup_storage_size >> 10,
            a.max_compute_invocations_per_workgroup,
            a.max_compute_workgroups_per_dimension
        );
    }
    Ok(())
}

fn inspect(args: &ModelArgs) -> Result<()> {
    let p = model::prepare(&args.model, &args.options()?, None, 0)?;
    let g = &p.model.graph;
    println!(
        "{} (inference graph: batch norm folded, activations and residual adds fused)",
        g.name
    );
    println!(
        "{:>3}  {:<28} {:<9} {:>14} {:>14} {:>10} {:>12}",
        "id", "node", "op", "out_shape", "flops", "params", "out_bytes"
    );
    for (i, n) in g.nodes.iter().enumerate() {
        println!(
            "{:>3}  {:<28} {:<9} {:>14} {:>14} {:>10} {:>12}",
            i,
            n.name,
            n.op.kind(),
            n.shape.to_string(),
            n.flops(g),
            n.param_count(),
            n.shape.bytes_f32()
        );
    }
    println!(
        "totals: params={} flops={} (torchvision graph, per sample; inference graph: params={} flops={})",
        p.torch.param_count(),
        p.torch.flops(),
        g.param_count(),
        g.flops()
    );
    let paper = model::paper_split_points(g);
    println!("split points (cut after node: tensors crossing, bytes per sample as f32):");
    for c in model::cuts(g) {
        let names: Vec<&str> = c
            .tensors
            .iter()
            .map(|&t| g.nodes[t].name.as_str())
            .collect();
        let tag = paper
            .iter()
            .find(|(_, id)| *id == c.after)
            .map(|(n, _)| format!("  <- paper split point '{n}'"))
            .unwrap_or_default();
        println!(
            "  after {:>3} {:<28} {} tensor(s) [{}] {} bytes{}",
            c.after,
            g.nodes[c.after].name,
            c.tensors.len(),
            names.join(", "),
            c.bytes_per_sample,
            tag
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)] // the subcommand's flags, passed through
fn profile(
    args: &ModelArgs,
    batch: usize,
    reps: usize,
    warmup: usize,
    adapter: Option<&str>,
    weights: Option<PathBuf>,
    seed: u64,
    timing: Option<TimingMethod>,
    out: &std::path::Path,
) -> Result<()> {
    let p = model::prepare(&args.model, &args.options()?, weights.as_deref(), seed)?;
    let ctx = GpuContext::new(adapter)?;
    let g = &p.model.graph;
    let exec = Executor::new(&ctx, &p.model, 1..g.nodes.len(), batch, &[])?;
    let input =
        splitbench::tensor::Rng::new(seed ^ 0x5eed).vec(batch * g.input_shape().numel(), -1.0, 1.0);
    exec.set_input(0, &input)?;
    let prof = gpu::profile(&exec, warmup, reps, timing)?;
    let rows = report::profile_rows(&exec, &prof);
    report::write_csv(out, &rows)?;
    let manifest = ProfileManifest {
        run: RunInfo::new(&ctx.summary),
        model: g.name.clone(),
        input: g.input_shape().to_string(),
        model_hash: report::model_hash(&p.model),
        weights: p.weights_source.clone(),
        batch,
        reps,
        warmup,
        timing: prof.method.as_str().into(),
        whole_graph_timing: prof.whole_method.as_str().into(),
        whole_graph_ms_median: prof.whole.median_ms,
        whole_graph_ms_p5: prof.whole.p5_ms,
        whole_graph_ms_p95: prof.whole.p95_ms,
        sum_of_node_medians_ms: prof.sum_of_medians_ms(),
    };
    let json_path = out.with_extension("json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&manifest)?)
        .with_context(|| format!("writing {}", json_path.display()))?;

    println!(
        "{} on {} ({}), batch {batch}, {reps} reps, weights {}",
        g.name, ctx.summary.name, ctx.summary.backend, p.weights_source
    );
    if let Some(note) = &manifest.run.note {
        println!("note: {note}");
    }
    println!(
        "{:<28} {:<9} {:>16} {:>13} {:>10} {:>10} {:>10}",
        "node", "op", "out_shape", "flops", "median_ms", "p5_ms", "p95_ms"
    );
    for r in &rows {
        println!(
            "{:<28} {:<9} {:>16} {:>13} {:>10.4} {:>10.4} {:>10.4}",
            r.node, r.op, r.out_shape, r.flops, r.device_ms_median, r.device_ms_p5, r.device_ms_p95
        );
    }
    println!(
        "whole graph (one submission, {}): median {:.4} ms (p5 {:.4}, p95 {:.4}); sum of per-node medians ({}): {:.4} ms",
        prof.whole_method.as_str(),
        prof.whole.median_ms,
        prof.whole.p5_ms,
        prof.whole.p95_ms,
        prof.method.as_str(),
        prof.sum_of_medians_ms()
    );
    println!("wrote {} and {}", out.display(), json_path.display());
    Ok(())
}
