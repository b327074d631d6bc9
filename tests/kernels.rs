//! Every GPU kernel against its naive CPU reference (src/cpu), on odd shapes: 1x1 spatial,
//! stride 2, padding, channel counts not multiples of 4, batch > 1, groups.
//! f32 arithmetic within a relative tolerance; masks and quantize/pack bit-exact. Sizes
//! the kernels cannot index are errors from the launchers and the executor, not panics.

mod common;

use common::{assert_close, gpu, rand_vec};
use splitbench::cpu;
use splitbench::gpu::shaders::{ConvKernel, ConvTile, DirectSpec, DirectTile, RowAlign};
use splitbench::gpu::tiling::{self, direct_spec, ConvShape, DeviceClass};
use splitbench::gpu::{buffers, conv_plan, Builder, ConvPlan, Executor, GpuContext, PoolKind};
use splitbench::model::{Act, Conv2d, Pool, Shape};
use splitbench::Error;
use std::collections::HashSet;

const TOL: f32 = 1e-4;

/// Runs `c` with `plan` (default: the builder's heuristic) on the GPU and compares it with
/// the CPU reference.
#[allow(clippy::too_many_arguments)]
fn check_conv_with(
    ctx: &GpuContext,
    name: &str,
    c: Conv2d,
    batch: usize,
    input: Shape,
    seed: u64,
    plan: Option<&ConvPlan>,
) {
    let (oh, ow) = c.out_hw(input.h, input.w).unwrap();
    let out_len = batch * c.out_c * oh * ow;
    let x = rand_vec(seed, batch * input.numel());
    let w = rand_vec(seed + 1, c.weight_shape().iter().product());
    let b = rand_vec(seed + 2, c.out_c);
    let r = rand_vec(seed + 3, out_len);
    let want = cpu::conv2d(
        &x,
        batch,
        input,
        &c,
        &w,
        c.bias.then_some(b.as_slice()),
        c.residual.then_some(r.as_slice()),
    );
    let (xb, wb, bb, rb) = (
        buffers::upload(ctx, "x", &x),
        buffers::upload(ctx, "w", &w),
        buffers::upload(ctx, "b", &b),
        buffers::upload(ctx, "r", &r),
    );
    // NaN in the output buffer: a value the kernel fails to write cannot pass.
    let yb = buffers::upload(ctx, "y", &vec![f32::NAN; out_len]);
    let (bias, res) = (c.bias.then_some(&bb), c.residual.then_some(&rb));
    let k = Builder::new(ctx);
    let d = match plan {
        Some(plan) => k.conv2d_planned(plan, &c, &xb, &wb, bias, res, &yb),
        None => k.conv2d(&c, batch, input, &xb, &wb, bias, res, &yb),
    }
    .unwrap();
    buffers::run(ctx, &d).unwrap();
    let got: Vec<f32> = buffers::read(ctx, &yb, out_len).unwrap();
    let what = match plan {
        Some(p) => format!("{name} [{}]", p.label()),
        None => name.to_string(),
    };
    assert_close(&got, &want, TOL, &what);
}

fn check_conv(ctx: &GpuContext, name: &str, c: Conv2d, batch: usize, input: Shape, seed: u64) {
    check_conv_with(ctx, name, c, batch, input, seed, None);
}

fn conv(in_c: usize, out_c: usize, k: usize, s: usize, p: usize, g: usize) -> Conv2d {
    Conv2d::new(in_c, out_c, k, s, p, g)
}

fn strided(mut c: Conv2d, stride: (usize, usize)) -> Conv2d {
    c.stride = stride;
    c
}

#[test]
fn conv2d_matches_cpu_on_odd_shapes() {
    let Some(ctx) = gpu() else { return };
    let with = |mut c: Conv2d, bias: bool, act: Act, res: bool| {
        c.bias = bias;
        c.act = act;
        c.residual = res;
        c
    };
    let cases: Vec<(&str, Conv2d, usize, Shape)> = vec![
        ("3x3 s1 p1", conv(3, 16, 3, 1, 1, 1), 1, Shape::new(3, 9, 7)),
        (
            "3x3 s2 p1 odd ch",
            with(conv(5, 7, 3, 2, 1, 1), true, Act::Relu, false),
            2,
            Shape::new(5, 11, 10),
        ),
        (
            "1x1 spatial",
            with(conv(6, 70, 3, 1, 1, 1), true, Act::None, false),
            3,
            Shape::new(6, 1, 1),
        ),
        (
            "pointwise",
            with(conv(13, 65, 1, 1, 0, 1), true, Act::Relu6, true),
            2,
            Shape::new(13, 5, 6),
        ),
        (
            "1x1 stride 2",
            conv(8, 9, 1, 2, 0, 1),
            1,
            Shape::new(8, 7, 7),
        ),
        (
            "7x7 s2 p3 stem",
            with(conv(3, 8, 7, 2, 3, 1), true, Act::Relu, false),
            1,
            Shape::new(3, 19, 17),
        ),
        (
            "groups 2",
            with(conv(6, 10, 3, 1, 1, 2), true, Act::None, true),
            2,
            Shape::new(6, 6, 5),
        ),
        (
            "depthwise s1",
            with(conv(9, 9, 3, 1, 1, 9), true, Act::Relu6, false),
            2,
            Shape::new(9, 7, 5),
        ),
        (
            "depthwise s2 residual",
            with(conv(12, 12, 3, 2, 1, 12), true, Act::None, true),
            1,
            Shape::new(12, 8, 9),
        ),
        (
            "k larger than tile",
            with(conv(40, 67, 3, 1, 0, 1), false, Act::Relu, true),
            1,
            Shape::new(40, 6, 6),
        ),
        (
            "many pixels",
            conv(4, 5, 3, 1, 1, 1),
            3,
            Shape::new(4, 23, 21),
        ),
        (
            "bottleneck encoder tanh",
            with(conv(16, 6, 3, 1, 1, 1), true, Act::Tanh, false),
            1,
            Shape::new(16, 8, 8),
        ),
        (
            "bottleneck decoder elu",
            with(conv(6, 16, 3, 1, 1, 1), true, Act::Elu, false),
            1,
            Shape::new(6, 8, 8),
        ),
    ];
    for (i, (name, c, batch, input)) in cases.into_iter().enumerate() {
        check_conv(&ctx, name, c, batch, input, 100 + i as u64);
    }
}

