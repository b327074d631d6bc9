//! Criterion benches of every kernel family on real layer shapes, timed on the GPU with
//! pass timestamps (`iter_custom`; wall clock around a completed poll where the adapter
//! has no timestamps). Throughput: conv/linear report FLOPs as "elements" (elem/s =
//! FLOP/s); pooling and quantization report bytes read.
//!
//! First the kernel efficiency table (`splitbench::study::efficiency`, also `splitbench
//! kernels`: every conv, depthwise and FC shape of the study's models and bottlenecks
//! against the best conv rate and the copy roofline of the same run), written to
//! `results/<device>/kernel_efficiency.csv`.
//!
//! `cargo bench --bench kernels` takes a few minutes on lavapipe (CPU-emulated GPU), more
//! with `SPLITBENCH_BENCH=full`; `cargo test --benches` runs each case once.

#[path = "../common/mod.rs"]
mod common;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use splitbench::gpu::{buffers, Builder, GpuContext, PassTimer, PoolKind};
use splitbench::model::{Act, Conv2d, Shape};
use splitbench::tensor::Rng;

/// Bytes of one group's parameters as the quantize kernel writes them.
const QUANT_PARAMS_BYTES: usize = std::mem::size_of::<splitbench::cpu::QuantParams>();

fn context() -> Option<GpuContext> {
    match GpuContext::new(std::env::var("SPLITBENCH_ADAPTER").ok().as_deref()) {
        Ok(c) => {
            eprintln!(
                "kernel benches on {} ({})",
                c.summary.name, c.summary.backend
            );
            Some(c)
        }
        Err(e) => {
            eprintln!("skipped: no adapter ({e})");
            None
        }
    }
}

fn rand(ctx: &GpuContext, n: usize) -> wgpu::Buffer {
    buffers::upload(ctx, "bench", &Rng::new(n as u64).vec(n, -1.0, 1.0))
}

/// (id, FLOPs, throughput, timer).
type Case<'a> = (String, u64, Throughput, PassTimer<'a>);

fn run(c: &mut Criterion, group: &str, cases: Vec<Case<'_>>) {
    let mut g = c.benchmark_group(group);
    common::gpu_group(&mut g);
    for (id, _flops, tp, timer) in &cases {
        g.throughput(tp.clone());
        g.bench_function(BenchmarkId::from_parameter(id), |b| {
            b.iter_custom(|iters| timer.time_n(iters).expect("GPU timing"))
        });
    }
    g.finish();
}

fn conv_case<'a>(
    ctx: &'a GpuContext,
    id: &str,
    conv: Conv2d,
    batch: usize,
    input: Shape,
) -> Case<'a> {
    let (oh, ow) = conv.out_hw(input.h, input.w).unwrap();
    let out = batch * conv.out_c * oh * ow;
    let x = rand(ctx, batch * input.numel());
    let w = rand(ctx, conv.weight_shape().iter().product());
    let bias = rand(ctx, conv.out_c);
    let y = buffers::zeroed(ctx, "y", (out * 4) as u64);
    let d = Builder::new(ctx)
        .conv2d(&conv, batch, input, &x, &w, Some(&bias), None, &y)
        .expect("bench shapes fit the kernels");
    let flops = 2 * (out * conv.in_c / conv.groups * conv.kernel.0 * conv.kernel.1) as u64;
    (
        id.to_string(),
        flops,
        Throughput::Elements(flops),
        PassTimer::new(ctx, d),
    )
}

fn with_act(mut c: Conv2d, act: Act) -> Conv2d {
    c.bias = true;
    c.act = act;
    c
}

