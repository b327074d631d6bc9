//! The kernel efficiency table: every conv, depthwise and fully connected shape of the
//! study's models (`resnet18-cifar`, `mobilenet_v2`), of the study's bottlenecks (3x3
//! encoders C -> C/4, C/8, C/16 and their decoders at every single-tensor cut) and the
//! stems and classifiers of the other zoo models (all their shapes with
//! `SPLITBENCH_BENCH=full`), each built as a one-node graph and run by the executor as a
//! model runs it (the autotuner picks its tile), timed with GPU timestamps. Beside each
//! rate: the compulsory traffic (input, weights, bias and output, each once), the best
//! convolution rate of this run, and the device's memory roofline, measured in the same
//! run by the copy kernel. A shape is memory-bound when its traffic at the copy bandwidth
//! takes longer than its arithmetic at the best conv rate; the target is 50% of the
//! roofline (the best conv rate, or arithmetic intensity x copy bandwidth when
//! memory-bound). Writes `results/<device>/kernel_efficiency.csv` and its manifest.

use anyhow::{Context, Result};
use splitbench::compress::bottleneck::{self, Bottleneck};
use splitbench::gpu::{
    buffers, profile_nodes, time_dispatch_groups, Builder, Executor, GpuContext, TileSource,
};
use splitbench::model::{self, zoo, Graph, Model, Op, Shape, ZooOptions};
use splitbench::report::{self, RunInfo};
use splitbench::tensor::Rng;
use std::collections::BTreeMap;

/// One row of `kernel_efficiency.csv`.
#[derive(Debug, serde::Serialize)]
struct Row {
    /// Where the shape comes from (model, `bottleneck`, `stems`).
    group: String,
    /// `conv`, `conv1x1`, `dwconv` or `linear`.
    op: String,
    /// `<batch>x<in shape> -> <out shape> k<kh>x<kw> s<stride> [g<groups>]`.
    shape: String,
    /// Nodes with this shape (first few).
    nodes: String,
    /// Kernel and tile that ran.
    kernel: String,
    /// `tuned`, `cached` or `heuristic`; empty for layers without tiles.
    tile_source: String,
    flops: u64,
    /// Compulsory traffic: input, weights, bias and output, each once.
    bytes: u64,
    median_ms: f64,
    p5_ms: f64,
    p95_ms: f64,
    reps: usize,
    gflops: f64,
    gbps: f64,
    /// FLOP rate / the best conv rate of this run.
    pct_of_best_conv: f64,
    /// GB/s / the copy kernel's GB/s.
    pct_of_copy_bw: f64,
    /// `compute` or `memory`.
    bound: &'static str,
    /// FLOP rate / min(best conv rate, arithmetic intensity x copy bandwidth).
    pct_of_roofline: f64,
    /// Whether `pct_of_roofline` is at least 50%.
    meets_target: bool,
}

/// The run's settings and device figures, written beside the CSV.
#[derive(serde::Serialize)]
struct Manifest {
    #[serde(flatten)]
    run: RunInfo,
    batch: usize,
    warmup: usize,
    reps: usize,
    full: bool,
    timing: String,
    copy_bytes: u64,
    copy_gbps: f64,
    best_conv_gflops: f64,
    best_conv_shape: String,
    target_pct_of_roofline: f64,
    shapes: usize,
    shapes_meeting_target: usize,
    autotune: splitbench::gpu::TuneSummary,
}

/// A layer to time: its op, input shape and where it occurs.
struct Case {
    group: String,
    op: Op,
    input: Shape,
    nodes: Vec<String>,
}

/// A key that tells shapes apart (op parameters and input shape, not names).
fn key(op: &Op, input: Shape) -> String {
    format!("{op:?} {input}")
}

fn add(cases: &mut Vec<Case>, seen: &mut BTreeMap<String, usize>, group: &str, g: &Graph) {
    for n in &g.nodes {
        let (op, input) = match &n.op {
            Op::Conv2d(c) => {
                // The residual add is the output's size again; the table compares the
                // convolutions themselves.
                let mut c = *c;
                c.residual = false;
                (Op::Conv2d(c), g.nodes[n.inputs[0]].shape)
            }
            Op::Linear(l) => (Op::Linear(*l), g.nodes[n.inputs[0]].shape),
            _ => continue,
        };
        let k = key(&op, input);
        match seen.get(&k) {
            Some(&i) => cases[i].nodes.push(format!("{}:{}", g.name, n.name)),
            None => {
                seen.insert(k, cases.len());
                cases.push(Case {
                    group: group.into(),
                    op,
                    input,
                    nodes: vec![format!("{}:{}", g.name, n.name)],
                });
            }
        }
    }
}