/// Every plan the autotuner may pick (every GEMM tile, every direct tile and loop
/// specialisation, split-K or not, the depthwise loops) against the CPU reference on odd
/// shapes; the set of kernels that ran must cover all of them.
#[test]
fn every_conv_plan_matches_cpu_on_odd_shapes() {
    let Some(ctx) = gpu() else { return };
    let with = |mut c: Conv2d, act: Act, res: bool| {
        c.bias = true;
        c.act = act;
        c.residual = res;
        c
    };
    let cases: Vec<(&str, Conv2d, usize, Shape)> = vec![
        // 3x3 stride 1 (K3S1): channels not a multiple of 4 or 8, rows not of 4.
        (
            "3x3 s1 odd",
            with(conv(5, 13, 3, 1, 1, 1), Act::Relu, true),
            2,
            Shape::new(5, 7, 9),
        ),
        // The study's bottleneck encoder (16 -> 1, tanh) and decoder (1 -> 16, ELU).
        (
            "encoder 16->1",
            with(conv(16, 1, 3, 1, 1, 1), Act::Tanh, false),
            1,
            Shape::new(16, 10, 11),
        ),
        (
            "decoder 1->16",
            with(conv(1, 16, 3, 1, 1, 1), Act::Elu, false),
            1,
            Shape::new(1, 6, 5),
        ),
        // The narrow-input kernel (3x3 s1, rows of a multiple of 4, few channels): without
        // bias on an odd number of rows, batch 2; rows of one 4-pixel run; with residual
        // in "encoder 6->2 aligned" and "3x3 s1 aligned" below.
        (
            "narrow-in 1->16 no bias",
            Conv2d {
                act: Act::Elu,
                ..conv(1, 16, 3, 1, 1, 1)
            },
            2,
            Shape::new(1, 7, 8),
        ),
        (
            "narrow-in 3->24 4 wide",
            with(conv(3, 24, 3, 1, 1, 1), Act::Relu6, false),
            1,
            Shape::new(3, 5, 4),
        ),
        // A 2-channel encoder on rows of a multiple of 4 but not of 8: one channel per
        // thread, its 8-column windows' second vector past the row (right padding).
        (
            "encoder 6->2 aligned",
            with(conv(6, 2, 3, 1, 1, 1), Act::Tanh, true),
            2,
            Shape::new(6, 7, 12),
        ),
        // A 2-channel output through the generic loop (3x3 stride 2): the single tiles of
        // two channels outside the 3x3 stride-1 loop.
        (
            "encoder 5->2 strided",
            with(strided(conv(5, 2, 3, 1, 1, 1), (2, 2)), Act::Relu, true),
            2,
            Shape::new(5, 9, 10),
        ),
        // Rows that start on a vec4: vector window loads (K3S1, WIN3).
        (
            "3x3 s1 aligned",
            with(conv(7, 9, 3, 1, 1, 1), Act::Relu, true),
            2,
            Shape::new(7, 5, 12),
        ),
        // Rows 2 more than a multiple of 4 wide on planes of a multiple of 4 values: tiles
        // of even rows read window rows alternately from a vec4 and 2 past one (PAIRS);
        // rows of 6 (one tile's window past both ends) and of 10 (a tile whose columns
        // pass the row's end), batch 2 (the second sample's planes).
        (
            "3x3 s1 pairs",
            with(conv(5, 9, 3, 1, 1, 1), Act::Relu, true),
            2,
            Shape::new(5, 6, 10),
        ),
        (
            "3x3 s1 pairs narrow",
            with(conv(3, 6, 3, 1, 1, 1), Act::None, false),
            2,
            Shape::new(3, 4, 6),
        ),
        // 7-column tiles (COLS7): rows of 7 (a whole tile; a reduction long enough to
        // split), 6 and 5 (its last 3 columns store 2 and 1); rows of a tile past the
        // plane's end; batch 2.
        (
            "3x3 s1 7 columns",
            with(conv(6, 11, 3, 1, 1, 1), Act::Relu, true),
            2,
            Shape::new(6, 5, 6),
        ),
        (
            "3x3 s1 7 columns split",
            with(conv(16, 10, 3, 1, 1, 1), Act::None, true),
            2,
            Shape::new(16, 7, 7),
        ),
        (
            "3x3 s1 7 columns short",
            with(conv(3, 6, 3, 1, 1, 1), Act::Tanh, false),
            1,
            Shape::new(3, 3, 5),
        ),
        // 8-column tiles (COLS 8) on rows of 16 (two tiles), with a reduction long enough
        // to split; rows of 12 in "encoder 6->2 aligned" above and "3x3 s1 aligned" below
        // (the second tile's last 4 columns past the row).
        (
            "3x3 s1 8 columns",
            with(conv(16, 5, 3, 1, 1, 1), Act::Relu, true),
            1,
            Shape::new(16, 6, 16),
        ),
        // 8-column tiles on rows of 14 (PAIRS: window rows alternately from a vec4 and 2
        // past one; the second tile's columns 14 and 15 past the row), split; rows of 10
        // in "3x3 s1 pairs" above.
        (
            "3x3 s1 8 columns pairs",
            with(conv(16, 6, 3, 1, 1, 1), Act::Relu, true),
            2,
            Shape::new(16, 6, 14),
        ),
        // Without padding every column of the 9-value windows is inside the row.
        (
            "3x3 s1 7 columns unpadded",
            with(conv(4, 5, 3, 1, 0, 1), Act::None, false),
            1,
            Shape::new(4, 6, 9),
        ),
        (
            "3x3 s2x1 aligned",
            strided(with(conv(3, 5, 3, 1, 1, 1), Act::None, false), (2, 1)),
            1,
            Shape::new(3, 7, 8),
        ),
        (
            "3x3 s2 aligned",
            with(conv(6, 11, 3, 2, 1, 1), Act::Relu, true),
            1,
            Shape::new(6, 9, 12),
        ),
        // 1x1 stride 2 (downsampling shortcuts), rows aligned or not.
        (
            "1x1 s2 aligned",
            with(conv(6, 10, 1, 2, 0, 1), Act::None, false),
            2,
            Shape::new(6, 6, 12),
        ),
        // ... and rows a multiple of 4 wide in and out: the pointwise loop (DIRECT_PS2),
        // channels that fill no tile of 16, odd input channels, a residual.
        (
            "1x1 s2 flat",
            with(conv(7, 13, 1, 2, 0, 1), Act::Relu, true),
            2,
            Shape::new(7, 6, 16),
        ),
        (
            "1x1 s2 flat odd rows",
            with(conv(5, 20, 1, 2, 0, 1), Act::None, false),
            1,
            Shape::new(5, 7, 8),
        ),
        (
            "1x1 s2",
            with(conv(5, 9, 1, 2, 0, 1), Act::Relu, true),
            1,
            Shape::new(5, 7, 7),
        ),
        // Kernel 3 wide, stride 1 along x only (WIN3); a 1x3 kernel.
        (
            "3x3 s2x1",
            strided(with(conv(6, 9, 3, 1, 1, 1), Act::None, false), (2, 1)),
            1,
            Shape::new(6, 9, 7),
        ),
        // Generic: stride 2, 7x7 stem, pointwise, 1x1 spatial, few pixels with split-K.
        (
            "3x3 s2",
            with(conv(7, 10, 3, 2, 1, 1), Act::Relu6, false),
            2,
            Shape::new(7, 9, 10),
        ),
        (
            "7x7 s2 stem",
            with(conv(3, 8, 7, 2, 3, 1), Act::Relu, false),
            1,
            Shape::new(3, 19, 17),
        ),
        // Strided convolutions of few input channels lowered to 3x3 stride-1 ones over their
        // input's blocks as channels (space-to-depth): an 11x11 stride-4 stem, a 5x5 stride-2
        // kernel with a residual, a 6x6 one (no tap past the kernel) from one channel.
        (
            "11x11 s4 stem",
            with(conv(3, 6, 11, 4, 2, 1), Act::Relu, false),
            2,
            Shape::new(3, 23, 21),
        ),
        (
            "5x5 s2",
            with(conv(2, 5, 5, 2, 2, 1), Act::None, true),
            1,
            Shape::new(2, 9, 21),
        ),
        (
            "6x6 s2 one channel",
            with(conv(1, 9, 6, 2, 1, 1), Act::Tanh, false),
            1,
            Shape::new(1, 10, 13),
        ),
        (
            "pointwise",
            with(conv(13, 21, 1, 1, 0, 1), Act::None, true),
            2,
            Shape::new(13, 5, 6),
        ),
        (
            "pointwise aligned",
            with(conv(11, 6, 1, 1, 0, 1), Act::Relu, false),
            2,
            Shape::new(11, 4, 6),
        ),
        // A plane of a multiple of 4 pixels in rows of 6: `pointwise` stores vectors.
        (
            "pointwise aligned plane residual",
            with(conv(9, 14, 1, 1, 0, 1), Act::Relu6, true),
            1,
            Shape::new(9, 2, 6),
        ),
        (
            "1x1 spatial",
            with(conv(6, 70, 3, 1, 1, 1), Act::None, false),
            3,
            Shape::new(6, 1, 1),
        ),
        (
            "few pixels",
            with(conv(96, 40, 3, 1, 1, 1), Act::Relu, true),
            1,
            Shape::new(96, 3, 2),
        ),
        // Grouped: only the GEMM; depthwise: its three loops (3x3 s1, 3x3 s2, generic).
        // Fully connected layers as 1x1 convs on 1x1 planes: inputs a multiple of 4 (the
        // vector reduction, split-K in steps of 4) or not.
        (
            "fc",
            with(conv(40, 13, 1, 1, 0, 1), Act::Relu, false),
            3,
            Shape::new(40, 1, 1),
        ),
        (
            "fc odd inputs",
            with(conv(37, 10, 1, 1, 0, 1), Act::None, false),
            2,
            Shape::new(37, 1, 1),
        ),
        // Fewer than 4 input values: a buffer shorter than one vector of the kernels'
        // vector views of it.
        (
            "fc 3 inputs",
            with(conv(3, 5, 1, 1, 0, 1), Act::None, true),
            1,
            Shape::new(3, 1, 1),
        ),
        (
            "groups 2",
            with(conv(6, 10, 3, 1, 1, 2), Act::None, true),
            2,
            Shape::new(6, 6, 5),
        ),
        (
            "depthwise 3x3 s1",
            with(conv(9, 9, 3, 1, 1, 9), Act::Relu6, true),
            2,
            Shape::new(9, 7, 5),
        ),
        (
            "depthwise 3x3 s2",
            with(conv(6, 6, 3, 2, 1, 6), Act::Relu6, false),
            1,
            Shape::new(6, 11, 9),
        ),
        // Rows that start on a vec4 (width a multiple of 4): vector window loads.
        (
            "depthwise 3x3 s1 aligned",
            with(conv(5, 5, 3, 1, 1, 5), Act::Relu, true),
            2,
            Shape::new(5, 6, 8),
        ),
        (
            "depthwise 3x3 s2 aligned",
            with(conv(3, 3, 3, 2, 1, 3), Act::Relu6, false),
            1,
            Shape::new(3, 7, 12),
        ),
        // 8-column tiles: rows of 12 end in half a tile, rows of 4 in a tile's first half.
        (
            "depthwise 3x3 s1 aligned 12 wide",
            with(conv(3, 3, 3, 1, 1, 3), Act::Relu6, true),
            2,
            Shape::new(3, 5, 12),
        ),
        (
            "depthwise 3x3 s1 aligned 4 wide",
            with(conv(2, 2, 3, 1, 1, 2), Act::None, false),
            1,
            Shape::new(2, 6, 4),
        ),
        (
            "depthwise 3x3 s1 aligned rows out",
            with(conv(7, 7, 3, 1, 1, 7), Act::Tanh, false),
            1,
            Shape::new(7, 5, 8),
        ),
        // Rows 2 more than a multiple of 4 wide on planes of a multiple of 4 values: window
        // rows alternately from a vec4 and 2 past one (PAIRS), at stride 1 and 2.
        (
            "depthwise 3x3 s1 pairs",
            with(conv(3, 3, 3, 1, 1, 3), Act::Relu6, true),
            2,
            Shape::new(3, 6, 10),
        ),
        (
            "depthwise 3x3 s1 pairs 14",
            with(conv(3, 3, 3, 1, 1, 3), Act::Relu, true),
            2,
            Shape::new(3, 14, 14),
        ),
        (
            "depthwise 3x3 s2 pairs",
            with(conv(5, 5, 3, 2, 1, 5), Act::None, false),
            2,
            Shape::new(5, 10, 6),
        ),
        (
            "depthwise 3x3 s2 pairs 14",
            with(conv(2, 2, 3, 2, 1, 2), Act::Relu, true),
            1,
            Shape::new(2, 14, 14),
        ),
        // 8-column tiles on rows of up to 8 (one tile a row): each row read as shifted
        // vectors (SHIFTED), on 7x7 planes (MobileNetV2's last stage), rows of 6 on planes
        // that do not pair and rows of 3 (the first vector past the row too); on rows of 9,
        // scalar windows.
        (
            "depthwise 3x3 s1 shifted 7x7",
            with(conv(5, 5, 3, 1, 1, 5), Act::Relu6, true),
            2,
            Shape::new(5, 7, 7),
        ),
        (
            "depthwise 3x3 s1 shifted 6 wide",
            with(conv(3, 3, 3, 1, 1, 3), Act::None, false),
            1,
            Shape::new(3, 5, 6),
        ),
        (
            "depthwise 3x3 s1 shifted 3 wide",
            with(conv(2, 2, 3, 1, 1, 2), Act::None, true),
            1,
            Shape::new(2, 4, 3),
        ),
        (
            "depthwise 3x3 s1 9 wide",
            with(conv(2, 2, 3, 1, 1, 2), Act::Relu, true),
            1,
            Shape::new(2, 6, 9),
        ),
        (
            "depthwise 5x5 s2",
            with(conv(4, 4, 5, 2, 2, 4), Act::None, true),
            1,
            Shape::new(4, 9, 10),
        ),
    ];
    let mut ran: HashSet<(String, bool)> = HashSet::new();
    let mut specs: HashSet<(bool, DirectSpec)> = HashSet::new();
    let mut aligned: HashSet<bool> = HashSet::new();
    let mut aligned_direct: HashSet<(DirectSpec, bool)> = HashSet::new();
    let mut row_aligns: HashSet<RowAlign> = HashSet::new();
    // Row alignments the direct kernel's 8- and 7-column tiles ran with.
    let mut eight_col_rows: HashSet<RowAlign> = HashSet::new();
    let mut seven_col_rows: HashSet<RowAlign> = HashSet::new();
    let mut dw_rows: HashSet<(DirectSpec, RowAlign)> = HashSet::new();
    // Whether space-to-depth plans ran unsplit and split.
    let mut s2d_split: HashSet<bool> = HashSet::new();
    // The lowered loops that ran with 8-column tiles.
    let mut s2d_eight_col_specs: HashSet<DirectSpec> = HashSet::new();
    // Row alignments the depthwise kernel's 8-column tiles ran with.
    let mut dw_wide_rows: HashSet<RowAlign> = HashSet::new();
    // Whether the 8-column tiles stored rows in pairs.
    let mut dw_out_pairs: HashSet<bool> = HashSet::new();
    // (bias, residual, batch > 1) of the narrow-input kernel's runs.
    let mut narrow_in: HashSet<(bool, bool, bool)> = HashSet::new();
    // (entry point, output runs stored as vectors, residual): the epilogue's constants.
    let mut epilogues: HashSet<(&str, bool, bool)> = HashSet::new();
    for (i, (name, c, batch, input)) in cases.into_iter().enumerate() {
        let shape = ConvShape::new(&c, batch, input).unwrap();
        let mut plans = tiling::candidates(&shape, DeviceClass::Gpu).unwrap();
        for p in tiling::candidates(&shape, DeviceClass::Cpu).unwrap() {
            if !plans.contains(&p) {
                plans.push(p);
            }
        }
        for plan in &plans {
            check_conv_with(&ctx, name, c, batch, input, 100 + i as u64, Some(plan));
            ran.insert((plan.kernel.to_string(), plan.k_splits > 1));
            match plan.kernel {
                ConvKernel::Direct(t) => {
                    if plan.k_splits == 1 {
                        let out = tiling::direct_out_aligned(&shape, t);
                        epilogues.insert((t.entry(direct_spec(&shape)), out, c.residual));
                    }
                    aligned_direct.insert((direct_spec(&shape), tiling::direct_aligned(&shape)));
                    row_aligns.insert(tiling::direct_row_align(&shape, t));
                    match t.cols {
                        8 => eight_col_rows.insert(tiling::direct_row_align(&shape, t)),
                        7 => seven_col_rows.insert(tiling::direct_row_align(&shape, t)),
                        _ => false,
                    };
                    specs.insert((false, direct_spec(&shape)))
                }
                ConvKernel::Depthwise { wide } => {
                    if wide {
                        dw_wide_rows.insert(tiling::depthwise_row_align(&shape, true));
                        dw_out_pairs.insert(tiling::depthwise_out_pairs(&shape, true));
                    }
                    let out = tiling::depthwise_out_aligned(&shape);
                    epilogues.insert(("depthwise", out, c.residual));
                    aligned.insert(tiling::depthwise_aligned(&shape));
                    dw_rows.insert((
                        DirectSpec::depthwise(c.kernel, c.stride),
                        tiling::depthwise_row_align(&shape, wide),
                    ));
                    specs.insert((true, DirectSpec::depthwise(c.kernel, c.stride)))
                }
                ConvKernel::SpaceToDepth(t) => {
                    // The direct kernel runs the lowered convolution.
                    let lowered = tiling::s2d_shape(&shape).unwrap();
                    let rows = tiling::direct_row_align(&lowered, t);
                    row_aligns.insert(rows);
                    specs.insert((false, direct_spec(&lowered)));
                    if t.cols == 8 {
                        eight_col_rows.insert(rows);
                        s2d_eight_col_specs.insert(direct_spec(&lowered));
                    }
                    s2d_split.insert(plan.k_splits > 1)
                }
                ConvKernel::NarrowIn => narrow_in.insert((c.bias, c.residual, batch > 1)),
                ConvKernel::Gemm(_) => false,
            };
        }
    }
    assert_eq!(
        s2d_split,
        HashSet::from([false, true]),
        "space-to-depth plans ran unsplit and split"
    );
    assert_eq!(
        s2d_eight_col_specs,
        HashSet::from([DirectSpec::K3s1, DirectSpec::Win4]),
        "8-column tiles ran both lowered loops"
    );
    let mut want: Vec<ConvKernel> = DirectTile::ALL.map(ConvKernel::Direct).to_vec();
    want.extend([ConvTile::WIDE, ConvTile::NARROW].map(ConvKernel::Gemm));
    want.extend([false, true].map(|wide| ConvKernel::Depthwise { wide }));
    want.push(ConvKernel::NarrowIn);
    for k in want {
        assert!(ran.contains(&(k.to_string(), false)), "{k} never ran");
    }
    let split_direct = |rows, cg, cols| {
        ConvKernel::Direct(DirectTile {
            rows,
            cg,
            cg_fast: true,
            single: false,
            wg: splitbench::gpu::shaders::CONV_DIRECT_WG,
            cols,
        })
    };
    for k in [
        ConvKernel::Gemm(ConvTile::NARROW),
        split_direct(1, 2, 4),
        split_direct(2, 1, 7),
        split_direct(2, 1, 8),
    ] {
        assert!(
            ran.contains(&(k.to_string(), true)),
            "{k} never ran with split-K"
        );
    }
    let direct = [
        DirectSpec::Generic,
        DirectSpec::Win3,
        DirectSpec::Win4,
        DirectSpec::K3s1,
        DirectSpec::K3s2,
        DirectSpec::P1s2,
        DirectSpec::Ps2,
        DirectSpec::Pw,
        DirectSpec::Pw4,
        DirectSpec::Fc,
    ];
    for spec in direct {
        assert!(specs.contains(&(false, spec)), "direct {spec:?} never ran");
    }
    for a in [RowAlign::None, RowAlign::Vec4, RowAlign::Pairs] {
        assert!(row_aligns.contains(&a), "no direct plan read rows {a:?}");
        for spec in [DirectSpec::K3s1, DirectSpec::K3s2] {
            assert!(
                dw_rows.contains(&(spec, a)),
                "depthwise {spec:?} never read rows {a:?}"
            );
        }
        assert!(
            dw_wide_rows.contains(&a),
            "depthwise 8-column tiles never read rows {a:?}"
        );
    }
    assert!(
        dw_wide_rows.contains(&RowAlign::Shifted),
        "depthwise 8-column tiles never read shifted rows"
    );
    assert!(
        row_aligns.contains(&RowAlign::Unpadded),
        "no direct plan read unpadded rows"
    );
    for a in [RowAlign::Vec4, RowAlign::Pairs, RowAlign::Unpadded] {
        assert!(
            eight_col_rows.contains(&a),
            "direct 8-column tiles never read rows {a:?}"
        );
    }
    for a in [RowAlign::None, RowAlign::Shifted] {
        assert!(
            seven_col_rows.contains(&a),
            "direct 7-column tiles never read rows {a:?}"
        );
    }
    for pairs in [false, true] {
        assert!(
            dw_out_pairs.contains(&pairs),
            "depthwise 8-column tiles never ran with rows stored in pairs = {pairs}"
        );
    }
    for (bias, res, batch) in [
        (false, false, true),
        (true, false, false),
        (true, true, true),
    ] {
        assert!(
            narrow_in.contains(&(bias, res, batch)),
            "narrow-in never ran with bias = {bias}, residual = {res}, batch > 1 = {batch}: \
             {narrow_in:?}"
        );
    }
    // The loops that read vector windows where rows start on a vec4 ran both ways.
    for spec in [DirectSpec::K3s1, DirectSpec::K3s2, DirectSpec::P1s2] {
        for a in [false, true] {
            assert!(
                aligned_direct.contains(&(spec, a)),
                "direct {spec:?} never ran with aligned rows = {a}"
            );
        }
    }
    for spec in [DirectSpec::Generic, DirectSpec::K3s1, DirectSpec::K3s2] {
        assert!(
            specs.contains(&(true, spec)),
            "depthwise {spec:?} never ran"
        );
    }
    // Every entry point stored aligned and unaligned runs, each with and without residual.
    for entry in ["main", "single", "pointwise", "depthwise"] {
        for out in [false, true] {
            for res in [false, true] {
                assert!(
                    epilogues.contains(&(entry, out, res)),
                    "{entry} never ran with aligned outputs = {out}, residual = {res}: {epilogues:?}"
                );
            }
        }
    }
}

