// Feature quantization for transmission (semantics in src/cpu/quant.rs, which these
// kernels match bit for bit):
//   group_minmax: one workgroup per group of group_len consecutive values (a sample for
//                 per-tensor scales, a (sample, channel) plane for per-channel) -> params
//   quantize_pack: one thread per output u32 word; it quantizes every symbol overlapping
//                 its 32 bits (a symbol straddling two words is computed by both threads)
//   unpack_dequantize: one thread per value.
// q = clamp(round_half_even((x - min) * inv_scale), 0, 2^bits - 1); symbol i occupies bits
// [i*bits, (i+1)*bits) of a little-endian stream of u32 words. QuantizeParams and
// QuantParams (cpu::QuantParams's layout) come from the prelude.

@group(0) @binding(0) var<uniform> p: QuantizeParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> qp: array<QuantParams>;
@group(0) @binding(3) var<storage, read_write> words: array<u32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> red_min: array<f32, REDUCE_WG>;
var<workgroup> red_max: array<f32, REDUCE_WG>;

fn levels() -> f32 {
    return f32((1u << p.bits) - 1u);
}

@compute @workgroup_size(REDUCE_WG)
fn group_minmax(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let g = wid.x + wid.y * nwg.x;
    // Uniform early exit: every thread of the workgroup takes the same branch.
    if (g >= p.groups) { return; }
    let base = g * p.group_len;
    var lo = 3.4028234663852886e38;
    var hi = -3.4028234663852886e38;
    for (var i = lid.x; i < p.group_len; i += REDUCE_WG) {
        let v = x[base + i];
        lo = min(lo, v);
        hi = max(hi, v);
    }
    red_min[lid.x] = lo;
    red_max[lid.x] = hi;
    workgroupBarrier();
    for (var s = REDUCE_WG / 2u; s > 0u; s = s / 2u) {
        if (lid.x < s) {
            red_min[lid.x] = min(red_min[lid.x], red_min[lid.x + s]);
            red_max[lid.x] = max(red_max[lid.x], red_max[lid.x + s]);
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        let mn = red_min[0];
        let mx = red_max[0];
        let range = mx - mn;
        var inv = 0.0;
        if (range > 0.0) { inv = levels() / range; }
        qp[g] = QuantParams(mn, mx, range / levels(), inv);
    }
}

@compute @workgroup_size(WG_1D)
fn quantize_pack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let w = gid.x + gid.y * nwg.x * WG_1D;
    let n_words = (p.numel * p.bits + 31u) / 32u;
    if (w >= n_words) { return; }
    let first_bit = w * 32u;
    let s0 = first_bit / p.bits;
    let s1 = min((first_bit + 31u) / p.bits + 1u, p.numel);
    var word = 0u;
    for (var s = s0; s < s1; s++) {
        let prm = qp[s / p.group_len];
        let q = u32(clamp(round((x[s] - prm.min) * prm.inv_scale), 0.0, levels()));
        let bit = s * p.bits;
        if (bit >= first_bit) {
            word |= q << (bit - first_bit);
        } else {
            word |= q >> (first_bit - bit);
        }
    }
    words[w] = word;
}

@compute @workgroup_size(WG_1D)
fn unpack_dequantize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG_1D;
    if (i >= p.numel) { return; }
    let bit = i * p.bits;
    let w = bit / 32u;
    let off = bit % 32u;
    var q = words[w] >> off;
    if (off + p.bits > 32u) {
        q |= words[w + 1u] << (32u - off);
    }
    q &= (1u << p.bits) - 1u;
    let prm = qp[i / p.group_len];
    y[i] = prm.min + f32(q) * prm.scale;
}
