//! The study's configurations evaluated through the whole split pipeline on the GPU engine:
//! device part (pruned = compacted, or not) -> bottleneck encoder -> quantize + pack on the
//! GPU -> wire frame -> parse + unpack + dequantize on the GPU -> bottleneck decoder -> edge
//! part. Every image crosses a real frame ([`crate::compress::frame`]), so what is measured
//! is what would be sent.
//!
//! A configuration is a [`Config`] of the study's grammar, its split node a node of the
//! *fused* graph, e.g. `layer1.1.conv2/prune-0_0.5_0_0_0+bn4+4bit-tensor`; `fc/none`
//! (device-only) and `input/uint8-input` (edge-only: Fashion-MNIST pixels are 8-bit, so
//! uint8 is lossless) run the whole model.

use super::Classifier;
use crate::compress::{
    decode_on_edge, encode_on_device, frame, Bottleneck, Config, DecodeLimits, DeviceTensor,
    Encoding, Placement, PruneConfig,
};
use crate::error::{Error, Result};
use crate::gpu::{buffers, Executor, GpuContext};
use crate::model::{Graph, Model, NodeId, Shape};

/// The trained pieces a configuration needs, already loaded.
pub struct SplitParts<'m> {
    /// The fused model that runs (compacted when the config prunes).
    pub model: &'m Model,
    /// Trained encoder and decoder, when the config has a bottleneck.
    pub bottleneck: Option<(Model, Model)>,
}

/// The device's half of a configuration: the prefix, the bottleneck encoder and the GPU
/// encoding into a wire frame, for batches of a fixed size. [`SplitClassifier`] pairs it with
/// an [`EdgePart`] in one process; `splitbench offload` sends its frames over a network.
pub struct DevicePart<'a> {
    ctx: &'a GpuContext,
    prefix: Executor<'a>,
    encoder: Option<Executor<'a>>,
    code: Shape,
    encoding: Encoding,
    batch: usize,
}

/// What the device's half measured for one batch, ms (GPU times where the adapter has
/// timestamps: see [`crate::gpu::run_timed`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DeviceCost {
    /// The prefix.
    pub prefix_ms: f64,
    /// The bottleneck encoder (0 without one) plus the GPU quantize + pack.
    pub encode_ms: f64,
    /// Reading the packed feature back and assembling the frame, wall clock.
    pub frame_ms: f64,
}

/// The edge's half: parse the frame, unpack on the GPU, the bottleneck decoder and the
/// suffix, for batches of a fixed size.
pub struct EdgePart<'a> {
    ctx: &'a GpuContext,
    decoder: Option<Executor<'a>>,
    suffix: Executor<'a>,
    split: NodeId,
    feature: Shape,
    batch: usize,
    classes: usize,
}

/// What the edge's half measured for one frame, ms.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EdgeCost {
    /// Parsing and checking the frame, uploading it, GPU unpack + dequantize and the
    /// bottleneck decoder (GPU times where the adapter has timestamps).
    pub decode_ms: f64,
    /// The suffix.
    pub suffix_ms: f64,
}

/// Checks a split for the pipeline halves: a feature encoding, a positive batch, an
/// intermediate node.
fn check_split(g: &Graph, split: NodeId, encoding: Encoding, batch: usize) -> Result<()> {
    if !encoding.is_feature() {
        return Err(Error::InvalidArg(format!(
            "a split pipeline sends a feature (f32 or n-bit), not `{encoding}`"
        )));
    }
    if batch == 0 || split == 0 || split >= g.output() {
        return Err(Error::InvalidArg(format!(
            "split after node {split} of {} at batch {batch}",
            g.name
        )));
    }
    Ok(())
}

/// The single output of an executor's run.
fn only(mut out: Vec<crate::tensor::Tensor>) -> Result<Vec<f32>> {
    out.pop()
        .map(|t| t.data)
        .ok_or_else(|| Error::gpu("executor returned no output"))
}

