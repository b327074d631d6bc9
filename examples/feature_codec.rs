//! Wire sizes and codec stage times of a real split feature: resnet18-cifar (seeded
//! weights, so latency and sizes are representative but accuracy is not) cut after
//! `layer1`, its 1 x 64x32x32 ReLU output sent at 8/4/2 bits, per-tensor and
//! per-channel, packed and entropy-coded. Median of `--reps` transmissions on the first
//! GPU adapter (lavapipe in CI: CPU times).
//!
//! ```text
//! cargo run --release --example feature_codec -- [--reps 30] [--batch 1] [--split layer1]
//! ```

use anyhow::{anyhow, Context};
use splitbench::compress::{transmit, DecodeLimits, DeviceTensor, Encoding, Scale};
use splitbench::gpu::{buffers, Executor, GpuContext, Stats};
use splitbench::model::{self, ZooOptions};
use splitbench::tensor::Rng;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let reps: usize = arg(&args, "--reps", "30").parse()?;
    let batch: usize = arg(&args, "--batch", "1").parse()?;
    let split = arg(&args, "--split", "layer1");
    let ctx = GpuContext::new(None)?;
    let m = model::prepare("resnet18-cifar", &ZooOptions::default(), None, 7)?.model;
    let (_, node) = model::paper_split_points(&m.graph)
        .into_iter()
        .find(|(l, _)| *l == split)
        .ok_or_else(|| anyhow!("no split point {split}"))?;
    let s0 = m.graph.input_shape();
    let input = Rng::new(1).vec(batch * s0.numel(), -1.0, 1.0);
    let exec = Executor::new(&ctx, &m, 1..node + 1, batch, &[])?;
    exec.set_input(0, &input)?;
    let feature = exec.run()?.remove(0);
    let shape = m.graph.nodes[node].shape;
    let zeros = feature.data.iter().filter(|&&v| v == 0.0).count();
    println!(
        "adapter: {} ({})",
        ctx.summary.name, ctx.summary.device_type
    );
    println!(
        "feature after {split}: {batch} x {shape} = {} f32 bytes, {:.1}% zeros; {reps} reps, medians",
        feature.data.len() * 4,
        100.0 * zeros as f64 / feature.data.len() as f64
    );
    let xb = buffers::upload(&ctx, "feature", &feature.data);
    let inputs = [DeviceTensor {
        buffer: &xb,
        batch,
        shape,
    }];
    println!(
        "| bits | granularity | frame bytes (packed) | frame bytes (entropy) | coded/packed | \
         encode_gpu_ms | readback_ms | entropy_encode_ms | entropy_decode_ms | upload_ms | \
         decode_gpu_ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let limits = DecodeLimits::default();
    let mut method = None;
    for bits in [8u32, 4, 2] {
        for g in [Scale::Tensor, Scale::Channel] {
            let enc = Encoding::Quant { bits, scale: g };
            let (_, plain, _) = transmit(&ctx, &ctx, &inputs, enc, false, &limits)?;
            let mut rows = Vec::new();
            let mut last = None;
            for _ in 0..reps + 3 {
                let (_, e, t) =
                    transmit(&ctx, &ctx, &inputs, enc, true, &limits).context("transmit")?;
                rows.push(t);
                last = Some((e, t));
            }
            rows.drain(..3); // warm-up
            let (e, t) = last.expect("reps > 0");
            if method.is_none() {
                method = Some(t.method);
            }
            let med = |f: fn(&splitbench::compress::CodecTimes) -> f64| {
                Stats::of(&rows.iter().map(f).collect::<Vec<_>>()).median_ms
            };
            println!(
                "| {bits} | {g:?} | {} | {} ({}) | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
                plain.bytes.len(),
                e.bytes.len(),
                e.tensors[0].codec.name(),
                t.coded_bytes as f64 / t.raw_packed_bytes as f64,
                med(|t| t.encode_gpu_ms),
                med(|t| t.readback_ms),
                med(|t| t.entropy_encode_ms),
                med(|t| t.entropy_decode_ms),
                med(|t| t.upload_ms),
                med(|t| t.decode_gpu_ms),
            );
        }
    }
    if let Some(m) = method {
        println!("GPU stages timed with {}", m.as_str());
    }
    Ok(())
}
