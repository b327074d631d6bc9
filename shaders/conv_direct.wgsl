// Direct convolution (groups = 1): each thread computes 4 * CG output channels (CG = 1 or
// 2; 4 in the pointwise loop) x ROWS output rows x 4 output columns (COLS: 7 or 8 in the
// 3x3 stride-1 loop), reading inputs and weights straight from storage: no workgroup
// memory, no barriers and no im2col index arithmetic in the inner loop, so a
// narrow output (a 1-channel bottleneck encoder), a tiny reduction (the first conv, a
// decoder from 1 channel) or a layer with 16 output pixels wastes nothing on tile padding.
// Inputs are read once per output row and kernel row and reused across the 4 * CG
// channels of the thread; each weight load is one vec4 of 4 output channels, reused
// across ROWS x 4 pixels. Accumulators are named vec4s over 4 channels (arrays of
// accumulators indexed by loop variables spill to memory), updated through pointer
// helpers; the ones a tile does not use are removed by the compiler since ROWS and CG
// are pipeline constants.
//
// Weights are repacked once when the dispatch is built (`pack_weights`, below) to
// [k][out_c rounded up to 8] so that consecutive output channels of one reduction step
// are one vec4; the padding channels are zero and never stored.
//
// SPEC specialises the loop for the kernel's shape: DIRECT_WIN3 (3 wide, stride 1 along x)
// reads one 6-value window per input row for the 3 kernel columns of 4 output columns,
// DIRECT_WIN4 (4x4, stride 1, no padding along x, rows of a multiple of 4) reads each of
// the ROWS + 3 input rows once as two vector loads for 4 columns (three for 8);
// DIRECT_K3S1 (3x3, stride 1) also reads each of the ROWS + 2 input rows once, for the up
// to 3 output rows it feeds, with the 9 weights of an input channel in registers;
// DIRECT_K3S2 (3x3, stride 2) reads each of the 2 ROWS + 1 input rows once as a 9-value
// window; DIRECT_P1S2 (1x1, stride 2, no padding) reads one strided run per output row,
// no kernel loops (DIRECT_PS2, the same on rows a multiple of 4 wide, takes the pointwise
// loop, `pointwise` below). CG_FAST chooses what consecutive
// threads take: consecutive channel groups (inputs shared, weights coalesced) or
// consecutive pixel tiles (for layers with one channel group). Split-K over input
// channels writes raw partial sums that conv2d.wgsl's `splitk_reduce` finishes. Outputs of
// a few channels take the entry point `single` instead (one channel per thread, below).
// A strided convolution of few input channels (an 11x11 stride-4 stem) can run as a 3x3
// stride-1 one over its input's blocks laid out as channels (`space_to_depth`, its
// weights by `pack_weights_s2d`, below; its windows read with UNPADDED).

// Threads per workgroup: CONV_DIRECT_WG, or fewer for layers of few threads, whose
// workgroups would otherwise be too few to spread over a CPU adapter's cores.
override WG: u32 = CONV_DIRECT_WG;
// The activation's code (`p.act`) as a pipeline constant: the epilogue's tests of it are
// resolved when the pipeline is compiled, not once per 4 outputs.
override ACT: u32 = 0u;
// The rest of the epilogue, constant for the same reason (a CPU adapter runs both sides
// of a branch on a uniform value): a residual is added; the reduction is split (raw
// partial sums are written); every run of 4 output pixels stored starts on a vec4 (the
// output width, for `pointwise` the plane, a multiple of 4).
override RES: bool = false;
override SPLIT: bool = false;
override OUT_ALIGNED: bool = false;
override ROWS: u32 = 4u;
override CG: u32 = 1u;
override CG_FAST: bool = true;
// A DirectSpec code: the loop specialised for the kernel's shape.
override SPEC: u32 = DIRECT_GENERIC;
// For the 3-wide windows: input rows start on a vec4 (width a multiple of 4) and the
// padding along x is 1, so the middle 4 values of each 6-value window are one vector load
// from `xv`, the same buffer as `x`.
override ALIGNED: bool = false;
// For 3x3 stride-1 windows of `main` (tiles of an even number of rows, padding 1): input
// rows 2 more than a multiple of 4 wide (14) on planes of a multiple of 4 values, so that
// the tile's window rows start alternately on a vec4 and 2 past one, both read as vector
// loads (see `win6_pair`). Excludes ALIGNED.
override PAIRS: bool = false;
// For the 7-column tiles (padding 1): each input row, wherever it starts, is read as the
// three vectors that hold it and shifted by its offset (selects), not as 9 masked scalar
// loads (see `win_k3s1`).
override SHIFTED: bool = false;
// For the 3x3 stride-1 loop without padding along x on rows of a multiple of 4 (the
// lowered convolution of `space_to_depth`): each window starts on a vec4, so it is whole
// vector loads. Columns past the row feed only output columns past the output row (never
// stored); past the buffer, the last vector is read instead. Excludes ALIGNED and PAIRS.
override UNPADDED: bool = false;
// Output columns per thread of `main`'s 3x3 stride-1 loop with one channel group: 4, or
// 7 (a row of 5 to 7 pixels, the last stage of a 224x224 network, is one tile where tiles
// of 4 columns would take two threads, each loading all the weights for 1 to 4 columns),
// or 8 (rows of a multiple of 4: each weight loaded serves twice the pixels, and one
// 10-value window of each input row, two vector loads and two values, serves them).
// The 4-wide loop (DIRECT_WIN4) takes 4 or 8.
// Columns 4-7 accumulate in the second channel group's variables (the `b`s): separate
// ones made every pipeline of this file twice as slow to compile on llvmpipe.
override COLS: u32 = 4u;

const_assert CONV_DIRECT_COLS == 4u && CONV_DIRECT_SINGLE_COLS == 8u && CONV_DIRECT_CO_PAD == 8u;

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
// Outputs and residuals as vec4s: 4 consecutive pixels of a channel are one vector store
// where they start on a vec4, else 4 component stores.
@group(0) @binding(4) var<storage, read> res4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> partial: array<f32>;
@group(0) @binding(7) var<storage, read> xv: array<vec4<f32>>;

// The input at row `iy` (in range) and column `ix` of the plane at `base`; 0 in the
// padding. The index is clamped so that the load itself never leaves the row.
fn xat(base: u32, iy: u32, ix: i32) -> f32 {
    let inside = ix >= 0 && ix < i32(p.in_w);
    let v = x[base + iy * p.in_w + u32(clamp(ix, 0, i32(p.in_w) - 1))];
    return select(0.0, v, inside);
}

// The 6-value window of row `iy` of the plane at `base` from column `ix` (3 kernel columns
// of 4 output columns at stride 1).
fn win6(base: u32, iy: u32, ix: i32) -> array<f32, 6> {
    if (UNPADDED) {
        let i = (base + iy * p.in_w + u32(ix)) / 4u;
        let a = xv[i];
        let b = xv[min(i + 1u, arrayLength(&xv) - 1u)];
        return array<f32, 6>(a.x, a.y, a.z, a.w, b.x, b.y);
    }
    if (ALIGNED) {
        // ix + 1 is the tile's first column, a multiple of 4.
        let c = xv[(base + iy * p.in_w + u32(ix + 1)) / 4u];
        return array<f32, 6>(xat(base, iy, ix), c.x, c.y, c.z, c.w, xat(base, iy, ix + 5));
    }
    return array<f32, 6>(xat(base, iy, ix), xat(base, iy, ix + 1), xat(base, iy, ix + 2),
                         xat(base, iy, ix + 3), xat(base, iy, ix + 4), xat(base, iy, ix + 5));
}

// The 6-value window of row `iy` from column `ix` (the tile's first column minus 1), the
// `k`-th of the tile's window rows (a constant): with PAIRS, rows with k odd start on a
// vec4 and with k even 2 past one, so the window is one vector and two values, or the last
// 3 values of one vector and the first 3 of the next; else `win6`. Columns outside the row
// are zeroed where they feed a stored output: the left padding, and the right padding of
// the row's last tile (columns ox0 + 3 and ox0 + 4 there feed only output columns past
// the row, never stored).
fn win6_pair(base: u32, iy: u32, ix: i32, k: u32) -> array<f32, 6> {
    if (!PAIRS) { return win6(base, iy, ix); }
    let s = base + iy * p.in_w + u32(ix + 1);
    let w = i32(p.in_w);
    let last = arrayLength(&xv) - 1u;
    if (k % 2u == 1u) {
        let c = xv[s / 4u];
        return array<f32, 6>(xat(base, iy, ix), c.x, c.y, select(0.0, c.z, ix + 3 < w), c.w,
                             xat(base, iy, ix + 5));
    }
    let a = xv[(s - 2u) / 4u];
    let b = xv[min((s - 2u) / 4u + 1u, last)];
    return array<f32, 6>(select(0.0, a.y, ix >= 0), a.z, a.w, select(0.0, b.x, ix + 3 < w),
                         b.y, b.z);
}

// The 9-value window of row `iy` from column `ix` (3 kernel columns of 4 output columns
// at stride 2). Aligned, columns past the row feed only output columns past the output
// row, which are never stored; past the buffer, the last vector is read instead.
fn win9(base: u32, iy: u32, ix: i32) -> array<f32, 9> {
    if (ALIGNED) {
        let i = (base + iy * p.in_w + u32(ix + 1)) / 4u;
        let last = arrayLength(&xv) - 1u;
        let a = xv[min(i, last)];
        let b = xv[min(i + 1u, last)];
        return array<f32, 9>(xat(base, iy, ix), a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w);
    }
    return array<f32, 9>(xat(base, iy, ix), xat(base, iy, ix + 1), xat(base, iy, ix + 2),
                         xat(base, iy, ix + 3), xat(base, iy, ix + 4), xat(base, iy, ix + 5),
                         xat(base, iy, ix + 6), xat(base, iy, ix + 7), xat(base, iy, ix + 8));
}

// The window of row `iy` from column `ix` for `main`'s 3x3 stride-1 loop, the tile's `k`-th
// window row: 6 values for 4 columns (`win6_pair`; the rest zeros that nothing reads), 9
// for 7 (shifted vectors with SHIFTED, else each a masked load, as rows of 5 to 7 pixels
// start anywhere), 10 for 8 (`win10_pair`).
fn win_k3s1(base: u32, iy: u32, ix: i32, k: u32) -> array<f32, 10> {
    if (COLS == 8u) { return win10_pair(base, iy, ix, k); }
    if (COLS == 7u && SHIFTED) {
        // The row's columns 0-7 from the three vectors that hold them (columns past the
        // row zeroed), after the left padding.
        let s0 = base + iy * p.in_w;
        let q = s0 / 4u;
        let r = s0 % 4u;
        let last = arrayLength(&xv) - 1u;
        let a = xv[q];
        let b = xv[min(q + 1u, last)];
        let c = xv[min(q + 2u, last)];
        let lo = shift4(a, b, r);
        let inside = vec4<u32>(4u, 5u, 6u, 7u) < vec4<u32>(p.in_w);
        let hi = select(vec4<f32>(0.0), shift4(b, c, r), inside);
        return array<f32, 10>(0.0, lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w, 0.0);
    }
    if (COLS == 7u) {
        return array<f32, 10>(xat(base, iy, ix), xat(base, iy, ix + 1), xat(base, iy, ix + 2),
                              xat(base, iy, ix + 3), xat(base, iy, ix + 4), xat(base, iy, ix + 5),
                              xat(base, iy, ix + 6), xat(base, iy, ix + 7), xat(base, iy, ix + 8),
                              0.0);
    }
    let v = win6_pair(base, iy, ix, k);
    return array<f32, 10>(v[0], v[1], v[2], v[3], v[4], v[5], 0.0, 0.0, 0.0, 0.0);
}

