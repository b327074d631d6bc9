//! The peer bench: one model, one batch, the same seeded weights and the same random input,
//! run by burn's wgpu backend (CubeCL kernels, autotuned, fused) and by splitbench in one
//! process, alternating, each timed by the wall clock up to its output read back to the
//! host (the only clock both engines share). burn runs splitbench's own fused graph (batch
//! norm folded into the convolutions, activations and residual adds fused, as splitbench
//! executes it), node by node through burn's tensor API, so both engines compute the same
//! function; the largest difference between their outputs is reported as a check.
//!
//! `scripts/peer-bench.sh` builds and runs it; it writes `results/<device>/peers.csv` and
//! `peers.manifest.json`.

use anyhow::{anyhow, bail, Context, Result};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use burn::tensor::{activation, module, Device, DeviceKind, Tensor, TensorData};
use splitbench::gpu::{Executor, GpuContext};
use splitbench::model::{self, Act, Graph, Model, Op};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

/// One row of `peers.csv`.
#[derive(serde::Serialize)]
struct Row {
    model: String,
    batch: usize,
    engine: String,
    median_ms: f64,
    p5_ms: f64,
    p95_ms: f64,
    reps: usize,
    timing: &'static str,
    max_abs_diff_vs_splitbench: f64,
}

/// The graph's parameters as burn tensors, uploaded once.
struct BurnModel {
    graph: Graph,
    conv_w: HashMap<usize, (Tensor<4>, Option<Tensor<1>>)>,
    linear_w: HashMap<usize, (Tensor<2>, Option<Tensor<1>>)>,
}

fn tensor1(v: &[f32], dev: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), dev)
}

impl BurnModel {
    fn new(m: &Model, dev: &Device) -> Result<Self> {
        let mut conv_w = HashMap::new();
        let mut linear_w = HashMap::new();
        let get = |node: &str, what: &str| {
            m.weights
                .get(&format!("{node}.{what}"))
                .ok_or_else(|| anyhow!("missing {node}.{what}"))
        };
        for (id, n) in m.graph.nodes.iter().enumerate() {
            match &n.op {
                Op::Conv2d(c) => {
                    let w = get(&n.name, "weight")?;
                    let s = c.weight_shape();
                    let w = Tensor::<4>::from_data(
                        TensorData::new(w.data.clone(), [s[0], s[1], s[2], s[3]]),
                        dev,
                    );
                    let b = c
                        .bias
                        .then(|| get(&n.name, "bias").map(|b| tensor1(&b.data, dev)))
                        .transpose()?;
                    conv_w.insert(id, (w, b));
                }
                Op::Linear(l) => {
                    let w = get(&n.name, "weight")?;
                    // burn's linear takes [in, out]; torch's weight is [out, in].
                    let w = Tensor::<2>::from_data(
                        TensorData::new(w.data.clone(), [l.out_f, l.in_f]),
                        dev,
                    )
                    .transpose();
                    let b = l
                        .bias
                        .then(|| get(&n.name, "bias").map(|b| tensor1(&b.data, dev)))
                        .transpose()?;
                    linear_w.insert(id, (w, b));
                }
                Op::BatchNorm { .. } => bail!("{}: batch norm left after fusion", n.name),
                _ => {}
            }
        }
        Ok(Self {
            graph: m.graph.clone(),
            conv_w,
            linear_w,
        })
    }

