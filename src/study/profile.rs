//! `splitbench profile` as a library call: every node of a model timed on the GPU at a
//! batch size, as CSV rows, with the manifest written beside them.

use super::kernel_times::{
    kernel_keys, pruned_configs, pruned_rows, time_kernels_async, time_pruned_async,
};
use super::{seeds, Progress};
use crate::error::{Error, Result};
use crate::gpu::{self, Executor, GpuContext, RangeProfile, TimingMethod};
use crate::model::Prepared;
use crate::report::{
    self, kernels_path, pruned_path, KernelKind, KernelTimeRow, NodeTile, OutputCheck,
    ProfileKernels, ProfileManifest, ProfileRow, PrunedTimeRow, RunInfo,
};
use std::path::{Path, PathBuf};

/// CSV rows of a profiled executor, one per step (node).
pub fn profile_rows(exec: &Executor<'_>, prof: &RangeProfile) -> Vec<ProfileRow> {
    let g = exec.graph();
    let b = exec.batch();
    exec.steps()
        .iter()
        .zip(&prof.per_node)
        .map(|(step, st)| {
            let n = &g.nodes[step.node];
            ProfileRow {
                node: n.name.clone(),
                op: n.op.kind().to_string(),
                out_shape: format!("{b}x{}", n.shape),
                batch: b,
                flops: n.flops(g) * b as u64,
                out_bytes: (n.shape.bytes_f32() * b) as u64,
                in_bytes: if n.op.is_view() {
                    0
                } else {
                    (n.input_values(g) * b as u64 + n.param_values()) * 4
                },
                device_ms_median: st.median_ms,
                device_ms_p5: st.p5_ms,
                device_ms_p95: st.p95_ms,
                reps: st.count,
                dispatches: step.dispatches.len(),
                timing: prof.method.as_str().to_string(),
            }
        })
        .collect()
}

/// The kernel each convolution of an executor runs with, and where it came from.
pub fn node_tiles(exec: &Executor<'_>) -> Vec<NodeTile> {
    exec.steps()
        .iter()
        .filter_map(|step| {
            let t = step.tile?;
            Some(NodeTile {
                node: exec.graph().nodes[step.node].name.clone(),
                kernel: t.plan.label(),
                source: t.source,
                tuned_ms: t.ms,
            })
        })
        .collect()
}

/// How to profile.
#[derive(Clone, Copy, Debug)]
pub struct ProfileOptions {
    /// Samples per submission.
    pub batch: usize,
    /// Timed repetitions.
    pub reps: usize,
    /// Untimed warm-up runs.
    pub warmup: usize,
    /// Per-node timing method (`None`: the best the adapter supports).
    pub timing: Option<TimingMethod>,
    /// Seed of the random input ([`seeds::input`]).
    pub seed: u64,
}

/// A profiled model: its rows, its manifest and the timing behind them.
#[derive(Clone, Debug)]
pub struct Profiled {
    /// One row per executed node.
    pub rows: Vec<ProfileRow>,
    /// The manifest.
    pub manifest: ProfileManifest,
    /// The kernel times ([`Self::add_kernels`]; empty without).
    pub kernels: Vec<KernelTimeRow>,
    /// The pruned prefixes' changed nodes ([`Self::add_kernels`]; empty without).
    pub pruned: Vec<PrunedTimeRow>,
}

/// Times every node of `p` on `ctx` (see [`ProfileOptions`]).
pub fn profile(ctx: &GpuContext, p: &Prepared, o: &ProfileOptions) -> Result<Profiled> {
    pollster::block_on(profile_async(ctx, p, o))
}