// a_j += xs[j] * w: one input value per output column, times 4 output channels.
fn acc4(a0: ptr<function, vec4<f32>>, a1: ptr<function, vec4<f32>>,
        a2: ptr<function, vec4<f32>>, a3: ptr<function, vec4<f32>>,
        xs: vec4<f32>, w: vec4<f32>) {
    *a0 += xs.x * w;
    *a1 += xs.y * w;
    *a2 += xs.z * w;
    *a3 += xs.w * w;
}

// The 4 inputs of 4 output columns from column `ix`, `sx` apart (generic loops). For a 1x1
// kernel at stride 2 without padding on vec4-aligned rows (SPEC = DIRECT_P1S2, ALIGNED)
// they are the even values of two vector loads; columns past the row feed only output
// columns past the output row (never stored), past the buffer the last vector is read.
fn strided4(base: u32, iy: u32, ix: i32, sx: i32) -> vec4<f32> {
    if (SPEC == DIRECT_P1S2 && ALIGNED) {
        let i = (base + iy * p.in_w + u32(ix)) / 4u;
        let last = arrayLength(&xv) - 1u;
        let a = xv[min(i, last)];
        let b = xv[min(i + 1u, last)];
        return vec4<f32>(a.x, a.z, b.x, b.z);
    }
    return vec4<f32>(xat(base, iy, ix), xat(base, iy, ix + sx), xat(base, iy, ix + 2 * sx),
                     xat(base, iy, ix + 3 * sx));
}

// The 3 kernel columns of a stride-2 window row: output column j reads v[2j..2j+2].
fn acc_s2(a0: ptr<function, vec4<f32>>, a1: ptr<function, vec4<f32>>,
          a2: ptr<function, vec4<f32>>, a3: ptr<function, vec4<f32>>,
          v: array<f32, 9>, w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>) {
    acc4(a0, a1, a2, a3, vec4<f32>(v[0], v[2], v[4], v[6]), w0);
    acc4(a0, a1, a2, a3, vec4<f32>(v[1], v[3], v[5], v[7]), w1);
    acc4(a0, a1, a2, a3, vec4<f32>(v[2], v[4], v[6], v[8]), w2);
}

// a_j += xs[j] * w for 3 output columns.
fn acc3(a0: ptr<function, vec4<f32>>, a1: ptr<function, vec4<f32>>,
        a2: ptr<function, vec4<f32>>, xs: vec3<f32>, w: vec4<f32>) {
    *a0 += xs.x * w;
    *a1 += xs.y * w;
    *a2 += xs.z * w;
}

// Columns 4-7 of a tile of 7 or 8 columns (COLS) from the window row `v` (`win_k3s1`),
// weights w0..w2, into the b accumulators (column 7 of a 7-column tile stays unused).
fn acc_cols4(b0: ptr<function, vec4<f32>>, b1: ptr<function, vec4<f32>>,
             b2: ptr<function, vec4<f32>>, b3: ptr<function, vec4<f32>>, v: array<f32, 10>,
             w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>) {
    if (COLS == 7u) {
        acc3(b0, b1, b2, vec3<f32>(v[4], v[5], v[6]), w0);
        acc3(b0, b1, b2, vec3<f32>(v[5], v[6], v[7]), w1);
        acc3(b0, b1, b2, vec3<f32>(v[6], v[7], v[8]), w2);
    } else {
        acc_win3(b0, b1, b2, b3, vec4<f32>(v[4], v[5], v[6], v[7]), vec2<f32>(v[8], v[9]),
                 w0, w1, w2);
    }
}

// The 4 kernel columns of a window row: window lo, hi (its first 3 values), weights
// w0..w3.
fn acc_win4(a0: ptr<function, vec4<f32>>, a1: ptr<function, vec4<f32>>,
            a2: ptr<function, vec4<f32>>, a3: ptr<function, vec4<f32>>,
            lo: vec4<f32>, hi: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>,
            w3: vec4<f32>) {
    acc4(a0, a1, a2, a3, lo, w0);
    acc4(a0, a1, a2, a3, vec4<f32>(lo.yzw, hi.x), w1);
    acc4(a0, a1, a2, a3, vec4<f32>(lo.zw, hi.xy), w2);
    acc4(a0, a1, a2, a3, vec4<f32>(lo.w, hi.xyz), w3);
}

// The 3 kernel columns of a window row: window v0..v5, weights w0..w2.
fn acc_win3(a0: ptr<function, vec4<f32>>, a1: ptr<function, vec4<f32>>,
            a2: ptr<function, vec4<f32>>, a3: ptr<function, vec4<f32>>,
            lo: vec4<f32>, hi: vec2<f32>, w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>) {
    acc4(a0, a1, a2, a3, lo, w0);
    acc4(a0, a1, a2, a3, vec4<f32>(lo.yzw, hi.x), w1);
    acc4(a0, a1, a2, a3, vec4<f32>(lo.zw, hi), w2);
}

// One window row `v` (`win_k3s1`) times one kernel row into an output row: the a's take
// columns 0-3 of the first channel group (weights w0..w2); the b's the second group
// (weights u0..u2, CG = 2) or, with COLS 7 or 8, columns 4-7 of the first.
fn acc_k3row(a0: ptr<function, vec4<f32>>, a1: ptr<function, vec4<f32>>,
             a2: ptr<function, vec4<f32>>, a3: ptr<function, vec4<f32>>,
             b0: ptr<function, vec4<f32>>, b1: ptr<function, vec4<f32>>,
             b2: ptr<function, vec4<f32>>, b3: ptr<function, vec4<f32>>, v: array<f32, 10>,
             w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>,
             u0: vec4<f32>, u1: vec4<f32>, u2: vec4<f32>) {
    let lo = vec4<f32>(v[0], v[1], v[2], v[3]);
    let hi = vec2<f32>(v[4], v[5]);
    acc_win3(a0, a1, a2, a3, lo, hi, w0, w1, w2);
    if (CG > 1u) { acc_win3(b0, b1, b2, b3, lo, hi, u0, u1, u2); }
    if (COLS > 4u) { acc_cols4(b0, b1, b2, b3, v, w0, w1, w2); }
}

// One window row of the 4x4 loop (`win4_row`) times one kernel row into an output row: the
// a's take columns 0-3 of the first channel group (weights w0..w3); the b's the second
// group (weights u0..u3, CG = 2) or, with COLS 8, columns 4-7 of the first.
fn acc_k4row(a0: ptr<function, vec4<f32>>, a1: ptr<function, vec4<f32>>,
             a2: ptr<function, vec4<f32>>, a3: ptr<function, vec4<f32>>,
             b0: ptr<function, vec4<f32>>, b1: ptr<function, vec4<f32>>,
             b2: ptr<function, vec4<f32>>, b3: ptr<function, vec4<f32>>,
             v: array<vec4<f32>, 3>,
             w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>, w3: vec4<f32>,
             u0: vec4<f32>, u1: vec4<f32>, u2: vec4<f32>, u3: vec4<f32>) {
    acc_win4(a0, a1, a2, a3, v[0], v[1], w0, w1, w2, w3);
    if (COLS == 8u) {
        acc_win4(b0, b1, b2, b3, v[1], v[2], w0, w1, w2, w3);
    } else if (CG > 1u) {
        acc_win4(b0, b1, b2, b3, v[0], v[1], u0, u1, u2, u3);
    }
}

// The window row of the 4x4 loop from vector `i` (the tile's first column): that vector,
// the next and, for 8 columns, the one after (else zeros); past the buffer, the last
// (columns past the row feed only output columns past it).
fn win4_row(i: u32) -> array<vec4<f32>, 3> {
    let last = arrayLength(&xv) - 1u;
    var c = vec4<f32>(0.0);
    if (COLS == 8u) { c = xv[min(i + 2u, last)]; }
    return array<vec4<f32>, 3>(xv[i], xv[min(i + 1u, last)], c);
}

// The bias of the 4 channels from `co0`, which the accumulators take before `put` (once
// per thread, not once per pixel); 0 without bias or under split-K, whose reduction adds
// it.
fn bias4(co0: u32) -> vec4<f32> {
    if (p.has_bias == 0u || SPLIT) { return vec4<f32>(0.0); }
    let last = p.out_c - 1u;
    let v = vec4<f32>(bias[min(co0, last)], bias[min(co0 + 1u, last)],
                      bias[min(co0 + 2u, last)], bias[min(co0 + 3u, last)]);
    return select(vec4<f32>(0.0), v, co0 + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.out_c));
}

// Channel `co` (if it exists) at the `n` (up to 4) consecutive pixels from `pix` (flat
// index in the plane), `v` holding them with their bias: residual and activation, or the
// raw partial sums under split-K. A whole vec4-aligned run is one vector store, else up to
// 4 component stores (unrolled: rows of 7 or 14 pixels are mostly unaligned runs).
fn put_ch(b: u32, ks: u32, co: u32, pix: u32, n: u32, v0: vec4<f32>) {
    if (co >= p.out_c) { return; }
    let plane = p.out_h * p.out_w;
    let idx = (b * p.out_c + co) * plane + pix;
    var v = v0;
    if (SPLIT) {
        let at = ks * p.batch * p.out_c * plane + idx;
        for (var j = 0u; j < n; j++) {
            partial[at + j] = v[j];
        }
    } else if (OUT_ALIGNED || (n == 4u && idx % 4u == 0u)) {
        if (RES) { v += res4[idx / 4u]; }
        y4[idx / 4u] = apply_act4(v, ACT);
    } else {
        let i1 = idx + 1u;
        let i2 = idx + 2u;
        let i3 = idx + 3u;
        if (RES) {
            v.x += res4[idx / 4u][idx % 4u];
            if (n > 1u) { v.y += res4[i1 / 4u][i1 % 4u]; }
            if (n > 2u) { v.z += res4[i2 / 4u][i2 % 4u]; }
            if (n > 3u) { v.w += res4[i3 / 4u][i3 % 4u]; }
        }
        let r = apply_act4(v, ACT);
        y4[idx / 4u][idx % 4u] = r.x;
        if (n > 1u) { y4[i1 / 4u][i1 % 4u] = r.y; }
        if (n > 2u) { y4[i2 / 4u][i2 % 4u] = r.z; }
        if (n > 3u) { y4[i3 / 4u][i3 % 4u] = r.w; }
    }
}

// 4 channels from `co0` x `n` consecutive pixels from `pix`: `a0`..`a3` hold one pixel
// each (4 channels), so each channel's pixels are a transpose of them (constant indices).
fn put4(b: u32, ks: u32, co0: u32, pix: u32, n: u32,
        a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>) {
    put_ch(b, ks, co0, pix, n, vec4<f32>(a0.x, a1.x, a2.x, a3.x));
    put_ch(b, ks, co0 + 1u, pix, n, vec4<f32>(a0.y, a1.y, a2.y, a3.y));
    put_ch(b, ks, co0 + 2u, pix, n, vec4<f32>(a0.z, a1.z, a2.z, a3.z));
    put_ch(b, ks, co0 + 3u, pix, n, vec4<f32>(a0.w, a1.w, a2.w, a3.w));
}

