//! Steps 2 and 3 trained on top of a base model (feature `train`): fine-tuning a pruned
//! (compacted) network, and training a bottleneck encoder/decoder at a split with the
//! backbone frozen and straight-through n-bit quantization between them.
//!
//! Both start from the base model's torchvision-keyed weights and export torchvision-keyed
//! safetensors, so the GPU engine evaluates them with its ordinary loaders:
//! - a pruned model is the compacted *unfused* graph ([`crate::compress::compact_graph`] of
//!   the zoo graph gives its shapes), loaded with [`crate::model::load_fused`];
//! - a bottleneck file holds `encoder.{weight,bias}` and `decoder.{weight,bias}`, the keys
//!   of [`crate::compress::Bottleneck::encoder_graph`] / `decoder_graph`.

use super::{cerr, train_with, EpochStats, Feature, Mode, Net, StepInfo, TrainConfig};
use crate::compress::{Bottleneck, PruneConfig, PrunePlan};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::{fuse, Act, Graph, Model, NodeId, Op, Weights};
use crate::tensor::Rng;
use candle_core::{Tensor, Var};

/// Prunes the unfused `base` with `cfg` and returns the compacted unfused model, ready for
/// [`Net::from_weights`]. Channels are ranked by the L1 norm of the *folded* filters (what
/// the engine's [`crate::compress::compact`] ranks on the fused model), so the fine-tuned
/// network starts from exactly the model the latency study compacts.
pub fn compact_unfused(base: &Model, cfg: &PruneConfig) -> Result<Model> {
    let fused = fuse(base)?;
    PrunePlan::with_ranking(&base.graph, &fused.weights, cfg)?.compact(base)
}

/// Per-sample min/max n-bit quantization and dequantization of `[n, m]` rows, as the
/// engine's per-tensor codec does it (one group per sample: `scale = (max - min) / (2^b - 1)`,
/// `q = round((x - min) / scale)`), with a straight-through gradient: the forward value is
/// the dequantized one, the backward pass sees the identity.
pub fn fake_quantize(x: &Tensor, bits: u32) -> Result<Tensor> {
    let r = (|| -> candle_core::Result<Tensor> {
        let levels = ((1u32 << bits) - 1) as f64;
        let xd = x.detach();
        let lo = xd.min_keepdim(1)?;
        let hi = xd.max_keepdim(1)?;
        // As the codec: q = round((x - min) * L / range), x' = q * range / L + min; a
        // constant sample (range 0) has q = 0 and comes back exactly.
        let range = (&hi - &lo)?;
        let inv = (range.maximum(1e-30)?.recip()? * levels)?;
        let scale = (range / levels)?;
        let q = xd.broadcast_sub(&lo)?.broadcast_mul(&inv)?.round()?;
        let deq = q.broadcast_mul(&scale)?.broadcast_add(&lo)?;
        // x + (deq - x) without gradient through the difference.
        x + (deq - &xd)?.detach()
    })();
    r.map_err(cerr)
}

/// A bottleneck being trained: encoder and decoder as unfused one-conv networks (the
/// trainer runs the activations itself).
pub struct BottleneckNets {
    /// The bottleneck (feature shape, width).
    pub spec: Bottleneck,
    encoder: Net,
    decoder: Net,
}

/// The one-node graph `g` with its activation removed (the trainer applies it).
fn without_act(g: &Graph) -> Result<(Graph, Act)> {
    let mut g = g.clone();
    let node = g
        .nodes
        .get_mut(1)
        .ok_or_else(|| Error::Graph("bottleneck graph without a layer".into()))?;
    let act = match &mut node.op {
        Op::Conv2d(c) => std::mem::replace(&mut c.act, Act::None),
        Op::Linear(l) => std::mem::replace(&mut l.act, Act::None),
        _ => {
            return Err(Error::Graph(
                "bottleneck layer is not a conv or linear".into(),
            ))
        }
    };
    Ok((g, act))
}

impl BottleneckNets {
    /// Seeded encoder and decoder for `spec` (PyTorch's default initialisation scale).
    pub fn new(spec: Bottleneck, seed: u64) -> Result<Self> {
        let (enc, dec) = (spec.encoder(seed)?, spec.decoder(seed)?);
        Self::from_models(spec, &enc, &dec)
    }

