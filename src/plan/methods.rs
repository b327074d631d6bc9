//! The methods compared by the study, and the search space they choose from.
//!
//! | method | chooses from | chooses by |
//! |---|---|---|
//! | `device-only` | the last node, nothing sent | - |
//! | `edge-only` | split 0, the input sent as uint8 pixels | - |
//! | `neurosurgeon` | every split with an f32 feature (plus the two above) | latency *predicted* by per-op-type linear regression ([`Predictor`]) |
//! | `best-split` | the same | measured latency (oracle without compression) |
//! | `two-step-pruning` | every split x (unpruned or pruned on-device part) x (f32, 8-bit per-tensor), no bottleneck, plus the two above | measured latency |
//! | `three-step` | every split x pruning x bottleneck width x bits (see [`super::three`]), plus the two above | measured latency |
//!
//! The three-step set contains every other method's set, so on every link its choice is at
//! least as good as theirs. With a minimum accuracy ([`SearchSpace::set_min_accuracy`]),
//! three-step and two-step-pruning only keep candidates whose accuracy is known and high
//! enough (then three-step can be slower than the unconstrained baselines: that is the
//! price of the accuracy they do not guarantee). On a random link (Rayleigh, trace) each method chooses the
//! configuration with the lowest *mean* latency over the link states (for Rayleigh fading,
//! the sample mean over the seeded draws), and its latency distribution is that of the chosen
//! configuration over the states: methods do not re-choose per state (they cannot know the
//! state before sending).

use super::cost::{allowed, Candidate, CodecTable, CostTable};
use super::predict::Predictor;
use super::problem::Problem;
use crate::channel::Channel;
use crate::compress::{Config, Encoding, Scale, Variant};
use crate::error::{Error, Result};

/// A split-selection method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Method {
    /// Everything on the device.
    DeviceOnly,
    /// Everything on the edge; the input is sent.
    EdgeOnly,
    /// One f32 split chosen on predicted layer latencies.
    Neurosurgeon,
    /// One f32 split chosen on measured latencies.
    BestSplit,
    /// Pruning + split, f32 or 8-bit feature, chosen on measured latencies (Shi et al.).
    TwoStepPruning,
    /// Split x pruning x bottleneck x bits, chosen on measured latencies.
    ThreeStep,
}

impl Method {
    /// Every method, in table order.
    pub const ALL: [Method; 6] = [
        Method::DeviceOnly,
        Method::EdgeOnly,
        Method::Neurosurgeon,
        Method::BestSplit,
        Method::TwoStepPruning,
        Method::ThreeStep,
    ];

    /// The CSV name.
    pub fn name(self) -> &'static str {
        match self {
            Method::DeviceOnly => "device-only",
            Method::EdgeOnly => "edge-only",
            Method::Neurosurgeon => "neurosurgeon",
            Method::BestSplit => "best-split",
            Method::TwoStepPruning => "two-step-pruning",
            Method::ThreeStep => "three-step",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a method picks on one link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    /// The method.
    pub method: Method,
    /// Index of the chosen candidate in [`SearchSpace::candidates`].
    pub index: usize,
    /// Its measured mean end-to-end latency on the link, ms.
    pub mean_total_ms: f64,
    /// The latency the method expected (Neurosurgeon's prediction), ms.
    pub predicted_ms: Option<f64>,
}

/// Every candidate and each method's subset, with the cost tables of the search.
#[derive(Clone, Debug)]
pub struct SearchSpace {
    /// All candidates (three-step's set).
    pub candidates: Vec<Candidate>,
    device_only: usize,
    edge_only: usize,
    f32_set: Vec<usize>,
    two_step: Vec<usize>,
    all: Vec<usize>,
    min_accuracy: Option<f64>,
    measured: CostTable,
    predicted: CostTable,
    pred_compute: Vec<f64>,
}

impl SearchSpace {
    /// Builds every allowed (split, variant) candidate: edge-only (split 0, uint8 input),
    /// device-only (last node, nothing sent), and each of `variants` at every intermediate
    /// split. `variants` must contain [`Encoding::F32`] (the single-split baselines' feature).
    /// Neurosurgeon's cost table uses `predictor`'s per-layer times.
    pub fn build(
        problem: &Problem,
        variants: &[Variant],
        codec: &CodecTable,
        edge_speedup: f64,
        predictor: &Predictor,
    ) -> Result<Self> {
        if !variants.contains(&Variant::plain(Encoding::F32)) {
            return Err(Error::InvalidArg(
                "the variants must include plain f32 (the baselines' feature)".into(),
            ));
        }
        let last = problem.last();
        let mut candidates = vec![
            Candidate::build(
                problem,
                0,
                &Variant::plain(Encoding::Uint8Input),
                codec,
                edge_speedup,
            )?,
            Candidate::build(
                problem,
                last,
                &Variant::plain(Encoding::Nothing),
                codec,
                edge_speedup,
            )?,
        ];
        for split in 1..last {
            for v in variants {
                if allowed(problem, split, v.encoding) {
                    candidates.push(Candidate::build(problem, split, v, codec, edge_speedup)?);
                }
            }
        }
        // Neurosurgeon's view: predicted prefix and suffix, f32 (no codec time).
        let pred = predictor.predict_all(problem);
        let mut pred_prefix = Vec::with_capacity(pred.len());
        let mut acc = 0.0;
        for p in &pred {
            acc += p.0;
            pred_prefix.push(acc);
        }
        let mut pred_suffix = vec![0.0; pred.len()];
        let mut acc = 0.0;
        for k in (0..pred.len()).rev() {
            pred_suffix[k] = acc;
            acc += pred[k].1;
        }
        let pred_compute = candidates
            .iter()
            .map(|c| pred_prefix[c.split] + pred_suffix[c.split])
            .collect();
        let mut space = Self {
            device_only: 1,
            edge_only: 0,
            f32_set: Vec::new(),
            two_step: Vec::new(),
            all: Vec::new(),
            min_accuracy: None,
            measured: CostTable::default(),
            predicted: CostTable::default(),
            pred_compute,
            candidates,
        };
        space.reindex();
        Ok(space)
    }