// Output row `oy` (if inside) from column `ox0`: 4 pixels, fewer at the row's end.
fn put_row(b: u32, ks: u32, co0: u32, oy: u32, ox0: u32,
           a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>) {
    if (oy < p.out_h) {
        put4(b, ks, co0, oy * p.out_w + ox0, min(4u, p.out_w - ox0), a0, a1, a2, a3);
    }
}

// The `i`-th (0-3) of four values: how a store loop takes its accumulators, which are
// named variables (arrays indexed by a loop variable spill to memory).
fn pick4(i: u32, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>) -> vec4<f32> {
    return select(select(x0, x1, i == 1u), select(x2, x3, i == 3u), i >= 2u);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // Threads over channel groups and pixel tiles, folded over x and y (the per-dimension
    // limit); z is (sample, reduction slice).
    let t = gid.x + gid.y * nwg.x * WG;
    let cgroups = (p.out_c + 4u * CG - 1u) / (4u * CG);
    let ncol = (p.out_w + COLS - 1u) / COLS;
    let ntiles = ncol * ((p.out_h + ROWS - 1u) / ROWS);
    var cgi = t % cgroups;
    var tile = t / cgroups;
    if (!CG_FAST) {
        tile = t % ntiles;
        cgi = t / ntiles;
    }
    if (tile >= ntiles || cgi >= cgroups) { return; }
    let b = select(gid.z, gid.z / p.k_splits, SPLIT);
    let ks = select(0u, gid.z % p.k_splits, SPLIT);
    let ox0 = (tile % ncol) * COLS;
    let oy0 = (tile / ncol) * ROWS;
    // Packed weights: [k][CONV_DIRECT_CO_PAD-rounded channels / 4] vec4s.
    let wstride = (p.out_c + CONV_DIRECT_CO_PAD - 1u) / CONV_DIRECT_CO_PAD * (CONV_DIRECT_CO_PAD / 4u);
    let wc = cgi * CG;
    let ci_begin = ks * p.k_chunk;
    let ci_end = min(p.in_c, ci_begin + p.k_chunk);

    var a00 = vec4<f32>(0.0); var a01 = vec4<f32>(0.0); var a02 = vec4<f32>(0.0); var a03 = vec4<f32>(0.0);
    var a10 = vec4<f32>(0.0); var a11 = vec4<f32>(0.0); var a12 = vec4<f32>(0.0); var a13 = vec4<f32>(0.0);
    var a20 = vec4<f32>(0.0); var a21 = vec4<f32>(0.0); var a22 = vec4<f32>(0.0); var a23 = vec4<f32>(0.0);
    var a30 = vec4<f32>(0.0); var a31 = vec4<f32>(0.0); var a32 = vec4<f32>(0.0); var a33 = vec4<f32>(0.0);
    // The second channel group (CG = 2).
    var b00 = vec4<f32>(0.0); var b01 = vec4<f32>(0.0); var b02 = vec4<f32>(0.0); var b03 = vec4<f32>(0.0);
    var b10 = vec4<f32>(0.0); var b11 = vec4<f32>(0.0); var b12 = vec4<f32>(0.0); var b13 = vec4<f32>(0.0);
    var b20 = vec4<f32>(0.0); var b21 = vec4<f32>(0.0); var b22 = vec4<f32>(0.0); var b23 = vec4<f32>(0.0);
    var b30 = vec4<f32>(0.0); var b31 = vec4<f32>(0.0); var b32 = vec4<f32>(0.0); var b33 = vec4<f32>(0.0);

    let plane = p.in_h * p.in_w;
    let sx = i32(p.stride_w);
    for (var ci = ci_begin; ci < ci_end; ci++) {
        let base = (b * p.in_c + ci) * plane;
        if (SPEC == DIRECT_K3S1) {
            // 3x3, stride 1: each of the ROWS + 2 input rows is read once and serves the
            // (up to 3) output rows it contributes to, with all 9 weights in registers.
            let k0 = ci * 9u * wstride + wc;
            let w00 = wt[k0]; let w01 = wt[k0 + wstride]; let w02 = wt[k0 + 2u * wstride];
            let w10 = wt[k0 + 3u * wstride]; let w11 = wt[k0 + 4u * wstride];
            let w12 = wt[k0 + 5u * wstride];
            let w20 = wt[k0 + 6u * wstride]; let w21 = wt[k0 + 7u * wstride];
            let w22 = wt[k0 + 8u * wstride];
            var v00 = vec4<f32>(0.0); var v01 = vec4<f32>(0.0); var v02 = vec4<f32>(0.0);
            var v10 = vec4<f32>(0.0); var v11 = vec4<f32>(0.0); var v12 = vec4<f32>(0.0);
            var v20 = vec4<f32>(0.0); var v21 = vec4<f32>(0.0); var v22 = vec4<f32>(0.0);
            if (CG > 1u) {
                v00 = wt[k0 + 1u]; v01 = wt[k0 + wstride + 1u]; v02 = wt[k0 + 2u * wstride + 1u];
                v10 = wt[k0 + 3u * wstride + 1u]; v11 = wt[k0 + 4u * wstride + 1u]; v12 = wt[k0 + 5u * wstride + 1u];
                v20 = wt[k0 + 6u * wstride + 1u]; v21 = wt[k0 + 7u * wstride + 1u]; v22 = wt[k0 + 8u * wstride + 1u];
            }
            let ix = i32(ox0) - i32(p.pad_w);
            let iy0 = i32(oy0) - i32(p.pad_h);
            // Window row r feeds output row r - ky with kernel row ky (unrolled).
            if (iy0 + 0 >= 0 && iy0 + 0 < i32(p.in_h)) {
                let v = win_k3s1(base, u32(iy0 + 0), ix, 0u);
                acc_k3row(&a00, &a01, &a02, &a03, &b00, &b01, &b02, &b03, v,
                          w00, w01, w02, v00, v01, v02);
            }
            if (iy0 + 1 >= 0 && iy0 + 1 < i32(p.in_h)) {
                let v = win_k3s1(base, u32(iy0 + 1), ix, 1u);
                if (ROWS > 1u) {
                    acc_k3row(&a10, &a11, &a12, &a13, &b10, &b11, &b12, &b13, v,
                              w00, w01, w02, v00, v01, v02);
                }
                acc_k3row(&a00, &a01, &a02, &a03, &b00, &b01, &b02, &b03, v,
                          w10, w11, w12, v10, v11, v12);
            }
            if (iy0 + 2 >= 0 && iy0 + 2 < i32(p.in_h)) {
                let v = win_k3s1(base, u32(iy0 + 2), ix, 2u);
                if (ROWS > 2u) {
                    acc_k3row(&a20, &a21, &a22, &a23, &b20, &b21, &b22, &b23, v,
                              w00, w01, w02, v00, v01, v02);
                }
                if (ROWS > 1u) {
                    acc_k3row(&a10, &a11, &a12, &a13, &b10, &b11, &b12, &b13, v,
                              w10, w11, w12, v10, v11, v12);
                }
                acc_k3row(&a00, &a01, &a02, &a03, &b00, &b01, &b02, &b03, v,
                          w20, w21, w22, v20, v21, v22);
            }
            if (ROWS + 2u > 3u && iy0 + 3 >= 0 && iy0 + 3 < i32(p.in_h)) {
                let v = win_k3s1(base, u32(iy0 + 3), ix, 3u);
                if (ROWS > 3u) {
                    acc_k3row(&a30, &a31, &a32, &a33, &b30, &b31, &b32, &b33, v,
                              w00, w01, w02, v00, v01, v02);
                }
                if (ROWS > 2u) {
                    acc_k3row(&a20, &a21, &a22, &a23, &b20, &b21, &b22, &b23, v,
                              w10, w11, w12, v10, v11, v12);
                }
                if (ROWS > 1u) {
                    acc_k3row(&a10, &a11, &a12, &a13, &b10, &b11, &b12, &b13, v,
                              w20, w21, w22, v20, v21, v22);
                }
            }
            if (ROWS + 2u > 4u && iy0 + 4 >= 0 && iy0 + 4 < i32(p.in_h)) {
                let v = win_k3s1(base, u32(iy0 + 4), ix, 4u);
                if (ROWS > 3u) {
                    acc_k3row(&a30, &a31, &a32, &a33, &b30, &b31, &b32, &b33, v,
                              w10, w11, w12, v10, v11, v12);
                }
                if (ROWS > 2u) {
                    acc_k3row(&a20, &a21, &a22, &a23, &b20, &b21, &b22, &b23, v,
                              w20, w21, w22, v20, v21, v22);
                }
            }
            if (ROWS + 2u > 5u && iy0 + 5 >= 0 && iy0 + 5 < i32(p.in_h)) {
                let v = win_k3s1(base, u32(iy0 + 5), ix, 5u);
                if (ROWS > 3u) {
                    acc_k3row(&a30, &a31, &a32, &a33, &b30, &b31, &b32, &b33, v,
                              w20, w21, w22, v20, v21, v22);
                }
            }
            continue;
        }
        if (SPEC == DIRECT_WIN4) {
            // 4x4, stride 1, no padding along x, rows of a multiple of 4 (the 7x7 stride-2
            // stem lowered by space-to-depth): each of the ROWS + 3 input rows is read once
            // as the vector at the tile's first column and the next (and the one after, for
            // 8 columns; past the buffer, the last: columns past the row feed only output
            // columns past it) and serves the up to 4 output rows it feeds, with the 16
            // weights of an input channel in registers.
            let k0 = ci * 16u * wstride + wc;
            let w00 = wt[k0 + 0u * wstride]; let w01 = wt[k0 + 1u * wstride];
            let w02 = wt[k0 + 2u * wstride]; let w03 = wt[k0 + 3u * wstride];
            let w10 = wt[k0 + 4u * wstride]; let w11 = wt[k0 + 5u * wstride];
            let w12 = wt[k0 + 6u * wstride]; let w13 = wt[k0 + 7u * wstride];
            let w20 = wt[k0 + 8u * wstride]; let w21 = wt[k0 + 9u * wstride];
            let w22 = wt[k0 + 10u * wstride]; let w23 = wt[k0 + 11u * wstride];
            let w30 = wt[k0 + 12u * wstride]; let w31 = wt[k0 + 13u * wstride];
            let w32 = wt[k0 + 14u * wstride]; let w33 = wt[k0 + 15u * wstride];
            var g00 = vec4<f32>(0.0); var g01 = vec4<f32>(0.0);
            var g02 = vec4<f32>(0.0); var g03 = vec4<f32>(0.0);
            var g10 = vec4<f32>(0.0); var g11 = vec4<f32>(0.0);
            var g12 = vec4<f32>(0.0); var g13 = vec4<f32>(0.0);
            var g20 = vec4<f32>(0.0); var g21 = vec4<f32>(0.0);
            var g22 = vec4<f32>(0.0); var g23 = vec4<f32>(0.0);
            var g30 = vec4<f32>(0.0); var g31 = vec4<f32>(0.0);
            var g32 = vec4<f32>(0.0); var g33 = vec4<f32>(0.0);
            if (CG > 1u) {
                g00 = wt[k0 + 0u * wstride + 1u]; g01 = wt[k0 + 1u * wstride + 1u];
                g02 = wt[k0 + 2u * wstride + 1u]; g03 = wt[k0 + 3u * wstride + 1u];
                g10 = wt[k0 + 4u * wstride + 1u]; g11 = wt[k0 + 5u * wstride + 1u];
                g12 = wt[k0 + 6u * wstride + 1u]; g13 = wt[k0 + 7u * wstride + 1u];
                g20 = wt[k0 + 8u * wstride + 1u]; g21 = wt[k0 + 9u * wstride + 1u];
                g22 = wt[k0 + 10u * wstride + 1u]; g23 = wt[k0 + 11u * wstride + 1u];
                g30 = wt[k0 + 12u * wstride + 1u]; g31 = wt[k0 + 13u * wstride + 1u];
                g32 = wt[k0 + 14u * wstride + 1u]; g33 = wt[k0 + 15u * wstride + 1u];
            }
            let q = (base + ox0) / 4u;
            let rw = p.in_w / 4u;
            let iy0 = i32(oy0) - i32(p.pad_h);
            if (iy0 + 0 >= 0 && iy0 + 0 < i32(p.in_h)) {
                let v = win4_row(q + u32(iy0 + 0) * rw);
                acc_k4row(&a00, &a01, &a02, &a03, &b00, &b01, &b02, &b03, v,
                          w00, w01, w02, w03, g00, g01, g02, g03);
            }
            if (iy0 + 1 >= 0 && iy0 + 1 < i32(p.in_h)) {
                let v = win4_row(q + u32(iy0 + 1) * rw);
                if (ROWS > 1u) {
                    acc_k4row(&a10, &a11, &a12, &a13, &b10, &b11, &b12, &b13, v,
                              w00, w01, w02, w03, g00, g01, g02, g03);
                }
                acc_k4row(&a00, &a01, &a02, &a03, &b00, &b01, &b02, &b03, v,
                          w10, w11, w12, w13, g10, g11, g12, g13);
            }
            if (iy0 + 2 >= 0 && iy0 + 2 < i32(p.in_h)) {
                let v = win4_row(q + u32(iy0 + 2) * rw);
                if (ROWS > 2u) {
                    acc_k4row(&a20, &a21, &a22, &a23, &b20, &b21, &b22, &b23, v,
                              w00, w01, w02, w03, g00, g01, g02, g03);
                }
                if (ROWS > 1u) {
                    acc_k4row(&a10, &a11, &a12, &a13, &b10, &b11, &b12, &b13, v,
                              w10, w11, w12, w13, g10, g11, g12, g13);
                }
                acc_k4row(&a00, &a01, &a02, &a03, &b00, &b01, &b02, &b03, v,
                          w20, w21, w22, w23, g20, g21, g22, g23);
            }
            if (iy0 + 3 >= 0 && iy0 + 3 < i32(p.in_h)) {
                let v = win4_row(q + u32(iy0 + 3) * rw);
                if (ROWS > 3u) {
                    acc_k4row(&a30, &a31, &a32, &a33, &b30, &b31, &b32, &b33, v,
                              w00, w01, w02, w03, g00, g01, g02, g03);
                }
                if (ROWS > 2u) {
                    acc_k4row(&a20, &a21, &a22, &a23, &b20, &b21, &b22, &b23, v,
                              w10, w11, w12, w13, g10, g11, g12, g13);
                }
                if (ROWS > 1u) {
                    acc_k4row(&a10, &a11, &a12, &a13, &b10, &b11, &b12, &b13, v,
                              w20, w21, w22, w23, g20, g21, g22, g23);
                }
                acc_k4row(&a00, &a01, &a02, &a03, &b00, &b01, &b02, &b03, v,
                          w30, w31, w32, w33, g30, g31, g32, g33);
            }
            if (ROWS + 3u > 4u && iy0 + 4 >= 0 && iy0 + 4 < i32(p.in_h)) {
                let v = win4_row(q + u32(iy0 + 4) * rw);
                if (ROWS > 3u) {
                    acc_k4row(&a30, &a31, &a32, &a33, &b30, &b31, &b32, &b33, v,
                              w10, w11, w12, w13, g10, g11, g12, g13);
                }
                if (ROWS > 2u) {
                    acc_k4row(&a20, &a21, &a22, &a23, &b20, &b21, &b22, &b23, v,
                              w20, w21, w22, w23, g20, g21, g22, g23);
                }
                if (ROWS > 1u) {
                    acc_k4row(&a10, &a11, &a12, &a13, &b10, &b11, &b12, &b13, v,
                              w30, w31, w32, w33, g30, g31, g32, g33);
                }
            }
            if (ROWS + 3u > 5u && iy0 + 5 >= 0 && iy0 + 5 < i32(p.in_h)) {
                let v = win4_row(q + u32(iy0 + 5) * rw);
                if (ROWS > 3u) {
                    acc_k4row(&a30, &a31, &a32, &a33, &b30, &b31, &b32, &b33, v,
                              w20, w21, w22, w23, g20, g21, g22, g23);
                }
                if (ROWS > 2u) {
                    acc_k4row(&a20, &a21, &a22, &a23, &b20, &b21, &b22, &b23, v,
                              w30, w31, w32, w33, g30, g31, g32, g33);
                }
            }
            if (ROWS + 3u > 6u && iy0 + 6 >= 0 && iy0 + 6 < i32(p.in_h)) {
                let v = win4_row(q + u32(iy0 + 6) * rw);
                if (ROWS > 3u) {
                    acc_k4row(&a30, &a31, &a32, &a33, &b30, &b31, &b32, &b33, v,
                              w30, w31, w32, w33, g30, g31, g32, g33);
                }
            }
            continue;
        }
        if (SPEC == DIRECT_K3S2) {
            // 3x3, stride 2: each of the 2 ROWS + 1 input rows is read once (a 9-value
            // window) and serves the output rows it feeds, all 9 weights in registers.
            let k0 = ci * 9u * wstride + wc;
            let w00 = wt[k0]; let w01 = wt[k0 + wstride]; let w02 = wt[k0 + 2u * wstride];
            let w10 = wt[k0 + 3u * wstride]; let w11 = wt[k0 + 4u * wstride];
            let w12 = wt[k0 + 5u * wstride];
            let w20 = wt[k0 + 6u * wstride]; let w21 = wt[k0 + 7u * wstride];
            let w22 = wt[k0 + 8u * wstride];
            var v00 = vec4<f32>(0.0); var v01 = vec4<f32>(0.0); var v02 = vec4<f32>(0.0);
            var v10 = vec4<f32>(0.0); var v11 = vec4<f32>(0.0); var v12 = vec4<f32>(0.0);
            var v20 = vec4<f32>(0.0); var v21 = vec4<f32>(0.0); var v22 = vec4<f32>(0.0);
            if (CG > 1u) {
                v00 = wt[k0 + 1u]; v01 = wt[k0 + wstride + 1u]; v02 = wt[k0 + 2u * wstride + 1u];
                v10 = wt[k0 + 3u * wstride + 1u]; v11 = wt[k0 + 4u * wstride + 1u]; v12 = wt[k0 + 5u * wstride + 1u];
                v20 = wt[k0 + 6u * wstride + 1u]; v21 = wt[k0 + 7u * wstride + 1u]; v22 = wt[k0 + 8u * wstride + 1u];
            }
            let ix = i32(2u * ox0) - i32(p.pad_w);
            let iy0 = i32(2u * oy0) - i32(p.pad_h);
            // Input row ir feeds output row r with kernel row ir - 2r (unrolled).
            if (iy0 + 0 >= 0 && iy0 + 0 < i32(p.in_h)) {
                let v = win9(base, u32(iy0 + 0), ix);
                acc_s2(&a00, &a01, &a02, &a03, v, w00, w01, w02);
                if (CG > 1u) { acc_s2(&b00, &b01, &b02, &b03, v, v00, v01, v02); }
            }
            if (iy0 + 1 >= 0 && iy0 + 1 < i32(p.in_h)) {
                let v = win9(base, u32(iy0 + 1), ix);
                acc_s2(&a00, &a01, &a02, &a03, v, w10, w11, w12);
                if (CG > 1u) { acc_s2(&b00, &b01, &b02, &b03, v, v10, v11, v12); }
            }
            if (iy0 + 2 >= 0 && iy0 + 2 < i32(p.in_h)) {
                let v = win9(base, u32(iy0 + 2), ix);
                acc_s2(&a00, &a01, &a02, &a03, v, w20, w21, w22);
                if (CG > 1u) { acc_s2(&b00, &b01, &b02, &b03, v, v20, v21, v22); }
                if (ROWS > 1u) {
                    acc_s2(&a10, &a11, &a12, &a13, v, w00, w01, w02);
                    if (CG > 1u) { acc_s2(&b10, &b11, &b12, &b13, v, v00, v01, v02); }
                }
            }
            if (ROWS > 1u && iy0 + 3 >= 0 && iy0 + 3 < i32(p.in_h)) {
                let v = win9(base, u32(iy0 + 3), ix);
                acc_s2(&a10, &a11, &a12, &a13, v, w10, w11, w12);
                if (CG > 1u) { acc_s2(&b10, &b11, &b12, &b13, v, v10, v11, v12); }
            }
            if (ROWS > 1u && iy0 + 4 >= 0 && iy0 + 4 < i32(p.in_h)) {
                let v = win9(base, u32(iy0 + 4), ix);
                acc_s2(&a10, &a11, &a12, &a13, v, w20, w21, w22);
                if (CG > 1u) { acc_s2(&b10, &b11, &b12, &b13, v, v20, v21, v22); }
                if (ROWS > 2u) {
                    acc_s2(&a20, &a21, &a22, &a23, v, w00, w01, w02);
                    if (CG > 1u) { acc_s2(&b20, &b21, &b22, &b23, v, v00, v01, v02); }
                }
            }
            if (ROWS > 2u && iy0 + 5 >= 0 && iy0 + 5 < i32(p.in_h)) {
                let v = win9(base, u32(iy0 + 5), ix);
                acc_s2(&a20, &a21, &a22, &a23, v, w10, w11, w12);
                if (CG > 1u) { acc_s2(&b20, &b21, &b22, &b23, v, v10, v11, v12); }
            }
            if (ROWS > 2u && iy0 + 6 >= 0 && iy0 + 6 < i32(p.in_h)) {
                let v = win9(base, u32(iy0 + 6), ix);
                acc_s2(&a20, &a21, &a22, &a23, v, w20, w21, w22);
                if (CG > 1u) { acc_s2(&b20, &b21, &b22, &b23, v, v20, v21, v22); }
                if (ROWS > 3u) {
                    acc_s2(&a30, &a31, &a32, &a33, v, w00, w01, w02);
                    if (CG > 1u) { acc_s2(&b30, &b31, &b32, &b33, v, v00, v01, v02); }
                }
            }
            if (ROWS > 3u && iy0 + 7 >= 0 && iy0 + 7 < i32(p.in_h)) {
                let v = win9(base, u32(iy0 + 7), ix);
                acc_s2(&a30, &a31, &a32, &a33, v, w10, w11, w12);
                if (CG > 1u) { acc_s2(&b30, &b31, &b32, &b33, v, v10, v11, v12); }
            }
            if (ROWS > 3u && iy0 + 8 >= 0 && iy0 + 8 < i32(p.in_h)) {
                let v = win9(base, u32(iy0 + 8), ix);
                acc_s2(&a30, &a31, &a32, &a33, v, w20, w21, w22);
                if (CG > 1u) { acc_s2(&b30, &b31, &b32, &b33, v, v20, v21, v22); }
            }
            continue;
        }
        if (SPEC == DIRECT_P1S2) {
            // 1x1, stride 2, no padding: output row oy reads input row 2 oy (inside the
            // plane whenever oy is), no kernel loops.
            let w0 = wt[ci * wstride + wc];
            var v0 = vec4<f32>(0.0);
            if (CG > 1u) { v0 = wt[ci * wstride + wc + 1u]; }
            let ix = i32(2u * ox0);
            let xs0 = strided4(base, 2u * oy0, ix, 2);
            acc4(&a00, &a01, &a02, &a03, xs0, w0);
            if (CG > 1u) { acc4(&b00, &b01, &b02, &b03, xs0, v0); }
            if (ROWS > 1u && oy0 + 1u < p.out_h) {
                let xs = strided4(base, 2u * oy0 + 2u, ix, 2);
                acc4(&a10, &a11, &a12, &a13, xs, w0);
                if (CG > 1u) { acc4(&b10, &b11, &b12, &b13, xs, v0); }
            }
            if (ROWS > 2u && oy0 + 2u < p.out_h) {
                let xs = strided4(base, 2u * oy0 + 4u, ix, 2);
                acc4(&a20, &a21, &a22, &a23, xs, w0);
                if (CG > 1u) { acc4(&b20, &b21, &b22, &b23, xs, v0); }
            }
            if (ROWS > 3u && oy0 + 3u < p.out_h) {
                let xs = strided4(base, 2u * oy0 + 6u, ix, 2);
                acc4(&a30, &a31, &a32, &a33, xs, w0);
                if (CG > 1u) { acc4(&b30, &b31, &b32, &b33, xs, v0); }
            }
            continue;
        }
        for (var ky = 0u; ky < p.kh; ky++) {
            // Input rows of the thread's output rows; out of range means padding.
            let iy0 = i32(oy0 * p.stride_h + ky) - i32(p.pad_h);
            let dy = i32(p.stride_h);
            let ok0 = iy0 >= 0 && iy0 < i32(p.in_h);
            let ok1 = ROWS > 1u && iy0 + dy >= 0 && iy0 + dy < i32(p.in_h);
            let ok2 = ROWS > 2u && iy0 + 2 * dy >= 0 && iy0 + 2 * dy < i32(p.in_h);
            let ok3 = ROWS > 3u && iy0 + 3 * dy >= 0 && iy0 + 3 * dy < i32(p.in_h);
            let krow = (ci * p.kh + ky) * p.kw;
            if (SPEC == DIRECT_WIN3) {
                let w0 = wt[krow * wstride + wc];
                let w1 = wt[(krow + 1u) * wstride + wc];
                let w2 = wt[(krow + 2u) * wstride + wc];
                var v0 = vec4<f32>(0.0);
                var v1 = vec4<f32>(0.0);
                var v2 = vec4<f32>(0.0);
                if (CG > 1u) {
                    v0 = wt[krow * wstride + wc + 1u];
                    v1 = wt[(krow + 1u) * wstride + wc + 1u];
                    v2 = wt[(krow + 2u) * wstride + wc + 1u];
                }
                let ix = i32(ox0) - i32(p.pad_w);
                if (ok0) {
                    let iy = u32(iy0);
                    let v = win6(base, iy, ix);
                    let lo = vec4<f32>(v[0], v[1], v[2], v[3]);
                    let hi = vec2<f32>(v[4], v[5]);
                    acc_win3(&a00, &a01, &a02, &a03, lo, hi, w0, w1, w2);
                    if (CG > 1u) { acc_win3(&b00, &b01, &b02, &b03, lo, hi, v0, v1, v2); }
                }
                if (ok1) {
                    let iy = u32(iy0 + dy);
                    let v = win6(base, iy, ix);
                    let lo = vec4<f32>(v[0], v[1], v[2], v[3]);
                    let hi = vec2<f32>(v[4], v[5]);
                    acc_win3(&a10, &a11, &a12, &a13, lo, hi, w0, w1, w2);
                    if (CG > 1u) { acc_win3(&b10, &b11, &b12, &b13, lo, hi, v0, v1, v2); }
                }
                if (ok2) {
                    let iy = u32(iy0 + 2 * dy);
                    let v = win6(base, iy, ix);
                    let lo = vec4<f32>(v[0], v[1], v[2], v[3]);
                    let hi = vec2<f32>(v[4], v[5]);
                    acc_win3(&a20, &a21, &a22, &a23, lo, hi, w0, w1, w2);
                    if (CG > 1u) { acc_win3(&b20, &b21, &b22, &b23, lo, hi, v0, v1, v2); }
                }
                if (ok3) {
                    let iy = u32(iy0 + 3 * dy);
                    let v = win6(base, iy, ix);
                    let lo = vec4<f32>(v[0], v[1], v[2], v[3]);
                    let hi = vec2<f32>(v[4], v[5]);
                    acc_win3(&a30, &a31, &a32, &a33, lo, hi, w0, w1, w2);
                    if (CG > 1u) { acc_win3(&b30, &b31, &b32, &b33, lo, hi, v0, v1, v2); }
                }
            } else {
                for (var kx = 0u; kx < p.kw; kx++) {
                    let w0 = wt[(krow + kx) * wstride + wc];
                    var v0 = vec4<f32>(0.0);
                    if (CG > 1u) { v0 = wt[(krow + kx) * wstride + wc + 1u]; }
                    let ix = i32(ox0 * p.stride_w + kx) - i32(p.pad_w);
                    if (ok0) {
                        let iy = u32(iy0);
                        let xs = strided4(base, iy, ix, sx);
                        acc4(&a00, &a01, &a02, &a03, xs, w0);
                        if (CG > 1u) { acc4(&b00, &b01, &b02, &b03, xs, v0); }
                    }
                    if (ok1) {
                        let iy = u32(iy0 + dy);
                        let xs = strided4(base, iy, ix, sx);
                        acc4(&a10, &a11, &a12, &a13, xs, w0);
                        if (CG > 1u) { acc4(&b10, &b11, &b12, &b13, xs, v0); }
                    }
                    if (ok2) {
                        let iy = u32(iy0 + 2 * dy);
                        let xs = strided4(base, iy, ix, sx);
                        acc4(&a20, &a21, &a22, &a23, xs, w0);
                        if (CG > 1u) { acc4(&b20, &b21, &b22, &b23, xs, v0); }
                    }
                    if (ok3) {
                        let iy = u32(iy0 + 3 * dy);
                        let xs = strided4(base, iy, ix, sx);
                        acc4(&a30, &a31, &a32, &a33, xs, w0);
                        if (CG > 1u) { acc4(&b30, &b31, &b32, &b33, xs, v0); }
                    }
                }
            }
        }
    }

    let co0 = wc * 4u;
    let bw = bias4(co0);
    a00 += bw; a01 += bw; a02 += bw; a03 += bw; a10 += bw; a11 += bw; a12 += bw; a13 += bw;
    a20 += bw; a21 += bw; a22 += bw; a23 += bw; a30 += bw; a31 += bw; a32 += bw; a33 += bw;
    // The b accumulators: the second channel group, or with COLS 7 or 8 (one channel
    // group) columns 4-7 of the first.
    var bv = vec4<f32>(0.0);
    if (CG > 1u) { bv = bias4(co0 + 4u); }
    if (COLS > 4u) { bv = bw; }
    b00 += bv; b01 += bv; b02 += bv; b03 += bv; b10 += bv; b11 += bv; b12 += bv; b13 += bv;
    b20 += bv; b21 += bv; b22 += bv; b23 += bv; b30 += bv; b31 += bv; b32 += bv; b33 += bv;
    // One store loop over the tile's rows and channel groups (not one call per row and
    // group): each call of `put_row` inlines 4 copies of `put_ch`, and those copies were
    // most of what llvmpipe spent compiling this entry point.
    let co1 = select(co0 + 4u, co0, COLS > 4u);
    let ox1 = select(ox0, ox0 + 4u, COLS > 4u);
    let groups = select(1u, 2u, CG > 1u || COLS > 4u);
    for (var i = 0u; i < ROWS * groups; i++) {
        let r = i % ROWS;
        let second = i >= ROWS;
        // Columns 4-7 of an 8-column tile past the row's end (rows of 12, 20...): none.
        if (second && ox1 >= p.out_w) { continue; }
        let q0 = select(pick4(r, a00, a10, a20, a30), pick4(r, b00, b10, b20, b30), second);
        let q1 = select(pick4(r, a01, a11, a21, a31), pick4(r, b01, b11, b21, b31), second);
        let q2 = select(pick4(r, a02, a12, a22, a32), pick4(r, b02, b12, b22, b32), second);
        let q3 = select(pick4(r, a03, a13, a23, a33), pick4(r, b03, b13, b23, b33), second);
        put_row(b, ks, select(co0, co1, second), oy0 + r, select(ox0, ox1, second), q0, q1, q2, q3);
    }
}

