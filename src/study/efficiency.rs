//! The kernel efficiency table (`splitbench kernels`, the `kernels` bench): every conv,
//! depthwise and fully connected shape of the study's models (`resnet18-cifar`,
//! `mobilenet_v2`), of the study's bottlenecks (the 3x3 encoders C -> C/4, C/8, C/16 and
//! their decoders at every cut where one spatial tensor crosses) and the stems and
//! classifiers of the other zoo models (all their shapes with `full`), each built as a
//! one-node graph and run by the executor as a model runs it (the autotuner picks its
//! tile), timed with GPU timestamps.
//!
//! Conventions. The compulsory traffic of a layer is its input, weights, bias and output,
//! each once. The device's roofline comes from the same run: the best ungrouped
//! convolution's FLOP rate, and the copy kernel's bandwidth (bytes read + written per
//! second; measured before and after the shapes, the higher kept). A shape is memory-bound when its traffic at the copy bandwidth takes longer
//! than its arithmetic at the best conv rate; its roofline is then arithmetic intensity x
//! copy bandwidth, else the best conv rate. The target is [`TARGET_PCT`] of the roofline.
//! Every dispatch also costs a floor besides its kernel's work (an empty dispatch's time,
//! measured in the same run): a shape whose roofline time is below that floor cannot
//! reach the target on this device whatever its kernel, and is marked `floor_bound`.
//! Residual adds are left out (they are the output's size again, not the convolution).

use super::Progress;
use crate::compress::bottleneck::{self, Bottleneck};
use crate::error::Result;
use crate::gpu::{buffers, profile_nodes, time_dispatch_groups, Builder, Executor, GpuContext};
use crate::model::{self, zoo, Graph, Model, Op, Shape, ZooOptions};
use crate::report::{self, KernelEfficiencyManifest, KernelEfficiencyRow, RunInfo};
use crate::tensor::Rng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The target: a shape's FLOP rate as a share of its roofline, %.
pub const TARGET_PCT: f64 = 50.0;
/// The table's fastest ungrouped convs timed again for the best conv rate.
pub const BEST_RETIMED: usize = 3;
/// How much a run's two measurements of one figure may differ (the higher over the lower)
/// before the table says that the machine's speed changed during the run: ea73bfc's calm
/// table had its fastest conv row at 1.05x the re-timed rate, a busy machine's run 1.8x.
pub const DRIFT_LIMIT: f64 = 1.25;
/// The models of the study, every shape of which the table covers.
pub const STUDY_MODELS: [&str; 2] = ["resnet18-cifar", "mobilenet_v2"];

/// How to measure the table.
#[derive(Clone, Debug)]
pub struct EfficiencyOptions {
    /// Every shape of every zoo model, not only the study's and the other models' stems
    /// and classifiers.
    pub full: bool,
    /// Samples per run.
    pub batch: usize,
    /// Untimed runs per shape.
    pub warmup: usize,
    /// Timed runs per shape.
    pub reps: usize,
    /// Passes over all shapes; each shape keeps the pass of lowest median. A shared or
    /// virtual machine slows a run for seconds to minutes at a time, which a later pass,
    /// minutes apart, need not repeat (the copy bandwidth is also measured twice, the
    /// higher kept). Three: with two, a row of the committed lavapipe table still came out
    /// 2x slow (144->9 at 56x56: 4.47 ms; 2.24-2.28 ms in the runs after).
    pub passes: usize,
    /// Bytes the copy kernel copies (enough that its launch does not dominate).
    pub copy_bytes: u64,
    /// Measure only the first this many shapes (a smoke test), if given.
    pub max_shapes: Option<usize>,
    /// Measure only the shapes whose op, shape name, group or nodes contain this
    /// (case-insensitive), if given. The % columns are then relative to the best conv
    /// among the shapes measured.
    pub only: Option<String>,
}

impl Default for EfficiencyOptions {
    fn default() -> Self {
        Self {
            full: false,
            batch: 1,
            warmup: 2,
            reps: 10,
            passes: 3,
            copy_bytes: 64 << 20,
            max_shapes: None,
            only: None,
        }
    }
}

