//! A trade-off study without a local GPU: the device's times from files measured on the
//! device (`splitbench profile --out F.csv [--kernels]`, natively or in a phone's browser),
//! `splitbench tradeoff --device-profile F.csv`.
//!
//! [`measure_from_profile`] builds the same [`Measurements`] as [`super::measure`]:
//!
//! - **per-node device times**: the profile CSV's medians (a batch-1 profile of this model,
//!   checked node by node like an edge profile);
//! - **pruned prefixes**: the pruned-prefix CSV's times (`profile --kernels` times every
//!   configuration of the search at the default ratios); a configuration it lacks
//!   (approximated): a node that compaction changes takes the profiled time of the same
//!   unpruned node x FLOPs(pruned node) / FLOPs(node) -- which ignores per-node fixed costs
//!   and so makes pruning look cheaper than it is;
//! - **bottlenecks and codec**: the kernel-times CSV's medians where it has the key, else
//!   scaled ([`SCALING_RULES`]); with no kernel-times file, every key
//!   from the profile's own rates ([`ProfileRates`]); measured and scaled keys are counted
//!   in the manifest;
//! - **feature bytes**: the real features computed by the CPU reference (`crate::cpu`).
//!
//! The run's adapter is the profile's (its manifest JSON beside the CSV), or `unknown
//! device (profile F.csv)` without one.

use super::kernel_scaling::{KernelTable, KeyCounts, ProfileRates, SCALING_RULES};
use super::kernel_times::KernelKeys;
use super::measure::{codec_timing, measure_with, study_input, DeviceTimes, Kernels, Source};
use super::{kernel_times::timing_method, Measurements, Progress, TradeoffOptions};
use crate::compress::{compact_graph, PruneConfig};
use crate::error::{Error, Result};
use crate::gpu::AdapterSummary;
use crate::model::{Graph, Prepared};
use crate::plan::{check_profile_rows, PrunedPrefix};
use crate::report::{
    kernels_path, pruned_path, read_kernel_times_csv, read_profile_csv, read_pruned_times_csv,
    DeviceProfileInfo, KernelTimeRow, ProfileRow, PrunedTimeRow, RunInfo,
};
use crate::tensor::Tensor;
use std::path::{Path, PathBuf};

/// The device's files: a profile CSV and, optionally, its kernel-times and pruned-prefix
/// CSVs.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceProfile {
    /// The profile CSV (`splitbench profile --out`), batch 1.
    pub csv: PathBuf,
    /// The kernel-times CSV (`splitbench profile --kernels`), if any.
    pub kernels: Option<PathBuf>,
    /// The pruned-prefix CSV (`splitbench profile --kernels`), if any.
    pub pruned: Option<PathBuf>,
}

impl DeviceProfile {
    /// `csv` with `kernels`, or when none is given the kernel-times file beside it
    /// ([`kernels_path`]) if it exists; the pruned-prefix file beside it
    /// ([`pruned_path`]) if it exists.
    pub fn new(csv: PathBuf, kernels: Option<PathBuf>) -> Self {
        let kernels = kernels.or_else(|| Some(kernels_path(&csv)).filter(|k| k.is_file()));
        let pruned = Some(pruned_path(&csv)).filter(|p| p.is_file());
        Self {
            csv,
            kernels,
            pruned,
        }
    }
}

/// The profile's manifest (`F.json` beside `F.csv`) when there is one.
fn read_manifest(csv: &Path) -> Result<Option<(PathBuf, serde_json::Value)>> {
    let path = csv.with_extension("json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let v = serde_json::from_str(&text).map_err(|e| Error::BadFile {
        file: path.clone(),
        msg: format!("not a profile manifest: {e}"),
    })?;
    Ok(Some((path, v)))
}

/// The adapter a profile manifest names (what it lacks stays empty or 0); `unknown device
/// (profile F.csv)` without a manifest.
fn adapter_of(manifest: Option<&serde_json::Value>, csv: &Path) -> AdapterSummary {
    let mut a: AdapterSummary = manifest
        .and_then(|m| serde_json::from_value(m.get("adapter")?.clone()).ok())
        .unwrap_or_default();
    if a.name.is_empty() {
        a.name = format!("unknown device (profile {})", csv.display());
    }
    a
}