    /// A trained pair from `path` (as [`Self::weights`] saved it), to train further.
    pub fn load(spec: Bottleneck, path: &std::path::Path) -> Result<Self> {
        let (enc, dec) = spec.load(path)?;
        Self::from_models(spec, &enc, &dec)
    }

    fn from_models(spec: Bottleneck, enc: &Model, dec: &Model) -> Result<Self> {
        let (eg, _) = without_act(&enc.graph)?;
        let (dg, _) = without_act(&dec.graph)?;
        Ok(Self {
            spec,
            encoder: Net::from_weights(&eg, &enc.weights)?,
            decoder: Net::from_weights(&dg, &dec.weights)?,
        })
    }

    /// The trainable variables of both halves.
    pub fn vars(&self) -> Vec<(String, Var)> {
        self.encoder
            .params()
            .iter()
            .chain(self.decoder.params())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Feature -> tanh(encoder) -> `bits`-bit quantization (straight-through; `None`: f32)
    /// -> ELU(decoder). The feature is detached: the backbone before the split is frozen
    /// and needs no gradient.
    pub fn apply(&mut self, f: &Feature, n: usize, bits: Option<u32>) -> Result<Feature> {
        let x = f.t.detach();
        let code = self
            .encoder
            .forward(&x, n, Mode::Eval)?
            .tanh()
            .map_err(cerr)?;
        let code = match bits {
            Some(b) => {
                let k = self.spec.width;
                let rows = code.reshape((n, code.elem_count() / n)).map_err(cerr)?;
                fake_quantize(&rows, b)?
                    .reshape((code.elem_count() / k, k))
                    .map_err(cerr)?
            }
            None => code,
        };
        let y = self
            .decoder
            .forward(&code, n, Mode::Eval)?
            .elu(1.0)
            .map_err(cerr)?;
        Ok(Feature {
            t: y,
            shape: f.shape,
        })
    }

    /// Encoder and decoder weights in one map (`encoder.*`, `decoder.*`), for
    /// [`crate::model::save_safetensors`].
    pub fn weights(&self) -> Result<Weights> {
        let mut w = self.encoder.weights()?;
        w.extend(self.decoder.weights()?);
        Ok(w)
    }
}

/// Trains `bn` at the output of node `split` of the frozen `net` (batch norms in eval mode,
/// only the bottleneck's variables updated): every step quantizes the code at a bit width
/// drawn from `bits` (seeded), so one encoder/decoder serves every width of the study.
/// With `cfg.distill`, `teacher` (the unmodified base model) supplies the soft targets.
#[allow(clippy::too_many_arguments)] // train_with's inputs plus the split and bit widths
pub fn train_bottleneck(
    net: &mut Net,
    bn: &mut BottleneckNets,
    split: NodeId,
    bits: &[u32],
    ds: &Dataset,
    cfg: &TrainConfig,
    teacher: Option<&mut Net>,
    on_step: &mut dyn FnMut(StepInfo),
    on_epoch: &mut dyn FnMut(&EpochStats, &mut Net) -> Result<()>,
) -> Result<Vec<EpochStats>> {
    if bits.is_empty() || bits.iter().any(|&b| !(1..=8).contains(&b)) {
        return Err(Error::InvalidArg(format!(
            "bottleneck bit widths {bits:?}: expected 1..=8"
        )));
    }
    let shape = net
        .graph()
        .nodes
        .get(split)
        .ok_or_else(|| Error::InvalidArg(format!("split node {split} is not in the graph")))?
        .shape;
    if shape != bn.spec.feature {
        return Err(Error::InvalidArg(format!(
            "bottleneck for {} at a {shape} feature",
            bn.spec.feature
        )));
    }
    let vars = bn.vars();
    let mut rng = Rng::new(cfg.seed ^ 0xb175);
    let batch = cfg.batch;
    let mut hook = |id: NodeId, f: Feature| -> Result<Feature> {
        if id != split {
            return Ok(f);
        }
        let b = bits[(rng.next_u64() % bits.len() as u64) as usize];
        bn.apply(&f, batch, Some(b))
    };
    train_with(
        net,
        ds,
        cfg,
        vars,
        Mode::Eval,
        &mut hook,
        teacher,
        on_step,
        on_epoch,
    )
}
