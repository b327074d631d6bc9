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
    /// Profile a model on the GPU and compare split methods (device-only, edge-only,
    /// Neurosurgeon, best split, two-step pruning, three-step) over a bandwidth sweep, the 3G/4G/Wi-Fi presets
    /// and random links; write CSVs, a manifest and charts into a folder.
    Tradeoff(Box<TradeoffArgs>),
    /// Top-1 accuracy of trained weights on a test set, through the GPU engine.
    Eval(accuracy_cli::EvalArgs),
    /// Accuracy of every configuration of the study (paper split points x plain, pruned and
    /// bottleneck variants) through the GPU split pipeline: the table for `tradeoff`.
    Accuracy(accuracy_cli::AccuracyArgs),
    /// Train a model on the CPU (candle) and write safetensors with torchvision keys.
    #[cfg(feature = "train")]
    Train(accuracy_cli::TrainArgs),
    /// Prune a trained model (per-stage ratios, compacted) and fine-tune it on the CPU.
    #[cfg(feature = "train")]
    PruneFinetune(accuracy_cli::PruneFinetuneArgs),
    /// Train a bottleneck encoder/decoder at a split point of a frozen trained model.
    #[cfg(feature = "train")]
    TrainBottleneck(accuracy_cli::TrainBottleneckArgs),
}

/// Flags of `splitbench tradeoff`.
#[derive(clap::Args)]
struct TradeoffArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Extra link (repeatable), e.g. `rayleigh:bw_mhz=1,snr_db=10` or `trace:path=FILE`;
    /// default: a Rayleigh link and the synthetic Markov trace.
    #[arg(long = "channel", value_name = "SPEC")]
    channels: Vec<String>,
    /// Edge per-node times from a CSV of `splitbench profile` run on the edge machine
    /// (batch 1, same model and input).
    #[arg(long, conflicts_with = "edge_speedup")]
    edge_profile: Option<PathBuf>,
    /// Edge per-node times = device times / X (default 10).
    #[arg(long, allow_negative_numbers = true)]
    edge_speedup: Option<f64>,
    /// Timed repetitions of the device profile and of each codec measurement.
    #[arg(long, default_value_t = 10)]
    reps: usize,
    /// Untimed warm-up runs.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Use the first adapter whose name contains this (case-insensitive).
    #[arg(long)]
    adapter: Option<String>,
    /// Deadline for the miss probability of random links, ms.
    #[arg(long, allow_negative_numbers = true)]
    deadline_ms: Option<f64>,
    /// RTT added to the sweep and preset links, ms.
    #[arg(long, default_value_t = 0.0)]
    rtt_ms: f64,
    /// Seed of the random weights and input.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write every candidate's row for the bandwidth sweep too (large).
    #[arg(long)]
    all_points: bool,
    /// A note on the choice of input, recorded in the manifest.
    #[arg(long)]
    input_note: Option<String>,
    /// Pruning ratios of the three-step search (uniform over the on-device stages and on
    /// the last on-device stage only), comma-separated in (0, 1), or `none`.
    #[arg(long, default_value = "0.25,0.5,0.75")]
    prune_ratios: String,
    /// Leave the learned bottleneck out of the three-step search.
    #[arg(long)]
    no_bottleneck: bool,
    /// CSV `config,accuracy` of known accuracies (config: `<split node>/<variant>`, e.g.
    /// `layer1.1.conv2/prune-0.5_0.5_0_0_0+bn16+4bit-tensor`).
    #[arg(long)]
    accuracy_table: Option<PathBuf>,
    /// Three-step and two-step-pruning only choose configurations whose accuracy in
    /// --accuracy-table is at least this (same unit as the table).
    #[arg(long, requires = "accuracy_table", allow_negative_numbers = true)]
    min_accuracy: Option<f64>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes, outermost first; a cause that its parent's
            // message already ends with (errors that print their source) is not repeated.
            let mut msg: Vec<String> = Vec::new();
            for c in e.chain().map(|c| c.to_string()) {
                if !msg.last().is_some_and(|m| m.ends_with(&c)) {
                    msg.push(c);
                }
            }
            eprintln!("error: {}", msg.join(": "));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Eval(a) => accuracy_cli::eval(&a),
        Cmd::Accuracy(a) => accuracy_cli::accuracy(&a),
        #[cfg(feature = "train")]
        Cmd::Train(a) => accuracy_cli::train(&a),
        #[cfg(feature = "train")]
        Cmd::PruneFinetune(a) => accuracy_cli::prune_finetune(&a),
        #[cfg(feature = "train")]
        Cmd::TrainBottleneck(a) => accuracy_cli::train_bottleneck(&a),
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
        Cmd::Tradeoff(args) => tradeoff::run(&args),
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

