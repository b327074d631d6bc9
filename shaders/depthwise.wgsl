// Depthwise convolution (groups = in_c = out_c): each thread computes DEPTHWISE_ROWS
// output rows x 4 output columns (8 if WIDE) of one channel, with fused bias, residual add and
// activation. Its accumulators are named vec4s over the 4 columns; the channel's kernel
// is read once per thread. A depthwise layer does little arithmetic per value it reads,
// so the loops read each input value as few times as the kernel's shape allows: for 3x3
// kernels at stride 1 (SPEC = DIRECT_K3S1) a 6-value window of each of the ROWS + 2 input
// rows serves all output rows it feeds; at stride 2 (DIRECT_K3S2) a 9-value window of each
// of the 2 ROWS + 1 input rows does (WIDE: a 10-value window of each row serves 8 columns
// at stride 1). Other kernels take the generic loop. Consecutive
// threads take consecutive pixel tiles of a channel, then channels, then samples. It takes
// conv2d.wgsl's ConvParams (from the prelude) and ignores the split-K fields and the
// activation and residual flags (the pipeline constants ACT and RES say them).

override SPEC: u32 = DIRECT_GENERIC;
// Input rows start on a vec4 (width a multiple of 4) and the 3x3 windows' padding is 1:
// the middle of each window row is whole vector loads from `x4`, the same buffer as `x`.
override ALIGNED: bool = false;
// Input rows 2 more than a multiple of 4 wide (14) on planes of a multiple of 4 values, the
// windows' padding 1: a tile's window rows (from an odd row: tiles start on rows of a
// multiple of 4, times the stride) start alternately 2 past a vec4 and on one, both read
// as vector loads (`win6_pair`, `win9_pair`). Excludes ALIGNED.
override PAIRS: bool = false;
override OUT_ALIGNED: bool = false;
// 3x3 stride-1 windows: each thread computes 8 output columns instead of 4, so that one
// 10-value window of each input row (on ALIGNED rows two vector loads and two values, in
// PAIRS three vector loads or two and two values) serves 8 outputs of up to 3 rows.
override WIDE: bool = false;
// WIDE tiles on output rows 6 more than a multiple of 8 wide (14) on planes of a multiple
// of 4 values: a tile's even rows start on a vec4 and its odd rows 2 past one, and the
// first half of every tile is whole, so even rows store it as one vector, and odd rows the
// vector their two halves share (`put_pair`).
override OUT_PAIRS: bool = false;
// WIDE tiles on rows of up to 8 (one tile a row: 7x7 planes), padding 1: each input row,
// wherever it starts, is read as the three vectors that hold it, shifted by its offset
// (the prelude's `shift4`), not as 10 masked scalar loads (see `win10`). Excludes ALIGNED
// and PAIRS.
override SHIFTED: bool = false;
// The fused activation's code and whether a residual is added, as pipeline constants:
// CPU implementations run both sides of a branch on a uniform value masked, so a runtime
// `p.act` would evaluate every activation (exp, tanh, erf) for every output.
override ACT: u32 = 0u;
override RES: bool = false;
// The layer's plane sizes and channels as pipeline constants when nonzero (else from `p`):
// divisions and bounds by constants compile to multiplies and compares, where a CPU
// implementation divides lane by lane.
override IN_H: u32 = 0u;
override IN_W: u32 = 0u;
override OUT_H: u32 = 0u;
override OUT_W: u32 = 0u;
override CHANNELS: u32 = 0u;

fn in_h() -> u32 { return select(p.in_h, IN_H, IN_H != 0u); }
fn in_w() -> u32 { return select(p.in_w, IN_W, IN_W != 0u); }
fn out_h() -> u32 { return select(p.out_h, OUT_H, OUT_H != 0u); }
fn out_w() -> u32 { return select(p.out_w, OUT_W, OUT_W != 0u); }
fn channels() -> u32 { return select(p.out_c, CHANNELS, CHANNELS != 0u); }