    /// Adds candidates to the three-step set (pruned prefixes, bottlenecks). They join
    /// Neurosurgeon's and best-split's sets only if they are plain f32 features.
    pub fn extend(&mut self, more: impl IntoIterator<Item = Candidate>) {
        for c in more {
            self.pred_compute.push(c.compute_ms());
            self.candidates.push(c);
        }
        self.reindex();
    }

    fn reindex(&mut self) {
        let plain_f32 = Variant::plain(Encoding::F32);
        let ends = |i: usize| i == self.edge_only || i == self.device_only;
        self.f32_set = (0..self.candidates.len())
            .filter(|&i| ends(i) || self.candidates[i].variant == plain_f32)
            .collect();
        let ok = |c: &Candidate| match self.min_accuracy {
            None => true,
            Some(m) => c.accuracy.is_some_and(|a| a >= m),
        };
        self.two_step = (0..self.candidates.len())
            .filter(|&i| {
                let v = &self.candidates[i].variant;
                let enc_ok = matches!(
                    v.encoding,
                    Encoding::F32
                        | Encoding::Quant {
                            bits: 8,
                            scale: Scale::Tensor
                        }
                );
                (ends(i) || (enc_ok && v.bottleneck.is_none())) && ok(&self.candidates[i])
            })
            .collect();
        self.all = (0..self.candidates.len())
            .filter(|&i| ok(&self.candidates[i]))
            .collect();
        self.measured = CostTable::new(&self.candidates);
        self.predicted =
            CostTable::with_compute(&self.candidates, self.pred_compute.iter().copied());
    }

    /// Sets the accuracy of every candidate whose configuration `known` knows (returns how
    /// many).
    pub fn apply_accuracy(
        &mut self,
        problem: &Problem,
        known: impl Fn(&Config) -> Option<f64>,
    ) -> usize {
        let mut found = 0;
        for c in &mut self.candidates {
            if let Some(a) = known(&c.config(problem)) {
                c.accuracy = Some(a);
                found += 1;
            }
        }
        self.reindex();
        found
    }

    /// Restricts three-step and two-step-pruning to candidates of known accuracy `>= min`
    /// (`None`: no restriction). An error, leaving the space unrestricted, when no
    /// candidate of one of them qualifies.
    pub fn set_min_accuracy(&mut self, min: Option<f64>) -> Result<()> {
        let old = self.min_accuracy;
        self.min_accuracy = min;
        self.reindex();
        if let Some(m) = min {
            let empty = [
                ("three-step", self.all.is_empty()),
                ("two-step-pruning", self.two_step.is_empty()),
            ];
            for (name, is_empty) in empty {
                if is_empty {
                    self.min_accuracy = old;
                    self.reindex();
                    return Err(Error::InvalidArg(format!(
                        "minimum accuracy {m}: no {name} configuration has a known accuracy \
                         of at least {m}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The minimum accuracy in force.
    pub fn min_accuracy(&self) -> Option<f64> {
        self.min_accuracy
    }

    /// The candidate indices a method chooses from.
    pub fn set(&self, m: Method) -> &[usize] {
        match m {
            Method::DeviceOnly => std::slice::from_ref(&self.device_only),
            Method::EdgeOnly => std::slice::from_ref(&self.edge_only),
            Method::Neurosurgeon | Method::BestSplit => &self.f32_set,
            Method::TwoStepPruning => &self.two_step,
            Method::ThreeStep => &self.all,
        }
    }

    /// The measured cost table (the search's inner loop).
    pub fn table(&self) -> &CostTable {
        &self.measured
    }

    /// Neurosurgeon's cost table (predicted compute times).
    pub fn predicted_table(&self) -> &CostTable {
        &self.predicted
    }

    /// What `m` picks on `ch` (see the module docs for the rule on random links).
    pub fn choose(&self, m: Method, ch: &Channel) -> Choice {
        let set = self.set(m);
        let (index, predicted_ms) = if m == Method::Neurosurgeon {
            let (i, p) = self
                .predicted
                .argmin_mean(set, ch)
                .expect("the f32 set holds edge-only and device-only");
            (i, Some(p))
        } else {
            let (i, _) = self
                .measured
                .argmin_mean(set, ch)
                .expect("every method's set is non-empty");
            (i, None)
        };
        Choice {
            method: m,
            index,
            mean_total_ms: self.measured.mean_total_ms(index, ch),
            predicted_ms,
        }
    }

    /// Every method's choice on `ch`, in [`Method::ALL`] order.
    pub fn choose_all(&self, ch: &Channel) -> Vec<Choice> {
        Method::ALL.iter().map(|&m| self.choose(m, ch)).collect()
    }
}
