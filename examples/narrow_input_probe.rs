//! A probe for the next kernel, not an engine kernel: a 3x3 stride-1 convolution of a few
//! input channels (a bottleneck decoder, 1-4 -> 16-32 channels) whose every thread
//! computes all output channels of a row of 4 pixels, its loops unrolled in the generated
//! WGSL so that every weight is loaded at a constant index before any branch. On llvmpipe
//! (Mesa 22.3) such a load is one scalar load for all SIMD lanes, where a weight indexed
//! by a thread's channel group is a loop over the lanes (`examples/memop_cost.rs`).
//!
//! It times the probe beside the engine's own plan for the same layer (autotuned, through
//! the tile cache), both by wall clock over 10 dispatches per submission, rounds
//! alternating, and checks that both compute the same output (same seeded weights and
//! input; exits non-zero if not).
//!
//! `cargo run --release --example narrow_input_probe -- CIN,H,W,COUT ...` (W a multiple
//! of 4, CIN * COUT <= 256), e.g. `1,112,112,16`. Environment: `PROBE_ROUNDS` (default 5),
//! `SPLITBENCH_ADAPTER`.

use anyhow::{bail, ensure, Context};
use splitbench::gpu::{buffers, Executor, GpuContext};
use splitbench::model::{self, Conv2d, Graph, Model, Op, Shape};
use splitbench::tensor::Rng;
use std::time::Instant;

/// Dispatches per timed submission (the submission's own cost is shared by them).
const PER_SUBMIT: usize = 10;
/// Threads per workgroup.
const WG: u32 = 64;

/// The probe's WGSL for `cin` -> `cout` channels on `h` x `w` planes (padding 1), batch 1.
fn probe_wgsl(cin: u32, cout: u32, h: u32, w: u32) -> String {
    let ncol = w / 4;
    let tiles = h * ncol;
    let mut s = String::from(
        "@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> xv: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4<f32>>;
",
    );
    s += &format!("@compute @workgroup_size({WG})\nfn main(@builtin(global_invocation_id) gid: vec3<u32>) {{\n");
    // Weights first, at constant indices and outside any branch: uniform loads.
    for co in 0..cout {
        for ci in 0..cin {
            for k in 0..9 {
                s += &format!(
                    "  let w_{co}_{ci}_{k} = wt[{}u];\n",
                    (co * cin + ci) * 9 + k
                );
            }
        }
    }
    // Threads past the last tile recompute it (clamped) and store nothing.
    s += &format!(
        "  let t = min(gid.x, {}u);\n  let oy = t / {ncol}u;\n  let ox = (t % {ncol}u) * 4u;\n",
        tiles - 1
    );
    for co in 0..cout {
        s += &format!("  var a_{co} = vec4<f32>(0.0);\n");
    }
    for ci in 0..cin {
        for ky in 0..3 {
            // Input row oy + ky - 1: the 4 pixels' vector and the values left and right
            // of it, zero outside the plane (selects, not branches).
            s += &format!(
                "  {{\n    let iy = i32(oy) + {ky} - 1;\n    let ok = iy >= 0 && iy < {h};\n    \
                 let row = u32(clamp(iy, 0, {})) * {w}u + {}u;\n",
                h - 1,
                ci * h * w
            );
            s += "    let m = select(vec4<f32>(0.0), xv[(row + ox) / 4u], ok);\n";
            s += &format!(
                "    let l = select(0.0, x[row + max(ox, 1u) - 1u], ok && ox > 0u);\n    \
                 let r = select(0.0, x[row + min(ox + 4u, {}u)], ok && ox + 4u < {w}u);\n",
                w - 1
            );
            s += "    let s0 = vec4<f32>(l, m.x, m.y, m.z);\n    let s2 = vec4<f32>(m.y, m.z, m.w, r);\n";
            for co in 0..cout {
                let b = ky * 3;
                s += &format!(
                    "    a_{co} += w_{co}_{ci}_{b} * s0 + w_{co}_{ci}_{} * m + w_{co}_{ci}_{} * s2;\n",
                    b + 1,
                    b + 2
                );
            }
            s += "  }\n";
        }
    }
    s += &format!("  if (gid.x < {tiles}u) {{\n");
    for co in 0..cout {
        s += &format!(
            "    y4[({}u + oy * {w}u + ox) / 4u] = a_{co};\n",
            co * h * w
        );
    }
    s += "  }\n}\n";
    s
}

fn parse(arg: &str) -> anyhow::Result<[u32; 4]> {
    let v: Vec<u32> = arg
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .with_context(|| format!("'{arg}': expected CIN,H,W,COUT"))?;
    let [cin, h, w, cout] = v[..] else {
        bail!("'{arg}': expected CIN,H,W,COUT");
    };
    ensure!(
        cin > 0 && h > 0 && cout > 0 && w >= 4 && w % 4 == 0 && cin * cout <= 256,
        "'{arg}': needs W a multiple of 4 and CIN * COUT <= 256"
    );
    Ok([cin, h, w, cout])
}