#[test]
fn conv_plans_split_small_outputs_and_keep_big_layers_whole_and_fit_their_conv() {
    // ResNet-18 layer4 at batch 1 on a GPU: 16 output pixels, direct kernel, split-K.
    let p = conv_plan(&conv(512, 512, 3, 1, 1, 1), 1, Shape::new(512, 4, 4)).unwrap();
    assert!(
        matches!(p.kernel, ConvKernel::Direct(_)) && p.k_splits > 1,
        "{p:?}"
    );
    // A 1-channel bottleneck encoder computes one channel per thread, not 4 or 64.
    let p = conv_plan(&conv(16, 1, 3, 1, 1, 1), 1, Shape::new(16, 112, 112)).unwrap();
    assert!(
        matches!(p.kernel, ConvKernel::Direct(t) if t.channels() == 1),
        "{p:?}"
    );
    // A big layer keeps the plain wide GEMM tile.
    let big = conv_plan(&conv(64, 64, 3, 1, 1, 1), 8, Shape::new(64, 32, 32)).unwrap();
    assert_eq!(
        (big.kernel, big.k_splits),
        (ConvKernel::Gemm(ConvTile::WIDE), 1)
    );
    // On a CPU adapter every ungrouped conv takes the direct kernel, unsplit.
    let s = ConvShape::new(&conv(64, 64, 3, 1, 1, 1), 8, Shape::new(64, 32, 32)).unwrap();
    let p = tiling::heuristic(&s, DeviceClass::Cpu).unwrap();
    assert!(
        matches!(p.kernel, ConvKernel::Direct(_)) && p.k_splits == 1,
        "{p:?}"
    );
    // ... a whole row of 8 or 7 columns per thread where those tiles fit, else 4.
    for (input, cols) in [
        (Shape::new(64, 32, 32), 8),
        (Shape::new(64, 14, 14), 8),
        (Shape::new(64, 7, 7), 7),
        (Shape::new(64, 9, 9), 4),
    ] {
        let row = ConvShape::new(&conv(64, 64, 3, 1, 1, 1), 1, input).unwrap();
        let p = tiling::heuristic(&row, DeviceClass::Cpu).unwrap();
        assert!(
            matches!(p.kernel, ConvKernel::Direct(t) if t.cols == cols),
            "{input:?}: {p:?}"
        );
    }
    // A plan used for another convolution, or with a kernel that cannot compute its own,
    // is refused.
    let ctx = gpu();
    if let Some(ctx) = &ctx {
        let b = buffers::zeroed(ctx, "b", 1 << 16);
        let k = Builder::new(ctx);
        let other = conv(64, 32, 3, 1, 1, 1);
        let r = k.conv2d_planned(&p, &other, &b, &b, None, None, &b);
        assert!(matches!(r, Err(Error::InvalidArg(_))), "{r:?}");
        let grouped = conv(8, 8, 3, 1, 1, 2);
        let gs = ConvShape::new(&grouped, 1, Shape::new(8, 6, 6)).unwrap();
        let mut forged = tiling::heuristic(&gs, DeviceClass::Cpu).unwrap();
        forged.kernel = ConvKernel::Direct(DirectTile::ALL[0]);
        let r = k.conv2d_planned(&forged, &grouped, &b, &b, None, None, &b);
        assert!(matches!(r, Err(Error::InvalidArg(_))), "{r:?}");
    }
    // Space-to-depth: the 11x11 stride-4 stem lowers to a 3x3 stride-1 convolution over
    // 48 channels (rows of 55 + 2, 57 columns rounded up to 60), and its plans are
    // candidates; shapes that would lower to other kernels, or have more input channels,
    // do not lower, and a forged plan for one is refused.
    let stem = ConvShape::new(&conv(3, 64, 11, 4, 2, 1), 1, Shape::new(3, 224, 224)).unwrap();
    let lowered = tiling::s2d_shape(&stem).unwrap();
    assert_eq!(
        (lowered.input, lowered.output, lowered.kernel),
        ((48, 57, 60), (64, 55, 55), (3, 3))
    );
    assert_eq!((lowered.stride, lowered.padding), ((1, 1), (0, 0)));
    let stem_plans = tiling::candidates(&stem, DeviceClass::Cpu).unwrap();
    assert!(stem_plans
        .iter()
        .any(|p| matches!(p.kernel, ConvKernel::SpaceToDepth(_))));
    // Without measuring, a CPU adapter lowers the stems; a GPU keeps its own plan.
    assert!(matches!(stem_plans[0].kernel, ConvKernel::SpaceToDepth(_)));
    let gpu_first = tiling::heuristic(&stem, DeviceClass::Gpu).unwrap();
    assert!(!matches!(gpu_first.kernel, ConvKernel::SpaceToDepth(_)));
    let resnet_stem = ConvShape::new(&conv(3, 64, 7, 2, 3, 1), 1, Shape::new(3, 224, 224)).unwrap();
    let lowered = tiling::s2d_shape(&resnet_stem).unwrap();
    assert_eq!(
        (lowered.input, lowered.kernel, tiling::direct_spec(&lowered)),
        ((12, 115, 116), (4, 4), DirectSpec::Win4)
    );
    assert!(matches!(
        tiling::heuristic(&resnet_stem, DeviceClass::Cpu)
            .unwrap()
            .kernel,
        ConvKernel::SpaceToDepth(_)
    ));
    for (c, input) in [
        (conv(3, 32, 3, 2, 1, 1), Shape::new(3, 32, 32)),
        (conv(3, 8, 9, 2, 4, 1), Shape::new(3, 32, 32)),
        (conv(16, 8, 5, 2, 2, 1), Shape::new(16, 16, 16)),
        (
            strided(conv(3, 8, 5, 2, 2, 1), (2, 1)),
            Shape::new(3, 16, 16),
        ),
    ] {
        let shape = ConvShape::new(&c, 1, input).unwrap();
        assert_eq!(tiling::s2d_shape(&shape), None, "{}", shape.key());
        assert!(
            tiling::plan_for(&shape, ConvKernel::SpaceToDepth(DirectTile::ALL[0]), false).is_err()
        );
    }
    // Kernel names round-trip (the tile cache stores them).
    for p in tiling::candidates(&s, DeviceClass::Gpu)
        .unwrap()
        .into_iter()
        .chain(stem_plans)
    {
        assert_eq!(p.kernel.to_string().parse::<ConvKernel>(), Ok(p.kernel));
    }
    // The narrow-input kernel: a candidate for 3x3 stride-1 convs that widen few inputs
    // on rows of a multiple of 4; never for encoders, other rows, strides or groups.
    let shape = |c: Conv2d, input: Shape| ConvShape::new(&c, 2, input).unwrap();
    for (c, input, fits) in [
        (conv(1, 16, 3, 1, 1, 1), Shape::new(1, 9, 12), true),
        (conv(3, 64, 3, 1, 1, 1), Shape::new(3, 32, 32), true),
        (conv(8, 32, 3, 1, 1, 1), Shape::new(8, 5, 4), true),
        (conv(16, 1, 3, 1, 1, 1), Shape::new(16, 8, 8), false),
        (conv(9, 32, 3, 1, 1, 1), Shape::new(9, 8, 8), false),
        (conv(4, 4, 3, 1, 1, 1), Shape::new(4, 8, 8), false),
        (conv(4, 65, 3, 1, 1, 1), Shape::new(4, 8, 8), false),
        (conv(1, 16, 3, 1, 1, 1), Shape::new(1, 8, 10), false),
        (conv(1, 16, 3, 2, 1, 1), Shape::new(1, 8, 16), false),
        (conv(1, 16, 3, 1, 0, 1), Shape::new(1, 8, 10), false),
        (conv(2, 16, 3, 1, 1, 2), Shape::new(2, 8, 8), false),
    ] {
        let s = shape(c, input);
        let plans = tiling::candidates(&s, DeviceClass::Cpu).unwrap();
        let has = plans.iter().any(|p| p.kernel == ConvKernel::NarrowIn);
        assert_eq!(has, fits, "{}", s.key());
        assert_eq!(tiling::narrow_in_fits(&s), fits, "{}", s.key());
        let plan = tiling::plan_for(&s, ConvKernel::NarrowIn, false);
        assert_eq!(plan.is_ok(), fits, "{}", s.key());
        if let Ok(p) = plan {
            assert_eq!(p.workgroups[2], 2, "one z per sample");
            assert_eq!(p.label().parse::<ConvKernel>(), Ok(ConvKernel::NarrowIn));
        }
    }
}

