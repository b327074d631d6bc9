//! The study as a library (layer 8, the top: uses every layer below; the CLI uses it): what
//! `splitbench tradeoff`, `profile` and `accuracy` do, callable from the CLI, the benches
//! and tests alike.
//!
//! A trade-off study is three calls, one direction of data flow:
//!
//! ```text
//! measure(&GpuContext, &Prepared, &TradeoffOptions) -> Measurements   (the only GPU work)
//! plan(&Measurements, &TradeoffOptions)             -> StudyResult    (no GPU)
//! write(dir, &Measurements, &StudyResult, &opts)   -> Written        (CSVs, charts, manifest)
//! ```
//!
//! Without a local GPU, [`measure_from_profile`] builds the [`Measurements`] from files
//! measured on the device (`profile --kernels`; see [`kernel_times`] for the kernel keys
//! and [`kernel_scaling`] for the scaling of the others).
//!
//! [`accuracy`] builds the accuracy table the planner can use; [`profile`] is `splitbench
//! profile`'s per-node timing with its rows and manifest; [`efficiency`] is the kernel
//! efficiency table (`splitbench kernels`).

pub mod accuracy;
mod accuracy_latency;
pub mod efficiency;
mod evaluate;
pub mod kernel_scaling;
pub mod kernel_times;
#[cfg(not(target_arch = "wasm32"))]
mod linkcheck;
mod links;
mod measure;
mod offline;
pub mod profile;
#[cfg(not(target_arch = "wasm32"))]
mod real;
mod rows;
mod write;

pub use accuracy::{AccuracyRow, AccuracyTable, SummaryRow};
pub use accuracy_latency::accuracy_latency_rows;
pub use evaluate::{plan, StudyResult};
#[cfg(not(target_arch = "wasm32"))]
pub use linkcheck::{check_links, error_stats, ErrorStats, LinkCheck, LinkCheckOptions};
pub use links::{
    channel_info, default_trace, study_channels, sweep_channels, StudyChannel, DEFAULT_RAYLEIGH,
    DEFAULT_TRACE, PRESETS, SWEEP_MAX_MBPS, SWEEP_MIN_MBPS, SWEEP_POINTS,
};
pub use measure::{measure, Measurements};
pub use offline::{flop_scaled_ms, measure_from_profile, DeviceProfile};
#[cfg(not(target_arch = "wasm32"))]
pub use real::{measure_real, RealLinkOptions, RealRun};
pub use rows::{
    bytes_rows, candidate_rows, evaluate_links, layer_rows, link_summaries, summary_text,
    LinkResult, CDF_POINTS,
};
pub use write::{write, Written};

use crate::channel::{Channel, Tcp, Transport};
use crate::error::{Error, Result};
use crate::model::Graph;
use crate::plan::{EdgeModel, EdgeSource, DEFAULT_EDGE_SPEEDUP, STUDY_RATIOS};

/// The seeds a run derives from its one `--seed`, one per use so that no two uses draw the
/// same numbers: `seed ^ SALT`. Manifests record the derived values.
pub mod seeds {
    /// The random input of a profile or study.
    pub const INPUT: u64 = 0x5eed;
    /// The random features the codec is timed on.
    pub const CODEC_DATA: u64 = 0xc0dec;
    /// The seeded weights of the bottlenecks that are timed.
    pub const BOTTLENECK: u64 = 0xb0;

    /// The seed of the random input of a run with `seed`.
    pub fn input(seed: u64) -> u64 {
        seed ^ INPUT
    }

    /// The seed of the codec's random features.
    pub fn codec_data(seed: u64) -> u64 {
        seed ^ CODEC_DATA
    }

    /// The seed of the timed bottlenecks' weights.
    pub fn bottleneck(seed: u64) -> u64 {
        seed ^ BOTTLENECK
    }
}