// The packed weights as scalars, for `single`: output channel `co` of reduction step `k`
// is `ws[k * wpad + co]`, `wpad` the channels rounded up to CONV_DIRECT_CO_PAD.
@group(0) @binding(2) var<storage, read> ws: array<f32>;

// The 10-value window of row `iy` of the plane at `base` from column `ix` (3 kernel
// columns of 8 output columns at stride 1). Aligned (ix + 1, the tile's first column, a
// multiple of 8 on rows of a multiple of 4), the middle 8 are two vector loads; the second
// is zero past the row (the right padding of the tile's fourth column).
fn win10(base: u32, iy: u32, ix: i32) -> array<f32, 10> {
    if (UNPADDED) {
        let i = (base + iy * p.in_w + u32(ix)) / 4u;
        let last = arrayLength(&xv) - 1u;
        let a = xv[i];
        let b = xv[min(i + 1u, last)];
        let c = xv[min(i + 2u, last)];
        return array<f32, 10>(a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w, c.x, c.y);
    }
    if (ALIGNED) {
        let i = (base + iy * p.in_w + u32(ix + 1)) / 4u;
        let a = xv[i];
        let inside = u32(ix + 5) < p.in_w;
        let b = select(vec4<f32>(0.0), xv[min(i + 1u, arrayLength(&xv) - 1u)], inside);
        return array<f32, 10>(xat(base, iy, ix), a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w,
                              xat(base, iy, ix + 9));
    }
    return array<f32, 10>(xat(base, iy, ix), xat(base, iy, ix + 1), xat(base, iy, ix + 2),
                          xat(base, iy, ix + 3), xat(base, iy, ix + 4), xat(base, iy, ix + 5),
                          xat(base, iy, ix + 6), xat(base, iy, ix + 7), xat(base, iy, ix + 8),
                          xat(base, iy, ix + 9));
}