#[test]
fn linear_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    for (i, (in_f, out_f, batch, bias, act)) in [
        (1usize, 1usize, 1usize, false, Act::None),
        (37, 10, 1, true, Act::None),
        (130, 33, 5, true, Act::Relu),
        (64, 7, 8, false, Act::Relu6),
    ]
    .into_iter()
    .enumerate()
    {
        let l = splitbench::model::Linear {
            in_f,
            out_f,
            bias,
            act,
        };
        let x = rand_vec(i as u64, batch * in_f);
        let w = rand_vec(50 + i as u64, in_f * out_f);
        let b = rand_vec(90 + i as u64, out_f);
        let want = cpu::linear(&x, batch, &l, &w, bias.then_some(b.as_slice()));
        let (xb, wb, bb) = (
            buffers::upload(&ctx, "x", &x),
            buffers::upload(&ctx, "w", &w),
            buffers::upload(&ctx, "b", &b),
        );
        let k = Builder::new(&ctx);
        let b = bias.then_some(&bb);
        let yb = buffers::zeroed(&ctx, "y", (batch * out_f * 4) as u64);
        let d = k
            .linear(in_f, out_f, (0, out_f), act, batch, &xb, &wb, b, &yb)
            .unwrap();
        buffers::run(&ctx, &[d]).unwrap();
        let got: Vec<f32> = buffers::read(&ctx, &yb, batch * out_f).unwrap();
        assert_close(
            &got,
            &want,
            TOL,
            &format!("linear {in_f}->{out_f} b{batch}"),
        );
        // The same in two row blocks, as the executor does for weights above the binding
        // limit.
        let split = out_f / 2;
        let w0 = buffers::upload(&ctx, "w0", &w[..split * in_f]);
        let w1 = buffers::upload(&ctx, "w1", &w[split * in_f..]);
        let yb = buffers::zeroed(&ctx, "y", (batch * out_f * 4) as u64);
        let mut d = vec![k
            .linear(
                in_f,
                out_f,
                (split, out_f - split),
                act,
                batch,
                &xb,
                &w1,
                b,
                &yb,
            )
            .unwrap()];
        if split > 0 {
            d.push(
                k.linear(in_f, out_f, (0, split), act, batch, &xb, &w0, b, &yb)
                    .unwrap(),
            );
        }
        buffers::run(&ctx, &d).unwrap();
        let got: Vec<f32> = buffers::read(&ctx, &yb, batch * out_f).unwrap();
        assert_close(
            &got,
            &want,
            TOL,
            &format!("linear {in_f}->{out_f} b{batch} in row blocks"),
        );
    }
}