const_assert DEPTHWISE_ROWS == 4u;

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
// Outputs and residuals as vec4s: rows of 4 outputs are one vector store where output
// rows start on a vec4 (OUT_ALIGNED: output width a multiple of 4), else 4 component
// stores.
@group(0) @binding(4) var<storage, read> res: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> x4: array<vec4<f32>>;

// The input at row `iy` (in range) and column `ix` of the plane at `base`; 0 in the
// padding. The index is clamped so that the load itself never leaves the row.
fn xat(base: u32, iy: u32, ix: i32) -> f32 {
    let inside = ix >= 0 && ix < i32(in_w());
    let v = x[base + iy * in_w() + u32(clamp(ix, 0, i32(in_w()) - 1))];
    return select(0.0, v, inside);
}

fn row_ok(iy: i32) -> bool {
    return iy >= 0 && iy < i32(in_h());
}

// Row `r` of the 3x3 kernel whose weights start at `kw0`.
fn krow(kw0: u32, r: u32) -> vec3<f32> {
    return vec3<f32>(wt[kw0 + 3u * r], wt[kw0 + 3u * r + 1u], wt[kw0 + 3u * r + 2u]);
}

// One kernel row of a 3x3 stride-1 window (6 values) into 4 output columns.
fn s1(lo: vec4<f32>, hi: vec2<f32>, w: vec3<f32>) -> vec4<f32> {
    return lo * w.x + vec4<f32>(lo.yzw, hi.x) * w.y + vec4<f32>(lo.zw, hi) * w.z;
}

// The row `iy` of the plane at `base` from column `ix` on: 6 values (stride 1) ...
fn win6(base: u32, iy: u32, ix: i32) -> array<f32, 6> {
    if (ALIGNED) {
        // ix + 1 is the tile's first column, a multiple of 4.
        let c = x4[(base + iy * in_w() + u32(ix + 1)) / 4u];
        return array<f32, 6>(xat(base, iy, ix), c.x, c.y, c.z, c.w, xat(base, iy, ix + 5));
    }
    return array<f32, 6>(xat(base, iy, ix), xat(base, iy, ix + 1), xat(base, iy, ix + 2),
                         xat(base, iy, ix + 3), xat(base, iy, ix + 4), xat(base, iy, ix + 5));
}

// ... or 9 values (stride 2). Aligned, columns past the row (read only for output columns
// past the output row, which are never stored) come from the next row or, past the buffer,
// the last vector.
fn win9(base: u32, iy: u32, ix: i32) -> array<f32, 9> {
    if (ALIGNED) {
        let i = (base + iy * in_w() + u32(ix + 1)) / 4u;
        let last = arrayLength(&x4) - 1u;
        let a = x4[min(i, last)];
        let b = x4[min(i + 1u, last)];
        return array<f32, 9>(xat(base, iy, ix), a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w);
    }
    return array<f32, 9>(xat(base, iy, ix), xat(base, iy, ix + 1), xat(base, iy, ix + 2),
                         xat(base, iy, ix + 3), xat(base, iy, ix + 4), xat(base, iy, ix + 5),
                         xat(base, iy, ix + 6), xat(base, iy, ix + 7), xat(base, iy, ix + 8));
}

// The 6-value window of row `iy` from column `ix`, the `k`-th of the tile's window rows
// (a constant): with PAIRS, k odd starts on a vec4 (one vector and two values), k even 2
// past one (the last 3 values of a vector and the first 3 of the next); else `win6`.
// Columns outside the row are zeroed where they feed a stored output: the left padding,
// and the right padding of the row's last tile (columns ox0 + 3 and ox0 + 4 there feed
// only output columns past the row).
fn win6_pair(base: u32, iy: u32, ix: i32, k: u32) -> array<f32, 6> {
    if (!PAIRS) { return win6(base, iy, ix); }
    let s = base + iy * in_w() + u32(ix + 1);
    let w = i32(in_w());
    if (k % 2u == 1u) {
        let c = x4[s / 4u];
        return array<f32, 6>(xat(base, iy, ix), c.x, c.y, select(0.0, c.z, ix + 3 < w), c.w,
                             xat(base, iy, ix + 5));
    }
    let a = x4[(s - 2u) / 4u];
    let b = x4[min((s - 2u) / 4u + 1u, arrayLength(&x4) - 1u)];
    return array<f32, 6>(select(0.0, a.y, ix >= 0), a.z, a.w, select(0.0, b.x, ix + 3 < w),
                         b.y, b.z);
}

