//! The `train` and `eval` subcommands (accuracy on real data).

use anyhow::{bail, Result};
use splitbench::data::{self, DatasetKind, Split};
use splitbench::eval;
use splitbench::gpu::GpuContext;
use splitbench::model::{self, ZooOptions};
use std::path::PathBuf;

/// A trained model and its dataset: the flags every accuracy subcommand shares.
#[derive(clap::Args)]
pub struct TrainedModelArgs {
    /// Zoo model (resnet18-cifar for the committed weights).
    #[arg(long)]
    pub model: String,
    /// Base width of ResNets (the committed model: 16).
    #[arg(long)]
    pub width: Option<usize>,
    /// Weights (safetensors with torchvision key names); pruned and bottleneck files are
    /// looked up next to them (see models/README.md).
    #[arg(long)]
    pub weights: PathBuf,
    /// Dataset: fashion-mnist or cifar10.
    #[arg(long, default_value = "fashion-mnist")]
    pub dataset: String,
    /// Dataset folder (default for fashion-mnist: /usr/share/datasets/fashion-mnist).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

impl TrainedModelArgs {
    /// The dataset kind and the model options it implies.
    fn kind(&self) -> Result<(DatasetKind, ZooOptions)> {
        let kind = DatasetKind::parse(&self.dataset)?;
        Ok((kind, options(kind, self.width)))
    }
}

/// How the GPU engine runs an evaluation.
#[derive(clap::Args)]
pub struct GpuEvalArgs {
    /// Evaluate only the first N test images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Images per GPU submission.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Use the first adapter whose name contains this (case-insensitive).
    #[arg(long)]
    pub adapter: Option<String>,
}

/// Flags of `splitbench eval`.
#[derive(clap::Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub m: TrainedModelArgs,
    #[command(flatten)]
    pub gpu: GpuEvalArgs,
    /// A configuration of the study, `<split node>/<variant>` (e.g.
    /// `layer2.1.conv2/bn8+4bit-tensor`): evaluates the whole split pipeline (device part,
    /// bottleneck, quantize/pack, wire frame, unpack, edge part). Its trained files are
    /// found next to --weights (see models/README.md).
    #[arg(long)]
    pub config: Option<String>,
}

/// Loads the model, the test set and the adapter of an evaluation.
fn eval_setup(
    m: &TrainedModelArgs,
    g: &GpuEvalArgs,
) -> Result<(DatasetKind, model::Prepared, data::Dataset, GpuContext)> {
    if g.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let (kind, opts) = m.kind()?;
    let p = model::prepare(&m.model, &opts, Some(&m.weights), 0)?;
    let test = data::load(kind, Split::Test, m.data.as_deref())?;
    let ctx = GpuContext::new(g.adapter.as_deref())?;
    Ok((kind, p, test, ctx))
}

/// The model options implied by a dataset: its image shape and class count.
fn options(kind: DatasetKind, width: Option<usize>) -> ZooOptions {
    ZooOptions {
        input: Some(kind.shape()),
        classes: Some(kind.classes()),
        width,
    }
}