#[test]
fn pooling_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let win = |kernel, stride, padding| Pool {
        kernel,
        stride,
        padding,
        ceil: false,
    };
    let cases = [
        (PoolKind::Max(win(3, 2, 1)), Shape::new(5, 9, 8), 2),
        (PoolKind::Max(win(2, 2, 0)), Shape::new(3, 7, 7), 1),
        (PoolKind::Avg(win(3, 1, 1)), Shape::new(6, 5, 4), 2),
        (PoolKind::Avg(win(2, 2, 0)), Shape::new(2, 6, 6), 3),
        (PoolKind::Adaptive(1, 1), Shape::new(7, 4, 4), 2),
        (PoolKind::Adaptive(3, 2), Shape::new(4, 7, 5), 1),
        (PoolKind::Adaptive(6, 6), Shape::new(3, 13, 13), 1),
    ];
    for (i, (kind, s, batch)) in cases.into_iter().enumerate() {
        let x = rand_vec(7 + i as u64, batch * s.numel());
        let want = match kind {
            PoolKind::Max(p) => cpu::pool(&x, batch, s, &p, true),
            PoolKind::Avg(p) => cpu::pool(&x, batch, s, &p, false),
            PoolKind::Adaptive(h, w) => cpu::adaptive_avg_pool(&x, batch, s, h, w),
        };
        let xb = buffers::upload(&ctx, "x", &x);
        let yb = buffers::zeroed(&ctx, "y", (want.len() * 4) as u64);
        let d = Builder::new(&ctx).pool(kind, batch, s, &xb, &yb).unwrap();
        buffers::run(&ctx, &[d]).unwrap();
        let got: Vec<f32> = buffers::read(&ctx, &yb, want.len()).unwrap();
        assert_close(&got, &want, TOL, &format!("{kind:?} on {s}"));
    }
}