// The 9-value window of row `iy` from column `ix` at stride 2, the `k`-th of the tile's
// window rows: with PAIRS, k odd starts on a vec4 (a value and two vectors), k even 2 past
// one (3 vectors); else `win9`. Only the left padding is zeroed: on even rows at stride 2
// and padding 1 a stored output reads at most the row's last column.
fn win9_pair(base: u32, iy: u32, ix: i32, k: u32) -> array<f32, 9> {
    if (!PAIRS) { return win9(base, iy, ix); }
    let s = base + iy * in_w() + u32(ix + 1);
    let last = arrayLength(&x4) - 1u;
    if (k % 2u == 1u) {
        let a = x4[s / 4u];
        let b = x4[min(s / 4u + 1u, last)];
        return array<f32, 9>(xat(base, iy, ix), a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w);
    }
    let q = (s - 2u) / 4u;
    let a = x4[q];
    let b = x4[min(q + 1u, last)];
    let c = x4[min(q + 2u, last)];
    return array<f32, 9>(select(0.0, a.y, ix >= 0), a.z, a.w, b.x, b.y, b.z, b.w, c.x, c.y);
}

// The 10-value window of row `iy` from column `ix` (the tile's first column minus 1; tiles
// start on columns of a multiple of 8), the `k`-th of the tile's window rows, for the 8
// output columns of a WIDE tile: values 0-5 feed its first half, 4-9 its second. A value
// at the column just past the row (the right padding) feeds a stored output and is
// zeroed; those further right feed only outputs past the row, never stored. ALIGNED: the
// value before two vectors and the one after (the padding can only be value 5 or 9).
// PAIRS (rows 2 more than a multiple of 4 wide): as `win6_pair`, rows with k odd start on
// a vec4 (a value, two vectors, a value), with k even 2 past one (three vectors); the
// padding can only be value 3 or 7. SHIFTED (rows of up to 8, one tile each): the row's
// vectors, shifted. Else 10 values.
fn win10(base: u32, iy: u32, ix: i32, k: u32) -> array<f32, 10> {
    let w = i32(in_w());
    let s = base + iy * in_w() + u32(ix + 1);
    let last = arrayLength(&x4) - 1u;
    if (ALIGNED) {
        let a = x4[s / 4u];
        let b = x4[min(s / 4u + 1u, last)];
        return array<f32, 10>(xat(base, iy, ix), a.x, a.y, a.z, a.w,
                              select(0.0, b.x, ix + 5 < w), b.y, b.z, b.w,
                              xat(base, iy, ix + 9));
    }
    if (PAIRS) {
        if (k % 2u == 1u) {
            let a = x4[s / 4u];
            let b = x4[min(s / 4u + 1u, last)];
            return array<f32, 10>(xat(base, iy, ix), a.x, a.y, select(0.0, a.z, ix + 3 < w),
                                  a.w, b.x, b.y, select(0.0, b.z, ix + 7 < w), b.w,
                                  xat(base, iy, ix + 9));
        }
        let q = (s - 2u) / 4u;
        let a = x4[q];
        let b = x4[min(q + 1u, last)];
        let c = x4[min(q + 2u, last)];
        return array<f32, 10>(select(0.0, a.y, ix >= 0), a.z, a.w, select(0.0, b.x, ix + 3 < w),
                              b.y, b.z, b.w, select(0.0, c.x, ix + 7 < w), c.y, c.z);
    }
    if (SHIFTED) {
        // The row's columns 0-7 (ix is -1: the tile is the whole row) from the vectors
        // that hold them, columns past the row zeroed (the right padding, and columns
        // that feed only outputs past the row).
        let s0 = base + iy * in_w();
        let q = s0 / 4u;
        let r = s0 % 4u;
        let a = x4[q];
        let b = x4[min(q + 1u, last)];
        let c = x4[min(q + 2u, last)];
        let w4 = vec4<u32>(in_w());
        let lo = select(vec4<f32>(0.0), shift4(a, b, r), vec4<u32>(0u, 1u, 2u, 3u) < w4);
        let hi = select(vec4<f32>(0.0), shift4(b, c, r), vec4<u32>(4u, 5u, 6u, 7u) < w4);
        return array<f32, 10>(0.0, lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w, 0.0);
    }
    return array<f32, 10>(xat(base, iy, ix), xat(base, iy, ix + 1), xat(base, iy, ix + 2),
                          xat(base, iy, ix + 3), xat(base, iy, ix + 4), xat(base, iy, ix + 5),
                          xat(base, iy, ix + 6), xat(base, iy, ix + 7), xat(base, iy, ix + 8),
                          xat(base, iy, ix + 9));
}