/// Median of `f`'s results over `n` calls.
fn median(n: usize, mut f: impl FnMut() -> anyhow::Result<f64>) -> anyhow::Result<f64> {
    let mut t: Vec<f64> = (0..n).map(|_| f()).collect::<Result<_, _>>()?;
    t.sort_by(f64::total_cmp);
    Ok(t[n / 2])
}

fn main() -> anyhow::Result<()> {
    let shapes: Vec<[u32; 4]> = std::env::args()
        .skip(1)
        .map(|a| parse(&a))
        .collect::<Result<_, _>>()?;
    if shapes.is_empty() {
        bail!("usage: narrow_input_probe CIN,H,W,COUT ...");
    }
    let rounds: usize = match std::env::var("PROBE_ROUNDS") {
        Ok(v) => v
            .parse()
            .with_context(|| format!("PROBE_ROUNDS={v} is not a count"))?,
        Err(_) => 5,
    };
    let ctx = GpuContext::new(std::env::var("SPLITBENCH_ADAPTER").ok().as_deref())?;
    let dev = &ctx.device;
    println!("{} ({})", ctx.summary.name, ctx.summary.backend);
    println!("shape | engine plan | engine us | probe us | engine / probe (each round)");
    for [cin, h, w, cout] in shapes {
        let input = Shape::new(cin as usize, h as usize, w as usize);
        let mut g = Graph::new("probe".to_string(), input);
        g.push(
            "op",
            Op::Conv2d(Conv2d::new(cin as usize, cout as usize, 3, 1, 1, 1)),
            &[0],
        )?;
        let m = Model {
            weights: model::seeded(&g, 7),
            graph: g,
        };
        let exec = Executor::new(&ctx, &m, 1..2, 1, &[])?;
        let xs = Rng::new(7).vec(input.numel(), -1.0, 1.0);
        exec.set_input(0, &xs)?;
        let plan = exec.steps()[0].tile.map_or("?".into(), |t| t.plan.label());
        let want = exec.run()?.remove(0).data;

        let weights = &m.weights["op.weight"].data;
        let x = buffers::upload(&ctx, "probe x", &xs);
        let wt = buffers::upload(&ctx, "probe w", weights);
        let y = buffers::zeroed(&ctx, "probe y", 4 * (cout * h * w) as u64);
        let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("narrow input probe"),
            source: wgpu::ShaderSource::Wgsl(probe_wgsl(cin, cout, h, w).into()),
        });
        let pipeline = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("narrow input probe"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let bound = [&x, &x, &wt, &y];
        let entries: Vec<wgpu::BindGroupEntry> = bound
            .iter()
            .enumerate()
            .map(|(b, buf)| wgpu::BindGroupEntry {
                binding: b as u32,
                resource: buf.as_entire_binding(),
            })
            .collect();
        let bg = dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let groups = (h * (w / 4)).div_ceil(WG);
        // Wall clock of one submission of PER_SUBMIT runs, per run, us.
        let time = |record: &dyn Fn(&mut wgpu::ComputePass<'_>)| -> anyhow::Result<f64> {
            let mut enc = dev.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                for _ in 0..PER_SUBMIT {
                    record(&mut pass);
                }
            }
            let t = Instant::now();
            ctx.queue.submit([enc.finish()]);
            dev.poll(wgpu::PollType::wait_indefinitely())?;
            Ok(t.elapsed().as_secs_f64() * 1e6 / PER_SUBMIT as f64)
        };
        let probe = |pass: &mut wgpu::ComputePass<'_>| {
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bg, &[]);
            pass.dispatch_workgroups(groups, 1, 1);
        };
        let engine = |pass: &mut wgpu::ComputePass<'_>| exec.encode(pass);
        time(&probe)?;
        let got: Vec<f32> = buffers::read(&ctx, &y, want.len())?;
        let err = want
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let scale = want.iter().map(|a| a.abs()).fold(0.0f32, f32::max);
        ensure!(
            err <= 1e-4 * scale.max(1.0),
            "{cin},{h},{w},{cout}: probe differs from the engine by {err}"
        );
        let (mut e_us, mut p_us, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds.max(1) {
            let e = median(5, || time(&engine))?;
            let p = median(5, || time(&probe))?;
            e_us.push(e);
            p_us.push(p);
            ratios.push(format!("{:.2}", e / p));
        }
        let med = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "{cin}x{h}x{w} -> {cout} | {plan} | {:.1} | {:.1} | {}",
            med(&mut e_us),
            med(&mut p_us),
            ratios.join(" ")
        );
    }
    Ok(())
}
