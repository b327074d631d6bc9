// Convolution as an implicit GEMM: C[m, n] = sum_k A[m, k] * B[k, n] per group, where
// m = output channel, n = (sample, output pixel), k = (input channel, ky, kx); B is the
// im2col of the input, gathered on the fly into workgroup memory and never stored.
// Each thread owns a 4 (channels) x 4 (pixels) register tile held in four named vec4
// accumulators (arrays of accumulators indexed by loop variables spill to memory).
// Epilogue fuses bias, residual add and activation.
//
// Constants CONV_TILE_M/N/K, CONV_WG_X/Y and the ConvParams struct come from the Rust
// prelude (one source, src/gpu/shaders.rs); the file is compiled with two tile shapes:
// 64x64 and a narrow 128x16 for layers with few output pixels (deep layers at batch 1),
// which would otherwise waste most of a 64-wide pixel tile. POINTWISE specialises the B
// gather for 1x1 / stride 1 / no padding (a plain GEMM), which also covers fully connected
// layers (H = W = 1).
//
// Split-K: when the output has too few tiles to fill the GPU, workgroup z also indexes a
// slice of the reduction (k_splits slices of k_chunk); each slice writes raw partial sums
// to `partial`, and `splitk_reduce` adds the slices, bias, residual and activation.

override POINTWISE: bool = false;

// Each thread's register tile (acc0..acc3, one vec4 each) is 4 channels x 4 pixels.
const_assert CONV_TILE_M == CONV_WG_Y * 4u && CONV_TILE_N == CONV_WG_X * 4u;

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read_write> partial: array<f32>;

// [k][m] and [k][n] tiles, four consecutive m (or n) per vec4.
var<workgroup> a_tile: array<vec4<f32>, CONV_TILE_K * CONV_TILE_M / 4u>;
var<workgroup> b_tile: array<vec4<f32>, CONV_TILE_K * CONV_TILE_N / 4u>;


fn load_b(g: u32, k: u32, n: u32, k_total: u32, n_total: u32) -> f32 {
    if (k >= k_total || n >= n_total) { return 0.0; }
    let ohw = p.out_h * p.out_w;
    let b = n / ohw;
    let pix = n % ohw;
    let cin_g = p.in_c / p.groups;
    if (POINTWISE) {
        return x[(b * p.in_c + g * cin_g + k) * ohw + pix];
    }
    let khw = p.kh * p.kw;
    let ci = k / khw;
    let r = k % khw;
    let ky = r / p.kw;
    let kx = r % p.kw;
    let oy = pix / p.out_w;
    let ox = pix % p.out_w;
    let iy = i32(oy * p.stride_h + ky) - i32(p.pad_h);
    let ix = i32(ox * p.stride_w + kx) - i32(p.pad_w);
    if (iy < 0 || ix < 0 || iy >= i32(p.in_h) || ix >= i32(p.in_w)) { return 0.0; }
    return x[((b * p.in_c + g * cin_g + ci) * p.in_h + u32(iy)) * p.in_w + u32(ix)];
}

fn finish(co: u32, idx: u32, sum: f32) -> f32 {
    var v = sum;
    if (p.has_bias != 0u) { v += bias[co]; }
    if (p.has_res != 0u) { v += res[idx]; }
    return apply_act(v, p.act);
}

fn store_row(g: u32, ks: u32, m: u32, n_base: u32, n_total: u32, acc: vec4<f32>) {
    let cout_g = p.out_c / p.groups;
    if (m >= cout_g) { return; }
    let co = g * cout_g + m;
    let ohw = p.out_h * p.out_w;
    for (var j = 0u; j < 4u; j++) {
        let n = n_base + j;
        if (n < n_total) {
            let idx = ((n / ohw) * p.out_c + co) * ohw + n % ohw;
            if (p.k_splits > 1u) {
                partial[ks * p.batch * p.out_c * ohw + idx] = acc[j];
            } else {
                y[idx] = finish(co, idx, acc[j]);
            }
        }
    }
}

@compute @workgroup_size(CONV_WG_X, CONV_WG_Y)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let cin_g = p.in_c / p.groups;
    let cout_g = p.out_c / p.groups;
    let k_total = cin_g * p.kh * p.kw;
    let n_total = p.batch * p.out_h * p.out_w;
    let g = wid.z / p.k_splits;
    let ks = wid.z % p.k_splits;
    let k_begin = ks * p.k_chunk;
    let k_end = min(k_total, k_begin + p.k_chunk);
    let m0 = wid.y * CONV_TILE_M;
    let n0 = wid.x * CONV_TILE_N;
    let tid = lid.y * CONV_WG_X + lid.x;
    let threads = CONV_WG_X * CONV_WG_Y;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);

    for (var k0 = k_begin; k0 < k_end; k0 += CONV_TILE_K) {
        // A: weights [cout, k] row-major; consecutive threads read consecutive k.
        for (var e = tid; e < CONV_TILE_K * CONV_TILE_M; e += threads) {
            let mm = e / CONV_TILE_K;
            let kk = e % CONV_TILE_K;
            var v = 0.0;
            if (m0 + mm < cout_g && k0 + kk < k_end) {
                v = wt[(g * cout_g + m0 + mm) * k_total + k0 + kk];
            }
            a_tile[(kk * CONV_TILE_M + mm) / 4u][mm % 4u] = v;
        }
        // B: consecutive threads read consecutive output pixels.
        for (var e = tid; e < CONV_TILE_K * CONV_TILE_N; e += threads) {
            let kk = e / CONV_TILE_N;
            let nn = e % CONV_TILE_N;
            b_tile[(kk * CONV_TILE_N + nn) / 4u][nn % 4u] = load_b(g, k0 + kk, n0 + nn, k_end, n_total);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < CONV_TILE_K; kk++) {
            let a = a_tile[(kk * CONV_TILE_M) / 4u + lid.y];
            let b = b_tile[(kk * CONV_TILE_N) / 4u + lid.x];
            acc0 += a.x * b;
            acc1 += a.y * b;
            acc2 += a.z * b;
            acc3 += a.w * b;
        }
        workgroupBarrier();
    }

    let m = m0 + lid.y * 4u;
    let n = n0 + lid.x * 4u;
    store_row(g, ks, m, n, n_total, acc0);
    store_row(g, ks, m + 1u, n, n_total, acc1);
    store_row(g, ks, m + 2u, n, n_total, acc2);
    store_row(g, ks, m + 3u, n, n_total, acc3);
}

@compute @workgroup_size(WG_1D)
fn splitk_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * WG_1D;
    let ohw = p.out_h * p.out_w;
    let total = p.batch * p.out_c * ohw;
    if (idx >= total) { return; }
    var sum = 0.0;
    for (var ks = 0u; ks < p.k_splits; ks++) {
        sum += partial[ks * total + idx];
    }
    y[idx] = finish((idx / ohw) % p.out_c, idx, sum);
}
