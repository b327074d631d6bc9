//! The learned bottleneck at the split (step 3 of Shao & Zhang, as in the authors'
//! reference implementation): on the device an encoder maps the `C`-channel feature to `k`
//! channels and squashes it with `tanh` before n-bit quantization; on the edge a decoder
//! maps the `k` channels back to `C` with an ELU, and the rest of the network runs as
//! before.
//!
//! - Spatial features (`C x H x W`, `H * W > 1`): a 3x3 conv (stride 1, padding 1, with
//!   bias) `C -> k` + tanh, and a 3x3 conv `k -> C` + ELU.
//! - Vector features (after global pooling or flatten, `C x 1 x 1`): a linear layer
//!   `C -> k` + tanh, and a linear `k -> C` + ELU.
//!
//! Both halves are small graphs of the model IR, so the engine runs and times them like
//! any other graph ([`Bottleneck::time`]). For timing, their weights are seeded (drawn like
//! every seeded weight of the zoo): latency does not depend on the weights' values, and the
//! trade-off study's outputs say so ([`BOTTLENECK_WEIGHTS_NOTE`]). Trained pairs (feature
//! `train`: `splitbench train-bottleneck`) are files with the keys of
//! [`Bottleneck::pair_graph`], read by [`Bottleneck::load`]; their accuracy comes from
//! `splitbench accuracy` through the accuracy table.
//!
//! ```
//! use splitbench::compress::{Bottleneck, BottleneckKind};
//! use splitbench::model::Shape;
//!
//! let b = Bottleneck::new(Shape::new(64, 32, 32), 16)?;
//! assert_eq!(b.kind, BottleneckKind::Conv);
//! assert_eq!(b.code_shape(), Shape::new(16, 32, 32));
//! assert_eq!(b.encoder_graph()?.nodes[1].shape, Shape::new(16, 32, 32));
//! assert_eq!(b.decoder_graph()?.nodes[1].shape, Shape::new(64, 32, 32));
//! let v = Bottleneck::new(Shape::new(512, 1, 1), 32)?;
//! assert_eq!(v.kind, BottleneckKind::Linear);
//! # Ok::<(), splitbench::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::gpu::{self, Executor, GpuContext, Stats, TimingMethod};
use crate::model::{seeded, Act, Conv2d, Graph, Linear, Model, Op, Shape};
use crate::tensor::Rng;

/// Salt of the decoder's seeded weights (the encoder takes the seed itself), so the two
/// halves never draw the same numbers.
const DECODER_SEED: u64 = 0xdec0de;
/// Salt of the random feature a bottleneck is timed on.
const INPUT_SEED: u64 = 0xb0771e;

/// What every output that uses a bottleneck says about its weights.
pub const BOTTLENECK_WEIGHTS_NOTE: &str =
    "bottleneck weights: seeded for timing (latency does not depend on them); accuracy of trained ones: --accuracy-table";

/// The divisors of the bottleneck widths searched: `k = C/4, C/8, C/16` (at least 1).
pub const WIDTH_DIVISORS: [usize; 3] = [4, 8, 16];

/// Conv (spatial feature) or linear (vector feature) bottleneck.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum BottleneckKind {
    /// 3x3 conv encoder/decoder.
    Conv,
    /// Linear encoder/decoder.
    Linear,
}

/// A bottleneck of width `width` for a feature of shape `feature`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bottleneck {
    /// Shape of the feature at the split (per sample).
    pub feature: Shape,
    /// Channels (features) of the code that is quantized and sent.
    pub width: usize,
    /// Conv or linear.
    pub kind: BottleneckKind,
}

/// The widths searched for a feature of `channels` channels: `channels / d` for `d` in
/// [`WIDTH_DIVISORS`], at least 1, distinct, descending.
pub fn widths(channels: usize) -> Vec<usize> {
    let mut w: Vec<usize> = WIDTH_DIVISORS
        .iter()
        .map(|d| (channels / d).max(1))
        .filter(|&k| k < channels)
        .collect();
    w.dedup();
    w
}

/// Median device times of a bottleneck's two halves, measured on the local GPU.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct BottleneckTimes {
    /// How they were timed.
    pub method: TimingMethod,
    /// Encoder (conv/linear + tanh), whole graph in one submission.
    pub encoder: Stats,
    /// Decoder (conv/linear + ELU), whole graph in one submission.
    pub decoder: Stats,
}

impl Bottleneck {
    /// A bottleneck for `feature` with `width` output channels (`1..=C`): linear when the
    /// feature is a vector (`H = W = 1`), else 3x3 conv.
    pub fn new(feature: Shape, width: usize) -> Result<Self> {
        if feature.numel() == 0 || width == 0 || width > feature.c {
            return Err(Error::InvalidArg(format!(
                "bottleneck of width {width} for a {feature} feature: the width must be in 1..={}",
                feature.c
            )));
        }
        let kind = if feature.h == 1 && feature.w == 1 {
            BottleneckKind::Linear
        } else {
            BottleneckKind::Conv
        };
        Ok(Self {
            feature,
            width,
            kind,
        })
    }