// The window of row `iy` for a 3x3 stride-1 tile, the `k`-th of its window rows: 10 values
// for a WIDE tile (`win10`), else the 6 of `win6_pair` (the rest 0, never read).
fn win_row(base: u32, iy: u32, ix: i32, k: u32) -> array<f32, 10> {
    if (WIDE) { return win10(base, iy, ix, k); }
    let v = win6_pair(base, iy, ix, k);
    return array<f32, 10>(v[0], v[1], v[2], v[3], v[4], v[5], 0.0, 0.0, 0.0, 0.0);
}

// One kernel row `w` of the window `v` into an output row: its 4 columns `l`, and for a
// WIDE tile its second 4 `r`.
fn acc_row(l: ptr<function, vec4<f32>>, r: ptr<function, vec4<f32>>, v: array<f32, 10>,
           w: vec3<f32>) {
    *l += s1(vec4<f32>(v[0], v[1], v[2], v[3]), vec2<f32>(v[4], v[5]), w);
    if (WIDE) {
        *r += s1(vec4<f32>(v[4], v[5], v[6], v[7]), vec2<f32>(v[8], v[9]), w);
    }
}

// One kernel row of a 3x3 stride-2 window (9 values) into 4 output columns.
fn s2(a: vec4<f32>, b: vec4<f32>, c: f32, w: vec3<f32>) -> vec4<f32> {
    // Window v0..v8 = a.xyzw, b.xyzw, c; output column j reads v[2j], v[2j+1], v[2j+2].
    let even = vec4<f32>(a.x, a.z, b.x, b.z);
    let odd = vec4<f32>(a.y, a.w, b.y, b.w);
    let next = vec4<f32>(a.z, b.x, b.z, c);
    return even * w.x + odd * w.y + next * w.z;
}

// Residual and activation of 4 outputs from column `ox0` of row `oy` (the accumulator
// holds the bias already); unaligned rows (widths of 7 or 14) as up to 4 component
// stores, unrolled, the activation applied once to the vector.
fn put(b: u32, c: u32, oy: u32, ox0: u32, acc: vec4<f32>, vec: bool) {
    if (oy >= out_h()) { return; }
    let row = ((b * channels() + c) * out_h() + oy) * out_w();
    var v = acc;
    if (OUT_ALIGNED || vec) {
        if (RES) { v += res[(row + ox0) / 4u]; }
        y[(row + ox0) / 4u] = apply_act4(v, ACT);
        return;
    }
    let i0 = row + ox0;
    let i1 = i0 + 1u;
    let i2 = i0 + 2u;
    let i3 = i0 + 3u;
    let n = out_w() - ox0;
    if (RES) {
        v.x += res[i0 / 4u][i0 % 4u];
        if (n > 1u) { v.y += res[i1 / 4u][i1 % 4u]; }
        if (n > 2u) { v.z += res[i2 / 4u][i2 % 4u]; }
        if (n > 3u) { v.w += res[i3 / 4u][i3 % 4u]; }
    }
    let r = apply_act4(v, ACT);
    y[i0 / 4u][i0 % 4u] = r.x;
    if (n > 1u) { y[i1 / 4u][i1 % 4u] = r.y; }
    if (n > 2u) { y[i2 / 4u][i2 % 4u] = r.z; }
    if (n > 3u) { y[i3 / 4u][i3 % 4u] = r.w; }
}

