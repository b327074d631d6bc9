// Element-wise ops, one thread per element (mode codes from the prelude's EltwiseMode):
// ELTWISE_ADD:         y = act(a + b)            (residual add that could not be fused into a conv)
// ELTWISE_ACTIVATION:  y = act(a)                (stand-alone activation)
// ELTWISE_SCALE_SHIFT: y = a * b[2c] + b[2c+1]   (batch norm as per-channel scale and shift, c = (i / inner) % channels)
// ELTWISE_MUL:         y = act(a * b[i / inner]) (product; inner 1 for the same shape, the plane for per-channel gates)
// ELTWISE_CLIP:        y = min(max(a, eps), hi) (a clip with any bounds; eps holds the lower one)
// ELTWISE_CONCAT:      y[(i / channels) * inner + offset + i % channels] = a[i] (one input of a channel concatenation)
// ELTWISE_LAYER_NORM:  one thread per pixel i of n = N * inner: layer norm over its `channels`
//                      values (stride inner), y = (a - mean) / sqrt(var + eps) * b[2c] + b[2c+1]

@group(0) @binding(0) var<uniform> p: EltwiseParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn layer_norm(i: u32) {
    let base = (i / p.inner) * p.channels * p.inner + i % p.inner;
    var mean = 0.0;
    for (var c = 0u; c < p.channels; c++) { mean += a[base + c * p.inner]; }
    mean /= f32(p.channels);
    var var_ = 0.0;
    for (var c = 0u; c < p.channels; c++) {
        let d = a[base + c * p.inner] - mean;
        var_ += d * d;
    }
    let inv = inverseSqrt(var_ / f32(p.channels) + p.eps);
    for (var c = 0u; c < p.channels; c++) {
        let k = base + c * p.inner;
        y[k] = apply_act((a[k] - mean) * inv * b[2u * c] + b[2u * c + 1u], p.act);
    }
}

@compute @workgroup_size(WG_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG_1D;
    if (i >= p.n) { return; }
    if (p.mode == ELTWISE_CONCAT) {
        y[(i / p.channels) * p.inner + p.offset + i % p.channels] = a[i];
        return;
    }
    if (p.mode == ELTWISE_LAYER_NORM) {
        layer_norm(i);
        return;
    }
    var v = a[i];
    if (p.mode == ELTWISE_ADD) { v += b[i]; }
    if (p.mode == ELTWISE_MUL) { v *= b[i / p.inner]; }
    if (p.mode == ELTWISE_CLIP) { v = min(max(v, p.eps), p.hi); }
    if (p.mode == ELTWISE_SCALE_SHIFT) {
        let c = (i / p.inner) % p.channels;
        v = v * b[2u * c] + b[2u * c + 1u];
    }
    y[i] = apply_act(v, p.act);
}