/// `splitbench eval`: top-1 accuracy of the test set through the GPU engine.
pub fn eval(a: &EvalArgs) -> Result<()> {
    let (kind, p, test, ctx) = eval_setup(&a.m, &a.gpu)?;
    let t0 = std::time::Instant::now();
    let (acc, what) = match &a.config {
        Some(c) => {
            let files = eval::TrainedFiles::beside(&a.m.weights);
            let r = evaluate_config(&ctx, &p, &files, c, &test, a.gpu.limit, a.gpu.batch)?;
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
        kind.name(),
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

/// What [`evaluate_config`] measured.
pub struct ConfigResult {
    /// Top-1 hits.
    pub accuracy: eval::Accuracy,
    /// Frame bytes per image (`None` when nothing is cut).
    pub frame_bytes: Option<usize>,
    /// Frame bytes per image of the f32 feature at the same split.
    pub f32_frame_bytes: Option<usize>,
}

/// Evaluates one configuration of the study through the GPU split pipeline.
pub fn evaluate_config(
    ctx: &GpuContext,
    p: &model::Prepared,
    files: &eval::TrainedFiles,
    config: &str,
    test: &data::Dataset,
    limit: Option<usize>,
    batch: usize,
) -> Result<ConfigResult> {
    let cfg = eval::SplitConfig::parse(&p.model.graph, config)?;
    let (pruned, bottleneck) = eval::load_parts(&p.torch, &p.model, &cfg, files)?;
    let eval::SplitConfig::Split { split, wire, .. } = cfg else {
        let mut clf = eval::GpuClassifier::new(ctx, &p.model, batch)?;
        return Ok(ConfigResult {
            accuracy: eval::accuracy(&mut clf, test, limit, &mut |_, _| {})?,
            frame_bytes: None,
            f32_frame_bytes: None,
        });
    };
    let parts = eval::SplitParts {
        model: pruned.as_ref().unwrap_or(&p.model),
        bottleneck,
    };
    let mut clf = eval::SplitClassifier::new(ctx, &parts, split, wire, batch)?;
    let frame_bytes = clf.frame_bytes_per_image()?;
    let f32_frame_bytes = splitbench::compress::frame_len(&[splitbench::compress::TensorSpec {
        batch: 1,
        shape: p.model.graph.nodes[split].shape,
        encoding: splitbench::compress::Encoding::RawF32,
    }])?;
    Ok(ConfigResult {
        accuracy: eval::accuracy(&mut clf, test, limit, &mut |_, _| {})?,
        frame_bytes: Some(frame_bytes),
        f32_frame_bytes: Some(f32_frame_bytes),
    })
}

/// Flags of `splitbench train`.
#[cfg(feature = "train")]
#[derive(clap::Args)]
pub struct TrainArgs {
    /// Zoo model (ResNets without max-pool: resnet18-cifar).
    #[arg(long)]
    pub model: String,
    /// Dataset: fashion-mnist or cifar10.
    #[arg(long, default_value = "fashion-mnist")]
    pub dataset: String,
    /// Dataset folder (default for fashion-mnist: /usr/share/datasets/fashion-mnist).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Base width of ResNets.
    #[arg(long)]
    pub width: Option<usize>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Images per step.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Peak learning rate (SGD, cosine decay to 0).
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    /// Linear warm-up, in epochs.
    #[arg(long, default_value_t = 0.2)]
    pub warmup: f64,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// Weight decay of conv and linear weights.
    #[arg(long, default_value_t = 5e-4)]
    pub weight_decay: f64,
    /// Random-crop padding in pixels (default 2 for 28x28 images, 4 for 32x32).
    #[arg(long)]
    pub crop_pad: Option<usize>,
    /// Disable random horizontal flips.
    #[arg(long)]
    pub no_flip: bool,
    /// Seed of initialisation, data order and augmentation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Test images evaluated (on the CPU, by candle) after every epoch; 0: none.
    #[arg(long, default_value_t = 2000)]
    pub test_limit: usize,
    /// Stop after this many steps in all (for timing and smoke runs).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Start from these weights (safetensors, torchvision keys) instead of a seeded
    /// initialisation: to resume or fine-tune (the SGD momentum starts from zero).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Output safetensors (torchvision keys), rewritten after every epoch.
    #[arg(long)]
    pub out: PathBuf,
}

/// `splitbench train`: trains on the CPU with candle, writes safetensors after every epoch.
#[cfg(feature = "train")]
pub fn train(a: &TrainArgs) -> Result<()> {
    use indicatif::{ProgressBar, ProgressStyle};
    use splitbench::train::{self, Net, TrainConfig};
    use splitbench::Error;
    use std::path::Path;
    // candle's element-wise thread pool busy-waits at its barriers; on a shared or
    // oversubscribed CPU that spinning takes the cores the GEMMs need (measured: 2.7 -> 1.8
    // CPU-s per step on 2 busy cores). The trainer's own kernels use rayon. Still one thread
    // of control here, so changing the environment is sound.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    let kind = DatasetKind::parse(&a.dataset)?;
    let graph = model::zoo::build(&a.model, &options(kind, a.width))?;
    let train_set = data::load(kind, Split::Train, a.data.as_deref())?;
    let test_set = if a.test_limit > 0 {
        Some(data::load(kind, Split::Test, a.data.as_deref())?.take(a.test_limit))
    } else {
        None
    };
    let cfg = TrainConfig {
        epochs: a.epochs,
        batch: a.batch,
        lr: a.lr,
        warmup_epochs: a.warmup,
        momentum: a.momentum,
        weight_decay: a.weight_decay,
        seed: a.seed,
        crop_pad: a
            .crop_pad
            .unwrap_or(if kind.shape().h <= 28 { 2 } else { 4 }),
        flip: !a.no_flip,
        max_steps: a.max_steps,
        ..Default::default()
    };
    println!(
        "training {} (width {}, {} params) on {} ({} images), {:?}",
        a.model,
        a.width.unwrap_or(64),
        graph.param_count(),
        kind.name(),
        train_set.len(),
        cfg
    );
    let mut net = match &a.init {
        Some(p) => {
            println!("starting from {}", p.display());
            Net::from_weights(&graph, &model::load_safetensors(&graph, p)?)?
        }
        None => Net::new(&graph, a.seed)?,
    };
    let steps = train_set.len() / cfg.batch;
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}<{eta})",
        )
        .map_err(|e| anyhow::anyhow!("progress template: {e}"))?
        .progress_chars("=> "),
    );
    let out: &Path = &a.out;
    let mut last_epoch = usize::MAX;
    let stats = train::train(
        &mut net,
        &train_set,
        &cfg,
        &mut |s| {
            if s.epoch != last_epoch {
                last_epoch = s.epoch;
                bar.reset();
                bar.set_prefix(format!("{}/{}", s.epoch + 1, cfg.epochs));
            }
            bar.set_position(s.step as u64 + 1);
            bar.set_message(format!("loss {:.4} lr {:.4}", s.loss, s.lr));
            // Without a terminal the bar is hidden: log a line now and then instead.
            if bar.is_hidden() && (s.step + 1) % 10 == 0 {
                println!(
                    "epoch {} step {}/{}: loss {:.4} lr {:.4} ({:.1} s)",
                    s.epoch + 1,
                    s.step + 1,
                    s.steps,
                    s.loss,
                    s.lr,
                    bar.elapsed().as_secs_f64()
                );
            }
        },
        &mut |st, net| {
            let test_acc = match &test_set {
                Some(t) => format!(
                    ", test top-1 (first {}, candle) {:.2}%",
                    t.len(),
                    100.0 * train::accuracy(net, t, 250, None)?
                ),
                None => String::new(),
            };
            model::save_safetensors(&net.weights()?, out)?;
            bar.suspend(|| {
                println!(
                    "epoch {}/{}: loss {:.4}, train top-1 {:.2}%{test_acc}, {:.1} s/epoch; wrote {}",
                    st.epoch + 1,
                    cfg.epochs,
                    st.loss,
                    100.0 * st.train_accuracy,
                    st.seconds,
                    out.display()
                )
            });
            Ok::<(), Error>(())
        },
    )?;
    bar.finish_and_clear();
    let secs: f64 = stats.iter().map(|s| s.seconds).sum();
    println!(
        "trained {} epochs in {:.1} s ({:.1} s/epoch); weights in {}",
        stats.len(),
        secs,
        secs / stats.len().max(1) as f64,
        out.display()
    );
    Ok(())
}