/// A layer shape to time: its op (residual dropped), input shape and where it occurs.
#[derive(Clone, Debug)]
pub struct Case {
    /// A model, `bottleneck` or `stems`.
    pub group: String,
    /// The op.
    pub op: Op,
    /// Its input shape per sample.
    pub input: Shape,
    /// `model:node` of every node with this shape.
    pub nodes: Vec<String>,
}

impl Case {
    /// `<batch>x<input> -> <output> k<kh>x<kw> s<stride>[ g<groups>]`.
    pub fn shape_name(&self, batch: usize) -> String {
        let i = self.input;
        match self.op {
            Op::Conv2d(c) => {
                let (oh, ow) = c.out_hw(i.h, i.w).unwrap_or((0, 0));
                let g = if c.groups > 1 {
                    format!(" g{}", c.groups)
                } else {
                    String::new()
                };
                format!(
                    "{batch}x{i} -> {}x{oh}x{ow} k{}x{} s{}{g}",
                    c.out_c, c.kernel.0, c.kernel.1, c.stride.0
                )
            }
            Op::Linear(l) => format!("{batch}x{} -> {}", l.in_f, l.out_f),
            _ => format!("{batch}x{i}"),
        }
    }
}

/// Adds the conv and linear layers of `g` not seen yet to `cases`.
fn add(cases: &mut Vec<Case>, seen: &mut BTreeMap<String, usize>, group: &str, g: &Graph) {
    for n in &g.nodes {
        let op = match &n.op {
            Op::Conv2d(c) => {
                let mut c = *c;
                c.residual = false;
                Op::Conv2d(c)
            }
            Op::Linear(l) => Op::Linear(*l),
            _ => continue,
        };
        let input = g.nodes[n.inputs[0]].shape;
        let key = format!("{op:?} {input}");
        let node = format!("{}:{}", g.name, n.name);
        match seen.get(&key) {
            Some(&i) => cases[i].nodes.push(node),
            None => {
                seen.insert(key, cases.len());
                cases.push(Case {
                    group: group.into(),
                    op,
                    input,
                    nodes: vec![node],
                });
            }
        }
    }
}

/// The shapes of the table (see the module documentation), each once, in order: the
/// study's models, their bottlenecks, the other zoo models.
pub fn cases(full: bool) -> Result<Vec<Case>> {
    let mut out = Vec::new();
    let mut seen = BTreeMap::new();
    let fused = |name: &str| model::fuse_graph(&zoo::build(name, &ZooOptions::default())?);
    for name in STUDY_MODELS {
        add(&mut out, &mut seen, name, &fused(name)?);
    }
    for name in STUDY_MODELS {
        let g = fused(name)?;
        let mut features: Vec<Shape> = model::cuts(&g)
            .iter()
            .filter(|c| c.tensors.len() == 1 && c.tensors[0] > 0)
            .map(|c| g.nodes[c.tensors[0]].shape)
            .filter(|s| s.h > 1)
            .collect();
        features.sort_by_key(|s| (s.c, s.h, s.w));
        features.dedup();
        for f in features {
            for w in bottleneck::widths(f.c) {
                let b = Bottleneck::new(f, w)?;
                add(&mut out, &mut seen, "bottleneck", &b.encoder_graph()?);
                add(&mut out, &mut seen, "bottleneck", &b.decoder_graph()?);
            }
        }
    }
    // The encoders the study's conclusions hinge on, at both resolutions where they occur
    // (16 channels at 112x112, 24 at 56x56), and their decoders.
    for (c, w) in [(16, 1), (16, 4), (24, 1)] {
        for hw in [112, 56] {
            let b = Bottleneck::new(Shape::new(c, hw, hw), w)?;
            add(&mut out, &mut seen, "bottleneck", &b.encoder_graph()?);
            add(&mut out, &mut seen, "bottleneck", &b.decoder_graph()?);
        }
    }
    for &name in zoo::names() {
        if STUDY_MODELS.contains(&name) {
            continue;
        }
        let g = fused(name)?;
        if full {
            add(&mut out, &mut seen, name, &g);
            continue;
        }
        // The stem (the conv reading the input) and the classifier (the output layer).
        for (id, n) in g.nodes.iter().enumerate() {
            let stem = matches!(n.op, Op::Conv2d(_)) && n.inputs == [0];
            let classifier = id == g.output() && matches!(n.op, Op::Linear(_));
            if stem || classifier {
                let mut one = Graph::new(g.name.clone(), g.nodes[n.inputs[0]].shape);
                one.push(n.name.clone(), n.op, &[0])?;
                add(&mut out, &mut seen, "stems", &one);
            }
        }
    }
    Ok(out)
}

