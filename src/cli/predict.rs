//! `splitbench predict`: the whole model on the GPU for a batch in a `.npy` file, its
//! output written as `.npy` (to compare with another framework on the same input).

use super::args::{count, model_name, AdapterArgs};
use anyhow::{bail, Result};
use splitbench::data::npy;
use splitbench::model::{self, Shape, ZooOptions};
use std::path::PathBuf;

/// Flags of `splitbench predict`.
#[derive(clap::Args)]
pub struct Args {
    /// Zoo model or an ONNX file (its weights inside or beside it).
    #[arg(long, value_parser = model_name)]
    model: String,
    /// Weights of a zoo model (safetensors, torchvision keys); default: seeded random.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of classes of a zoo model (default 1000; 10 for resnet18-cifar).
    #[arg(long, value_parser = count)]
    classes: Option<usize>,
    /// Base width of a zoo ResNet.
    #[arg(long, value_parser = count)]
    width: Option<usize>,
    /// The inputs: an f32 (or f64) array N x C x H x W; C x H x W is the model's input shape.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the outputs (f32; N x features for vectors, else N x C x H x W).
    #[arg(long)]
    out: PathBuf,
    /// Samples per GPU submission.
    #[arg(long, default_value_t = 32, value_parser = count)]
    batch: usize,
    #[command(flatten)]
    adapter: AdapterArgs,
}

/// Runs the model and writes the outputs.
pub fn run(a: &Args) -> Result<()> {
    let x = npy::read(&a.input)?;
    let &[n, c, h, w] = x.dims.as_slice() else {
        bail!(
            "{}: dimensions {:?}; expected N x C x H x W",
            a.input.display(),
            x.dims
        );
    };
    if n == 0 {
        bail!("{}: no samples", a.input.display());
    }
    let opts = ZooOptions {
        input: Some(Shape::new(c, h, w)),
        classes: a.classes,
        width: a.width,
    };
    let p = model::prepare(&a.model, &opts, a.weights.as_deref(), a.seed)?;
    let ctx = a.adapter.context()?;
    let t0 = std::time::Instant::now();
    let y = splitbench::eval::predict(&ctx, &p.model, &x.data, n, a.batch)?;
    let secs = t0.elapsed().as_secs_f64();
    let dims = splitbench::eval::output_dims(&p.model, n);
    npy::write(&a.out, &dims, &y)?;
    println!(
        "{} ({}) on {}: {n} samples of {c}x{h}x{w} -> {dims:?} in {secs:.2} s (batch {}); wrote {}",
        p.model.graph.name,
        p.weights_source,
        ctx.summary.name,
        a.batch,
        a.out.display()
    );
    Ok(())
}