/// Flags of `splitbench accuracy`.
#[derive(clap::Args)]
pub struct AccuracyArgs {
    #[command(flatten)]
    pub m: TrainedModelArgs,
    // Every configuration is evaluated on the first --limit test images (default: all).
    #[command(flatten)]
    pub gpu: GpuEvalArgs,
    /// Output folder: `accuracy.csv` (details) and `accuracy_table.csv` (`config,accuracy`
    /// in percent, for `tradeoff --accuracy-table`). Configurations already in
    /// `accuracy.csv` with the same image count are kept, not re-evaluated.
    #[arg(long)]
    pub out: PathBuf,
}

/// One row of `accuracy.csv`.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
struct AccuracyRow {
    config: String,
    split: String,
    variant: String,
    images: usize,
    correct: usize,
    accuracy_pct: f64,
    frame_bytes: Option<usize>,
    f32_frame_bytes: Option<usize>,
    reduction_vs_f32: Option<f64>,
    seconds: f64,
}

/// Every configuration of the study at the paper's split points for which trained files
/// exist (plain encodings need none), plus device-only and edge-only.
fn study_configs(p: &model::Prepared, files: &eval::TrainedFiles) -> Result<Vec<(String, String)>> {
    use splitbench::compress::bottleneck_widths;
    use splitbench::plan::{compressed_encodings, variant_name, PruneFamily};
    let g = &p.model.graph;
    let mut out = vec![
        (
            "device-only".to_string(),
            format!("{}/none", g.nodes[g.output()].name),
        ),
        ("edge-only".to_string(), "input/uint8-input".to_string()),
    ];
    let encodings = compressed_encodings();
    for (label, node) in model::paper_split_points(g) {
        let name = &g.nodes[node].name;
        let mut push = |variant: String| out.push((label.to_string(), format!("{name}/{variant}")));
        for &e in &encodings {
            push(variant_name(e, None, None));
        }
        for k in bottleneck_widths(g.nodes[node].shape.c) {
            // A bottleneck sent as f32 is never worth its bytes: not evaluated (the planner
            // then treats its accuracy as unknown).
            if files.bottleneck(name, k).exists() {
                for e in encodings
                    .iter()
                    .filter(|e| **e != splitbench::plan::Encoding::F32)
                {
                    push(variant_name(*e, None, Some(k)));
                }
            }
        }
        let mut seen = Vec::new();
        for f in PruneFamily::study() {
            let Some(cfg) = f.config(g, node)? else {
                continue;
            };
            if seen.contains(&cfg) || !files.pruned(&cfg).exists() {
                continue;
            }
            seen.push(cfg);
            for &e in &encodings {
                push(variant_name(e, Some(&cfg), None));
            }
        }
    }
    Ok(out)
}

