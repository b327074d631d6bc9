//! Flag groups shared by several subcommands (`#[command(flatten)]`) and the value parsers
//! that turn a flag's text into a typed value while clap parses, so a bad value is refused
//! with the flag's name before any work starts.

use splitbench::channel::Channel;
use splitbench::data::{self, Dataset, DatasetKind, Split};
use splitbench::eval::TrainedFiles;
use splitbench::gpu::GpuContext;
use splitbench::model::{self, zoo, Prepared, Shape, ZooOptions};
use std::fmt;
use std::path::PathBuf;

/// A zoo model name (`--model`).
pub fn model_name(s: &str) -> Result<String, String> {
    if zoo::names().contains(&s) || model::onnx::is_onnx(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown model '{s}' (known: {}, or a file.onnx)",
            zoo::names().join(", ")
        ))
    }
}

/// A per-sample shape `CxHxW` of positive integers (`--input`).
pub fn shape(s: &str) -> Result<Shape, String> {
    s.parse()
}

/// A count of at least 1 (`--batch`, `--reps`, `--steps`, `--epochs`).
pub fn count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("expected a whole number >= 1 ({e})")),
    }
}

/// A finite number > 0 (`--edge-speedup`, `--deadline-ms`, `--lr`).
pub fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err("expected a positive number".into()),
    }
}

/// A finite number >= 0 (`--delay-ms`, `--interval-ms`).
pub fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err("expected a number >= 0".into()),
    }
}

/// A finite number (`--min-accuracy`, `--rtt-ms`).
pub fn finite(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err("expected a number".into()),
    }
}

/// A link spec (`--channel`), e.g. `rayleigh:bw_mhz=1,snr_db=10` or `trace:path=FILE`.
pub fn channel(s: &str) -> Result<Channel, String> {
    Channel::parse(s).map_err(|e| e.to_string())
}

/// Pruning ratios of the three-step search (`--prune-ratios`): comma-separated, each in
/// (0, 1), or `none`.
#[derive(Clone, Debug, PartialEq)]
pub struct PruneRatios(pub Vec<f32>);

impl fmt::Display for PruneRatios {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let r: Vec<String> = self.0.iter().map(|r| r.to_string()).collect();
        f.write_str(&r.join(","))
    }
}

/// Parses [`PruneRatios`].
pub fn prune_ratios(s: &str) -> Result<PruneRatios, String> {
    if s.trim() == "none" || s.trim().is_empty() {
        return Ok(PruneRatios(Vec::new()));
    }
    s.split(',')
        .map(|r| match r.trim().parse::<f32>() {
            Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
            Ok(v) => Err(format!("{v} is not in (0, 1)")),
            Err(_) => Err(format!("`{r}` is not a number")),
        })
        .collect::<Result<_, _>>()
        .map(PruneRatios)
}

/// Model selection for zoo models with their shape options.
#[derive(clap::Args, Clone, Debug)]
pub struct ModelArgs {
    /// Zoo model (resnet18, resnet34, resnet50, vgg16, mobilenet_v2, alexnet, resnet18-cifar)
    /// or an ONNX file (`model.onnx`, its weights inside or in `model.onnx.data` beside it).
    #[arg(long, value_parser = model_name)]
    pub model: String,
    /// Per-sample input shape CxHxW (default 3x224x224; 3x32x32 for resnet18-cifar; an ONNX
    /// model's own, needed where the file leaves a dimension symbolic).
    #[arg(long, value_parser = shape)]
    pub input: Option<Shape>,
    /// Number of classes (default 1000; 10 for resnet18-cifar).
    #[arg(long, value_parser = count)]
    pub classes: Option<usize>,
    /// Base width of ResNets (resnet18-cifar default 64).
    #[arg(long, value_parser = count)]
    pub width: Option<usize>,
}

impl ModelArgs {
    /// The zoo options these flags give.
    pub fn options(&self) -> ZooOptions {
        ZooOptions {
            input: self.input,
            classes: self.classes,
            width: self.width,
        }
    }

    /// The model with `weights` (safetensors) or, without, seeded random weights.
    pub fn prepare(
        &self,
        weights: Option<&std::path::Path>,
        seed: u64,
    ) -> anyhow::Result<Prepared> {
        Ok(model::prepare(&self.model, &self.options(), weights, seed)?)
    }
}

