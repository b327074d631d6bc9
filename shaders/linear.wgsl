// Fully connected layer y[b, o] = act(sum_i W[o, i] x[b, i] + bias[o]) as a GEMM shaped
// for small batches: one workgroup per (output feature, LINEAR_BATCH_TILE = 4 samples, one
// per lane of a vec4 accumulator); its threads stride over the input features, each
// weight is read once per 4 samples, and the partial sums are reduced in workgroup memory.
// A weight matrix larger than one storage binding is split into row blocks, one dispatch
// each: `o_base` is the block's first output feature.

// The vec4 accumulators hold exactly the batch tile that Rust dispatches for.
const_assert LINEAR_BATCH_TILE == 4u;

@group(0) @binding(0) var<uniform> p: LinearParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<vec4<f32>, LINEAR_WG>;

fn xv(b: u32, i: u32) -> f32 {
    if (b >= p.batch) { return 0.0; }
    return x[b * p.in_f + i];
}

@compute @workgroup_size(LINEAR_WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row = wid.x;
    let o = p.o_base + row;
    let b0 = wid.y * LINEAR_BATCH_TILE;
    var acc = vec4<f32>(0.0);
    for (var i = lid.x; i < p.in_f; i += LINEAR_WG) {
        let w = wt[row * p.in_f + i];
        acc += w * vec4<f32>(xv(b0, i), xv(b0 + 1u, i), xv(b0 + 2u, i), xv(b0 + 3u, i));
    }
    partial[lid.x] = acc;
    workgroupBarrier();
    for (var s = LINEAR_WG / 2u; s > 0u; s = s / 2u) {
        if (lid.x < s) { partial[lid.x] += partial[lid.x + s]; }
        workgroupBarrier();
    }
    if (lid.x < LINEAR_BATCH_TILE && b0 + lid.x < p.batch) {
        var v = partial[0][lid.x];
        if (p.has_bias != 0u) { v += bias[o]; }
        v = apply_act(v, p.act);
        y[(b0 + lid.x) * p.out_f + o] = v;
    }
}
