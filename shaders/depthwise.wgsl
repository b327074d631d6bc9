// Depthwise convolution (groups = in_c = out_c): one thread per output element, fused
// bias, residual add and activation. It takes conv2d.wgsl's ConvParams (from the prelude)
// and ignores the split-K fields.

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // 1-D index folded over x and y so that large tensors fit the per-dimension limit.
    let idx = gid.x + gid.y * nwg.x * WG_1D;
    let ohw = p.out_h * p.out_w;
    let total = p.batch * p.out_c * ohw;
    if (idx >= total) { return; }
    let pix = idx % ohw;
    let c = (idx / ohw) % p.out_c;
    let b = idx / (ohw * p.out_c);
    let oy = pix / p.out_w;
    let ox = pix % p.out_w;
    let base = (b * p.in_c + c) * p.in_h * p.in_w;
    var acc = 0.0;
    for (var ky = 0u; ky < p.kh; ky++) {
        let iy = i32(oy * p.stride_h + ky) - i32(p.pad_h);
        if (iy < 0 || iy >= i32(p.in_h)) { continue; }
        for (var kx = 0u; kx < p.kw; kx++) {
            let ix = i32(ox * p.stride_w + kx) - i32(p.pad_w);
            if (ix < 0 || ix >= i32(p.in_w)) { continue; }
            acc += x[base + u32(iy) * p.in_w + u32(ix)] * wt[(c * p.kh + ky) * p.kw + kx];
        }
    }
    if (p.has_bias != 0u) { acc += bias[c]; }
    if (p.has_res != 0u) { acc += res[idx]; }
    y[idx] = apply_act(acc, p.act);
}