/// The copy kernel's bandwidth over `bytes` (median of `reps` runs), GB/s of bytes read +
/// written.
pub fn copy_bandwidth(ctx: &GpuContext, bytes: u64, warmup: usize, reps: usize) -> Result<f64> {
    let n = (bytes / 16 * 4) as usize;
    Ok(2.0 * n as f64 * 4.0 / (copy_ms(ctx, n, warmup, reps)? * 1e6))
}

/// The time of an empty dispatch (one thread copying one vec4), median of `reps` runs
/// timed as the shapes are, ms: what every dispatch costs on this device besides its
/// kernel's work (about 30 us on llvmpipe).
pub fn dispatch_floor_ms(ctx: &GpuContext, warmup: usize, reps: usize) -> Result<f64> {
    copy_ms(ctx, 4, warmup, reps)
}

/// The copy kernel's median time over `n` values (a multiple of 4), ms.
fn copy_ms(ctx: &GpuContext, n: usize, warmup: usize, reps: usize) -> Result<f64> {
    let x = buffers::upload(ctx, "copy x", &Rng::new(3).vec(n, -1.0, 1.0));
    let y = buffers::zeroed(ctx, "copy y", n as u64 * 4);
    let d = Builder::new(ctx).copy(n, &x, &y)?;
    let (_, stats) = time_dispatch_groups(ctx, &[vec![d]], warmup, reps)?;
    Ok(stats[0].median_ms)
}

/// Why a run's bars cannot be trusted, one line each; empty when the machine held its
/// speed. Every row is a percentage of the best conv rate and the copy bandwidth, each
/// measured twice: the table's fastest conv row against the same convs timed again after
/// the table, the copy before and after it. A machine slowed by other work during one of
/// them lowers that bar, and every row's percentage rises with it.
pub fn drift_warnings(table_max_gflops: f64, best_gflops: f64, copy_gbps: [f64; 2]) -> Vec<String> {
    // The higher of two measurements over the lower; none where one is missing (0).
    let spread = |a: f64, b: f64| (a.min(b) > 0.0).then(|| a.max(b) / a.min(b));
    let mut out = Vec::new();
    // Either way: a bar timed slower than the rows flatters them, a faster one wrongs them.
    if spread(table_max_gflops, best_gflops).is_some_and(|r| r > DRIFT_LIMIT) {
        out.push(format!(
            "the best convs timed again ran at {:.0}% of the table's fastest row ({:.2} against \
             {:.2} GFLOP/s)",
            100.0 * best_gflops / table_max_gflops,
            best_gflops,
            table_max_gflops
        ));
    }
    if let Some(r) = spread(copy_gbps[0], copy_gbps[1]).filter(|&r| r > DRIFT_LIMIT) {
        out.push(format!(
            "the copy bandwidth measured before and after the shapes differs {r:.2}x ({:.2} and \
             {:.2} GB/s)",
            copy_gbps[0], copy_gbps[1]
        ));
    }
    out
}

/// The measured table: its rows and manifest.
#[derive(Clone, Debug)]
pub struct EfficiencyTable {
    /// One row per shape.
    pub rows: Vec<KernelEfficiencyRow>,
    /// The run and the device's figures.
    pub manifest: KernelEfficiencyManifest,
}

/// One measured case.
struct Measured {
    case: Case,
    kernel: String,
    source: String,
    flops: u64,
    bytes: u64,
    stats: crate::gpu::Stats,
}