/// The cases of this run (see the module documentation).
fn cases(full: bool) -> Result<Vec<Case>> {
    let mut out = Vec::new();
    let mut seen = BTreeMap::new();
    let fused = |name: &str| -> Result<Graph> {
        Ok(model::fuse_graph(&zoo::build(
            name,
            &ZooOptions::default(),
        )?)?)
    };
    let study = ["resnet18-cifar", "mobilenet_v2"];
    for name in study {
        add(&mut out, &mut seen, name, &fused(name)?);
    }
    // The study's bottlenecks: an encoder and a decoder per width at every cut where one
    // spatial tensor crosses.
    for name in study {
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
    for &name in zoo::names() {
        if study.contains(&name) {
            continue;
        }
        let g = fused(name)?;
        if full {
            add(&mut out, &mut seen, name, &g);
        } else {
            // The stem (first conv) and the classifier (last linear layer).
            for n in &g.nodes {
                let first_conv = matches!(n.op, Op::Conv2d(_)) && n.inputs == [0];
                let last = n.name == g.nodes[g.output()].name;
                if first_conv || (last && matches!(n.op, Op::Linear(_))) {
                    let mut one = Graph::new(g.name.clone(), g.nodes[n.inputs[0]].shape);
                    one.push(n.name.clone(), n.op, &[0])?;
                    add(&mut out, &mut seen, "stems", &one);
                }
            }
        }
    }
    Ok(out)
}

/// The copy kernel's bandwidth in GB/s (bytes read + written per second) over `bytes`.
fn copy_bandwidth(ctx: &GpuContext, bytes: u64, warmup: usize, reps: usize) -> Result<f64> {
    let n = (bytes / 4) as usize;
    let x = buffers::upload(ctx, "copy x", &Rng::new(3).vec(n, -1.0, 1.0));
    let y = buffers::zeroed(ctx, "copy y", bytes);
    let d = Builder::new(ctx).copy(n, &x, &y)?;
    let (_, stats) = time_dispatch_groups(ctx, &[vec![d]], warmup, reps)?;
    Ok(2.0 * bytes as f64 / (stats[0].median_ms * 1e6))
}

/// Measures every case and writes the table (when `write`); prints it.
pub fn run(ctx: &GpuContext, full: bool, quick_test: bool, write: bool) -> Result<()> {
    let (warmup, reps) = match (quick_test, full) {
        (true, _) => (0, 1),
        (false, true) => (3, 30),
        (false, false) => (2, 10),
    };
    let batch = 1;
    let mut all = cases(full)?;
    if quick_test {
        // `cargo test --benches`: a few small shapes, to show the code runs.
        all.retain(|c| c.input.numel() <= 16 * 56 * 56);
        all.truncate(6);
    }
    // Enough bytes that the copy is not dominated by its launch (64 MiB on a GPU's scale,
    // more than any cache of a CPU implementation).
    let copy_bytes: u64 = if quick_test { 1 << 20 } else { 64 << 20 };
    let copy_gbps = copy_bandwidth(ctx, copy_bytes, warmup.max(1), reps.max(3))?;
    eprintln!(
        "efficiency table on {}: {} shapes, copy bandwidth {copy_gbps:.2} GB/s",
        ctx.summary.name,
        all.len()
    );
    struct Measured {
        case: Case,
        kernel: String,
        source: String,
        flops: u64,
        bytes: u64,
        stats: splitbench::gpu::Stats,
        timing: String,
    }
    let mut measured = Vec::new();
    for (i, case) in all.into_iter().enumerate() {
        let mut g = Graph::new(format!("case{i}"), case.input);
        g.push("op", case.op, &[0])?;
        let m = Model {
            weights: model::seeded(&g, 11 + i as u64),
            graph: g,
        };
        let exec = Executor::new(ctx, &m, 1..2, batch, &[])?;
        exec.set_input(
            0,
            &Rng::new(i as u64).vec(batch * case.input.numel(), -1.0, 1.0),
        )?;
        let (method, stats) = profile_nodes(&exec, warmup, reps)?;
        let node = &m.graph.nodes[1];
        let step = &exec.steps()[0];
        let (kernel, source) = match (&step.tile, &node.op) {
            (Some(t), _) => (
                t.plan.label(),
                match t.source {
                    TileSource::Tuned => "tuned",
                    TileSource::Cached => "cached",
                    TileSource::Heuristic => "heuristic",
                }
                .to_string(),
            ),
            (None, _) => ("linear".to_string(), String::new()),
        };
        let flops = node.flops(&m.graph) * batch as u64;
        let bytes = 4
            * (node.input_values(&m.graph) * batch as u64
                + node.param_values()
                + node.shape.numel() as u64 * batch as u64);
        measured.push(Measured {
            case,
            kernel,
            source,
            flops,
            bytes,
            stats: stats[0],
            timing: method.as_str().to_string(),
        });
    }
    let gflops = |m: &Measured| m.flops as f64 / (m.stats.median_ms * 1e6);
    let is_conv = |m: &Measured| matches!(m.case.op, Op::Conv2d(c) if c.groups == 1);
    let best = measured
        .iter()
        .filter(|m| is_conv(m))
        .max_by(|a, b| gflops(a).total_cmp(&gflops(b)));
    let best_gflops = best.map_or(0.0, gflops);
    let best_shape = best.map_or(String::new(), |m| shape_name(&m.case, batch));
    let mut rows = Vec::new();
    for m in &measured {
        let rate = gflops(m);
        let gbps = m.bytes as f64 / (m.stats.median_ms * 1e6);
        let intensity = m.flops as f64 / m.bytes as f64;
        let memory_roof = intensity * copy_gbps;
        let (bound, roof) = if memory_roof < best_gflops {
            ("memory", memory_roof)
        } else {
            ("compute", best_gflops)
        };
        let pct = |a: f64, b: f64| if b > 0.0 { 100.0 * a / b } else { 0.0 };
        rows.push(Row {
            group: m.case.group.clone(),
            op: m.case.op.kind().to_string(),
            shape: shape_name(&m.case, batch),
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
            bound,
            pct_of_roofline: pct(rate, roof),
            meets_target: pct(rate, roof) >= 50.0,
        });
    }
    println!(
        "{:<12} {:<8} {:<40} {:<22} {:>9} {:>8} {:>7} {:>6} {:>7} {:<7} {:>6}",
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
    for r in &rows {
        println!(
            "{:<12} {:<8} {:<40} {:<22} {:>9.3} {:>8.2} {:>7.2} {:>5.0}% {:>6.0}% {:<7} {:>5.0}%{}",
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
            if r.meets_target { "" } else { "  below target" }
        );
    }
    let meeting = rows.iter().filter(|r| r.meets_target).count();
    println!(
        "best conv {best_gflops:.2} GFLOP/s ({best_shape}); copy {copy_gbps:.2} GB/s; {meeting} of {} shapes at >= 50% of their roofline",
        rows.len()
    );
    if !write {
        return Ok(());
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results")
        .join(ctx.summary.file_safe_name());
    let csv = dir.join("kernel_efficiency.csv");
    report::write_csv(&csv, &rows)?;
    let manifest = Manifest {
        run: RunInfo::new(&ctx.summary),
        batch,
        warmup,
        reps,
        full,
        timing: measured.first().map_or(String::new(), |m| m.timing.clone()),
        copy_bytes,
        copy_gbps,
        best_conv_gflops: best_gflops,
        best_conv_shape: best_shape,
        target_pct_of_roofline: 50.0,
        shapes: rows.len(),
        shapes_meeting_target: meeting,
        autotune: ctx.tile_summary(),
    };
    let mpath = dir.join("kernel_efficiency.manifest.json");
    std::fs::write(&mpath, serde_json::to_string_pretty(&manifest)?)
        .with_context(|| mpath.display().to_string())?;
    eprintln!("wrote {} and {}", csv.display(), mpath.display());
    Ok(())
}

fn shape_name(c: &Case, batch: usize) -> String {
    let i = c.input;
    match c.op {
        Op::Conv2d(cv) => {
            let (oh, ow) = cv.out_hw(i.h, i.w).unwrap_or((0, 0));
            let g = if cv.groups > 1 {
                format!(" g{}", cv.groups)
            } else {
                String::new()
            };
            format!(
                "{batch}x{i} -> {}x{oh}x{ow} k{}x{} s{}{g}",
                cv.out_c, cv.kernel.0, cv.kernel.1, cv.stride.0
            )
        }
        Op::Linear(l) => format!("{batch}x{} -> {}", l.in_f, l.out_f),
        _ => format!("{batch}x{i}"),
    }
}