/// `splitbench accuracy`: the accuracy table of the study through the GPU split pipeline.
pub fn accuracy(a: &AccuracyArgs) -> Result<()> {
    use anyhow::Context;
    let (kind, p, test, ctx) = eval_setup(&a.m, &a.gpu)?;
    let images = a.gpu.limit.unwrap_or(test.len()).min(test.len());
    let files = eval::TrainedFiles::beside(&a.m.weights);
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let detail = a.out.join("accuracy.csv");
    let mut rows: Vec<AccuracyRow> = Vec::new();
    if detail.exists() {
        let mut r = csv::Reader::from_path(&detail)
            .with_context(|| format!("reading {}", detail.display()))?;
        for (i, row) in r.deserialize::<AccuracyRow>().enumerate() {
            let row = row.with_context(|| format!("{}: row {}", detail.display(), i + 1))?;
            if row.images == images {
                rows.push(row);
            }
        }
    }
    let configs = study_configs(&p, &files)?;
    println!(
        "{} configurations of {} on the first {images} {} test images, GPU engine on {} ({} already in {})",
        configs.len(),
        a.m.model,
        kind.name(),
        ctx.summary.name,
        rows.len(),
        detail.display()
    );
    for (i, (label, config)) in configs.iter().enumerate() {
        if rows.iter().any(|r| &r.config == config) {
            continue;
        }
        let t0 = std::time::Instant::now();
        let r = evaluate_config(&ctx, &p, &files, config, &test, Some(images), a.gpu.batch)
            .with_context(|| format!("evaluating {config}"))?;
        let row = AccuracyRow {
            config: config.clone(),
            split: label.clone(),
            variant: config.split_once('/').map_or("", |v| v.1).to_string(),
            images: r.accuracy.total,
            correct: r.accuracy.correct,
            accuracy_pct: 100.0 * r.accuracy.top1(),
            frame_bytes: r.frame_bytes,
            f32_frame_bytes: r.f32_frame_bytes,
            reduction_vs_f32: match (r.frame_bytes, r.f32_frame_bytes) {
                (Some(b), Some(f)) if b > 0 => Some(f as f64 / b as f64),
                _ => None,
            },
            seconds: t0.elapsed().as_secs_f64(),
        };
        println!(
            "[{}/{}] {config}: {:.2}% ({}/{}){} in {:.1} s",
            i + 1,
            configs.len(),
            row.accuracy_pct,
            row.correct,
            row.images,
            row.frame_bytes
                .map(|b| format!(", {b} B/image"))
                .unwrap_or_default(),
            row.seconds
        );
        rows.push(row);
        write_accuracy(&a.out, &rows)?;
    }
    write_accuracy(&a.out, &rows)?;
    let summary = summarize(&rows, 32.0);
    let mut w = csv::Writer::from_path(a.out.join("accuracy_summary.csv"))?;
    for r in &summary {
        w.serialize(r)?;
        println!(
            "{}: {} {:.2}% ({:+.2} points vs the base model), {} B/image, {:.1}x fewer than f32",
            r.split, r.config, r.accuracy_pct, r.gap_points, r.frame_bytes, r.reduction_vs_f32
        );
    }
    w.flush()?;
    println!(
        "wrote {}, {} and {}",
        detail.display(),
        a.out.join("accuracy_table.csv").display(),
        a.out.join("accuracy_summary.csv").display()
    );
    Ok(())
}