fn conv3x3(c: &mut Criterion) {
    let Some(ctx) = context() else { return };
    // ResNet-18 (CIFAR stem) 3x3 convs, batch 1: the shapes of the reference cuDNN figures.
    let cases = [(64, 32), (128, 16), (256, 8), (512, 4)]
        .iter()
        .map(|&(ch, hw)| {
            let conv = with_act(Conv2d::new(ch, ch, 3, 1, 1, 1), Act::Relu);
            conv_case(
                &ctx,
                &format!("{ch}x{hw}x{hw}"),
                conv,
                1,
                Shape::new(ch, hw, hw),
            )
        })
        .collect();
    run(c, "conv3x3_resnet18 (elem = FLOP)", cases);
}

fn depthwise(c: &mut Criterion) {
    let Some(ctx) = context() else { return };
    // MobileNetV2 depthwise 3x3 layers at 224x224 input.
    let cases = [
        (96, 112, 2),
        (144, 56, 1),
        (192, 28, 1),
        (384, 14, 1),
        (960, 7, 1),
    ]
    .iter()
    .map(|&(ch, hw, s)| {
        let conv = with_act(Conv2d::new(ch, ch, 3, s, 1, ch), Act::Relu6);
        conv_case(
            &ctx,
            &format!("{ch}x{hw}x{hw}_s{s}"),
            conv,
            1,
            Shape::new(ch, hw, hw),
        )
    })
    .collect();
    run(c, "depthwise3x3_mobilenet_v2 (elem = FLOP)", cases);
}

fn gemm(c: &mut Criterion) {
    let Some(ctx) = context() else { return };
    let k = Builder::new(&ctx);
    let mut cases = Vec::new();
    // Fully connected layers (batch 1 and 64).
    for &(in_f, out_f, batch) in &[
        (512, 10, 1),
        (1280, 1000, 1),
        (4096, 4096, 1),
        (4096, 4096, 64),
    ] {
        let (x, w, b) = (
            rand(&ctx, batch * in_f),
            rand(&ctx, in_f * out_f),
            rand(&ctx, out_f),
        );
        let y = buffers::zeroed(&ctx, "y", (batch * out_f * 4) as u64);
        let d = k
            .linear(
                in_f,
                out_f,
                (0, out_f),
                Act::None,
                batch,
                &x,
                &w,
                Some(&b),
                &y,
            )
            .expect("bench shapes fit the kernels");
        let flops = 2 * (batch * in_f * out_f) as u64;
        cases.push((
            format!("fc_{in_f}x{out_f}_b{batch}"),
            flops,
            Throughput::Elements(flops),
            PassTimer::new(&ctx, vec![d]),
        ));
    }
    // MobileNetV2 pointwise convs (1x1 as GEMM).
    for &(ci, co, hw) in &[(96, 24, 56), (144, 24, 56), (320, 1280, 7)] {
        let conv = with_act(Conv2d::new(ci, co, 1, 1, 0, 1), Act::None);
        cases.push(conv_case(
            &ctx,
            &format!("pw_{ci}to{co}_{hw}x{hw}"),
            conv,
            1,
            Shape::new(ci, hw, hw),
        ));
    }
    run(c, "gemm_fc_and_pointwise (elem = FLOP)", cases);
}

fn pooling(c: &mut Criterion) {
    let Some(ctx) = context() else { return };
    let k = Builder::new(&ctx);
    let mut cases = Vec::new();
    let pool = |kernel, stride, padding| splitbench::model::Pool {
        kernel,
        stride,
        padding,
        ceil: false,
    };
    for (id, kind, s) in [
        (
            "maxpool3s2_64x112x112",
            PoolKind::Max(pool(3, 2, 1)),
            Shape::new(64, 112, 112),
        ),
        (
            "gap_512x4x4",
            PoolKind::Adaptive(1, 1),
            Shape::new(512, 4, 4),
        ),
        (
            "gap_1280x7x7",
            PoolKind::Adaptive(1, 1),
            Shape::new(1280, 7, 7),
        ),
    ] {
        let x = rand(&ctx, s.numel());
        let y = buffers::zeroed(&ctx, "y", s.bytes_f32() as u64);
        let d = k
            .pool(kind, 1, s, &x, &y)
            .expect("bench shapes fit the kernels");
        cases.push((
            id.to_string(),
            0,
            Throughput::Bytes(s.bytes_f32() as u64),
            PassTimer::new(&ctx, vec![d]),
        ));
    }
    run(c, "pooling (bytes read)", cases);
}

