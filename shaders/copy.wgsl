// Copies `n` vec4s: the simplest kernel that moves memory at the device's speed, the
// roofline the kernel efficiency table measures every layer's traffic against. One vec4
// per thread, consecutive threads on consecutive vec4s (coalesced on GPUs, whole vector
// loads on CPU implementations).

@group(0) @binding(0) var<uniform> p: CopyParams;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(WG_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // 1-D index folded over x and y so that large buffers fit the per-dimension limit.
    let i = gid.x + gid.y * nwg.x * WG_1D;
    if (i < p.n) {
        y[i] = x[i];
    }
}