/// The weights of co-inference: the edge and its devices must load the same ones.
#[derive(clap::Args)]
pub struct WeightsArgs {
    /// Weights (safetensors with torchvision key names; pruned and bottleneck files are
    /// looked up next to them); default: seeded random, and so are the pruned models and
    /// bottlenecks of a configuration (real times, meaningless accuracy).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Seed of the random weights (and of `offload`'s random pixels).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl WeightsArgs {
    /// The model of `m` with these weights, and where its trained variants are looked up
    /// (seeded weights: seeded variants, as the study times them).
    pub fn prepare(&self, m: &ModelArgs) -> anyhow::Result<(Prepared, TrainedFiles)> {
        let p = m.prepare(self.weights.as_deref(), self.seed)?;
        let files = match &self.weights {
            Some(w) => TrainedFiles::beside(w),
            None => TrainedFiles::seeded(self.seed),
        };
        Ok((p, files))
    }
}

/// Which adapter runs the GPU work.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AdapterArgs {
    /// Use the first adapter whose name contains this (case-insensitive).
    #[arg(long)]
    pub adapter: Option<String>,
    /// Plan every convolution with the heuristic: no tile timing, no tile cache.
    #[arg(long)]
    pub no_autotune: bool,
}

impl AdapterArgs {
    /// Opens the adapter, autotuning convolution tiles unless `--no-autotune`.
    pub fn context(&self) -> splitbench::Result<GpuContext> {
        let ctx = GpuContext::new(self.adapter.as_deref())?;
        if self.no_autotune {
            ctx.set_autotune(false);
        }
        Ok(ctx)
    }
}

/// A trained model and its dataset: the flags every accuracy subcommand shares.
#[derive(clap::Args, Clone, Debug)]
pub struct TrainedModelArgs {
    /// Zoo model (resnet18-cifar for the committed weights), or a trained ONNX model
    /// (evaluation only; its weights are inside).
    #[arg(long, value_parser = model_name)]
    pub model: String,
    /// Base width of ResNets (the committed model: 16).
    #[arg(long, value_parser = count)]
    pub width: Option<usize>,
    /// Weights (safetensors with torchvision key names), required for zoo models; pruned and
    /// bottleneck files are looked up next to them (see models/README.md).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[command(flatten)]
    pub data: DatasetArgs,
}

impl TrainedModelArgs {
    /// The model options the dataset implies: its image shape and class count.
    pub fn options(&self) -> ZooOptions {
        self.data.options(self.width)
    }

    /// The trained model, ready to run (an ONNX model's input shape must be the dataset's).
    pub fn prepare(&self) -> splitbench::Result<Prepared> {
        if model::onnx::is_onnx(&self.model) {
            let opts = ZooOptions {
                input: self.options().input,
                ..Default::default()
            };
            return model::prepare(&self.model, &opts, self.weights.as_deref(), 0);
        }
        model::prepare(&self.model, &self.options(), Some(&self.weights_file()?), 0)
    }

    /// The weights file, next to which trained variants are found: `--weights`, or the
    /// ONNX file itself.
    pub fn weights_file(&self) -> splitbench::Result<PathBuf> {
        match (&self.weights, model::onnx::is_onnx(&self.model)) {
            (Some(w), _) => Ok(w.clone()),
            (None, true) => Ok(PathBuf::from(&self.model)),
            (None, false) => Err(splitbench::Error::InvalidArg(format!(
                "--weights is required for the zoo model {}",
                self.model
            ))),
        }
    }

    /// The dataset's test split.
    pub fn test_set(&self) -> splitbench::Result<Dataset> {
        data::load(self.data.dataset, Split::Test, self.data.data.as_deref())
    }
}

/// A labelled dataset.
#[derive(clap::Args, Clone, Debug)]
pub struct DatasetArgs {
    /// Dataset.
    #[arg(long, value_enum, default_value_t = DatasetKind::FashionMnist)]
    pub dataset: DatasetKind,
    /// Dataset folder (default for fashion-mnist: /usr/share/datasets/fashion-mnist;
    /// required for cifar10).
    #[arg(long, required_if_eq("dataset", "cifar10"))]
    pub data: Option<PathBuf>,
}

impl DatasetArgs {
    /// The model options the dataset implies, with a ResNet `width`.
    pub fn options(&self, width: Option<usize>) -> ZooOptions {
        ZooOptions {
            input: Some(self.dataset.shape()),
            classes: Some(self.dataset.classes()),
            width,
        }
    }
}

/// How the GPU engine runs an evaluation.
#[derive(clap::Args, Clone, Debug)]
pub struct GpuEvalArgs {
    /// Evaluate only the first N test images.
    #[arg(long, value_parser = count)]
    pub limit: Option<usize>,
    /// Images per GPU submission.
    #[arg(long, default_value_t = 100, value_parser = count)]
    pub batch: usize,
    #[command(flatten)]
    pub adapter: AdapterArgs,
}