/// [`profile`] for callers that cannot block: the browser page runs this same code.
pub async fn profile_async(ctx: &GpuContext, p: &Prepared, o: &ProfileOptions) -> Result<Profiled> {
    if o.batch == 0 || o.reps == 0 {
        return Err(Error::InvalidArg(format!(
            "batch {} and repetitions {} must be at least 1",
            o.batch, o.reps
        )));
    }
    let g = &p.model.graph;
    let exec = Executor::new_async(ctx, &p.model, 1..g.nodes.len(), o.batch, &[]).await?;
    let values = o
        .batch
        .checked_mul(g.input_shape().numel())
        .ok_or_else(|| Error::InvalidArg(format!("batch {} overflows the input", o.batch)))?;
    let input = crate::tensor::Rng::new(seeds::input(o.seed)).vec(values, -1.0, 1.0);
    exec.set_input(0, &input)?;
    let prof = gpu::profile_async(&exec, o.warmup, o.reps, o.timing).await?;
    let rows = profile_rows(&exec, &prof);
    let manifest = ProfileManifest {
        run: RunInfo::new(&ctx.summary),
        model: g.name.clone(),
        input: g.input_shape().to_string(),
        model_hash: p.model.hash(),
        weights: p.weights_source.clone(),
        batch: o.batch,
        reps: o.reps,
        warmup: o.warmup,
        timing: prof.method.as_str().into(),
        whole_graph_timing: prof.whole_method.as_str().into(),
        whole_graph_ms_median: prof.whole.median_ms,
        whole_graph_ms_p5: prof.whole.p5_ms,
        whole_graph_ms_p95: prof.whole.p95_ms,
        sum_of_node_medians_ms: prof.sum_of_medians_ms(),
        autotune: ctx.tile_summary(),
        tiles: node_tiles(&exec),
        browser: None,
        kernels: None,
    };
    Ok(Profiled {
        rows,
        manifest,
        kernels: Vec::new(),
        pruned: Vec::new(),
    })
}

/// Runs `p` on one seeded input on `ctx` and on the CPU reference (see [`OutputCheck`]).
pub async fn check_output_async(ctx: &GpuContext, p: &Prepared, seed: u64) -> Result<OutputCheck> {
    let g = &p.model.graph;
    let input = crate::tensor::Rng::new(seeds::input(seed)).vec(g.input_shape().numel(), -1.0, 1.0);
    let exec = Executor::new_async(ctx, &p.model, 1..g.nodes.len(), 1, &[]).await?;
    exec.set_input(0, &input)?;
    let gpu = exec.run_async().await?.remove(0).data;
    let s = g.input_shape();
    let x = crate::tensor::Tensor::new(vec![1, s.c, s.h, s.w], input)?;
    let cpu = crate::cpu::run(g, &p.model.weights, &x)?
        .pop()
        .ok_or_else(|| Error::Graph(format!("{}: the CPU reference gave no output", g.name)))?
        .data;
    if gpu.len() != cpu.len() {
        return Err(Error::Graph(format!(
            "{}: GPU output has {} values, the CPU reference {}",
            g.name,
            gpu.len(),
            cpu.len()
        )));
    }
    let max_abs_diff = gpu
        .iter()
        .zip(&cpu)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    let max_abs_ref = cpu.iter().map(|v| v.abs()).fold(0.0, f32::max);
    Ok(OutputCheck {
        gpu,
        cpu,
        max_abs_diff,
        max_abs_ref,
    })
}

/// What the manifest says about the kernel-times file.
const KERNELS_NOTE: &str = "per-sample (batch 1) medians of every bottleneck encoder/decoder \
    and every feature codec key that a trade-off study of this model can use at an unpruned \
    split (study::kernel_times::kernel_keys), and the nodes that compaction changes in every \
    pruning configuration of the search at the study's default ratios \
    (study::kernel_times::pruned_configs), timed on this device after the profile; \
    `tradeoff --device-profile` reads them and scales what it lacks (pruned features' \
    bottleneck and codec keys, other ratios' prefixes)";

impl Profiled {
    /// Times the bottleneck and codec keys a later study of `p` needs
    /// ([`super::kernel_times::kernel_keys`]) on `ctx`, with the profile's repetitions and
    /// seed: [`Self::write`] then writes them to [`kernels_path`] beside the CSV and the
    /// manifest names that file.
    pub fn add_kernels(
        &mut self,
        ctx: &GpuContext,
        p: &Prepared,
        o: &ProfileOptions,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        pollster::block_on(self.add_kernels_async(ctx, p, o, progress))
    }