#[test]
fn eltwise_add_activation_and_batchnorm_match_cpu() {
    let Some(ctx) = gpu() else { return };
    let n = 1000;
    let a = rand_vec(1, n);
    let b = rand_vec(2, n);
    let (ab, bb) = (
        buffers::upload(&ctx, "a", &a),
        buffers::upload(&ctx, "b", &b),
    );
    let yb = buffers::zeroed(&ctx, "y", (n * 4) as u64);
    let k = Builder::new(&ctx);
    for act in [Act::None, Act::Relu, Act::Relu6, Act::Tanh, Act::Elu] {
        // tanh and exp are not correctly rounded on GPUs: a few ulps.
        let tol = if matches!(act, Act::Tanh | Act::Elu) {
            1e-5
        } else {
            0.0
        };
        buffers::run(&ctx, &[k.add(n, act, &ab, &bb, &yb).unwrap()]).unwrap();
        let got: Vec<f32> = buffers::read(&ctx, &yb, n).unwrap();
        assert_close(&got, &cpu::add(&a, &b, act), tol, "add");
        let scaled: Vec<f32> = a.iter().map(|v| v * 8.0).collect();
        let sb = buffers::upload(&ctx, "s", &scaled);
        buffers::run(&ctx, &[k.activation(n, act, &sb, &yb).unwrap()]).unwrap();
        let got: Vec<f32> = buffers::read(&ctx, &yb, n).unwrap();
        let mut want = scaled.clone();
        cpu::act_inplace(&mut want, act);
        assert_close(&got, &want, tol, "activation");
    }
    // Batch norm on a 2 x 5 x 10 tensor (5 channels, 10 pixels), as scale/shift.
    let s = Shape::new(5, 2, 5);
    let (w, bi, m) = (rand_vec(3, 5), rand_vec(4, 5), rand_vec(5, 5));
    let v: Vec<f32> = rand_vec(6, 5).iter().map(|x| x.abs() + 0.5).collect();
    let want = cpu::batch_norm(&a[..100], s, &w, &bi, &m, &v, 1e-5);
    let ss: Vec<f32> = (0..5)
        .flat_map(|c| {
            let scale = w[c] / (v[c] + 1e-5).sqrt();
            [scale, bi[c] - m[c] * scale]
        })
        .collect();
    let ssb = buffers::upload(&ctx, "ss", &ss);
    buffers::run(&ctx, &[k.scale_shift(100, 5, 10, &ab, &ssb, &yb).unwrap()]).unwrap();
    let got: Vec<f32> = buffers::read(&ctx, &yb, 100).unwrap();
    assert_close(&got, &want, 1e-5, "batch norm");
}