/// Per split point, the most accurate configuration sending at least `min_reduction`
/// times fewer bytes than the f32 feature (ties: fewer bytes).
#[derive(serde::Serialize, Debug)]
struct SummaryRow {
    split: String,
    config: String,
    accuracy_pct: f64,
    base_pct: f64,
    gap_points: f64,
    frame_bytes: usize,
    reduction_vs_f32: f64,
    min_reduction: f64,
    images: usize,
}

fn summarize(rows: &[AccuracyRow], min_reduction: f64) -> Vec<SummaryRow> {
    let Some(base) = rows.iter().find(|r| r.split == "device-only") else {
        return Vec::new();
    };
    let mut splits: Vec<&str> = Vec::new();
    for r in rows {
        if r.frame_bytes.is_some() && !splits.contains(&r.split.as_str()) {
            splits.push(&r.split);
        }
    }
    let mut out = Vec::new();
    for split in splits {
        let best = rows
            .iter()
            .filter(|r| r.split == split)
            .filter_map(|r| Some((r, r.frame_bytes?, r.reduction_vs_f32?)))
            .filter(|(_, _, red)| *red >= min_reduction)
            .max_by(|a, b| {
                a.0.accuracy_pct
                    .total_cmp(&b.0.accuracy_pct)
                    .then(b.1.cmp(&a.1))
            });
        if let Some((r, bytes, red)) = best {
            // `+ 0.0` turns a rounded -0.0 (a gap of -1e-14) into 0.
            let round = |v: f64, d: f64| (v * d).round() / d + 0.0;
            out.push(SummaryRow {
                split: split.to_string(),
                config: r.config.clone(),
                accuracy_pct: round(r.accuracy_pct, 1e4),
                base_pct: round(base.accuracy_pct, 1e4),
                gap_points: round(r.accuracy_pct - base.accuracy_pct, 1e4),
                frame_bytes: bytes,
                reduction_vs_f32: round(red, 100.0),
                min_reduction,
                images: r.images,
            });
        }
    }
    out
}

/// Writes both CSVs (details, then the `config,accuracy` table) in the order evaluated.
fn write_accuracy(dir: &std::path::Path, rows: &[AccuracyRow]) -> Result<()> {
    let mut w = csv::Writer::from_path(dir.join("accuracy.csv"))?;
    for r in rows {
        // correct / images in percent has at most 2 decimals for <= 10,000 images; rounding
        // drops the binary noise (94.39999999999999).
        let round = |v: f64| (v * 1e4).round() / 1e4;
        w.serialize(AccuracyRow {
            accuracy_pct: round(r.accuracy_pct),
            reduction_vs_f32: r.reduction_vs_f32.map(|v| (v * 100.0).round() / 100.0),
            seconds: (r.seconds * 10.0).round() / 10.0,
            ..r.clone()
        })?;
    }
    w.flush()?;
    let mut t = String::from("config,accuracy\n");
    for r in rows {
        t.push_str(&format!("{},{:.2}\n", r.config, r.accuracy_pct));
    }
    std::fs::write(dir.join("accuracy_table.csv"), t)?;
    Ok(())
}