fn quantize(c: &mut Criterion) {
    let Some(ctx) = context() else { return };
    let k = Builder::new(&ctx);
    // The resnet18-cifar feature after layer1: 64x32x32 f32 (262,144 bytes).
    let s = Shape::new(64, 32, 32);
    let x = rand(&ctx, s.numel());
    let mut cases = Vec::new();
    for (mode, group_len) in [("tensor", s.numel()), ("channel", s.h * s.w)] {
        for bits in [8u32, 4, 2] {
            let groups = s.numel() / group_len;
            let params = buffers::zeroed(&ctx, "params", (groups * QUANT_PARAMS_BYTES) as u64);
            let words = buffers::zeroed(
                &ctx,
                "words",
                (s.numel() * bits as usize).div_ceil(32) as u64 * 4,
            );
            let y = buffers::zeroed(&ctx, "y", s.bytes_f32() as u64);
            let enc = k
                .quantize_pack(s.numel(), group_len, bits, &x, &params, &words)
                .expect("bench shapes fit the kernels")
                .to_vec();
            let dec = k
                .unpack_dequantize(s.numel(), group_len, bits, &params, &words, &y)
                .expect("bench shapes fit the kernels");
            let tp = Throughput::Bytes(s.bytes_f32() as u64);
            cases.push((
                format!("encode_{bits}bit_{mode}"),
                0,
                tp.clone(),
                PassTimer::new(&ctx, enc),
            ));
            cases.push((
                format!("decode_{bits}bit_{mode}"),
                0,
                tp,
                PassTimer::new(&ctx, vec![dec]),
            ));
        }
    }
    // The pruning mask on the same feature.
    let keep = buffers::upload(&ctx, "keep", &(0..64u32).map(|c| c % 2).collect::<Vec<_>>());
    let y = buffers::zeroed(&ctx, "y", s.bytes_f32() as u64);
    let d = k
        .mask(s.numel(), s.c, s.h * s.w, &x, &keep, &y)
        .expect("bench shapes fit the kernels");
    cases.push((
        "mask_64x32x32".into(),
        0,
        Throughput::Bytes(s.bytes_f32() as u64),
        PassTimer::new(&ctx, vec![d]),
    ));
    run(
        c,
        "feature_quantize_pack_64x32x32 (bytes of f32 feature)",
        cases,
    );
}

criterion_group!(benches, conv3x3, depthwise, gemm, pooling, quantize);

/// The kernel efficiency table: written to `results/<device>/` under `cargo bench`, a few
/// shapes once each under `cargo test --benches`.
fn efficiency(ctx: &GpuContext, bench: bool) -> anyhow::Result<()> {
    use splitbench::study::efficiency::{measure_efficiency, EfficiencyOptions};
    let opts = if bench {
        EfficiencyOptions {
            full: common::full(),
            reps: if common::full() { 30 } else { 10 },
            ..Default::default()
        }
    } else {
        EfficiencyOptions {
            warmup: 0,
            reps: 1,
            copy_bytes: 1 << 20,
            max_shapes: Some(4),
            passes: 1,
            ..Default::default()
        }
    };
    let table = measure_efficiency(ctx, &opts, &mut ())?;
    print!("{}", table.text());
    if bench {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("results")
            .join(ctx.summary.file_safe_name());
        std::fs::create_dir_all(&dir)?;
        let (csv, json) = table.write(&dir)?;
        eprintln!("wrote {} and {}", csv.display(), json.display());
    }
    Ok(())
}

/// The efficiency table, then the criterion groups.
fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    if let Some(ctx) = context() {
        if let Err(e) = efficiency(&ctx, bench) {
            eprintln!("error: kernel efficiency table: {e:#}");
            std::process::exit(1);
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