// Both halves `l` and `r` of an OUT_PAIRS tile's odd row `oy` (if inside), which starts
// 2 past a vec4: the first two outputs are the last two values of a vector, the next four
// one whole vector, the last two (if the second half is whole) the first two of the next.
fn put_pair(b: u32, c: u32, oy: u32, ox0: u32, l0: vec4<f32>, r0: vec4<f32>) {
    if (oy >= out_h()) { return; }
    let q = (((b * channels() + c) * out_h() + oy) * out_w() + ox0) / 4u;
    let whole = out_w() - ox0 >= 8u;
    var l = l0;
    var r = r0;
    if (RES) {
        let m = res[q + 1u];
        l += vec4<f32>(res[q].zw, m.xy);
        r += vec4<f32>(m.zw, res[min(q + 2u, arrayLength(&res) - 1u)].xy);
    }
    l = apply_act4(l, ACT);
    r = apply_act4(r, ACT);
    y[q].z = l.x;
    y[q].w = l.y;
    y[q + 1u] = vec4<f32>(l.zw, r.xy);
    if (whole) {
        y[q + 2u].x = r.z;
        y[q + 2u].y = r.w;
    }
}

@compute @workgroup_size(DEPTHWISE_WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // 1-D index folded over x and y so that large tensors fit the per-dimension limit.
    let t = gid.x + gid.y * nwg.x * DEPTHWISE_WG;
    let cols = select(4u, 8u, WIDE);
    let ncol = (out_w() + cols - 1u) / cols;
    let ntiles = ncol * ((out_h() + DEPTHWISE_ROWS - 1u) / DEPTHWISE_ROWS);
    if (t >= ntiles * channels() * p.batch) { return; }
    let tile = t % ntiles;
    let c = (t / ntiles) % channels();
    let b = t / (ntiles * channels());
    let ox0 = (tile % ncol) * cols;
    let oy0 = (tile / ncol) * DEPTHWISE_ROWS;
    let base = (b * channels() + c) * in_h() * in_w();
    let kw0 = c * p.kh * p.kw;
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    // The second half of a WIDE tile.
    var e0 = vec4<f32>(0.0);
    var e1 = vec4<f32>(0.0);
    var e2 = vec4<f32>(0.0);
    var e3 = vec4<f32>(0.0);
    if (SPEC == DIRECT_K3S1) {
        let w0 = krow(kw0, 0u);
        let w1 = krow(kw0, 1u);
        let w2 = krow(kw0, 2u);
        let ix = i32(ox0) - i32(p.pad_w);
        let iy0 = i32(oy0) - i32(p.pad_h);
        // Input row ir feeds output row ir - ky with kernel row ky (unrolled: the rows
        // and kernel rows are constants); a WIDE tile's second half takes the e's.
        if (row_ok(iy0 + 0)) {
            let v = win_row(base, u32(iy0 + 0), ix, 0u);
            acc_row(&a0, &e0, v, w0);
        }
        if (row_ok(iy0 + 1)) {
            let v = win_row(base, u32(iy0 + 1), ix, 1u);
            acc_row(&a1, &e1, v, w0);
            acc_row(&a0, &e0, v, w1);
        }
        if (row_ok(iy0 + 2)) {
            let v = win_row(base, u32(iy0 + 2), ix, 2u);
            acc_row(&a2, &e2, v, w0);
            acc_row(&a1, &e1, v, w1);
            acc_row(&a0, &e0, v, w2);
        }
        if (row_ok(iy0 + 3)) {
            let v = win_row(base, u32(iy0 + 3), ix, 3u);
            acc_row(&a3, &e3, v, w0);
            acc_row(&a2, &e2, v, w1);
            acc_row(&a1, &e1, v, w2);
        }
        if (row_ok(iy0 + 4)) {
            let v = win_row(base, u32(iy0 + 4), ix, 4u);
            acc_row(&a3, &e3, v, w1);
            acc_row(&a2, &e2, v, w2);
        }
        if (row_ok(iy0 + 5)) {
            let v = win_row(base, u32(iy0 + 5), ix, 5u);
            acc_row(&a3, &e3, v, w2);
        }
    } else if (SPEC == DIRECT_K3S2) {
        let w0 = krow(kw0, 0u);
        let w1 = krow(kw0, 1u);
        let w2 = krow(kw0, 2u);
        let ix = i32(2u * ox0) - i32(p.pad_w);
        let iy0 = i32(2u * oy0) - i32(p.pad_h);
        // Input row ir feeds output row r with kernel row ir - 2r (unrolled).
        if (row_ok(iy0 + 0)) {
            let iy = u32(iy0 + 0);
            let v = win9_pair(base, iy, ix, 0u);
            let a = vec4<f32>(v[0], v[1], v[2], v[3]);
            let bb = vec4<f32>(v[4], v[5], v[6], v[7]);
            let cc = v[8];
            a0 += s2(a, bb, cc, w0);
        }
        if (row_ok(iy0 + 1)) {
            let iy = u32(iy0 + 1);
            let v = win9_pair(base, iy, ix, 1u);
            let a = vec4<f32>(v[0], v[1], v[2], v[3]);
            let bb = vec4<f32>(v[4], v[5], v[6], v[7]);
            let cc = v[8];
            a0 += s2(a, bb, cc, w1);
        }
        if (row_ok(iy0 + 2)) {
            let iy = u32(iy0 + 2);
            let v = win9_pair(base, iy, ix, 2u);
            let a = vec4<f32>(v[0], v[1], v[2], v[3]);
            let bb = vec4<f32>(v[4], v[5], v[6], v[7]);
            let cc = v[8];
            a0 += s2(a, bb, cc, w2);
            a1 += s2(a, bb, cc, w0);
        }
        if (row_ok(iy0 + 3)) {
            let iy = u32(iy0 + 3);
            let v = win9_pair(base, iy, ix, 3u);
            let a = vec4<f32>(v[0], v[1], v[2], v[3]);
            let bb = vec4<f32>(v[4], v[5], v[6], v[7]);
            let cc = v[8];
            a1 += s2(a, bb, cc, w1);
        }
        if (row_ok(iy0 + 4)) {
            let iy = u32(iy0 + 4);
            let v = win9_pair(base, iy, ix, 4u);
            let a = vec4<f32>(v[0], v[1], v[2], v[3]);
            let bb = vec4<f32>(v[4], v[5], v[6], v[7]);
            let cc = v[8];
            a1 += s2(a, bb, cc, w2);
            a2 += s2(a, bb, cc, w0);
        }
        if (row_ok(iy0 + 5)) {
            let iy = u32(iy0 + 5);
            let v = win9_pair(base, iy, ix, 5u);
            let a = vec4<f32>(v[0], v[1], v[2], v[3]);
            let bb = vec4<f32>(v[4], v[5], v[6], v[7]);
            let cc = v[8];
            a2 += s2(a, bb, cc, w1);
        }
        if (row_ok(iy0 + 6)) {
            let iy = u32(iy0 + 6);
            let v = win9_pair(base, iy, ix, 6u);
            let a = vec4<f32>(v[0], v[1], v[2], v[3]);
            let bb = vec4<f32>(v[4], v[5], v[6], v[7]);
            let cc = v[8];
            a2 += s2(a, bb, cc, w2);
            a3 += s2(a, bb, cc, w0);
        }
        if (row_ok(iy0 + 7)) {
            let iy = u32(iy0 + 7);
            let v = win9_pair(base, iy, ix, 7u);
            let a = vec4<f32>(v[0], v[1], v[2], v[3]);
            let bb = vec4<f32>(v[4], v[5], v[6], v[7]);
            let cc = v[8];
            a3 += s2(a, bb, cc, w1);
        }
        if (row_ok(iy0 + 8)) {
            let iy = u32(iy0 + 8);
            let v = win9_pair(base, iy, ix, 8u);
            let a = vec4<f32>(v[0], v[1], v[2], v[3]);
            let bb = vec4<f32>(v[4], v[5], v[6], v[7]);
            let cc = v[8];
            a3 += s2(a, bb, cc, w2);
        }
    } else {
        let sx = i32(p.stride_w);
        for (var ky = 0u; ky < p.kh; ky++) {
            for (var kx = 0u; kx < p.kw; kx++) {
                let w = wt[kw0 + ky * p.kw + kx];
                let ix = i32(ox0 * p.stride_w + kx) - i32(p.pad_w);
                let iy0 = i32(oy0 * p.stride_h + ky) - i32(p.pad_h);
                let dy = i32(p.stride_h);
                if (row_ok(iy0)) {
                    let iy = u32(iy0);
                    a0 += w * vec4<f32>(xat(base, iy, ix), xat(base, iy, ix + sx), xat(base, iy, ix + 2 * sx), xat(base, iy, ix + 3 * sx));
                }
                if (row_ok(iy0 + dy)) {
                    let iy = u32(iy0 + dy);
                    a1 += w * vec4<f32>(xat(base, iy, ix), xat(base, iy, ix + sx), xat(base, iy, ix + 2 * sx), xat(base, iy, ix + 3 * sx));
                }
                if (row_ok(iy0 + 2 * dy)) {
                    let iy = u32(iy0 + 2 * dy);
                    a2 += w * vec4<f32>(xat(base, iy, ix), xat(base, iy, ix + sx), xat(base, iy, ix + 2 * sx), xat(base, iy, ix + 3 * sx));
                }
                if (row_ok(iy0 + 3 * dy)) {
                    let iy = u32(iy0 + 3 * dy);
                    a3 += w * vec4<f32>(xat(base, iy, ix), xat(base, iy, ix + sx), xat(base, iy, ix + 2 * sx), xat(base, iy, ix + 3 * sx));
                }
            }
        }
    }
    var bc = 0.0;
    if (p.has_bias != 0u) { bc = bias[c]; }
    if (OUT_PAIRS) {
        put(b, c, oy0, ox0, a0 + bc, true);
        put(b, c, oy0, ox0 + 4u, e0 + bc, false);
        put_pair(b, c, oy0 + 1u, ox0, a1 + bc, e1 + bc);
        put(b, c, oy0 + 2u, ox0, a2 + bc, true);
        put(b, c, oy0 + 2u, ox0 + 4u, e2 + bc, false);
        put_pair(b, c, oy0 + 3u, ox0, a3 + bc, e3 + bc);
        return;
    }
    put(b, c, oy0, ox0, a0 + bc, false);
    put(b, c, oy0 + 1u, ox0, a1 + bc, false);
    put(b, c, oy0 + 2u, ox0, a2 + bc, false);
    put(b, c, oy0 + 3u, ox0, a3 + bc, false);
    if (WIDE && ox0 + 4u < out_w()) {
        put(b, c, oy0, ox0 + 4u, e0 + bc, false);
        put(b, c, oy0 + 1u, ox0 + 4u, e1 + bc, false);
        put(b, c, oy0 + 2u, ox0 + 4u, e2 + bc, false);
        put(b, c, oy0 + 3u, ox0 + 4u, e3 + bc, false);
    }
}
