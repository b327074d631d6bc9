// Pooling, one thread per output element (mode codes from the prelude's PoolMode).
// POOL_MAX: max (padding never wins), POOL_AVG: average counting zero padding (torch's
// default), POOL_ADAPTIVE: adaptive average (window [floor(i*H/oh), ceil((i+1)*H/oh)), as
// torch.nn.AdaptiveAvgPool2d; 1x1 is global).

@group(0) @binding(0) var<uniform> p: PoolParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * WG_1D;
    let ohw = p.out_h * p.out_w;
    if (idx >= p.batch * p.c * ohw) { return; }
    let plane = idx / ohw;
    let oy = (idx % ohw) / p.out_w;
    let ox = idx % p.out_w;
    let base = plane * p.in_h * p.in_w;
    if (p.mode == POOL_ADAPTIVE) {
        let y0 = oy * p.in_h / p.out_h;
        let y1 = ((oy + 1u) * p.in_h + p.out_h - 1u) / p.out_h;
        let x0 = ox * p.in_w / p.out_w;
        let x1 = ((ox + 1u) * p.in_w + p.out_w - 1u) / p.out_w;
        var acc = 0.0;
        for (var iy = y0; iy < y1; iy++) {
            for (var ix = x0; ix < x1; ix++) {
                acc += x[base + iy * p.in_w + ix];
            }
        }
        y[idx] = acc / f32((y1 - y0) * (x1 - x0));
        return;
    }
    var acc = 0.0;
    if (p.mode == POOL_MAX) { acc = -3.4028234663852886e38; }
    for (var ky = 0u; ky < p.kernel; ky++) {
        let iy = i32(oy * p.stride + ky) - i32(p.pad);
        if (iy < 0 || iy >= i32(p.in_h)) { continue; }
        for (var kx = 0u; kx < p.kernel; kx++) {
            let ix = i32(ox * p.stride + kx) - i32(p.pad);
            if (ix < 0 || ix >= i32(p.in_w)) { continue; }
            let v = x[base + u32(iy) * p.in_w + u32(ix)];
            if (p.mode == POOL_MAX) { acc = max(acc, v); } else { acc += v; }
        }
    }
    if (p.mode == POOL_AVG) { acc = acc / f32(p.kernel * p.kernel); }
    y[idx] = acc;
}