    fn act(x: Tensor<4>, a: Act) -> Tensor<4> {
        match a {
            Act::None => x,
            Act::Relu => activation::relu(x),
            Act::Relu6 => x.clamp(0.0, 6.0),
            Act::Tanh => x.tanh(),
            // max(x, 0) + exp(min(x, 0)) - 1: x above 0, exp(x) - 1 below.
            Act::Elu => x.clone().clamp_min(0.0) + (x.clamp_max(0.0).exp() - 1.0),
            Act::Sigmoid => activation::sigmoid(x),
            Act::HardSigmoid => (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Act::HardSwish => x.clone() * ((x + 3.0).clamp(0.0, 6.0) / 6.0),
            Act::Silu => activation::silu(x),
            Act::Gelu => activation::gelu(x),
        }
    }

    fn forward(&self, input: Tensor<4>) -> Result<Tensor<4>> {
        let mut t: Vec<Option<Tensor<4>>> = vec![None; self.graph.nodes.len()];
        t[0] = Some(input);
        for (id, n) in self.graph.nodes.iter().enumerate().skip(1) {
            let x = |i: usize| t[n.inputs[i]].clone().expect("topological order");
            let y = match &n.op {
                Op::Conv2d(c) => {
                    let (w, b) = &self.conv_w[&id];
                    let opts = ConvOptions::new(
                        [c.stride.0, c.stride.1],
                        [c.padding.0, c.padding.1],
                        [1, 1],
                        c.groups,
                    );
                    let mut y = module::conv2d(x(0), w.clone(), b.clone(), opts);
                    if c.residual {
                        y = y + x(1);
                    }
                    Self::act(y, c.act)
                }
                Op::Relu => activation::relu(x(0)),
                Op::Relu6 => x(0).clamp(0.0, 6.0),
                Op::Add { act } => Self::act(x(0) + x(1), *act),
                Op::MaxPool(p) => module::max_pool2d(
                    x(0),
                    MaxPoolOptions::new([p.kernel, p.kernel])
                        .with_stride([p.stride, p.stride])
                        .with_padding([p.padding, p.padding]),
                ),
                Op::AvgPool(p) => module::avg_pool2d(
                    x(0),
                    AvgPoolOptions::new([p.kernel, p.kernel])
                        .with_stride([p.stride, p.stride])
                        .with_padding([p.padding, p.padding]),
                ),
                Op::AdaptiveAvgPool { h, w } => module::adaptive_avg_pool2d(x(0), [*h, *w]),
                Op::Flatten | Op::Dropout => x(0),
                Op::Linear(l) => {
                    let (w, b) = &self.linear_w[&id];
                    let v = x(0);
                    let batch = v.dims()[0];
                    let y = module::linear(v.reshape([batch, l.in_f]), w.clone(), b.clone());
                    Self::act(y.reshape([batch, l.out_f, 1, 1]), l.act)
                }
                Op::Activation(a) => Self::act(x(0), *a),
                Op::Clip { lo, hi } => x(0).clamp(*lo, *hi),
                // Imported models' ops: the bench's zoo models have none of them.
                Op::Mul | Op::Concat | Op::LayerNorm { .. } => {
                    bail!("{}: {} is not in the peer bench", n.name, n.op.kind())
                }
                Op::Input | Op::BatchNorm { .. } => bail!("{}: unexpected op", n.name),
            };
            t[id] = Some(y);
        }
        t.pop().flatten().ok_or_else(|| anyhow!("empty graph"))
    }
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let q = |f: f64| splitbench::gpu::percentile(&v, f);
    (q(0.5), q(0.05), q(0.95))
}

/// `(model, batch, reps)` runs of the default bench.
const RUNS: &[(&str, usize, usize)] = &[
    ("resnet18-cifar", 1, 20),
    ("resnet18-cifar", 64, 5),
    ("mobilenet_v2", 1, 20),
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out_dir = match args.iter().position(|a| a == "--out") {
        Some(i) => Some(PathBuf::from(args.get(i + 1).context("--out DIR")?)),
        None => None,
    };
    let scale: f64 = std::env::var("PEERS_REPS_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let ctx = GpuContext::new(std::env::var("SPLITBENCH_ADAPTER").ok().as_deref())?;
    let dev = Device::wgpu(DeviceKind::DefaultDevice);
    eprintln!(
        "splitbench on {} ({})",
        ctx.summary.name, ctx.summary.backend
    );
    let mut rows = Vec::new();
    for &(name, batch, reps) in RUNS {
        let reps = ((reps as f64 * scale).round() as usize).max(3);
        let p = model::prepare(name, &Default::default(), None, 0)?;
        let g = &p.model.graph;
        let numel = batch * g.input_shape().numel();
        let input = splitbench::tensor::Rng::new(1).vec(numel, -1.0, 1.0);
        let s = g.input_shape();

        let exec = Executor::new(&ctx, &p.model, 1..g.nodes.len(), batch, &[])?;
        exec.set_input(0, &input)?;
        let bm = BurnModel::new(&p.model, &dev)?;
        let bx =
            Tensor::<4>::from_data(TensorData::new(input.clone(), [batch, s.c, s.h, s.w]), &dev);

        let sb_once = || -> Result<(f64, Vec<f32>)> {
            let t = Instant::now();
            let out = exec.run()?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            Ok((
                ms,
                out.into_iter().next().map(|t| t.data).unwrap_or_default(),
            ))
        };
        let burn_once = || -> Result<(f64, Vec<f32>)> {
            let t = Instant::now();
            let y = bm.forward(bx.clone())?;
            let data = y.into_data();
            let ms = t.elapsed().as_secs_f64() * 1e3;
            let v = data
                .try_to_vec::<f32>()
                .map_err(|e| anyhow!("burn output: {e:?}"))?;
            Ok((ms, v))
        };
        // Warm-up: burn autotunes its kernels on the first calls; splitbench tuned its
        // tiles when the executor was built.
        let warm = if batch > 1 { 2 } else { 5 };
        let (mut a, mut b) = (vec![], vec![]);
        for _ in 0..warm {
            a = sb_once()?.1;
            b = burn_once()?.1;
        }
        let diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs() as f64)
            .fold(0.0, f64::max);
        eprintln!("{name} batch {batch}: max |splitbench - burn| = {diff:.2e}");
        let (mut ts, mut tb) = (vec![], vec![]);
        // Every timed output is checked against splitbench's (outside the timing): an engine
        // that returned early or stale data would show here, not as a fast time.
        let mut worst = 0.0f64;
        let mut check = |v: &[f32]| {
            let d = a
                .iter()
                .zip(v)
                .map(|(x, y)| (x - y).abs() as f64)
                .fold(0.0, f64::max);
            worst = worst.max(if v.len() == a.len() { d } else { f64::INFINITY });
        };
        for i in 0..reps {
            // Alternate which engine goes first, so that drift hits both alike.
            let (s, b) = if i % 2 == 0 {
                let s = sb_once()?;
                (s, burn_once()?)
            } else {
                let b = burn_once()?;
                (sb_once()?, b)
            };
            check(&s.1);
            check(&b.1);
            ts.push(s.0);
            tb.push(b.0);
        }
        eprintln!("  every timed output within {worst:.2e} of splitbench's first");
        let diff = diff.max(worst);
        for (engine, t) in [("splitbench", ts), ("burn-wgpu", tb)] {
            let (median_ms, p5_ms, p95_ms) = stats(t);
            eprintln!("  {engine:<11} median {median_ms:9.2} ms  (p5 {p5_ms:.2}, p95 {p95_ms:.2})");
            rows.push(Row {
                model: name.into(),
                batch,
                engine: engine.into(),
                median_ms,
                p5_ms,
                p95_ms,
                reps,
                timing: "wall-clock-with-readback",
                max_abs_diff_vs_splitbench: if engine == "burn-wgpu" { diff } else { 0.0 },
            });
        }
    }
    let dir =
        out_dir.unwrap_or_else(|| PathBuf::from("results").join(ctx.summary.file_safe_name()));
    std::fs::create_dir_all(&dir)?;
    let csv_path = dir.join("peers.csv");
    let mut w = csv::Writer::from_path(&csv_path)?;
    for r in &rows {
        w.serialize(r)?;
    }
    w.flush()?;
    let manifest = serde_json::json!({
        "run": splitbench::report::RunInfo::new(&ctx.summary),
        "burn": "0.22.1 (features wgpu, fusion, autotune)",
        "weights": "seeded:0 (splitbench's fused graph, the same tensors in both engines)",
        "input": "uniform [-1, 1), seed 1",
        "timing": "wall clock from the call to the output on the host, alternating engines",
    });
    std::fs::write(
        dir.join("peers.manifest.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    eprintln!("wrote {}", csv_path.display());
    Ok(())
}