// The 10-value window of row `iy` from column `ix` (the 8-column tile's first column minus
// 1), the `k`-th of the tile's window rows: with PAIRS (rows of 2 more than a multiple of
// 4, 14x14 planes), rows with k odd start on a vec4 and the window is two vectors and two
// values, rows with k even start 2 past one and it is the last 3 values of one vector, a
// whole one and the first 3 of a third; else `win10`. Columns past the row are zeroed
// (the right padding, and the next row's first values).
fn win10_pair(base: u32, iy: u32, ix: i32, k: u32) -> array<f32, 10> {
    if (!PAIRS) { return win10(base, iy, ix); }
    let s = base + iy * p.in_w + u32(ix + 1);
    let last = arrayLength(&xv) - 1u;
    let w = vec4<i32>(i32(p.in_w));
    let lo_in = vec4<i32>(ix + 1, ix + 2, ix + 3, ix + 4) < w;
    let hi_in = vec4<i32>(ix + 5, ix + 6, ix + 7, ix + 8) < w;
    var lo: vec4<f32>;
    var hi: vec4<f32>;
    var first: f32;
    var tenth: f32;
    if (k % 2u == 1u) {
        lo = xv[s / 4u];
        hi = xv[min(s / 4u + 1u, last)];
        first = xat(base, iy, ix);
        tenth = xat(base, iy, ix + 9);
    } else {
        let q = (s - 2u) / 4u;
        let a = xv[q];
        let b = xv[min(q + 1u, last)];
        let c = xv[min(q + 2u, last)];
        first = select(0.0, a.y, ix >= 0);
        lo = vec4<f32>(a.zw, b.xy);
        hi = vec4<f32>(b.zw, c.xy);
        // Past the row only where it feeds column 7, past the row too (never stored).
        tenth = c.z;
    }
    lo = select(vec4<f32>(0.0), lo, lo_in);
    hi = select(vec4<f32>(0.0), hi, hi_in);
    return array<f32, 10>(first, lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w, tenth);
}