/// Times one case as a one-node model through the executor.
fn measure_case(
    ctx: &GpuContext,
    case: Case,
    o: &EfficiencyOptions,
    seed: u64,
) -> Result<Measured> {
    let mut g = Graph::new(format!("case{seed}"), case.input);
    g.push("op", case.op, &[0])?;
    let m = Model {
        weights: model::seeded(&g, seed),
        graph: g,
    };
    let exec = Executor::new(ctx, &m, 1..2, o.batch, &[])?;
    exec.set_input(
        0,
        &Rng::new(seed).vec(o.batch * case.input.numel(), -1.0, 1.0),
    )?;
    let (_, stats) = profile_nodes(&exec, o.warmup, o.reps)?;
    let node = &m.graph.nodes[1];
    let b = o.batch as u64;
    let (kernel, source) = match exec.steps()[0].tile {
        Some(t) => (t.plan.label(), format!("{:?}", t.source).to_lowercase()),
        None => (node.op.kind().to_string(), String::new()),
    };
    Ok(Measured {
        flops: node.flops(&m.graph) * b,
        bytes: 4
            * (node.input_values(&m.graph) * b
                + node.param_values()
                + node.shape.numel() as u64 * b),
        case,
        kernel,
        source,
        stats: stats[0],
    })
}

/// The cases `which` of `all` measured in `o.passes` passes over all of them (minutes apart
/// on the whole table), each keeping its pass of lowest median; one `progress` step a
/// measurement.
fn measure_passes(
    ctx: &GpuContext,
    all: &[Case],
    which: &[usize],
    o: &EfficiencyOptions,
    progress: &mut dyn Progress,
) -> Result<Vec<Measured>> {
    let mut kept: Vec<Option<Measured>> = which.iter().map(|_| None).collect();
    for _ in 0..o.passes.max(1) {
        for (slot, &i) in kept.iter_mut().zip(which) {
            // The seed follows the case's place in the table, so a case timed again is
            // the same layer with the same weights and input.
            let m = measure_case(ctx, all[i].clone(), o, 11 + i as u64)?;
            if slot
                .as_ref()
                .is_none_or(|k| m.stats.median_ms < k.stats.median_ms)
            {
                *slot = Some(m);
            }
            progress.step();
        }
    }
    Ok(kept.into_iter().flatten().collect())
}