/// Everything a trade-off study is asked to do besides the model: links, edge, repetitions,
/// search space and accuracy constraint.
#[derive(Clone, Debug)]
pub struct TradeoffOptions {
    /// Extra links (chart e); empty: a Rayleigh link and the synthetic Markov trace.
    pub channels: Vec<Channel>,
    /// Where the edge's per-node times come from.
    pub edge: EdgeSource,
    /// Timed repetitions of every measurement.
    pub reps: usize,
    /// Untimed warm-up runs before each measurement.
    pub warmup: usize,
    /// Seed of the random weights and input ([`seeds`]).
    pub seed: u64,
    /// Deadline for the miss probability on random links, ms.
    pub deadline_ms: Option<f64>,
    /// RTT of the sweep links, ms; of the preset links too when > 0 (else each preset's
    /// own, e.g. 50 ms for 4G).
    pub rtt_ms: f64,
    /// How payloads cross every link whose spec names no transport: TCP from the initial
    /// window by default (slow start after idle, see [`crate::channel::transport`]).
    pub transport: Transport,
    /// Write every candidate's row for the sweep links too.
    pub all_points: bool,
    /// A note on the choice of input, for the manifest.
    pub input_note: Option<String>,
    /// Pruning ratios of the three-step search, each in (0, 1): uniform over the on-device
    /// stages and on the last on-device stage only.
    pub prune_ratios: Vec<f32>,
    /// Whether the learned bottleneck is in the three-step search.
    pub bottleneck: bool,
    /// Known accuracies per configuration.
    pub accuracy: Option<AccuracyTable>,
    /// Three-step and two-step-pruning only choose configurations of known accuracy at
    /// least this (the unit of the accuracy table).
    pub min_accuracy: Option<f64>,
}

impl Default for TradeoffOptions {
    fn default() -> Self {
        Self {
            channels: Vec::new(),
            edge: EdgeSource::Speedup {
                factor: DEFAULT_EDGE_SPEEDUP,
                default: true,
            },
            reps: 10,
            warmup: 2,
            seed: 0,
            deadline_ms: None,
            rtt_ms: 0.0,
            transport: Transport::Tcp(Tcp::default()),
            all_points: false,
            input_note: None,
            prune_ratios: STUDY_RATIOS.to_vec(),
            bottleneck: true,
            accuracy: None,
            min_accuracy: None,
        }
    }
}

impl TradeoffOptions {
    /// Checks everything the options name against `graph` before any GPU work: the
    /// repetitions, the numbers, the pruning ratios, the links (a trace file is read) and
    /// an edge profile (it must be a profile of this model).
    pub fn check(&self, graph: &Graph) -> Result<()> {
        if self.reps == 0 {
            return Err(Error::InvalidArg("repetitions must be at least 1".into()));
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if let EdgeSource::Speedup { factor, .. } = self.edge {
            if !positive(factor) {
                return Err(Error::InvalidArg(format!(
                    "edge speed-up {factor}: expected a positive number"
                )));
            }
        }
        if let Some(d) = self.deadline_ms.filter(|d| !positive(*d)) {
            return Err(Error::InvalidArg(format!(
                "deadline {d} ms: expected a positive number"
            )));
        }
        if let Some(m) = self.min_accuracy.filter(|m| !m.is_finite()) {
            return Err(Error::InvalidArg(format!(
                "minimum accuracy {m}: expected a number"
            )));
        }
        if !self.rtt_ms.is_finite() || self.rtt_ms < 0.0 {
            return Err(Error::InvalidArg(format!(
                "RTT {} ms: expected a number >= 0",
                self.rtt_ms
            )));
        }
        measure::families(&self.prune_ratios)?;
        study_channels(self.rtt_ms, self.transport, &self.channels)?;
        if let EdgeSource::Profile { path } = &self.edge {
            EdgeModel::from_profile(path, graph, &vec![0.0; graph.nodes.len()])?;
        }
        Ok(())
    }
}

/// Reports a long run's progress (the CLI draws bars; `()` ignores it).
pub trait Progress {
    /// A stage of `total` steps (`None`: one step of unknown length) begins; the previous
    /// stage, if any, is over.
    fn stage(&mut self, what: &str, total: Option<usize>);
    /// One step of the current stage is done.
    fn step(&mut self);
    /// The run is over.
    fn done(&mut self) {}
}

impl Progress for () {
    fn stage(&mut self, _: &str, _: Option<usize>) {}
    fn step(&mut self) {}
}
