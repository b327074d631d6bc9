//! What a storage load or store costs a thread on this adapter, by how its index is made:
//! kernels that each do 64 vec4 loads (or stores) per thread, the same arithmetic around
//! them, timed by wall clock over one long dispatch (so the dispatch floor is a small
//! share), in rounds alternating over the kernels. On a CPU adapter (llvmpipe) a
//! storage access is a loop over the SIMD lanes unless the compiler proves the index the
//! same for all of them; this shows which indices it proves so.
//!
//! `cargo run --release --example memop_cost`. Environment: `MEMOP_ROUNDS` (default 3),
//! `SPLITBENCH_ADAPTER`.

use anyhow::Context;
use splitbench::gpu::{buffers, GpuContext};
use std::time::Instant;

/// Threads per dispatch and vec4 accesses per thread.
const THREADS: u32 = 64 * 1024;
const PER_THREAD: u32 = 64;
/// Workgroup size (the engine's 1-D kernels use 64).
const WG: u32 = 64;

/// (name, body): the body runs once per thread with `i` (global index), `wid` (workgroup
/// index), `n` (from a uniform buffer, = PER_THREAD); it must write `acc` to y4[i].
const KERNELS: &[(&str, &str)] = &[
    (
        "load, per-thread index (divergent)",
        "for (var j = 0u; j < n; j++) { acc += x4[(i * n + j) % len]; }",
    ),
    (
        "load, loop index only (uniform)",
        "for (var j = 0u; j < n; j++) { acc += x4[j]; }",
    ),
    (
        "load, workgroup + loop index (uniform)",
        "for (var j = 0u; j < n; j++) { acc += x4[(wid * n + j) % len]; }",
    ),
    (
        "load, constant indices unrolled",
        "acc += x4[0] + x4[1] + x4[2] + x4[3] + x4[4] + x4[5] + x4[6] + x4[7]; \
         acc += x4[8] + x4[9] + x4[10] + x4[11] + x4[12] + x4[13] + x4[14] + x4[15]; \
         for (var j = 0u; j < n; j++) { acc += vec4<f32>(f32(j)); }",
    ),
    (
        "load, constant index inside the loop",
        "for (var j = 0u; j < n; j++) { acc += x4[5] * f32(j); }",
    ),
    (
        "load, constant, after a divergent return",
        "if (i % 7u == 3u) { y4[i] = acc; return; } \
         acc += x4[0] + x4[1] + x4[2] + x4[3] + x4[4] + x4[5] + x4[6] + x4[7]; \
         acc += x4[8] + x4[9] + x4[10] + x4[11] + x4[12] + x4[13] + x4[14] + x4[15]; \
         for (var j = 0u; j < n; j++) { acc += vec4<f32>(f32(j)); }",
    ),
    (
        "load, constant index, unrolled in an unrolled loop",
        "for (var j = 0u; j < 16u; j++) { acc += x4[j] * f32(j); } \
         for (var j = 0u; j < n; j++) { acc += vec4<f32>(f32(j)); }",
    ),
    (
        "8 vec4 FMAs per step, no load",
        "var b = vec4<f32>(f32(i)); for (var j = 0u; j < n; j++) { let f = f32(j); \
         acc = fma(acc, b, vec4<f32>(f)); b = fma(b, acc, vec4<f32>(f)); acc = fma(acc, b, vec4<f32>(f)); b = fma(b, acc, vec4<f32>(f)); \
         acc = fma(acc, b, vec4<f32>(f)); b = fma(b, acc, vec4<f32>(f)); acc = fma(acc, b, vec4<f32>(f)); b = fma(b, acc, vec4<f32>(f)); } acc += b;",
    ),
    (
        "8 vec4 FMAs per step + a divergent load",
        "var b = vec4<f32>(f32(i)); for (var j = 0u; j < n; j++) { let f = x4[(i * n + j) % len]; \
         acc = fma(acc, b, f); b = fma(b, acc, f); acc = fma(acc, b, f); b = fma(b, acc, f); \
         acc = fma(acc, b, f); b = fma(b, acc, f); acc = fma(acc, b, f); b = fma(b, acc, f); } acc += b;",
    ),
    (
        "arithmetic only",
        "for (var j = 0u; j < n; j++) { acc += vec4<f32>(f32(j + i)); }",
    ),
    (
        "store, per-thread index",
        "for (var j = 0u; j < n; j++) { acc += vec4<f32>(f32(j)); z4[(i * n + j) % zlen] = acc; }",
    ),
];