#[test]
fn copy_is_bit_exact_and_rejects_partial_vectors() {
    let Some(ctx) = gpu() else { return };
    let k = Builder::new(&ctx);
    for n in [4usize, 1028, 70_004] {
        let mut x = rand_vec(n as u64, n);
        x[0] = f32::NAN;
        x[n - 1] = -0.0;
        let xb = buffers::upload(&ctx, "x", &x);
        let yb = buffers::zeroed(&ctx, "y", (n * 4) as u64);
        buffers::run(&ctx, &[k.copy(n, &xb, &yb).unwrap()]).unwrap();
        let got: Vec<f32> = buffers::read(&ctx, &yb, n).unwrap();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&x), "copy of {n}");
    }
    let b = buffers::zeroed(&ctx, "b", 64);
    assert!(matches!(k.copy(6, &b, &b), Err(Error::InvalidArg(_))));
}

#[test]
fn pruning_mask_is_bit_exact() {
    let Some(ctx) = gpu() else { return };
    // An activation 3 x 7 x (5x5) and a weight 7 x 6 x 3 x 3, with NaN and -0 to keep.
    for (outer, channels, inner) in [(3usize, 7usize, 25usize), (1, 7, 54)] {
        let n = outer * channels * inner;
        let mut x = rand_vec(11, n);
        x[0] = f32::NAN;
        x[1] = -0.0;
        let keep: Vec<u32> = (0..channels as u32).map(|c| (c % 3 != 1) as u32).collect();
        let want = cpu::mask_channels(&x, channels, inner, &keep);
        let (xb, kb) = (
            buffers::upload(&ctx, "x", &x),
            buffers::upload(&ctx, "keep", &keep),
        );
        let yb = buffers::zeroed(&ctx, "y", (n * 4) as u64);
        buffers::run(
            &ctx,
            &[Builder::new(&ctx)
                .mask(n, channels, inner, &xb, &kb, &yb)
                .unwrap()],
        )
        .unwrap();
        let got: Vec<f32> = buffers::read(&ctx, &yb, n).unwrap();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "mask {outer}x{channels}x{inner}");
    }
}