// One kernel row (weights w.x, w.y, w.z) of a 3-wide stride-1 window into 8 output
// columns: c0 the first 4, c1 the next 4.
fn acc_row8(c0: ptr<function, vec4<f32>>, c1: ptr<function, vec4<f32>>,
            v: array<f32, 10>, w: vec3<f32>) {
    *c0 += vec4<f32>(v[0], v[1], v[2], v[3]) * w.x + vec4<f32>(v[1], v[2], v[3], v[4]) * w.y
         + vec4<f32>(v[2], v[3], v[4], v[5]) * w.z;
    *c1 += vec4<f32>(v[4], v[5], v[6], v[7]) * w.x + vec4<f32>(v[5], v[6], v[7], v[8]) * w.y
         + vec4<f32>(v[6], v[7], v[8], v[9]) * w.z;
}

// Output row `oy` (if inside) of channel `co` from column `ox0`: 8 pixels as two runs of
// 4, fewer at the row's end; `c0` and `c1` hold them with their bias.
fn put_row8(b: u32, ks: u32, co: u32, oy: u32, ox0: u32, c0: vec4<f32>, c1: vec4<f32>) {
    if (oy >= p.out_h) { return; }
    put_ch(b, ks, co, oy * p.out_w + ox0, min(4u, p.out_w - ox0), c0);
    if (ox0 + 4u < p.out_w) {
        put_ch(b, ks, co, oy * p.out_w + ox0 + 4u, min(4u, p.out_w - ox0 - 4u), c1);
    }
}

// Direct convolution of one or two output channels per thread (tiles of
// `DirectTile::single`, CG channels: outputs of 1 to 12 channels, which `main`'s vec4s of 4
// channels would mostly pad): each thread computes ROWS output rows x 8 output columns of
// channels `co` and (CG = 2) `co + 1`, accumulators vec4s over 4 columns, weights scalars.
// For 3x3 stride-1 kernels (SPEC = DIRECT_K3S1) each of the ROWS + 2 input rows is read
// once as a 10-value window serving the output rows it feeds, for both channels; every
// other shape takes the generic loop. CG_FAST: consecutive threads take consecutive
// channels (else consecutive pixel tiles); split-K as `main`.
@compute @workgroup_size(WG)
fn single(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * WG;
    let ncol = (p.out_w + 7u) / 8u;
    let ntiles = ncol * ((p.out_h + ROWS - 1u) / ROWS);
    let nco = (p.out_c + CG - 1u) / CG;
    var cgi = t % nco;
    var tile = t / nco;
    if (!CG_FAST) {
        tile = t % ntiles;
        cgi = t / ntiles;
    }
    if (tile >= ntiles || cgi >= nco) { return; }
    let co = cgi * CG;
    let b = select(gid.z, gid.z / p.k_splits, SPLIT);
    let ks = select(0u, gid.z % p.k_splits, SPLIT);
    let ox0 = (tile % ncol) * 8u;
    let oy0 = (tile / ncol) * ROWS;
    // Channels padded to a multiple of 8 (even): channel co + 1 of an even co is in the row.
    let wpad = (p.out_c + CONV_DIRECT_CO_PAD - 1u) / CONV_DIRECT_CO_PAD * CONV_DIRECT_CO_PAD;
    let ci_begin = ks * p.k_chunk;
    let ci_end = min(p.in_c, ci_begin + p.k_chunk);

    var c00 = vec4<f32>(0.0); var c01 = vec4<f32>(0.0);
    var c10 = vec4<f32>(0.0); var c11 = vec4<f32>(0.0);
    var c20 = vec4<f32>(0.0); var c21 = vec4<f32>(0.0);
    var c30 = vec4<f32>(0.0); var c31 = vec4<f32>(0.0);
    // The second channel (CG = 2).
    var d00 = vec4<f32>(0.0); var d01 = vec4<f32>(0.0);
    var d10 = vec4<f32>(0.0); var d11 = vec4<f32>(0.0);
    var d20 = vec4<f32>(0.0); var d21 = vec4<f32>(0.0);
    var d30 = vec4<f32>(0.0); var d31 = vec4<f32>(0.0);

    let plane = p.in_h * p.in_w;
    let sx = i32(p.stride_w);
    for (var ci = ci_begin; ci < ci_end; ci++) {
        let base = (b * p.in_c + ci) * plane;
        if (SPEC == DIRECT_K3S1) {
            let k0 = ci * 9u * wpad + co;
            let w0 = vec3<f32>(ws[k0], ws[k0 + wpad], ws[k0 + 2u * wpad]);
            let w1 = vec3<f32>(ws[k0 + 3u * wpad], ws[k0 + 4u * wpad], ws[k0 + 5u * wpad]);
            let w2 = vec3<f32>(ws[k0 + 6u * wpad], ws[k0 + 7u * wpad], ws[k0 + 8u * wpad]);
            var u0 = vec3<f32>(0.0);
            var u1 = vec3<f32>(0.0);
            var u2 = vec3<f32>(0.0);
            if (CG > 1u) {
                let k1 = k0 + 1u;
                u0 = vec3<f32>(ws[k1], ws[k1 + wpad], ws[k1 + 2u * wpad]);
                u1 = vec3<f32>(ws[k1 + 3u * wpad], ws[k1 + 4u * wpad], ws[k1 + 5u * wpad]);
                u2 = vec3<f32>(ws[k1 + 6u * wpad], ws[k1 + 7u * wpad], ws[k1 + 8u * wpad]);
            }
            let ix = i32(ox0) - i32(p.pad_w);
            let iy0 = i32(oy0) - i32(p.pad_h);
            // Input row r feeds output row r - ky with kernel row ky (unrolled).
            if (iy0 >= 0 && iy0 < i32(p.in_h)) {
                let v = win10(base, u32(iy0), ix);
                acc_row8(&c00, &c01, v, w0);
                if (CG > 1u) { acc_row8(&d00, &d01, v, u0); }
            }
            if (iy0 + 1 >= 0 && iy0 + 1 < i32(p.in_h)) {
                let v = win10(base, u32(iy0 + 1), ix);
                if (ROWS > 1u) { acc_row8(&c10, &c11, v, w0); }
                acc_row8(&c00, &c01, v, w1);
                if (CG > 1u) {
                    if (ROWS > 1u) { acc_row8(&d10, &d11, v, u0); }
                    acc_row8(&d00, &d01, v, u1);
                }
            }
            if (iy0 + 2 >= 0 && iy0 + 2 < i32(p.in_h)) {
                let v = win10(base, u32(iy0 + 2), ix);
                if (ROWS > 2u) { acc_row8(&c20, &c21, v, w0); }
                if (ROWS > 1u) { acc_row8(&c10, &c11, v, w1); }
                acc_row8(&c00, &c01, v, w2);
                if (CG > 1u) {
                    if (ROWS > 2u) { acc_row8(&d20, &d21, v, u0); }
                    if (ROWS > 1u) { acc_row8(&d10, &d11, v, u1); }
                    acc_row8(&d00, &d01, v, u2);
                }
            }
            if (ROWS > 1u && iy0 + 3 >= 0 && iy0 + 3 < i32(p.in_h)) {
                let v = win10(base, u32(iy0 + 3), ix);
                if (ROWS > 3u) { acc_row8(&c30, &c31, v, w0); }
                if (ROWS > 2u) { acc_row8(&c20, &c21, v, w1); }
                acc_row8(&c10, &c11, v, w2);
                if (CG > 1u) {
                    if (ROWS > 3u) { acc_row8(&d30, &d31, v, u0); }
                    if (ROWS > 2u) { acc_row8(&d20, &d21, v, u1); }
                    acc_row8(&d10, &d11, v, u2);
                }
            }
            if (ROWS > 2u && iy0 + 4 >= 0 && iy0 + 4 < i32(p.in_h)) {
                let v = win10(base, u32(iy0 + 4), ix);
                if (ROWS > 3u) { acc_row8(&c30, &c31, v, w1); }
                acc_row8(&c20, &c21, v, w2);
                if (CG > 1u) {
                    if (ROWS > 3u) { acc_row8(&d30, &d31, v, u1); }
                    acc_row8(&d20, &d21, v, u2);
                }
            }
            if (ROWS > 3u && iy0 + 5 >= 0 && iy0 + 5 < i32(p.in_h)) {
                let v = win10(base, u32(iy0 + 5), ix);
                acc_row8(&c30, &c31, v, w2);
                if (CG > 1u) { acc_row8(&d30, &d31, v, u2); }
            }
            continue;
        }
        for (var ky = 0u; ky < p.kh; ky++) {
            let iy0 = i32(oy0 * p.stride_h + ky) - i32(p.pad_h);
            let dy = i32(p.stride_h);
            let ok0 = iy0 >= 0 && iy0 < i32(p.in_h);
            let ok1 = ROWS > 1u && iy0 + dy >= 0 && iy0 + dy < i32(p.in_h);
            let ok2 = ROWS > 2u && iy0 + 2 * dy >= 0 && iy0 + 2 * dy < i32(p.in_h);
            let ok3 = ROWS > 3u && iy0 + 3 * dy >= 0 && iy0 + 3 * dy < i32(p.in_h);
            let krow = (ci * p.kh + ky) * p.kw;
            for (var kx = 0u; kx < p.kw; kx++) {
                let w = ws[(krow + kx) * wpad + co];
                var u = 0.0;
                if (CG > 1u) { u = ws[(krow + kx) * wpad + co + 1u]; }
                let ix = i32(ox0 * p.stride_w + kx) - i32(p.pad_w);
                let ix4 = ix + 4 * sx;
                if (ok0) {
                    let lo = strided4(base, u32(iy0), ix, sx);
                    let hi = strided4(base, u32(iy0), ix4, sx);
                    c00 += lo * w; c01 += hi * w;
                    if (CG > 1u) { d00 += lo * u; d01 += hi * u; }
                }
                if (ok1) {
                    let lo = strided4(base, u32(iy0 + dy), ix, sx);
                    let hi = strided4(base, u32(iy0 + dy), ix4, sx);
                    c10 += lo * w; c11 += hi * w;
                    if (CG > 1u) { d10 += lo * u; d11 += hi * u; }
                }
                if (ok2) {
                    let lo = strided4(base, u32(iy0 + 2 * dy), ix, sx);
                    let hi = strided4(base, u32(iy0 + 2 * dy), ix4, sx);
                    c20 += lo * w; c21 += hi * w;
                    if (CG > 1u) { d20 += lo * u; d21 += hi * u; }
                }
                if (ok3) {
                    let lo = strided4(base, u32(iy0 + 3 * dy), ix, sx);
                    let hi = strided4(base, u32(iy0 + 3 * dy), ix4, sx);
                    c30 += lo * w; c31 += hi * w;
                    if (CG > 1u) { d30 += lo * u; d31 += hi * u; }
                }
            }
        }
    }

    // One store loop over the rows and channels (see `main`'s); put_ch skips a second
    // channel past the last.
    for (var i = 0u; i < ROWS * CG; i++) {
        let r = i % ROWS;
        let ch = co + i / ROWS;
        var bw = 0.0;
        if (p.has_bias != 0u && !SPLIT && ch < p.out_c) { bw = bias[ch]; }
        let second = i >= ROWS;
        put_row8(b, ks, ch, oy0 + r, ox0,
                 select(pick4(r, c00, c10, c20, c30), pick4(r, d00, d10, d20, d30), second) + bw,
                 select(pick4(r, c01, c11, c21, c31), pick4(r, d01, d11, d21, d31), second) + bw);
    }
}