impl<'a> DevicePart<'a> {
    /// Prepares the prefix up to fused node `split` of `parts.model` (and the bottleneck's
    /// encoder), sending with `encoding`, for batches of `batch`.
    pub fn new(
        ctx: &'a GpuContext,
        parts: &SplitParts,
        split: NodeId,
        encoding: Encoding,
        batch: usize,
    ) -> Result<Self> {
        let g = &parts.model.graph;
        check_split(g, split, encoding, batch)?;
        let prefix = Executor::new(ctx, parts.model, 1..split + 1, batch, &[split])?;
        let feature = g.nodes[split].shape;
        let (encoder, code) = match &parts.bottleneck {
            Some((enc, _)) => {
                if enc.graph.input_shape() != feature {
                    return Err(Error::InvalidArg(format!(
                        "bottleneck for a {} feature at a {feature} split",
                        enc.graph.input_shape()
                    )));
                }
                let code = enc.graph.nodes[enc.graph.output()].shape;
                (Some(Executor::new(ctx, enc, 1..2, batch, &[])?), code)
            }
            None => (None, feature),
        };
        Ok(Self {
            ctx,
            prefix,
            encoder,
            code,
            encoding,
            batch,
        })
    }

    /// Per-sample input shape.
    pub fn input_shape(&self) -> Shape {
        self.prefix.graph().input_shape()
    }

    /// Per-sample shape of what is encoded (the bottleneck's code, else the feature).
    pub fn code_shape(&self) -> Shape {
        self.code
    }

    /// Bytes of the frame that carries one image's code (what the cost model charges).
    pub fn frame_bytes_per_image(&self) -> Result<usize> {
        frame::frame_len(&[frame::TensorSpec {
            batch: 1,
            shape: self.code,
            encoding: self.encoding,
        }])
    }

    /// Runs the device's half on `batch` images (`batch * numel` values, NCHW): the wire
    /// frame and what each stage cost.
    pub fn run(&self, images: &[f32]) -> Result<(Vec<u8>, DeviceCost)> {
        self.prefix.set_input(0, images)?;
        let (out, prefix_ms, _) = crate::gpu::run_timed(&self.prefix)?;
        let mut code = only(out)?;
        let mut encoder_ms = 0.0;
        if let Some(enc) = &self.encoder {
            enc.set_input(0, &code)?;
            let (out, ms, _) = crate::gpu::run_timed(enc)?;
            code = only(out)?;
            encoder_ms = ms;
        }
        let buf = buffers::upload(self.ctx, "code", &code);
        let t = DeviceTensor {
            buffer: &buf,
            batch: self.batch,
            shape: self.code,
        };
        let (encoded, times) = encode_on_device(self.ctx, &[t], self.encoding, false)?;
        Ok((
            encoded.bytes,
            DeviceCost {
                prefix_ms,
                encode_ms: encoder_ms + times.encode_gpu_ms,
                frame_ms: times.readback_ms + times.entropy_encode_ms,
            },
        ))
    }
}

impl<'a> EdgePart<'a> {
    /// Prepares the bottleneck's decoder and the suffix after fused node `split` of
    /// `parts.model` for batches of `batch`. Only single-tensor cuts are supported.
    pub fn new(
        ctx: &'a GpuContext,
        parts: &SplitParts,
        split: NodeId,
        encoding: Encoding,
        batch: usize,
    ) -> Result<Self> {
        let g = &parts.model.graph;
        check_split(g, split, encoding, batch)?;
        let suffix = Executor::new(ctx, parts.model, split + 1..g.nodes.len(), batch, &[])?;
        if suffix.inputs() != [split] {
            return Err(Error::Unsupported(format!(
                "split after '{}': the edge part reads {} tensors; only single-tensor cuts \
                 are evaluated",
                g.nodes[split].name,
                suffix.inputs().len()
            )));
        }
        let decoder = match &parts.bottleneck {
            Some((_, dec)) => Some(Executor::new(ctx, dec, 1..2, batch, &[])?),
            None => None,
        };
        Ok(Self {
            ctx,
            decoder,
            suffix,
            split,
            feature: g.nodes[split].shape,
            batch,
            classes: g.nodes[g.output()].shape.numel(),
        })
    }