/// The device times of the profile rows `rows` of `graph` read from `csv`.
fn device_times(
    csv: &Path,
    rows: Vec<ProfileRow>,
    graph: &Graph,
    manifest: Option<&serde_json::Value>,
) -> Result<DeviceTimes> {
    check_profile_rows(csv, &rows, graph)?;
    let bad = |msg: String| Error::BadFile {
        file: csv.into(),
        msg,
    };
    let first = &rows[0].timing; // check_profile_rows: at least one row per node
    let timing = timing_method(first).ok_or_else(|| {
        bad(format!(
            "line 2: timing '{first}' is not timestamp-inside-pass, timestamp-pass or wall-clock"
        ))
    })?;
    let mut node_ms = vec![0.0];
    node_ms.extend(rows.iter().map(|r| r.device_ms_median));
    let whole_ms = manifest
        .and_then(|m| m.get("whole_graph_ms_median")?.as_f64())
        .unwrap_or_else(|| node_ms.iter().sum());
    Ok(DeviceTimes {
        run: RunInfo::new(&adapter_of(manifest, csv)),
        rows,
        node_ms,
        timing,
        whole_ms,
    })
}

/// Changed nodes' times scaled by their FLOPs: `base_ms[i] x FLOPs(compacted i) /
/// FLOPs(base i)` where compaction changed node `i`, `base_ms` elsewhere.
pub fn flop_scaled_ms(base: &Graph, base_ms: &[f64], compacted: &Graph) -> Vec<f64> {
    let mut out = base_ms.to_vec();
    for (i, t) in out.iter_mut().enumerate().skip(1) {
        let (f0, f1) = (
            base.nodes[i].flops(base),
            compacted.nodes[i].flops(compacted),
        );
        if f0 != f1 && f0 > 0 {
            *t *= f1 as f64 / f0 as f64;
        }
    }
    out
}

/// Files measured on the device as a [`super::measure::Source`].
struct Files<'a> {
    p: &'a Prepared,
    seed: u64,
    table: KernelTable,
    rows: Vec<KernelTimeRow>,
    rates: ProfileRates,
    bottlenecks: KeyCounts,
    codec: KeyCounts,
    pruned: Vec<PrunedTimeRow>,
    pruned_counts: KeyCounts,
}

impl Source for Files<'_> {
    fn pruned(&mut self, cfg: &PruneConfig, base_ms: &[f64]) -> Result<(Graph, Vec<f64>)> {
        let g = &self.p.model.graph;
        let small = compact_graph(g, cfg)?;
        let Some(changed) = PrunedPrefix::changed(g, &small) else {
            return Ok((small, base_ms.to_vec()));
        };
        // Measured on the device when every changed node has a row, else FLOP-scaled.
        let name = cfg.ratios_name();
        let mut ms = base_ms.to_vec();
        let mut all = true;
        for i in changed {
            let n = &small.nodes[i];
            let shape = format!("1x{}", n.shape);
            let row = self
                .pruned
                .iter()
                .find(|r| r.ratios == name && r.node == n.name && r.out_shape == shape);
            match row {
                Some(r) => ms[i] = r.device_ms_median,
                None if n.op.is_view() => {}
                None => all = false,
            }
        }
        if all {
            self.pruned_counts.measured += 1;
            Ok((small, ms))
        } else {
            self.pruned_counts.scaled += 1;
            let ms = flop_scaled_ms(g, base_ms, &small);
            Ok((small, ms))
        }
    }

    fn kernels(&mut self, keys: &KernelKeys, _: &mut dyn Progress) -> Result<Kernels> {
        let (bottlenecks, nb) = self
            .table
            .bottleneck_table(&keys.bottlenecks, &self.rates)?;
        let (codec, nc) = self.table.codec_table(&keys.codec, &self.rates);
        self.bottlenecks = nb;
        self.codec = nc;
        Ok(Kernels {
            bottlenecks,
            codec,
            codec_timing: codec_timing(&self.rows),
            codec_measured: nc.measured,
        })
    }

    fn features(&mut self, nodes: &[usize]) -> Result<Vec<Vec<f32>>> {
        let g = &self.p.model.graph;
        let s = g.input_shape();
        let x = Tensor::new(vec![1, s.c, s.h, s.w], study_input(g, self.seed))?;
        let mut outs = crate::cpu::run(g, &self.p.model.weights, &x)?;
        Ok(nodes
            .iter()
            .map(|&k| std::mem::take(&mut outs[k].data))
            .collect())
    }
}