// The repacked weights `pack_weights` writes (the output binding, as scalars).
@group(0) @binding(5) var<storage, read_write> packed: array<f32>;

// Repacks [out_c][k] weights (bound as `x`) into [k][out_c rounded up to
// CONV_DIRECT_CO_PAD] (bound as `packed`), zero in the padding channels: one thread per
// packed value, run once when a dispatch is built, never per inference.
@compute @workgroup_size(WG_1D)
fn pack_weights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * WG_1D;
    let cpad = (p.out_c + CONV_DIRECT_CO_PAD - 1u) / CONV_DIRECT_CO_PAD * CONV_DIRECT_CO_PAD;
    let k_total = p.in_c * p.kh * p.kw;
    if (idx >= k_total * cpad) { return; }
    let k = idx / cpad;
    let co = idx % cpad;
    var v = 0.0;
    if (co < p.out_c) { v = x[co * k_total + k]; }
    packed[idx] = v;
}

// Space-to-depth lowering of a strided convolution (`tiling::s2d_shape`), `p` being the
// original convolution's parameters (stride f both ways): the lowered input's rows and
// columns, `out_h + ceil(kh / f) - 1` by `out_w + ceil(kw / f) - 1` rounded up to a
// multiple of 4.
fn s2d_dims() -> vec2<u32> {
    let f = p.stride_h;
    let h = p.out_h + (p.kh + f - 1u) / f - 1u;
    let w = (p.out_w + (p.kw + f - 1u) / f - 1u + 3u) / 4u * 4u;
    return vec2<u32>(h, w);
}

// Lays each f x f block of the input (bound as `x`) out as f * f channels (written to
// `packed`): channel ci * f * f + py * f + px, row r, column c holds input row r f + py -
// pad_h, column c f + px - pad_w, 0 outside the input. One thread per value written, in
// front of the lowered convolution in the same submission.
@compute @workgroup_size(WG_1D)
fn space_to_depth(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * WG_1D;
    let f = p.stride_h;
    let d = s2d_dims();
    let plane = d.x * d.y;
    let channels = p.in_c * f * f;
    if (idx >= p.batch * channels * plane) { return; }
    let c = idx % d.y;
    let r = (idx / d.y) % d.x;
    let ch = (idx / plane) % channels;
    let b = idx / (plane * channels);
    let ci = ch / (f * f);
    let iy = i32(r * f + (ch / f) % f) - i32(p.pad_h);
    let ix = i32(c * f + ch % f) - i32(p.pad_w);
    var v = 0.0;
    if (iy >= 0 && iy < i32(p.in_h) && ix >= 0 && ix < i32(p.in_w)) {
        v = x[((b * p.in_c + ci) * p.in_h + u32(iy)) * p.in_w + u32(ix)];
    }
    packed[idx] = v;
}

// `pack_weights` for the lowered convolution of `space_to_depth` (`p` the original's):
// [out_c][in_c][kh][kw] weights (bound as `x`) into [k'][out_c rounded up to
// CONV_DIRECT_CO_PAD], k' running over the lowered channels and ceil(kh / f) x
// ceil(kw / f) taps; lowered tap (ky', kx') of channel (ci, py, px) is the original tap
// (ky' f + py, kx' f + px), 0 past the kernel.
@compute @workgroup_size(WG_1D)
fn pack_weights_s2d(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let idx = gid.x + gid.y * nwg.x * WG_1D;
    let f = p.stride_h;
    let kh = (p.kh + f - 1u) / f;
    let kw = (p.kw + f - 1u) / f;
    let cpad = (p.out_c + CONV_DIRECT_CO_PAD - 1u) / CONV_DIRECT_CO_PAD * CONV_DIRECT_CO_PAD;
    if (idx >= p.in_c * f * f * kh * kw * cpad) { return; }
    let k = idx / cpad;
    let co = idx % cpad;
    let ch = k / (kh * kw);
    let ky = (k / kw) % kh * f + (ch / f) % f;
    let kx = k % kw * f + ch % f;
    var v = 0.0;
    if (co < p.out_c && ky < p.kh && kx < p.kw) {
        v = x[((co * p.in_c + ch / (f * f)) * p.kh + ky) * p.kw + kx];
    }
    packed[idx] = v;
}

// The same inputs and outputs seen as vec4s of 4 consecutive pixels (pointwise layers whose
// planes hold a multiple of 4 pixels, so that every plane starts on a vec4).
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;

// The 4 consecutive input pixels from `pix` of the plane at `base` (pointwise), 0 past the
// plane: one vector load where planes are vec4-aligned (SPEC = DIRECT_PW4), else the two
// vectors that hold them, shifted (two vector loads cost a CPU adapter less than 4 scalar
// ones).
fn pixels4(base: u32, pix: u32, plane: u32) -> vec4<f32> {
    if (SPEC == DIRECT_PW4) {
        return x4[(base + pix) / 4u];
    }
    let i = base + pix;
    let lo = x4[i / 4u];
    let hi = x4[min(i / 4u + 1u, arrayLength(&x4) - 1u)];
    return run4(lo, hi, i % 4u, pix, plane);
}

// The 4 values from offset `r` of the 8 in `lo`, `hi`, those at pixels from `pix` past the
// plane zeroed.
fn run4(lo: vec4<f32>, hi: vec4<f32>, r: u32, pix: u32, plane: u32) -> vec4<f32> {
    let inside = pix + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(plane);
    return select(vec4<f32>(0.0), shift4(lo, hi, r), inside);
}

// The even values of the two vectors from vector `q` (a run of 4 outputs of a 1x1
// stride-2 convolution, SPEC = DIRECT_PS2); past the buffer the last vector is read.
fn evens4(q: u32) -> vec4<f32> {
    let last = arrayLength(&x4) - 1u;
    let a = x4[min(q, last)];
    let b = x4[min(q + 1u, last)];
    return vec4<f32>(a.x, a.z, b.x, b.z);
}

// a_j += xs[j] * w + ys[j] * u: two input channels' values of 4 output columns, times
// their weights for 4 output channels.
fn acc4x2(a0: ptr<function, vec4<f32>>, a1: ptr<function, vec4<f32>>,
          a2: ptr<function, vec4<f32>>, a3: ptr<function, vec4<f32>>,
          xs: vec4<f32>, w: vec4<f32>, ys: vec4<f32>, u: vec4<f32>) {
    *a0 += xs.x * w + ys.x * u;
    *a1 += xs.y * w + ys.y * u;
    *a2 += xs.z * w + ys.z * u;
    *a3 += xs.w * w + ys.w * u;
}