/// Flags shared by `prune-finetune` and `train-bottleneck`: the base model and the run.
#[cfg(feature = "train")]
#[derive(clap::Args)]
pub struct TuneArgs {
    #[command(flatten)]
    pub m: TrainedModelArgs,
    /// Optimisation steps (cosine decay to 0 over them).
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    /// Images per step.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Peak learning rate (fine-tuning: SGD, momentum 0.9; bottlenecks: AdamW).
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    /// Seed of data order, augmentation and new weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Test images evaluated by candle before and after (0: none).
    #[arg(long, default_value_t = 1000)]
    pub test_limit: usize,
    /// Output safetensors (default: the name `splitbench accuracy` looks for).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Flags of `splitbench prune-finetune`.
#[cfg(feature = "train")]
#[derive(clap::Args)]
pub struct PruneFinetuneArgs {
    #[command(flatten)]
    pub tune: TuneArgs,
    /// Per-stage pruning ratios, stem,layer1,..,layer4 (e.g. 0,0.5,0,0,0).
    #[arg(long, value_delimiter = ',')]
    pub ratios: Vec<f32>,
}

/// Flags of `splitbench train-bottleneck`.
#[cfg(feature = "train")]
#[derive(clap::Args)]
pub struct TrainBottleneckArgs {
    #[command(flatten)]
    pub tune: TuneArgs,
    /// Split point: stem, layer1, layer2, layer3 or layer4.
    #[arg(long)]
    pub split: String,
    /// Channels of the code (the study uses C/4, C/8, C/16).
    #[arg(long)]
    pub channels: usize,
    /// Bit widths drawn per step for the straight-through quantization.
    #[arg(long, value_delimiter = ',', default_value = "8,4,2")]
    pub bits: Vec<u32>,
    /// Continue from this trained pair (a file `train-bottleneck` wrote) instead of new
    /// seeded weights.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Weight of knowledge distillation from the base model's softened logits, in [0, 1]
    /// (0: cross-entropy on the labels only).
    #[arg(long, default_value_t = 0.0)]
    pub distill_weight: f64,
    /// Distillation temperature.
    #[arg(long, default_value_t = 4.0)]
    pub distill_temperature: f64,
}

#[cfg(feature = "train")]
struct TuneSetup {
    kind: DatasetKind,
    base: model::Model,
    train_set: data::Dataset,
    test_set: Option<data::Dataset>,
    cfg: splitbench::train::TrainConfig,
}

#[cfg(feature = "train")]
fn tune_setup(t: &TuneArgs) -> Result<TuneSetup> {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    let (kind, opts) = t.m.kind()?;
    let graph = model::zoo::build(&t.m.model, &opts)?;
    let weights = model::load_safetensors(&graph, &t.m.weights)?;
    let train_set = data::load(kind, Split::Train, t.m.data.as_deref())?;
    let test_set = (t.test_limit > 0)
        .then(|| data::load(kind, Split::Test, t.m.data.as_deref()).map(|d| d.take(t.test_limit)))
        .transpose()?;
    let cfg = splitbench::train::TrainConfig {
        epochs: t.steps.div_ceil((train_set.len() / t.batch.max(1)).max(1)),
        batch: t.batch,
        lr: t.lr,
        warmup_epochs: 0.0,
        seed: t.seed,
        crop_pad: if kind.shape().h <= 28 { 2 } else { 4 },
        max_steps: Some(t.steps),
        ..Default::default()
    };
    Ok(TuneSetup {
        kind,
        base: model::Model { graph, weights },
        train_set,
        test_set,
        cfg,
    })
}

#[cfg(feature = "train")]
fn log_step(s: splitbench::train::StepInfo, t0: std::time::Instant) {
    if (s.step + 1).is_multiple_of(25) {
        println!(
            "step {}: loss {:.4} lr {:.4} ({:.1} s)",
            s.epoch * s.steps + s.step + 1,
            s.loss,
            s.lr,
            t0.elapsed().as_secs_f64()
        );
    }
}

/// `splitbench prune-finetune`: compacts the base model with per-stage ratios (L1 ranking
/// of the folded filters, as the latency study does) and fine-tunes every parameter.
#[cfg(feature = "train")]
pub fn prune_finetune(a: &PruneFinetuneArgs) -> Result<()> {
    use splitbench::compress::PruneConfig;
    use splitbench::train::{self, Net};
    let s = tune_setup(&a.tune)?;
    let cfg = PruneConfig::new(&a.ratios)?;
    let out = a
        .tune
        .out
        .clone()
        .unwrap_or_else(|| eval::TrainedFiles::beside(&a.tune.m.weights).pruned(&cfg));
    let compacted = train::compact_unfused(&s.base, &cfg)?;
    println!(
        "pruning {} with {:?}: {} -> {} params; fine-tuning {} steps of {} {} images",
        a.tune.m.model,
        cfg.ratios,
        s.base.graph.param_count(),
        compacted.graph.param_count(),
        a.tune.steps,
        a.tune.batch,
        s.kind.name()
    );
    let mut net = Net::from_weights(&compacted.graph, &compacted.weights)?;
    if let Some(t) = &s.test_set {
        println!(
            "before fine-tuning: test top-1 (first {}, candle) {:.2}%",
            t.len(),
            100.0 * train::accuracy(&mut net, t, 250, None)?
        );
    }
    let t0 = std::time::Instant::now();
    train::train(
        &mut net,
        &s.train_set,
        &s.cfg,
        &mut |st| log_step(st, t0),
        &mut |_, _| Ok(()),
    )?;
    let secs = t0.elapsed().as_secs_f64();
    if let Some(t) = &s.test_set {
        println!(
            "after {} steps ({secs:.1} s): test top-1 (first {}, candle) {:.2}%",
            a.tune.steps,
            t.len(),
            100.0 * train::accuracy(&mut net, t, 250, None)?
        );
    }
    model::save_safetensors_as(&net.weights()?, &out, true)?;
    println!("wrote {} (f16)", out.display());
    Ok(())
}

/// `splitbench train-bottleneck`: trains an encoder/decoder pair at a split point of the
/// frozen base model with straight-through quantization at the given bit widths.
#[cfg(feature = "train")]
pub fn train_bottleneck(a: &TrainBottleneckArgs) -> Result<()> {
    use splitbench::compress::Bottleneck;
    use splitbench::train::{self, BottleneckNets, Net};
    let s = tune_setup(&a.tune)?;
    let torch_split = model::paper_split_points(&s.base.graph)
        .into_iter()
        .find(|(l, _)| *l == a.split)
        .map(|(_, n)| n)
        .ok_or_else(|| anyhow::anyhow!("--split {}: expected stem or layer1..layer4", a.split))?;
    let fused = model::fuse(&s.base)?;
    let fused_split = model::paper_split_points(&fused.graph)
        .into_iter()
        .find(|(l, _)| *l == a.split)
        .map(|(_, n)| n)
        .ok_or_else(|| anyhow::anyhow!("--split {}: not in the fused graph", a.split))?;
    let spec = Bottleneck::new(s.base.graph.nodes[torch_split].shape, a.channels)?;
    let out = a.tune.out.clone().unwrap_or_else(|| {
        eval::TrainedFiles::beside(&a.tune.m.weights)
            .bottleneck(&fused.graph.nodes[fused_split].name, a.channels)
    });
    println!(
        "bottleneck {} at {} ({}): {} -> {} channels, bits {:?}, {} steps of {} {} images, backbone frozen",
        spec.name(),
        a.split,
        fused.graph.nodes[fused_split].name,
        spec.feature,
        a.channels,
        a.bits,
        a.tune.steps,
        a.tune.batch,
        s.kind.name()
    );
    let mut net = Net::from_weights(&s.base.graph, &s.base.weights)?;
    let mut bn = match &a.init {
        Some(p) => {
            println!("continuing from {}", p.display());
            BottleneckNets::load(spec, p)?
        }
        None => BottleneckNets::new(spec, a.tune.seed)?,
    };
    let distill = (a.distill_weight > 0.0)
        .then(|| train::Distill::new(a.distill_temperature, a.distill_weight))
        .transpose()?;
    // The teacher is the untouched base model (the student's backbone is the same frozen
    // network, with the bottleneck spliced in).
    let mut teacher = distill
        .map(|_| Net::from_weights(&s.base.graph, &s.base.weights))
        .transpose()?;
    if let Some(d) = distill {
        println!(
            "distilling from the base model: weight {}, temperature {}",
            d.weight, d.temperature
        );
    }
    let cfg = splitbench::train::TrainConfig {
        optimizer: splitbench::train::Optimizer::AdamW,
        weight_decay: 0.0,
        distill,
        ..s.cfg.clone()
    };
    let t0 = std::time::Instant::now();
    train::train_bottleneck(
        &mut net,
        &mut bn,
        torch_split,
        &a.bits,
        &s.train_set,
        &cfg,
        teacher.as_mut(),
        &mut |st| log_step(st, t0),
        &mut |_, _| Ok(()),
    )?;
    let secs = t0.elapsed().as_secs_f64();
    if let Some(t) = &s.test_set {
        for &b in &a.bits {
            let acc = train::accuracy_with(&mut net, t, 250, None, &mut |id, f, n| {
                if id == torch_split {
                    bn.apply(&f, n, Some(b))
                } else {
                    Ok(f)
                }
            })?;
            println!(
                "after {} steps ({secs:.1} s), {b}-bit: test top-1 (first {}, candle) {:.2}%",
                a.tune.steps,
                t.len(),
                100.0 * acc
            );
        }
    }
    model::save_safetensors_as(&bn.weights()?, &out, true)?;
    println!("wrote {} (f16)", out.display());
    Ok(())
}