    /// [`Self::add_kernels`] for callers that cannot block (the browser page).
    pub async fn add_kernels_async(
        &mut self,
        ctx: &GpuContext,
        p: &Prepared,
        o: &ProfileOptions,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let keys = kernel_keys(&p.model.graph)?;
        let rows = time_kernels_async(ctx, &keys, o.warmup, o.reps, o.seed, progress).await?;
        let configs = pruned_configs(&p.model.graph)?;
        progress.stage("timing pruned prefixes", Some(configs.len()));
        let mut pruned = Vec::new();
        for cfg in &configs {
            let t = time_pruned_async(ctx, p, cfg, o.warmup, o.reps, o.seed).await?;
            pruned.extend(pruned_rows(cfg, &t));
            progress.step();
        }
        progress.done();
        self.manifest.kernels = Some(ProfileKernels {
            file: String::new(), // set by write(), which knows the path
            bottlenecks: keys.bottlenecks.len(),
            codec_keys: keys.codec.len(),
            codec_timing: rows
                .iter()
                .find(|r| r.kind == KernelKind::Codec)
                .map(|r| r.timing.clone()),
            pruned_file: String::new(), // set by write()
            pruned_configs: configs.len(),
            note: KERNELS_NOTE.into(),
        });
        self.kernels = rows;
        self.pruned = pruned;
        Ok(())
    }

    /// Writes the rows to `csv` and the manifest beside it (same path, `.json`), and the
    /// kernel times, if any, to [`kernels_path`]; returns the manifest's path.
    pub fn write(&self, csv: &Path) -> Result<PathBuf> {
        let files = self.files(csv)?;
        if let Some(dir) = csv.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        for (path, text) in &files.all() {
            std::fs::write(path, text).map_err(|e| Error::io(path, e))?;
        }
        Ok(files.manifest.0)
    }

    /// What [`Self::write`] writes for `csv`, as (path, text): the browser page sends
    /// these to `splitbench web` instead of writing them.
    pub fn files(&self, csv: &Path) -> Result<ProfileFiles> {
        let mut manifest = self.manifest.clone();
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let (kernels, pruned) = match &mut manifest.kernels {
            Some(k) => {
                let (kp, pp) = (kernels_path(csv), pruned_path(csv));
                k.file = name(&kp);
                k.pruned_file = name(&pp);
                (
                    Some((kp, report::csv_string(&self.kernels)?)),
                    Some((pp, report::csv_string(&self.pruned)?)),
                )
            }
            None => (None, None),
        };
        let json = csv.with_extension("json");
        let text = serde_json::to_string_pretty(&manifest).map_err(|e| Error::BadFile {
            file: json.clone(),
            msg: e.to_string(),
        })?;
        Ok(ProfileFiles {
            profile: (csv.to_path_buf(), report::csv_string(&self.rows)?),
            manifest: (json, text),
            kernels,
            pruned,
        })
    }
}

/// The files of a profile, as (path, text).
#[derive(Clone, Debug)]
pub struct ProfileFiles {
    /// The CSV of per-node rows.
    pub profile: (PathBuf, String),
    /// Its manifest (`.json` beside it).
    pub manifest: (PathBuf, String),
    /// The kernel times ([`kernels_path`]), when timed.
    pub kernels: Option<(PathBuf, String)>,
    /// The pruned prefixes' times ([`pruned_path`]), when timed.
    pub pruned: Option<(PathBuf, String)>,
}

impl ProfileFiles {
    /// Every file.
    pub fn all(&self) -> Vec<(PathBuf, String)> {
        let mut out = vec![self.profile.clone(), self.manifest.clone()];
        out.extend(self.kernels.clone());
        out.extend(self.pruned.clone());
        out
    }
}