/// The study's measurements of `p` from the device's files `dev` (see the module docs):
/// no GPU is opened. A profile of another model, or at another batch, is an
/// [`Error::BadFile`] naming the file.
pub fn measure_from_profile(
    p: &Prepared,
    opts: &TradeoffOptions,
    dev: &DeviceProfile,
    progress: &mut dyn Progress,
) -> Result<Measurements> {
    let g = &p.model.graph;
    opts.check(g)?;
    let manifest = read_manifest(&dev.csv)?;
    let rows = read_profile_csv(&dev.csv)?;
    let device = device_times(&dev.csv, rows, g, manifest.as_ref().map(|m| &m.1))?;
    let rates = ProfileRates::of(&device.rows).map_err(|e| Error::BadFile {
        file: dev.csv.clone(),
        msg: e.to_string(),
    })?;
    let kernel_rows = match &dev.kernels {
        Some(k) => read_kernel_times_csv(k)?,
        None => Vec::new(),
    };
    let timing = device.timing.as_str().to_string();
    let reps = device.rows[0].reps; // read_profile_csv: at least one row
    let warmup = manifest
        .as_ref()
        .and_then(|(_, m)| m.get("warmup")?.as_u64())
        .and_then(|w| usize::try_from(w).ok());
    let mut src = Files {
        p,
        seed: opts.seed,
        table: KernelTable::from_rows(&kernel_rows),
        rows: kernel_rows,
        rates,
        bottlenecks: KeyCounts::default(),
        codec: KeyCounts::default(),
        pruned: match &dev.pruned {
            Some(p) => read_pruned_times_csv(p)?,
            None => Vec::new(),
        },
        pruned_counts: KeyCounts::default(),
    };
    let mut m = measure_with(p, opts, device, &mut src, progress)?;
    let kernels = dev.kernels.as_ref().map(|k| k.display().to_string());
    let pruned = dev.pruned.as_ref().map(|k| k.display().to_string());
    let counts = src.pruned_counts;
    let mut approximations = vec![];
    if counts.scaled > 0 {
        approximations.push(format!(
            "pruned prefixes: {} of {} configurations not in {}: a node that compaction \
             changes takes the profiled time of the same unpruned node x FLOPs(pruned node) / \
             FLOPs(node), which ignores per-node fixed costs (pruning looks cheaper than it \
             is); its edge time is scaled by the same ratio",
            counts.scaled,
            counts.scaled + counts.measured,
            pruned
                .as_deref()
                .unwrap_or("a pruned-prefix file (profile --kernels)")
        ));
    }
    approximations.extend([
        match &kernels {
            Some(k) => format!(
                "bottlenecks and codec: the medians of {k} where it has the key; the others \
                 (pruned features) scaled from measured keys (scaling_rules)"
            ),
            None => format!(
                "no kernel-times file (profile --kernels): every bottleneck and codec time is \
                 scaled from the profile's rates, {:.4} ms per GFLOP of dense convolution and \
                 {:.4} ms per MB of memory-bound nodes (scaling_rules)",
                rates.conv_ms_per_flop * 1e9,
                rates.ms_per_byte * 1e6
            ),
        },
        "feature bytes (bytes_per_split.csv): the real features computed by the CPU reference \
         (src/cpu), not by the device"
            .to_string(),
    ]);
    if manifest.is_none() {
        approximations.push(format!(
            "no manifest {} beside the profile: the adapter is unknown and the whole-graph \
             time is the sum of the node medians",
            dev.csv.with_extension("json").display()
        ));
    }
    m.device_profile = Some(DeviceProfileInfo {
        profile: dev.csv.display().to_string(),
        profile_manifest: manifest.map(|(path, _)| path.display().to_string()),
        kernels,
        adapter: m.run.adapter.name.clone(),
        timing,
        reps,
        warmup,
        bottlenecks_measured: src.bottlenecks.measured,
        bottlenecks_scaled: src.bottlenecks.scaled,
        codec_measured: src.codec.measured,
        codec_scaled: src.codec.scaled,
        pruned,
        pruned_measured: counts.measured,
        pruned_scaled: counts.scaled,
        approximations,
        scaling_rules: SCALING_RULES.into(),
    });
    Ok(m)
}