    /// Classes per image.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Runs the edge's half on one frame of `batch` images: the logits (`batch * classes`,
    /// row after row) and what each stage cost. A malformed frame, or one that does not
    /// carry this configuration's code, is an error.
    pub fn run(&self, frame_bytes: &[u8], limits: &DecodeLimits) -> Result<(Vec<f32>, EdgeCost)> {
        let t0 = std::time::Instant::now();
        let (decoded, times) = decode_on_edge(self.ctx, frame_bytes, limits)?;
        let parse_ms = t0.elapsed().as_secs_f64() * 1e3 - times.decode_gpu_ms;
        let [tensor] = &decoded[..] else {
            return Err(Error::InvalidArg(format!(
                "the frame carries {} tensors, the configuration one",
                decoded.len()
            )));
        };
        let mut feature = tensor.read(self.ctx)?;
        let mut decoder_ms = 0.0;
        if let Some(dec) = &self.decoder {
            if feature.len() != dec.batch() * dec.graph().input_shape().numel() {
                return Err(Error::InvalidArg(format!(
                    "the frame's tensor has {} values, the decoder takes {} x {}",
                    feature.len(),
                    dec.batch(),
                    dec.graph().input_shape()
                )));
            }
            dec.set_input(0, &feature)?;
            let (out, ms, _) = crate::gpu::run_timed(dec)?;
            feature = only(out)?;
            decoder_ms = ms;
        }
        if feature.len() != self.batch * self.feature.numel() {
            return Err(Error::InvalidArg(format!(
                "the frame decodes to {} values, the edge part takes {} x {}",
                feature.len(),
                self.batch,
                self.feature
            )));
        }
        self.suffix.set_input(self.split, &feature)?;
        let (out, suffix_ms, _) = crate::gpu::run_timed(&self.suffix)?;
        Ok((
            only(out)?,
            EdgeCost {
                decode_ms: parse_ms.max(0.0) + times.decode_gpu_ms + decoder_ms,
                suffix_ms,
            },
        ))
    }
}

/// A configuration on the GPU engine at a fixed batch (a short last batch is padded): the
/// device's half and the edge's half joined by a real frame in memory.
pub struct SplitClassifier<'a> {
    device: DevicePart<'a>,
    edge: EdgePart<'a>,
    /// Frame bytes of the last batch.
    pub last_frame_bytes: usize,
}

impl<'a> SplitClassifier<'a> {
    /// Prepares the pipeline cut after fused node `split` of `parts.model`, sending the
    /// feature with `encoding` (f32 or n-bit), for batches of `batch`.
    pub fn new(
        ctx: &'a GpuContext,
        parts: &SplitParts,
        split: NodeId,
        encoding: Encoding,
        batch: usize,
    ) -> Result<Self> {
        Ok(Self {
            device: DevicePart::new(ctx, parts, split, encoding, batch)?,
            edge: EdgePart::new(ctx, parts, split, encoding, batch)?,
            last_frame_bytes: 0,
        })
    }

    /// Bytes of the frame that carries one image's code (what the cost model charges).
    pub fn frame_bytes_per_image(&self) -> Result<usize> {
        self.device.frame_bytes_per_image()
    }
}

impl Classifier for SplitClassifier<'_> {
    fn input_shape(&self) -> Shape {
        self.device.input_shape()
    }

    fn max_batch(&self) -> usize {
        self.device.batch
    }

    fn logits(&mut self, images: &[f32], n: usize) -> Result<Vec<f32>> {
        let per = self.input_shape().numel();
        let batch = self.device.batch;
        if n == 0 || n > batch || images.len() != n * per {
            return Err(Error::InvalidArg(format!(
                "{n} images ({} values) for a pipeline of batch {batch}",
                images.len()
            )));
        }
        let mut x = images.to_vec();
        x.resize(batch * per, 0.0);
        // Device -> wire -> edge, through a real frame.
        let (frame, _) = self.device.run(&x)?;
        self.last_frame_bytes = frame.len();
        let (mut logits, _) = self.edge.run(&frame, &DecodeLimits::default())?;
        logits.truncate(n * self.edge.classes);
        Ok(logits)
    }
}

