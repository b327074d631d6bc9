// Structured-pruning mask: zero whole channels of a tensor laid out [outer, C, inner]
// (a conv weight [Co, Ci, kh, kw] has outer 1 and inner Ci*kh*kw; an NCHW activation
// has outer N and inner H*W). keep[c] != 0 keeps channel c bit for bit; `select` rather
// than a multiply, so kept NaN/-0 values pass unchanged and pruned ones become +0.

@group(0) @binding(0) var<uniform> p: MaskParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> keep: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG_1D;
    if (i >= p.n) { return; }
    y[i] = select(0.0, x[i], keep[(i / p.inner) % p.channels] != 0u);
}