fn source(body: &str) -> String {
    format!(
        "struct P {{ n: u32, pad0: u32, pad1: u32, pad2: u32 }}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> z4: array<vec4<f32>>;
@compute @workgroup_size({WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(workgroup_id) wg: vec3<u32>) {{
    let i = gid.x;
    let wid = wg.x;
    let n = p.n;
    let len = arrayLength(&x4);
    let zlen = arrayLength(&z4);
    var acc = vec4<f32>(0.0);
    {body}
    y4[i] = acc;
}}"
    )
}

fn main() -> anyhow::Result<()> {
    let rounds: usize = match std::env::var("MEMOP_ROUNDS") {
        Ok(v) => v
            .parse()
            .with_context(|| format!("MEMOP_ROUNDS={v} is not a count"))?,
        Err(_) => 3,
    };
    let ctx = GpuContext::new(std::env::var("SPLITBENCH_ADAPTER").ok().as_deref())?;
    println!("{} ({})", ctx.summary.name, ctx.summary.device_type);
    let dev = &ctx.device;
    let params = wgpu::util::DeviceExt::create_buffer_init(
        dev,
        &wgpu::util::BufferInitDescriptor {
            label: Some("p"),
            contents: bytemuck::cast_slice(&[PER_THREAD, 0, 0, 0]),
            usage: wgpu::BufferUsages::UNIFORM,
        },
    );
    let x = buffers::upload(&ctx, "x", &vec![1.0f32; (THREADS * 4) as usize]);
    let y = buffers::zeroed(&ctx, "y", THREADS as u64 * 16);
    let z = buffers::zeroed(&ctx, "z", THREADS as u64 * 16);
    let mut runs = Vec::new();
    for (name, body) in KERNELS {
        let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(source(body).into()),
        });
        let pipeline = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let bg = dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[&params, &x, &y, &z]
                .iter()
                .enumerate()
                .map(|(b, buf)| wgpu::BindGroupEntry {
                    binding: b as u32,
                    resource: buf.as_entire_binding(),
                })
                .collect::<Vec<_>>(),
        });
        runs.push((name, pipeline, bg, Vec::new()));
    }
    let once = |pipeline: &wgpu::ComputePipeline, bg: &wgpu::BindGroup| -> anyhow::Result<f64> {
        let mut enc = dev.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, bg, &[]);
            pass.dispatch_workgroups(THREADS / WG, 1, 1);
        }
        let t = Instant::now();
        ctx.queue.submit([enc.finish()]);
        dev.poll(wgpu::PollType::wait_indefinitely())?;
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    for _ in 0..rounds {
        for (_, pipeline, bg, times) in runs.iter_mut() {
            once(pipeline, bg)?;
            let mut t: Vec<f64> = (0..5)
                .map(|_| once(pipeline, bg))
                .collect::<Result<_, _>>()?;
            t.sort_by(f64::total_cmp);
            times.push(t[2]);
        }
    }
    let ops = (THREADS * PER_THREAD) as f64;
    println!(
        "kernel | ns per thread-access (each round's median; {THREADS} threads x {PER_THREAD})"
    );
    for (name, _, _, times) in &runs {
        let cells: Vec<String> = times
            .iter()
            .map(|ms| format!("{:.2}", ms * 1e6 / ops))
            .collect();
        println!("{name:>40} | {}", cells.join("  "));
    }
    Ok(())
}