/// Measures the table on `ctx` (a stage per shape count for `progress`).
pub fn measure_efficiency(
    ctx: &GpuContext,
    o: &EfficiencyOptions,
    progress: &mut dyn Progress,
) -> Result<EfficiencyTable> {
    let mut all = cases(o.full)?;
    if let Some(only) = &o.only {
        let only = only.to_lowercase();
        all.retain(|c| {
            [
                c.op.kind().to_string(),
                c.shape_name(o.batch),
                c.group.clone(),
                c.nodes.join(" "),
            ]
            .iter()
            .any(|t| t.to_lowercase().contains(&only))
        });
        if all.is_empty() {
            return Err(crate::Error::InvalidArg(format!(
                "no shape of the table matches '{only}' (an op such as conv, conv1x1, \
                 dwconv or linear, a shape such as 112x112, a group or a node name)"
            )));
        }
    }
    if let Some(n) = o.max_shapes {
        all.truncate(n);
    }
    progress.stage("copy bandwidth", None);
    let copy_gbps = copy_bandwidth(ctx, o.copy_bytes, o.warmup.max(1), o.reps.max(3))?;
    let floor_ms = dispatch_floor_ms(ctx, o.warmup.max(1), o.reps.max(3))?;
    let passes = o.passes.max(1);
    progress.stage("layer shapes", Some(all.len() * passes));
    let measured = measure_passes(ctx, &all, &(0..all.len()).collect::<Vec<_>>(), o, progress)?;
    // The copy again after the shapes: the higher of the two is the device's bandwidth
    // (a busy machine lowers one of them, never raises it).
    progress.stage("copy bandwidth", None);
    let copy_runs = [
        copy_gbps,
        copy_bandwidth(ctx, o.copy_bytes, o.warmup.max(1), o.reps.max(3))?,
    ];
    let copy_gbps = copy_runs[0].max(copy_runs[1]);
    let floor_ms = floor_ms.min(dispatch_floor_ms(ctx, o.warmup.max(1), o.reps.max(3))?);
    let gflops = |m: &Measured| m.flops as f64 / (m.stats.median_ms * 1e6);
    // The best conv rate, the bar of every row, is timed again: the highest of the table's
    // ~190 noisy rows overstates it (the row that won had its luckiest passes), so the
    // [`BEST_RETIMED`] fastest ungrouped convs are measured again as the table measures
    // them and the best of those new times is the rate.
    let mut top: Vec<usize> = (0..measured.len())
        .filter(|&i| matches!(measured[i].case.op, Op::Conv2d(c) if c.groups == 1))
        .collect();
    top.sort_by(|&a, &b| gflops(&measured[b]).total_cmp(&gflops(&measured[a])));
    let table_max_gflops = top.first().map_or(0.0, |&i| gflops(&measured[i]));
    top.truncate(BEST_RETIMED);
    progress.stage("best conv again", Some(top.len() * passes));
    let again = measure_passes(ctx, &all, &top, o, progress)?;
    progress.done();
    let best = again.iter().max_by(|a, b| gflops(a).total_cmp(&gflops(b)));
    let best_gflops = best.map_or(0.0, gflops);
    let best_shape = best.map_or(String::new(), |m| m.case.shape_name(o.batch));
    let drift = drift_warnings(table_max_gflops, best_gflops, copy_runs);
    let pct = |a: f64, b: f64| if b > 0.0 { 100.0 * a / b } else { 0.0 };
    let rows: Vec<KernelEfficiencyRow> = measured
        .iter()
        .map(|m| {
            let rate = gflops(m);
            let memory_roof = m.flops as f64 / m.bytes as f64 * copy_gbps;
            let (bound, roof) = if memory_roof < best_gflops {
                ("memory", memory_roof)
            } else {
                ("compute", best_gflops)
            };
            let gbps = m.bytes as f64 / (m.stats.median_ms * 1e6);
            let roof_ms = if roof > 0.0 {
                m.flops as f64 / (roof * 1e6)
            } else {
                0.0
            };
            KernelEfficiencyRow {
                group: m.case.group.clone(),
                op: m.case.op.kind().to_string(),
                shape: m.case.shape_name(o.batch),
                nodes: m
                    .case
                    .nodes
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" "),
                kernel: m.kernel.clone(),
                tile_source: m.source.clone(),
                flops: m.flops,
                bytes: m.bytes,
                median_ms: m.stats.median_ms,
                p5_ms: m.stats.p5_ms,
                p95_ms: m.stats.p95_ms,
                reps: m.stats.count,
                gflops: rate,
                gbps,
                pct_of_best_conv: pct(rate, best_gflops),
                pct_of_copy_bw: pct(gbps, copy_gbps),
                bound: bound.into(),
                pct_of_roofline: pct(rate, roof),
                meets_target: pct(rate, roof) >= TARGET_PCT,
                pct_of_roofline_with_floor: pct(roof_ms + floor_ms, m.stats.median_ms),
                floor_bound: floor_ms >= roof_ms,
            }
        })
        .collect();
    let meeting = rows.iter().filter(|r| r.meets_target).count();
    let floor_bound = rows
        .iter()
        .filter(|r| !r.meets_target && r.floor_bound)
        .count();
    let manifest = KernelEfficiencyManifest {
        run: RunInfo::new(&ctx.summary),
        batch: o.batch,
        warmup: o.warmup,
        reps: o.reps,
        passes,
        full: o.full,
        only: o.only.clone(),
        timing: crate::gpu::TimingMethod::best_per_node(ctx.features)
            .as_str()
            .into(),
        copy_bytes: o.copy_bytes,
        copy_gbps,
        copy_gbps_runs: copy_runs,
        best_conv_gflops: best_gflops,
        best_conv_shape: best_shape,
        table_max_conv_gflops: table_max_gflops,
        dispatch_floor_ms: floor_ms,
        target_pct_of_roofline: TARGET_PCT,
        shapes: rows.len(),
        shapes_meeting_target: meeting,
        shapes_floor_bound: floor_bound,
        drift,
        autotune: ctx.tile_summary(),
    };
    Ok(EfficiencyTable { rows, manifest })
}