/// `splitbench tradeoff`: measure on the local GPU, then plan (src/plan) and write the study.
mod tradeoff {
    use super::TradeoffArgs;
    use anyhow::{bail, Context, Result};
    use indicatif::{ProgressBar, ProgressStyle};
    use splitbench::channel::Channel;
    use splitbench::compress::{
        self, frame, Bottleneck, FrameTensor, Granularity, GroupParams, Payload, Quantized,
        BOTTLENECK_WEIGHTS_NOTE,
    };
    use splitbench::gpu::{self, codec::CodecTimer, Executor, GpuContext};
    use splitbench::model;
    use splitbench::plan::{
        bytes_rows, codec_keys, link_summaries, prune_configs, quantization_variants, run_study,
        summary_text, sweep_channels, three_step_candidates, three_step_requirements,
        AccuracyTable, BottleneckTable, ChannelInfo, ChannelRole, CodecTable, CodecTime, EdgeModel,
        Predictor, Problem, PruneFamily, PrunedPrefix, SearchSpace, StudyChannel, StudyOptions,
        TradeoffManifest, DEFAULT_EDGE_SPEEDUP, DEFAULT_RAYLEIGH, DEFAULT_TRACE, DOWNLINK_NOTE,
        FRAME_OVERHEAD_BYTES, FRAME_TENSOR_BYTES, PRESETS, QUANT_GROUP_PARAM_BYTES, STUDY_BITS,
        SWEEP_MAX_MBPS, SWEEP_MIN_MBPS, SWEEP_POINTS,
    };
    use splitbench::report::{self, RunInfo};
    use std::path::{Path, PathBuf};

