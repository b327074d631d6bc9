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

/// A configuration on the GPU engine at a fixed batch (a short last batch is padded).
pub struct SplitClassifier<'a> {
    ctx: &'a GpuContext,
    device: Executor<'a>,
    encoder: Option<Executor<'a>>,
    decoder: Option<Executor<'a>>,
    edge: Executor<'a>,
    split: NodeId,
    feature: Shape,
    code: Shape,
    encoding: Encoding,
    batch: usize,
    classes: usize,
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
        let m = parts.model;
        let g = &m.graph;
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
        let device = Executor::new(ctx, m, 1..split + 1, batch, &[split])?;
        let edge = Executor::new(ctx, m, split + 1..g.nodes.len(), batch, &[])?;
        if edge.inputs() != [split] {
            return Err(Error::Unsupported(format!(
                "split after '{}': the edge part reads {} tensors; only single-tensor cuts \
                 are evaluated",
                g.nodes[split].name,
                edge.inputs().len()
            )));
        }
        let feature = g.nodes[split].shape;
        let (encoder, decoder, code) = match &parts.bottleneck {
            Some((enc, dec)) => {
                if enc.graph.input_shape() != feature {
                    return Err(Error::InvalidArg(format!(
                        "bottleneck for a {} feature at a {feature} split",
                        enc.graph.input_shape()
                    )));
                }
                let code = enc.graph.nodes[enc.graph.output()].shape;
                (
                    Some(Executor::new(ctx, enc, 1..2, batch, &[])?),
                    Some(Executor::new(ctx, dec, 1..2, batch, &[])?),
                    code,
                )
            }
            None => (None, None, feature),
        };
        Ok(Self {
            ctx,
            device,
            encoder,
            decoder,
            edge,
            split,
            feature,
            code,
            encoding,
            batch,
            classes: g.nodes[g.output()].shape.numel(),
            last_frame_bytes: 0,
        })
    }

    /// Bytes of the frame that carries one image's code (what the cost model charges).
    pub fn frame_bytes_per_image(&self) -> Result<usize> {
        frame::frame_len(&[frame::TensorSpec {
            batch: 1,
            shape: self.code,
            encoding: self.encoding,
        }])
    }

    fn only(mut out: Vec<crate::tensor::Tensor>) -> Result<Vec<f32>> {
        out.pop()
            .map(|t| t.data)
            .ok_or_else(|| Error::gpu("executor returned no output"))
    }
}

impl Classifier for SplitClassifier<'_> {
    fn input_shape(&self) -> Shape {
        self.device.graph().input_shape()
    }

    fn max_batch(&self) -> usize {
        self.batch
    }

    fn logits(&mut self, images: &[f32], n: usize) -> Result<Vec<f32>> {
        let per = self.input_shape().numel();
        if n == 0 || n > self.batch || images.len() != n * per {
            return Err(Error::InvalidArg(format!(
                "{n} images ({} values) for a pipeline of batch {}",
                images.len(),
                self.batch
            )));
        }
        let mut x = images.to_vec();
        x.resize(self.batch * per, 0.0);
        self.device.set_input(0, &x)?;
        let mut code = Self::only(self.device.run()?)?;
        if let Some(enc) = &self.encoder {
            enc.set_input(0, &code)?;
            code = Self::only(enc.run()?)?;
        }
        // Device -> wire -> edge, through a real frame.
        let buf = buffers::upload(self.ctx, "code", &code);
        let t = DeviceTensor {
            buffer: &buf,
            batch: self.batch,
            shape: self.code,
        };
        let (encoded, _) = encode_on_device(self.ctx, &[t], self.encoding, false)?;
        self.last_frame_bytes = encoded.bytes.len();
        let (decoded, _) = decode_on_edge(self.ctx, &encoded.bytes, &DecodeLimits::default())?;
        let mut feature = decoded
            .first()
            .ok_or_else(|| Error::gpu("frame decoded to no tensor"))?
            .read(self.ctx)?;
        if let Some(dec) = &self.decoder {
            dec.set_input(0, &feature)?;
            feature = Self::only(dec.run()?)?;
        }
        debug_assert_eq!(feature.len(), self.batch * self.feature.numel());
        self.edge.set_input(self.split, &feature)?;
        let mut logits = Self::only(self.edge.run()?)?;
        logits.truncate(n * self.classes);
        Ok(logits)
    }
}

/// Where the trained pieces of a model live: `<dir>/<stem>.prune-<ratios>.safetensors`
/// (a fine-tuned compacted model, torchvision keys of the unfused graph) and
/// `<dir>/<stem>.<split node>-bn<k>.safetensors` (a bottleneck at a fused split node), next
/// to the base model `<dir>/<stem>.safetensors`.
#[derive(Clone, Debug)]
pub struct TrainedFiles {
    /// Folder.
    pub dir: std::path::PathBuf,
    /// File stem of the base model, e.g. `resnet18-cifar-w16-fashion-mnist`.
    pub stem: String,
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
            let path = files.pruned(p);
            let g = crate::compress::compact_graph(torch, p)?;
            Some(crate::model::load_fused(&g, Some(&path), 0)?)
        }
        None => None,
    };
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