impl EfficiencyTable {
    /// Writes `kernel_efficiency.csv` and `kernel_efficiency.manifest.json` into `dir`;
    /// returns their paths.
    pub fn write(&self, dir: &Path) -> Result<(PathBuf, PathBuf)> {
        let csv = dir.join("kernel_efficiency.csv");
        report::write_csv(&csv, &self.rows)?;
        let json = dir.join("kernel_efficiency.manifest.json");
        let text =
            serde_json::to_string_pretty(&self.manifest).map_err(|e| crate::Error::BadFile {
                file: json.clone(),
                msg: e.to_string(),
            })?;
        std::fs::write(&json, text).map_err(|e| crate::Error::io(&json, e))?;
        Ok((csv, json))
    }

    /// The table as text: one line per shape, then the device's figures.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{:<14} {:<8} {:<42} {:<26} {:>9} {:>8} {:>7} {:>6} {:>6} {:<7} {:>6}\n",
            "group",
            "op",
            "shape",
            "kernel",
            "median_ms",
            "GFLOP/s",
            "GB/s",
            "%best",
            "%copy",
            "bound",
            "%roof"
        );
        for r in &self.rows {
            out += &format!(
                "{:<14} {:<8} {:<42} {:<26} {:>9.3} {:>8.2} {:>7.2} {:>5.0}% {:>5.0}% {:<7} {:>5.0}%{}\n",
                r.group,
                r.op,
                r.shape,
                r.kernel,
                r.median_ms,
                r.gflops,
                r.gbps,
                r.pct_of_best_conv,
                r.pct_of_copy_bw,
                r.bound,
                r.pct_of_roofline,
                match (r.meets_target, r.floor_bound) {
                    (true, _) => "",
                    (false, false) => "  below",
                    (false, true) => "  below (floor)",
                }
            );
        }
        let m = &self.manifest;
        out += &format!(
            "best conv {:.2} GFLOP/s ({}, timed again; the table's fastest row {:.2}); copy {:.2} GB/s; dispatch floor {:.1} us; {} of {} shapes at >= {:.0}% of their roofline ({} of those below under the floor: roofline time < dispatch floor)\n",
            m.best_conv_gflops,
            m.best_conv_shape,
            m.table_max_conv_gflops,
            m.copy_gbps,
            m.dispatch_floor_ms * 1e3,
            m.shapes_meeting_target,
            m.shapes,
            m.target_pct_of_roofline,
            m.shapes_floor_bound
        );
        if !m.drift.is_empty() {
            out += &format!(
                "warning: this machine's speed changed during the run ({}): the percentages \
                 are against a bar measured at another speed than the rows; rerun on a quiet \
                 machine\n",
                m.drift.join("; ")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_run_has_no_drift_warning() {
        // ea73bfc's calm table: fastest row 53.8, timed again 51.1 GFLOP/s.
        assert!(drift_warnings(53.83, 51.08, [8.2, 8.6]).is_empty());
        // Nothing measured (a table without convs): nothing to compare.
        assert!(drift_warnings(0.0, 0.0, [0.0, 0.0]).is_empty());
    }

    #[test]
    fn a_slowed_bar_or_copy_is_reported() {
        let w = drift_warnings(28.61, 15.85, [5.7, 5.8]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("55%") && w[0].contains("15.85"), "{w:?}");
        let w = drift_warnings(20.0, 19.0, [3.0, 6.0]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("2.00x"), "{w:?}");
        assert_eq!(drift_warnings(28.61, 15.85, [6.0, 3.0]).len(), 2);
        // A bar timed faster than the table's rows is reported too.
        let w = drift_warnings(15.0, 30.0, [5.0, 5.0]);
        assert!(w.len() == 1 && w[0].contains("200%"), "{w:?}");
    }
}
