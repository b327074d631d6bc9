// Element-wise ops, one thread per element (mode codes from the prelude's EltwiseMode):
// ELTWISE_ADD:         y = act(a + b)            (residual add that could not be fused into a conv)
// ELTWISE_ACTIVATION:  y = act(a)                (stand-alone ReLU / ReLU6)
// ELTWISE_SCALE_SHIFT: y = a * b[2c] + b[2c+1]   (batch norm as per-channel scale and shift, c = (i / inner) % channels)

@group(0) @binding(0) var<uniform> p: EltwiseParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG_1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG_1D;
    if (i >= p.n) { return; }
    var v = a[i];
    if (p.mode == ELTWISE_ADD) { v += b[i]; }
    if (p.mode == ELTWISE_SCALE_SHIFT) {
        let c = (i / p.inner) % p.channels;
        v = v * b[2u * c] + b[2u * c + 1u];
    }
    y[i] = apply_act(v, p.act);
}