#[test]
fn quantize_pack_is_bit_exact_and_roundtrips() {
    let Some(ctx) = gpu() else { return };
    // 2 samples x 6 channels x 7x5: per-tensor (group = sample) and per-channel groups,
    // every bit width (3, 5, 6, 7 straddle words), plus a constant channel.
    let (batch, c, hw) = (2usize, 6usize, 35usize);
    let numel = batch * c * hw;
    let mut x: Vec<f32> = rand_vec(21, numel).iter().map(|v| v * 3.0).collect();
    x[hw..2 * hw].fill(0.25);
    let xb = buffers::upload(&ctx, "x", &x);
    let k = Builder::new(&ctx);
    for group_len in [c * hw, hw] {
        let groups = numel / group_len;
        for bits in 1..=8u32 {
            let n_words = (numel * bits as usize).div_ceil(32);
            let pb = buffers::zeroed(
                &ctx,
                "params",
                (groups * size_of::<cpu::QuantParams>()) as u64,
            );
            let wb = buffers::zeroed(&ctx, "words", (n_words * 4) as u64);
            let yb = buffers::zeroed(&ctx, "y", (numel * 4) as u64);
            let mut ds = k
                .quantize_pack(numel, group_len, bits, &xb, &pb, &wb)
                .unwrap()
                .to_vec();
            ds.push(
                k.unpack_dequantize(numel, group_len, bits, &pb, &wb, &yb)
                    .unwrap(),
            );
            buffers::run(&ctx, &ds).unwrap();
            let params: Vec<cpu::QuantParams> = buffers::read(&ctx, &pb, groups).unwrap();
            let words: Vec<u32> = buffers::read(&ctx, &wb, n_words).unwrap();
            let deq: Vec<f32> = buffers::read(&ctx, &yb, numel).unwrap();
            let what = format!("group_len {group_len} bits {bits}");
            // min/max are exact; the scales come from one division each (not correctly
            // rounded on every GPU), so they are checked within a few ulps and the
            // GPU's own values feed the CPU reference for the bit-exact symbol check.
            let want_params = cpu::group_params(&x, group_len, bits);
            for (g, w) in params.iter().zip(&want_params) {
                assert_eq!((g.min, g.max), (w.min, w.max), "{what}: min/max");
                assert_close(
                    &[g.scale, g.inv_scale],
                    &[w.scale, w.inv_scale],
                    1e-6,
                    &what,
                );
            }
            let q = cpu::quantize(&x, group_len, &params, bits);
            assert_eq!(words, cpu::pack_symbols(&q, bits), "{what}: packed words");
            assert_eq!(
                cpu::unpack_symbols(&words, bits, numel),
                q,
                "{what}: unpack"
            );
            let want_deq = cpu::dequantize_unpack(&words, &params, group_len, bits, numel);
            assert_close(&deq, &want_deq, 1e-6, &format!("{what}: dequantize"));
            // Round trip error is at most half a quantization step.
            for (i, (d, v)) in deq.iter().zip(&x).enumerate() {
                let step = params[i / group_len].scale;
                assert!(
                    (d - v).abs() <= step * 0.5 + 1e-5,
                    "{what}: value {i}: {v} -> {d}"
                );
            }
        }
    }
}

/// A batch whose sizes overflow `usize` (or, at a smaller batch, the device's binding
/// limit or the kernels' `u32` indexing) is an `Unsupported` error that names the tensor
/// and the batch: never an arithmetic-overflow panic, a wrapped size or an `expect`.
#[test]
fn executor_rejects_a_batch_too_large_without_panicking() {
    let Some(ctx) = gpu() else { return };
    let opts = splitbench::model::ZooOptions::default();
    let m = splitbench::model::prepare("resnet18-cifar", &opts, None, 7)
        .unwrap()
        .model;
    let n = m.graph.nodes.len();
    let per_sample = m.graph.input_shape().numel();
    let just_over_u32 = u32::MAX as usize / per_sample + 1;
    for batch in [usize::MAX / 3, usize::MAX, 1 << 40, just_over_u32] {
        let err = match Executor::new(&ctx, &m, 1..n, batch, &[]) {
            Ok(_) => panic!("batch {batch} accepted"),
            Err(e) => e,
        };
        let msg = err.to_string();
        assert!(matches!(err, Error::Unsupported(_)), "batch {batch}: {msg}");
        assert!(
            msg.contains("tensor '") && msg.contains(&format!("at batch {batch}")),
            "batch {batch}: {msg}"
        );
    }
}

/// The launchers check the sizes they are given (a caller other than the executor may
/// not have): counts beyond `u32` and degenerate quantization groups are errors.
#[test]
fn launchers_reject_sizes_the_kernels_cannot_index() {
    let Some(ctx) = gpu() else { return };
    let k = Builder::new(&ctx);
    let b = buffers::zeroed(&ctx, "b", 64);
    let big = 1usize << 32;
    let c = conv(3, 8, 3, 1, 1, 1);
    let s = Shape::new(3, 4, 4);
    let unsupported = |r: Result<(), Error>, what: &str| match r {
        Err(Error::Unsupported(msg)) => assert!(msg.contains("u32"), "{what}: {msg}"),
        other => panic!("{what}: {other:?}"),
    };
    unsupported(conv_plan(&c, big, s).map(drop), "conv_plan batch 2^32");
    unsupported(
        k.conv2d(&c, big, s, &b, &b, None, None, &b).map(drop),
        "conv2d batch 2^32",
    );
    unsupported(
        k.linear(8, 8, (0, 8), Act::None, big, &b, &b, None, &b)
            .map(drop),
        "linear batch 2^32",
    );
    let window = Pool {
        kernel: 2,
        stride: 2,
        padding: 0,
        ceil: false,
    };
    unsupported(
        k.pool(PoolKind::Max(window), big, s, &b, &b).map(drop),
        "pool batch 2^32",
    );
    unsupported(k.add(big, Act::None, &b, &b, &b).map(drop), "add 2^32");
    unsupported(k.mask(big, 1, 1, &b, &b, &b).map(drop), "mask 2^32");
    // 2^29 values at 8 bits are 2^32 bits, which the pack kernel counts in u32.
    unsupported(
        k.quantize_pack(1 << 29, 1 << 20, 8, &b, &b, &b).map(drop),
        "quantize 2^32 bits",
    );
    // Groups of 0 values used to divide by zero; widths of 0 or 32 bits shift by 32.
    for (group_len, bits) in [(0, 8), (4, 0), (4, 32)] {
        let r = k.unpack_dequantize(16, group_len, bits, &b, &b, &b);
        assert!(
            matches!(r, Err(Error::InvalidArg(_))),
            "group {group_len} bits {bits}"
        );
    }
}