    /// Shape of the code (what is quantized and sent).
    pub fn code_shape(&self) -> Shape {
        Shape::new(self.width, self.feature.h, self.feature.w)
    }

    /// Short name used in variant names: `bn16`.
    pub fn name(&self) -> String {
        format!("bn{}", self.width)
    }

    fn half(&self, name: &str, input: Shape, out_c: usize, act: Act) -> Result<Graph> {
        let mut g = Graph::new(format!("bottleneck-{name}-{}", self.feature), input);
        let op = match self.kind {
            BottleneckKind::Conv => Op::Conv2d(Conv2d {
                bias: true,
                act,
                ..Conv2d::new(input.c, out_c, 3, 1, 1, 1)
            }),
            BottleneckKind::Linear => Op::Linear(Linear {
                in_f: input.c,
                out_f: out_c,
                bias: true,
                act,
            }),
        };
        g.push(name, op, &[0])?;
        Ok(g)
    }

    /// Device half: feature -> code, tanh.
    pub fn encoder_graph(&self) -> Result<Graph> {
        self.half("encoder", self.feature, self.width, Act::Tanh)
    }

    /// Edge half: code -> feature, ELU.
    pub fn decoder_graph(&self) -> Result<Graph> {
        self.half("decoder", self.code_shape(), self.feature.c, Act::Elu)
    }

    /// Encoder and decoder in one graph (feature -> code -> feature): the layout of a
    /// trained bottleneck file, whose keys are `encoder.*` and `decoder.*`.
    pub fn pair_graph(&self) -> Result<Graph> {
        let enc = self.encoder_graph()?;
        let dec = self.decoder_graph()?;
        let mut g = Graph::new(
            format!("bottleneck-{}-{}", self.feature, self.width),
            self.feature,
        );
        g.push("encoder", enc.nodes[1].op, &[0])?;
        g.push("decoder", dec.nodes[1].op, &[1])?;
        Ok(g)
    }

    /// Trained encoder and decoder from a safetensors file with the keys of
    /// [`Self::pair_graph`] (as `splitbench train-bottleneck` writes it); errors name the
    /// file and the key.
    pub fn load(&self, path: &std::path::Path) -> Result<(Model, Model)> {
        let w = crate::model::load_safetensors(&self.pair_graph()?, path)?;
        let half = |graph: Graph| -> Model {
            let weights = w
                .iter()
                .filter(|(k, _)| k.starts_with(&format!("{}.", graph.nodes[1].name)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Model { graph, weights }
        };
        Ok((half(self.encoder_graph()?), half(self.decoder_graph()?)))
    }

    /// The encoder with seeded weights.
    pub fn encoder(&self, seed: u64) -> Result<Model> {
        let graph = self.encoder_graph()?;
        let weights = seeded(&graph, seed);
        Ok(Model { graph, weights })
    }

    /// The decoder with seeded weights.
    pub fn decoder(&self, seed: u64) -> Result<Model> {
        let graph = self.decoder_graph()?;
        let weights = seeded(&graph, seed ^ DECODER_SEED);
        Ok(Model { graph, weights })
    }

    /// Times both halves on `ctx` (seeded weights and input; `warmup` untimed and `reps`
    /// timed runs of each graph in one submission).
    pub fn time(
        &self,
        ctx: &GpuContext,
        warmup: usize,
        reps: usize,
        seed: u64,
    ) -> Result<BottleneckTimes> {
        pollster::block_on(self.time_async(ctx, warmup, reps, seed))
    }

    /// [`Self::time`] for callers that cannot block (a browser).
    pub async fn time_async(
        &self,
        ctx: &GpuContext,
        warmup: usize,
        reps: usize,
        seed: u64,
    ) -> Result<BottleneckTimes> {
        let run = |m: Model| async move {
            let exec = Executor::new_async(ctx, &m, 1..2, 1, &[]).await?;
            let x = Rng::new(seed ^ INPUT_SEED).vec(m.graph.input_shape().numel(), -1.0, 1.0);
            exec.set_input(0, &x)?;
            // The whole graph in one submission: a bottleneck is one node.
            gpu::profile_whole_async(&exec, warmup, reps).await
        };
        let (method, encoder): (TimingMethod, Stats) = run(self.encoder(seed)?).await?;
        let (_, decoder) = run(self.decoder(seed)?).await?;
        Ok(BottleneckTimes {
            method,
            encoder,
            decoder,
        })
    }
}