/// Where the trained pieces of a model live: `<dir>/<stem>.prune-<ratios>.safetensors`
/// (a fine-tuned compacted model, torchvision keys of the unfused graph) and
/// `<dir>/<stem>.<split node>-bn<k>.safetensors` (a bottleneck at a fused split node), next
/// to the base model `<dir>/<stem>.safetensors`. A model with seeded random weights has no
/// files: its pruned and bottleneck parts are seeded too ([`TrainedFiles::seeded`]).
#[derive(Clone, Debug)]
pub struct TrainedFiles {
    /// Folder.
    pub dir: std::path::PathBuf,
    /// File stem of the base model, e.g. `resnet18-cifar-w16-fashion-mnist`.
    pub stem: String,
    /// `Some(seed)`: no files; every part has weights seeded from this (for latency work,
    /// where the values do not matter; both ends of a real run derive the same ones).
    pub seeded: Option<u64>,
}

impl TrainedFiles {
    /// The files next to the base model `base` (`<dir>/<stem>.safetensors`).
    pub fn beside(base: &std::path::Path) -> Self {
        Self {
            dir: base
                .parent()
                .map_or_else(|| ".".into(), std::path::Path::to_path_buf),
            stem: base
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            seeded: None,
        }
    }

    /// The parts of a model with seeded weights: a pruned model is the compacted graph with
    /// weights seeded from `seed`, a bottleneck (also on a pruned feature) has seeded
    /// encoder and decoder. Their accuracy means nothing; their times are real.
    pub fn seeded(seed: u64) -> Self {
        Self {
            dir: ".".into(),
            stem: String::new(),
            seeded: Some(seed),
        }
    }

    /// The fine-tuned model pruned with `cfg`.
    pub fn pruned(&self, cfg: &PruneConfig) -> std::path::PathBuf {
        self.dir.join(format!(
            "{}.prune-{}.safetensors",
            self.stem,
            cfg.ratios_name()
        ))
    }

    /// The bottleneck of width `k` after fused node `split_name`.
    pub fn bottleneck(&self, split_name: &str, k: usize) -> std::path::PathBuf {
        self.dir
            .join(format!("{}.{split_name}-bn{k}.safetensors", self.stem))
    }
}

/// Seeds of the seeded parts, derived from the model's (any fixed values: both ends of a
/// real run derive the same weights).
const SEEDED_PRUNED: u64 = 0x5052_554e;
const SEEDED_BOTTLENECK: u64 = 0x424e_4b00;

/// What [`load_parts`] loads: the compacted fine-tuned model when the configuration prunes,
/// and the trained encoder and decoder when it has a bottleneck.
pub type LoadedParts = (Option<Model>, Option<(Model, Model)>);

/// The fused models a configuration runs, loaded from `files`: the base (`fused`), or the
/// compacted model fine-tuned with its pruning (shapes from the unfused zoo graph `torch`),
/// and the trained bottleneck. The configuration is checked against `fused` first
/// ([`Config::resolve`]); a missing file is an error naming it.
pub fn load_parts(
    torch: &Graph,
    fused: &Model,
    cfg: &Config,
    files: &TrainedFiles,
) -> Result<LoadedParts> {
    let Placement::Split(split) = cfg.resolve(&fused.graph)? else {
        return Ok((None, None));
    };
    let (prune, bottleneck) = (&cfg.variant.prune, &cfg.variant.bottleneck);
    let pruned = match prune {
        Some(p) => {
            let g = crate::compress::compact_graph(torch, p)?;
            Some(match files.seeded {
                Some(seed) => crate::model::load_fused(&g, None, seed ^ SEEDED_PRUNED)?,
                None => crate::model::load_fused(&g, Some(&files.pruned(p)), 0)?,
            })
        }
        None => None,
    };
    if let (Some(seed), Some(k)) = (files.seeded, bottleneck) {
        let node = &pruned.as_ref().unwrap_or(fused).graph.nodes[split];
        let spec = Bottleneck::new(node.shape, *k)?;
        let seed = seed ^ SEEDED_BOTTLENECK;
        return Ok((pruned, Some((spec.encoder(seed)?, spec.decoder(seed)?))));
    }
    let bn = match bottleneck {
        Some(k) => {
            if prune.is_some() {
                return Err(Error::Unsupported(
                    "bottlenecks are trained on unpruned features only".into(),
                ));
            }
            let node = &fused.graph.nodes[split];
            let spec = Bottleneck::new(node.shape, *k)?;
            Some(spec.load(&files.bottleneck(&node.name, *k))?)
        }
        None => None,
    };
    Ok((pruned, bn))
}