    /// The default trace: relative to the working directory, else to the repository.
    fn default_trace() -> PathBuf {
        let local = PathBuf::from(DEFAULT_TRACE);
        if local.exists() {
            local
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_TRACE)
        }
    }

    fn bar(len: u64, what: &str) -> ProgressBar {
        let pb = ProgressBar::new(len);
        pb.set_style(
            ProgressStyle::with_template("{msg:<28} [{bar:30}] {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        pb.set_message(what.to_string());
        pb
    }

    /// The links of the study: sweep, presets, then `--channel`s or the default random ones.
    fn channels(args: &TradeoffArgs) -> Result<Vec<StudyChannel>> {
        let mut out: Vec<StudyChannel> =
            sweep_channels(SWEEP_POINTS, SWEEP_MIN_MBPS, SWEEP_MAX_MBPS, args.rtt_ms)?
                .into_iter()
                .map(|channel| StudyChannel {
                    channel,
                    role: ChannelRole::Sweep,
                })
                .collect();
        for p in PRESETS {
            let spec = if args.rtt_ms > 0.0 {
                format!("{p}:rtt_ms={}", args.rtt_ms)
            } else {
                p.to_string()
            };
            out.push(StudyChannel {
                channel: Channel::parse(&spec)?,
                role: ChannelRole::Preset,
            });
        }
        let extra: Vec<String> = if args.channels.is_empty() {
            vec![
                DEFAULT_RAYLEIGH.to_string(),
                format!("trace:path={}", default_trace().display()),
            ]
        } else {
            args.channels.clone()
        };
        for spec in extra {
            out.push(StudyChannel {
                channel: Channel::parse(&spec)?,
                role: ChannelRole::Extra,
            });
        }
        Ok(out)
    }

    /// `--prune-ratios`: the pruning families of the search.
    fn families(spec: &str) -> Result<Vec<PruneFamily>> {
        if spec.trim() == "none" || spec.trim().is_empty() {
            return Ok(vec![]);
        }
        let mut out = Vec::new();
        for r in spec.split(',') {
            let v: f32 = r
                .trim()
                .parse()
                .with_context(|| format!("--prune-ratios: `{r}` is not a number"))?;
            if !(v > 0.0 && v < 1.0) {
                bail!("--prune-ratios: {v} is not in (0, 1)");
            }
            out.extend([PruneFamily::Uniform(v), PruneFamily::LastStage(v)]);
        }
        Ok(out)
    }

    /// Split points of the bytes chart: the paper's five for ResNets, else every
    /// single-tensor cut where the feature size changes.
    fn bytes_points(g: &model::Graph, problem: &Problem) -> Vec<(String, usize)> {
        let paper = model::paper_split_points(g);
        if !paper.is_empty() {
            return paper.iter().map(|(l, k)| (l.to_string(), *k)).collect();
        }
        let mut out: Vec<(String, usize)> = Vec::new();
        let mut last = 0;
        for s in &problem.splits[1..problem.last()] {
            if s.tensors.len() == 1 && s.f32_bytes() != last {
                last = s.f32_bytes();
                out.push((g.nodes[s.after].name.clone(), s.after));
            }
        }
        out
    }

    /// Exact frame length of `x` (one sample of `shape`) at `bits` bits per-tensor, packed
    /// and with entropy coding where it helps (CPU quantization, the GPU's bit-exact twin).
    fn coded_frame(x: &[f32], shape: model::Shape, bits: u32) -> Result<(u64, u64)> {
        let (params, words) = splitbench::cpu::quantize_pack(x, x.len(), bits);
        let t = FrameTensor {
            batch: 1,
            shape,
            payload: Payload::Quantized(Quantized {
                bits,
                granularity: Granularity::PerTensor,
                params: params.iter().map(GroupParams::from_quant).collect(),
                words,
            }),
        };
        let packed = frame::encode(std::slice::from_ref(&t), false)?.bytes.len() as u64;
        let coded = frame::encode(std::slice::from_ref(&t), true)?.bytes.len() as u64;
        Ok((packed, coded))
    }

    pub(super) fn run(args: &TradeoffArgs) -> Result<()> {
        if args.reps == 0 {
            bail!("--reps must be at least 1");
        }
        if let Some(x) = args.edge_speedup {
            if !(x.is_finite() && x > 0.0) {
                bail!("--edge-speedup {x}: expected a positive number");
            }
        }
        if let Some(d) = args.deadline_ms {
            if !(d.is_finite() && d > 0.0) {
                bail!("--deadline-ms {d}: expected a positive number");
            }
        }
        if let Some(m) = args.min_accuracy {
            if !m.is_finite() {
                bail!("--min-accuracy {m}: expected a number");
            }
        }
        // Everything the user gave is checked before the GPU work.
        let families = families(&args.prune_ratios)?;
        let accuracy = args
            .accuracy_table
            .as_deref()
            .map(AccuracyTable::read)
            .transpose()?;
        let study_channels = channels(args)?;
        let p = model::prepare(&args.model.model, &args.model.options()?, None, args.seed)?;
        let g = &p.model.graph;
        let n = g.nodes.len();
        if let Some(path) = &args.edge_profile {
            EdgeModel::from_profile(path, g, &vec![0.0; n])?;
        }
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("creating {}", args.out.display()))?;

        let ctx = GpuContext::new(args.adapter.as_deref())?;
        let run_info = RunInfo::new(&ctx.summary);
        println!(
            "{} {} on {} ({}), {} reps after {} warm-up",
            g.name,
            g.input_shape(),
            ctx.summary.name,
            ctx.summary.backend,
            args.reps,
            args.warmup
        );
        if let Some(note) = &run_info.note {
            println!("note: {note}");
        }

        // 1. Device profile.
        let spin = ProgressBar::new_spinner();
        spin.set_message(format!("profiling {} nodes", n - 1));
        spin.enable_steady_tick(std::time::Duration::from_millis(200));
        let exec = Executor::new(&ctx, &p.model, 1..n, 1, &[])?;
        let input = splitbench::tensor::Rng::new(args.seed ^ 0x5eed).vec(
            g.input_shape().numel(),
            -1.0,
            1.0,
        );
        exec.set_input(0, &input)?;
        let prof = gpu::profile(&exec, args.warmup, args.reps, None)?;
        spin.finish_and_clear();
        let device_rows = report::profile_rows(&exec, &prof);
        let mut device_ms = vec![0.0];
        device_ms.extend(prof.per_node.iter().map(|s| s.median_ms));
        drop(exec);

        // 2. Edge model.
        let edge = match &args.edge_profile {
            Some(path) => EdgeModel::from_profile(path, g, &device_ms)?,
            None => EdgeModel::from_speedup(
                &device_ms,
                args.edge_speedup.unwrap_or(DEFAULT_EDGE_SPEEDUP),
                args.edge_speedup.is_none(),
            )?,
        };
        let problem = Problem::from_graph(g, &device_ms, &edge)?;
        println!(
            "device: sum of node medians {:.3} ms, whole graph {:.3} ms ({}); edge: {} (speed-up {:.3})",
            prof.sum_of_medians_ms(),
            prof.whole.median_ms,
            prof.method.as_str(),
            edge.source,
            edge.speedup
        );

        // 3. Step 2: measure every pruned on-device configuration (compacted prefix).
        let configs = prune_configs(g, &families)?;
        let pb = bar(configs.len() as u64, "profiling pruned prefixes");
        let mut pruned = Vec::with_capacity(configs.len());
        for cfg in &configs {
            let small = compress::compact(&p.model, cfg)?;
            let until = PrunedPrefix::changed_until(g, &small.graph);
            let mut measured = device_ms.clone();
            if until > 0 {
                let exec = Executor::new(&ctx, &small, 1..until + 1, 1, &[])?;
                exec.set_input(0, &input)?;
                let prof = gpu::profile(&exec, args.warmup, args.reps, None)?;
                for (step, st) in exec.steps().iter().zip(&prof.per_node) {
                    measured[step.node] = st.median_ms;
                }
            }
            pruned.push(PrunedPrefix::new(
                *cfg,
                g,
                &device_ms,
                &edge,
                &small.graph,
                &measured,
            )?);
            pb.inc(1);
        }
        pb.finish_and_clear();
        let (extra_keys, bn_keys) =
            three_step_requirements(&problem, g, &families, &pruned, !args.no_bottleneck)?;

        // 4. Step 3: time the bottlenecks (seeded weights, latency only).
        let pb = bar(bn_keys.len() as u64, "timing bottlenecks");
        let mut bottlenecks = BottleneckTable::new();
        for key in &bn_keys {
            let b = Bottleneck::new(key.shape(), key.width)?;
            let t = b.time(&ctx, args.warmup, args.reps, args.seed ^ 0xb0)?;
            bottlenecks.insert(*key, (t.encoder.median_ms, t.decoder.median_ms));
            pb.inc(1);
        }
        pb.finish_and_clear();

        // 5. Codec times of every distinct feature size and bit width.
        let variants = quantization_variants(&STUDY_BITS);
        let mut keys = codec_keys(&problem, &variants);
        keys.extend(extra_keys);
        keys.sort_unstable();
        keys.dedup();
        let pb = bar(keys.len() as u64, "timing encode/decode");
        let mut timer = CodecTimer::new(&ctx, args.warmup, args.reps, args.seed ^ 0xc0dec);
        let mut codec = CodecTable::new();
        for k in &keys {
            let s = timer.time(k.numel, k.group_len, k.bits)?;
            codec.insert(
                *k,
                CodecTime {
                    encode_ms: s.encode.median_ms,
                    decode_ms: s.decode.median_ms,
                },
            );
            pb.inc(1);
        }
        pb.finish_and_clear();

        // 6. Bytes per split: exact frames, and entropy-coded frames of the real feature.
        let points = bytes_points(g, &problem);
        let mut bytes = bytes_rows(&problem, &points);
        {
            let outs: Vec<usize> = points.iter().map(|(_, k)| *k).collect();
            let exec = Executor::new(&ctx, &p.model, 1..n, 1, &outs)?;
            exec.set_input(0, &input)?;
            let feats = exec.run()?;
            for ((_, k), x) in points.iter().zip(&feats) {
                let shape = g.nodes[*k].shape;
                for r in bytes.iter_mut().filter(|r| r.split_index == *k) {
                    let bits = match r.encoding.as_str() {
                        "8-bit" => 8,
                        "4-bit" => 4,
                        "2-bit" => 2,
                        _ => continue,
                    };
                    let (packed, coded) = coded_frame(&x.data, shape, bits)?;
                    debug_assert_eq!(packed, r.payload_bytes);
                    r.coded_bytes = Some(coded);
                }
            }
        }

        // 7. Plan.
        let predictor = Predictor::fit(&problem);
        let errors = predictor.errors(&problem);
        let mut space = SearchSpace::build(&problem, &variants, &codec, edge.speedup, &predictor)?;
        space.extend(three_step_candidates(
            &problem,
            g,
            &families,
            &pruned,
            !args.no_bottleneck,
            &codec,
            &bottlenecks,
            edge.speedup,
        )?);
        let known = accuracy
            .as_ref()
            .map(|t| space.apply_accuracy(t, &problem))
            .unwrap_or(0);
        space.set_min_accuracy(args.min_accuracy)?;
        let title = format!(
            "{} {} on {} (edge: {})",
            g.name,
            g.input_shape(),
            ctx.summary.name,
            edge.source
        );
        let opts = StudyOptions {
            title,
            deadline_ms: args.deadline_ms,
            all_points: args.all_points,
        };
        let pb = bar(study_channels.len() as u64, "evaluating links");
        let mut result = run_study(&problem, &space, &study_channels, &opts, &mut |k| {
            pb.set_position(k as u64)
        });
        pb.finish_and_clear();
        result.study.bytes = bytes;
        if let Some(t) = &accuracy {
            result.study.accuracy_source = t.path.display().to_string();
            if result.study.accuracy_latency.is_empty() {
                println!(
                    "note: no configuration of {} is a candidate of this study: no {} and no chart (f)",
                    t.path.display(),
                    report::ACCURACY_LATENCY_CSV
                );
            }
        }
        let summaries = link_summaries(&problem, &space, &study_channels, &result);

        // 5. Write.
        let out = &args.out;
        let st = &result.study;
        report::write_study(out, st)?;
        report::write_csv(&out.join("device_profile.csv"), &device_rows)?;
        let mut files: Vec<String> = [
            report::TRADEOFF_CSV,
            report::LAYERS_CSV,
            report::CANDIDATES_CSV,
            report::CDF_CSV,
            report::BYTES_CSV,
            report::TITLE_TXT,
            "device_profile.csv",
        ]
        .map(String::from)
        .to_vec();
        if !st.accuracy_latency.is_empty() {
            files.push(report::ACCURACY_LATENCY_CSV.into());
        }
        let spin = ProgressBar::new_spinner();
        spin.set_message("drawing charts");
        spin.enable_steady_tick(std::time::Duration::from_millis(200));
        let charts = report::draw_charts(out, st)?;
        spin.finish_and_clear();
        for s in &charts.skipped {
            println!("chart skipped: {s}");
        }
        files.extend(
            charts
                .files
                .iter()
                .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned())),
        );
        let manifest = TradeoffManifest {
            run: run_info,
            model: g.name.clone(),
            input: g.input_shape().to_string(),
            input_note: args.input_note.clone(),
            model_hash: report::model_hash(&p.model),
            weights: p.weights_source.clone(),
            seeds: serde_json::json!({
                "weights": args.seed,
                "input": args.seed ^ 0x5eed,
                "codec_data": args.seed ^ 0xc0dec,
            }),
            warmup: args.warmup,
            reps: args.reps,
            timing: prof.method.as_str().into(),
            whole_graph_ms_median: prof.whole.median_ms,
            sum_of_node_medians_ms: prof.sum_of_medians_ms(),
            edge_source: edge.source.describe(),
            edge_speedup: edge.speedup,
            edge_decode_note: format!(
                "feature decode (unpack + dequantize, and a bottleneck's decoder) measured on the local GPU and divided by \
                 the edge speed-up {:.4} ({})",
                edge.speedup,
                if args.edge_profile.is_some() {
                    "effective: sum of device node times / sum of edge node times"
                } else {
                    "the given factor"
                }
            ),
            codec: serde_json::json!({
                "timing": timer.method().map(|m| m.as_str()),
                "measured_keys": timer.measured(),
                "reps": args.reps,
                "note": "encode = per-group min/max + quantize/pack on the device GPU; \
                         f32 features and the uint8 input are sent raw (encode = decode = 0)",
            }),
            payload_note: format!(
                "uint8 input: C*H*W bytes; a feature: the exact wire-frame length \
                 (docs/wire-format.md), packed without entropy coding: {FRAME_OVERHEAD_BYTES} \
                 bytes (fixed header + CRC-32) per frame, per tensor a {FRAME_TENSOR_BYTES}-byte \
                 descriptor, {QUANT_GROUP_PARAM_BYTES} bytes (min, scale) per scale group and \
                 ceil(numel*bits/8) payload bytes (f32: 4*numel); device-only sends nothing. \
                 bytes_per_split.csv gives, at the chart's split points, the entropy-coded frame \
                 of the real feature (seeded weights and input) beside the packed one"
            ),
            downlink_note: DOWNLINK_NOTE.into(),
            random_link_rule: "on random links (Rayleigh, trace) every method picks the \
                configuration with the lowest mean latency over the link states; tradeoff rows \
                give that mean (total_ms) and its quantiles, cdf.csv the chosen \
                configuration's distribution"
                .into(),
            accuracy_note: match (&accuracy, args.min_accuracy) {
                (Some(t), Some(m)) => format!(
                    "{known} candidates have an accuracy in {}; three-step and two-step-pruning \
                     choose only among those with accuracy >= {m}",
                    t.path.display()
                ),
                (Some(t), None) => format!(
                    "{known} candidates have an accuracy in {}; no --min-accuracy: every \
                     method minimises latency only",
                    t.path.display()
                ),
                _ => "no accuracy is known (no --accuracy-table): three-step and \
                      two-step-pruning minimise latency without an accuracy constraint; pruned, \
                      quantized and bottlenecked variants lose accuracy that this study does \
                      not measure"
                    .into(),
            },
            bottleneck_weights: BOTTLENECK_WEIGHTS_NOTE.into(),
            search_space: serde_json::json!({
                "plain": "f32, and 8/4/2-bit with per-tensor and per-channel scales, at every intermediate split",
                "prune_families": families.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>(),
                "prune_configs_measured": configs.iter().map(|c| c.ratios).collect::<Vec<_>>(),
                "prune_note": "device time of a pruned prefix is measured: the compacted graph is profiled once per distinct config (nodes up to the last one compaction changes); unchanged nodes keep the unpruned measurement; a changed node's edge time is scaled by the same measured ratio",
                "bottleneck_widths": "C/4, C/8, C/16 of the (pruned) feature at single-tensor cuts; 3x3 conv + tanh / 3x3 conv + ELU, linear for vector features",
                "bottlenecks_timed": bn_keys.len(),
                "compressed_encodings": "f32, 8/4/2-bit per-tensor",
                "two_step_pruning": "Shi et al. 2019: pruned or unpruned on-device part x split, f32 or 8-bit per-tensor feature, no bottleneck",
            }),
            accuracy_table: args.accuracy_table.as_ref().map(|p| p.display().to_string()),
            min_accuracy: args.min_accuracy,
            predictor_error: errors.clone(),
            predictor: serde_json::to_value(&predictor)?,
            channels: study_channels.iter().map(ChannelInfo::of).collect(),
            deadline_ms: args.deadline_ms,
            candidates: space.candidates.len(),
            summary: summaries.clone(),
            files: vec![],
        };
        let mut manifest = manifest;
        manifest.files = files;
        manifest.files.push("manifest.json".into());
        let mpath = out.join("manifest.json");
        std::fs::write(&mpath, serde_json::to_string_pretty(&manifest)?)
            .with_context(|| format!("writing {}", mpath.display()))?;

        // 6. Summary.
        println!(
            "{} candidates ({} pruned prefixes, {} bottlenecks, {} codec measurements, {}); {} links",
            space.candidates.len(),
            configs.len(),
            bn_keys.len(),
            timer.measured(),
            timer.method().map_or("none", |m| m.as_str()),
            study_channels.len()
        );
        println!("Neurosurgeon predictor, median abs. error per op type (device / edge):");
        for e in &errors {
            let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}%"));
            println!(
                "  {:<10} {:>3} layers  {:>8} / {:>8}",
                e.op,
                e.layers,
                pct(e.device_mdape_pct),
                pct(e.edge_mdape_pct)
            );
        }
        print!("{}", summary_text(&summaries));
        println!("edge: {}; {}", edge.source, DOWNLINK_NOTE);
        match args.min_accuracy {
            Some(m) => println!(
                "accuracy: {known} candidates known; three-step and two-step-pruning keep those \
                 >= {m}"
            ),
            None => println!(
                "accuracy: {}; three-step minimises latency only",
                if accuracy.is_some() {
                    format!("{known} candidates known, no --min-accuracy")
                } else {
                    "not known for the compressed variants".into()
                }
            ),
        }
        if !bn_keys.is_empty() {
            println!("{BOTTLENECK_WEIGHTS_NOTE}");
        }
        println!("wrote {} files to {}", manifest.files.len(), out.display());
        Ok(())
    }
}