// The weights of input channel `ci` for the thread's CG groups of 4 output channels from
// group `wc` (zero where CG has fewer, or where `use_it` is false). Groups 3 and 4 of the
// last channel group may lie in the padding of a row padded to 8 channels: the index is
// clamped (those channels are never stored).
fn pw_weights(ci: u32, wstride: u32, wc: u32, use_it: bool) -> array<vec4<f32>, 4> {
    let k = ci * wstride + wc;
    let last = arrayLength(&wt) - 1u;
    var w = array<vec4<f32>, 4>(wt[k], vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    if (CG > 1u) { w[1] = wt[k + 1u]; }
    if (CG > 2u) {
        w[2] = wt[min(k + 2u, last)];
        w[3] = wt[min(k + 3u, last)];
    }
    let z = vec4<f32>(0.0);
    return array<vec4<f32>, 4>(select(z, w[0], use_it), select(z, w[1], use_it),
                               select(z, w[2], use_it), select(z, w[3], use_it));
}

// The thread's ROWS runs of 4 pixels from `pix0` in input channel `ci` of sample `b`
// (`s2at`: where each run starts in the plane, in vec4s, for DIRECT_PS2). Every run is
// read, those past the plane too (in bounds, their sums never stored): accumulating under
// a per-thread condition costs a CPU adapter a masked store of every accumulator it
// touches.
fn pw_runs(b: u32, ci: u32, in_plane: u32, pix0: u32, plane: u32,
           s2at: vec4<u32>) -> array<vec4<f32>, 4> {
    let base = (b * p.in_c + ci) * in_plane;
    let last = arrayLength(&x4) - 1u;
    if (SPEC == DIRECT_PS2) {
        let q = base / 4u + s2at;
        return array<vec4<f32>, 4>(evens4(q.x), evens4(q.y), evens4(q.z), evens4(q.w));
    }
    if (SPEC == DIRECT_PW4) {
        let q = (base + pix0) / 4u;
        return array<vec4<f32>, 4>(x4[q], x4[min(q + 1u, last)], x4[min(q + 2u, last)],
                                   x4[min(q + 3u, last)]);
    }
    // Unaligned runs (planes of 49 pixels) share their boundary vectors: ROWS + 1 vector
    // loads serve the ROWS runs, not 2 per run.
    let i = base + pix0;
    let q = i / 4u;
    let r = i % 4u;
    let c0 = x4[q];
    let c1 = x4[min(q + 1u, last)];
    let c2 = x4[min(q + 2u, last)];
    let c3 = x4[min(q + 3u, last)];
    return array<vec4<f32>, 4>(run4(c0, c1, r, pix0, plane), run4(c1, c2, r, pix0 + 4u, plane),
                               run4(c2, c3, r, pix0 + 8u, plane),
                               run4(c3, x4[min(q + 4u, last)], r, pix0 + 12u, plane));
}

// Pointwise (1x1, stride 1, no padding) convolution as a GEMM over flat pixels: a thread's
// ROWS "rows" are ROWS runs of 4 consecutive pixels, so inputs are whole vec4 loads (or 4
// contiguous ones) and no kernel-window arithmetic is left. 1x1 convolutions at stride 2
// on rows a multiple of 4 wide (SPEC = DIRECT_PS2, ResNet's downsampling shortcuts) take
// it too, each run the even values of two vector loads. Tile, channel groups, lane
// mapping and split-K as `main`.
@compute @workgroup_size(WG)
fn pointwise(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * WG;
    let cgroups = (p.out_c + 4u * CG - 1u) / (4u * CG);
    let plane = p.out_h * p.out_w;
    let ntiles = ((plane + 3u) / 4u + ROWS - 1u) / ROWS;
    var cgi = t % cgroups;
    var tile = t / cgroups;
    if (!CG_FAST) {
        tile = t % ntiles;
        cgi = t / ntiles;
    }
    if (tile >= ntiles || cgi >= cgroups) { return; }
    let b = select(gid.z, gid.z / p.k_splits, SPLIT);
    let ks = select(0u, gid.z % p.k_splits, SPLIT);
    let pix0 = tile * ROWS * 4u;
    let wstride = (p.out_c + CONV_DIRECT_CO_PAD - 1u) / CONV_DIRECT_CO_PAD * (CONV_DIRECT_CO_PAD / 4u);
    let wc = cgi * CG;
    let ci_begin = ks * p.k_chunk;
    let ci_end = min(p.in_c, ci_begin + p.k_chunk);

    var a00 = vec4<f32>(0.0); var a01 = vec4<f32>(0.0); var a02 = vec4<f32>(0.0); var a03 = vec4<f32>(0.0);
    var a10 = vec4<f32>(0.0); var a11 = vec4<f32>(0.0); var a12 = vec4<f32>(0.0); var a13 = vec4<f32>(0.0);
    var a20 = vec4<f32>(0.0); var a21 = vec4<f32>(0.0); var a22 = vec4<f32>(0.0); var a23 = vec4<f32>(0.0);
    var a30 = vec4<f32>(0.0); var a31 = vec4<f32>(0.0); var a32 = vec4<f32>(0.0); var a33 = vec4<f32>(0.0);
    var b00 = vec4<f32>(0.0); var b01 = vec4<f32>(0.0); var b02 = vec4<f32>(0.0); var b03 = vec4<f32>(0.0);
    var b10 = vec4<f32>(0.0); var b11 = vec4<f32>(0.0); var b12 = vec4<f32>(0.0); var b13 = vec4<f32>(0.0);
    var b20 = vec4<f32>(0.0); var b21 = vec4<f32>(0.0); var b22 = vec4<f32>(0.0); var b23 = vec4<f32>(0.0);
    var b30 = vec4<f32>(0.0); var b31 = vec4<f32>(0.0); var b32 = vec4<f32>(0.0); var b33 = vec4<f32>(0.0);
    // The third and fourth channel groups (CG = 4, this entry point only, not for FC).
    var c00 = vec4<f32>(0.0); var c01 = vec4<f32>(0.0); var c02 = vec4<f32>(0.0); var c03 = vec4<f32>(0.0);
    var c10 = vec4<f32>(0.0); var c11 = vec4<f32>(0.0); var c12 = vec4<f32>(0.0); var c13 = vec4<f32>(0.0);
    var c20 = vec4<f32>(0.0); var c21 = vec4<f32>(0.0); var c22 = vec4<f32>(0.0); var c23 = vec4<f32>(0.0);
    var c30 = vec4<f32>(0.0); var c31 = vec4<f32>(0.0); var c32 = vec4<f32>(0.0); var c33 = vec4<f32>(0.0);
    var d00 = vec4<f32>(0.0); var d01 = vec4<f32>(0.0); var d02 = vec4<f32>(0.0); var d03 = vec4<f32>(0.0);
    var d10 = vec4<f32>(0.0); var d11 = vec4<f32>(0.0); var d12 = vec4<f32>(0.0); var d13 = vec4<f32>(0.0);
    var d20 = vec4<f32>(0.0); var d21 = vec4<f32>(0.0); var d22 = vec4<f32>(0.0); var d23 = vec4<f32>(0.0);
    var d30 = vec4<f32>(0.0); var d31 = vec4<f32>(0.0); var d32 = vec4<f32>(0.0); var d33 = vec4<f32>(0.0);

    if (SPEC == DIRECT_FC) {
        // A fully connected layer: one pixel, 4 inputs per vector load of the sample's
        // row (in_c is a multiple of 4), each times 4 (or 8) outputs' weights.
        for (var ci = ci_begin; ci < ci_end; ci += 4u) {
            let xv = x4[(b * p.in_c + ci) / 4u];
            let k = ci * wstride + wc;
            a00 += xv.x * wt[k] + xv.y * wt[k + wstride] + xv.z * wt[k + 2u * wstride] + xv.w * wt[k + 3u * wstride];
            if (CG > 1u) {
                b00 += xv.x * wt[k + 1u] + xv.y * wt[k + wstride + 1u] + xv.z * wt[k + 2u * wstride + 1u] + xv.w * wt[k + 3u * wstride + 1u];
            }
        }
        let z = vec4<f32>(0.0);
        put4(b, ks, wc * 4u, 0u, 1u, a00 + bias4(wc * 4u), z, z, z);
        if (CG > 1u) { put4(b, ks, wc * 4u + 4u, 0u, 1u, b00 + bias4(wc * 4u + 4u), z, z, z); }
        return;
    }
    // Runs past the plane (the last tile) are skipped; within a run, pixels4 zeroes them.
    let ok1 = ROWS > 1u && pix0 + 4u < plane;
    let ok2 = ROWS > 2u && pix0 + 8u < plane;
    let ok3 = ROWS > 3u && pix0 + 12u < plane;
    // 1x1 at stride 2 (SPEC = DIRECT_PS2): where each run's inputs start in an input
    // plane, in vec4s (rows a multiple of 4 wide on both sides: a run stays in its row,
    // and its 8 inputs are two whole vectors), computed once, not per input channel.
    var s2at = vec4<u32>(0u);
    if (SPEC == DIRECT_PS2) {
        let run = pix0 + vec4<u32>(0u, 4u, 8u, 12u);
        let oy = run / p.out_w;
        s2at = (2u * oy * p.in_w + 2u * (run - oy * p.out_w)) / 4u;
    }
    let in_plane = p.in_h * p.in_w;
    // Two input channels per step, each accumulator updated by one sum of two products:
    // a CPU adapter keeps few of the 16 to 64 accumulators in registers, so each update
    // is a load and a store of it, now once per two multiply-adds. An odd last channel
    // pairs with a copy of itself whose weights are zero.
    for (var ci = ci_begin; ci < ci_end; ci += 2u) {
        let cj = min(ci + 1u, ci_end - 1u);
        let xa = pw_runs(b, ci, in_plane, pix0, plane, s2at);
        let xb = pw_runs(b, cj, in_plane, pix0, plane, s2at);
        let wa = pw_weights(ci, wstride, wc, true);
        let wb = pw_weights(cj, wstride, wc, ci + 1u < ci_end);
        acc4x2(&a00, &a01, &a02, &a03, xa[0], wa[0], xb[0], wb[0]);
        if (CG > 1u) { acc4x2(&b00, &b01, &b02, &b03, xa[0], wa[1], xb[0], wb[1]); }
        if (CG > 2u) {
            acc4x2(&c00, &c01, &c02, &c03, xa[0], wa[2], xb[0], wb[2]);
            acc4x2(&d00, &d01, &d02, &d03, xa[0], wa[3], xb[0], wb[3]);
        }
        if (ROWS > 1u) {
            acc4x2(&a10, &a11, &a12, &a13, xa[1], wa[0], xb[1], wb[0]);
            if (CG > 1u) { acc4x2(&b10, &b11, &b12, &b13, xa[1], wa[1], xb[1], wb[1]); }
            if (CG > 2u) {
                acc4x2(&c10, &c11, &c12, &c13, xa[1], wa[2], xb[1], wb[2]);
                acc4x2(&d10, &d11, &d12, &d13, xa[1], wa[3], xb[1], wb[3]);
            }
        }
        if (ROWS > 2u) {
            acc4x2(&a20, &a21, &a22, &a23, xa[2], wa[0], xb[2], wb[0]);
            if (CG > 1u) { acc4x2(&b20, &b21, &b22, &b23, xa[2], wa[1], xb[2], wb[1]); }
            if (CG > 2u) {
                acc4x2(&c20, &c21, &c22, &c23, xa[2], wa[2], xb[2], wb[2]);
                acc4x2(&d20, &d21, &d22, &d23, xa[2], wa[3], xb[2], wb[3]);
            }
        }
        if (ROWS > 3u) {
            acc4x2(&a30, &a31, &a32, &a33, xa[3], wa[0], xb[3], wb[0]);
            if (CG > 1u) { acc4x2(&b30, &b31, &b32, &b33, xa[3], wa[1], xb[3], wb[1]); }
            if (CG > 2u) {
                acc4x2(&c30, &c31, &c32, &c33, xa[3], wa[2], xb[3], wb[2]);
                acc4x2(&d30, &d31, &d32, &d33, xa[3], wa[3], xb[3], wb[3]);
            }
        }
    }

    // One store loop over the runs and channel groups (see `main`'s; one call of
    // `put_runs` per group inlined 16 copies of `put_ch`).
    let co0 = wc * 4u;
    for (var i = 0u; i < 4u * CG; i++) {
        let g = i / 4u;
        let r = i % 4u;
        if ((r == 1u && !ok1) || (r == 2u && !ok2) || (r == 3u && !ok3)) { continue; }
        let co = co0 + 4u * g;
        let v = bias4(co);
        let pix = pix0 + 4u * r;
        let n = min(4u, plane - pix);
        put4(b, ks, co, pix, n,
             pick4(g, pick4(r, a00, a10, a20, a30), pick4(r, b00, b10, b20, b30),
                   pick4(r, c00, c10, c20, c30), pick4(r, d00, d10, d20, d30)) + v,
             pick4(g, pick4(r, a01, a11, a21, a31), pick4(r, b01, b11, b21, b31),
                   pick4(r, c01, c11, c21, c31), pick4(r, d01, d11, d21, d31)) + v,
             pick4(g, pick4(r, a02, a12, a22, a32), pick4(r, b02, b12, b22, b32),
                   pick4(r, c02, c12, c22, c32), pick4(r, d02, d12, d22, d32)) + v,
             pick4(g, pick4(r, a03, a13, a23, a33), pick4(r, b03, b13, b23, b33),
                   pick4(r, c03, c13, c23, c33), pick4(r, d03, d13, d23, d33)) + v);
    }
}
