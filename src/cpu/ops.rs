use crate::error::{Error, Result};
use crate::model::{Act, Conv2d, Graph, Linear, Op, Pool, Shape, Weights};
use crate::tensor::Tensor;

/// `y = act(conv(x) + bias + residual)` for a batch of `n` samples of shape `in_shape`.
pub fn conv2d(
    x: &[f32],
    n: usize,
    in_shape: Shape,
    c: &Conv2d,
    weight: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
) -> Vec<f32> {
    let (oh, ow) = c
        .out_hw(in_shape.h, in_shape.w)
        .expect("shape-checked graph");
    let (kh, kw) = c.kernel;
    let cin_g = c.in_c / c.groups;
    let cout_g = c.out_c / c.groups;
    let mut y = vec![0f32; n * c.out_c * oh * ow];
    for b in 0..n {
        for co in 0..c.out_c {
            let g = co / cout_g;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0f32;
                    for ci in 0..cin_g {
                        let cin = g * cin_g + ci;
                        for ky in 0..kh {
                            let iy = (oy * c.stride.0 + ky) as isize - c.padding.0 as isize;
                            if iy < 0 || iy >= in_shape.h as isize {
                                continue;
                            }
                            for kx in 0..kw {
                                let ix = (ox * c.stride.1 + kx) as isize - c.padding.1 as isize;
                                if ix < 0 || ix >= in_shape.w as isize {
                                    continue;
                                }
                                let xv = x[((b * c.in_c + cin) * in_shape.h + iy as usize)
                                    * in_shape.w
                                    + ix as usize];
                                let wv = weight[((co * cin_g + ci) * kh + ky) * kw + kx];
                                acc += xv * wv;
                            }
                        }
                    }
                    let o = ((b * c.out_c + co) * oh + oy) * ow + ox;
                    if let Some(bias) = bias {
                        acc += bias[co];
                    }
                    if let Some(r) = residual {
                        acc += r[o];
                    }
                    y[o] = c.act.apply(acc);
                }
            }
        }
    }
    y
}

/// `y = act(W x + b)` for `n` vectors.
pub fn linear(x: &[f32], n: usize, l: &Linear, weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let mut y = vec![0f32; n * l.out_f];
    for b in 0..n {
        for o in 0..l.out_f {
            let mut acc = 0f32;
            for i in 0..l.in_f {
                acc += weight[o * l.in_f + i] * x[b * l.in_f + i];
            }
            if let Some(bias) = bias {
                acc += bias[o];
            }
            y[b * l.out_f + o] = l.act.apply(acc);
        }
    }
    y
}

/// Max (`is_max`) or average pooling (average counts zero padding, torch's default).
pub fn pool(x: &[f32], n: usize, s: Shape, p: &Pool, is_max: bool) -> Vec<f32> {
    let oh = p.out_len(s.h).expect("shape-checked graph");
    let ow = p.out_len(s.w).expect("shape-checked graph");
    let mut y = vec![0f32; n * s.c * oh * ow];
    for b in 0..n {
        for c in 0..s.c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = if is_max { f32::NEG_INFINITY } else { 0.0 };
                    for ky in 0..p.kernel {
                        for kx in 0..p.kernel {
                            let iy = (oy * p.stride + ky) as isize - p.padding as isize;
                            let ix = (ox * p.stride + kx) as isize - p.padding as isize;
                            if iy < 0 || ix < 0 || iy >= s.h as isize || ix >= s.w as isize {
                                continue;
                            }
                            let v = x[((b * s.c + c) * s.h + iy as usize) * s.w + ix as usize];
                            acc = if is_max { acc.max(v) } else { acc + v };
                        }
                    }
                    if !is_max {
                        acc /= (p.kernel * p.kernel) as f32;
                    }
                    y[((b * s.c + c) * oh + oy) * ow + ox] = acc;
                }
            }
        }
    }
    y
}

/// `torch.nn.AdaptiveAvgPool2d((oh, ow))`: window `[floor(i*H/oh), ceil((i+1)*H/oh))`.
pub fn adaptive_avg_pool(x: &[f32], n: usize, s: Shape, oh: usize, ow: usize) -> Vec<f32> {
    let mut y = vec![0f32; n * s.c * oh * ow];
    for b in 0..n {
        for c in 0..s.c {
            for oy in 0..oh {
                let (y0, y1) = (oy * s.h / oh, ((oy + 1) * s.h).div_ceil(oh));
                for ox in 0..ow {
                    let (x0, x1) = (ox * s.w / ow, ((ox + 1) * s.w).div_ceil(ow));
                    let mut acc = 0f32;
                    for iy in y0..y1 {
                        for ix in x0..x1 {
                            acc += x[((b * s.c + c) * s.h + iy) * s.w + ix];
                        }
                    }
                    y[((b * s.c + c) * oh + oy) * ow + ox] = acc / ((y1 - y0) * (x1 - x0)) as f32;
                }
            }
        }
    }
    y
}

/// Element-wise `act(a + b)`.
pub fn add(a: &[f32], b: &[f32], act: Act) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| act.apply(x + y)).collect()
}

/// `a * b`, where `b` has `a`'s length or one value per `inner` consecutive values of `a`
/// (per channel of an NCHW tensor whose planes hold `inner` values).
pub fn mul(a: &[f32], b: &[f32], inner: usize) -> Vec<f32> {
    if a.len() == b.len() {
        return a.iter().zip(b).map(|(x, y)| x * y).collect();
    }
    a.iter()
        .enumerate()
        .map(|(i, x)| x * b[i / inner])
        .collect()
}

/// Layer normalization over the channels of every pixel of an NCHW tensor:
/// `(x - mean_c) / sqrt(var_c + eps) * weight[c] + bias[c]` (biased variance, as torch).
pub fn layer_norm(x: &[f32], s: Shape, weight: &[f32], bias: &[f32], eps: f32) -> Vec<f32> {
    let hw = s.h * s.w;
    let mut y = vec![0.0; x.len()];
    for n in 0..x.len() / (s.c * hw).max(1) {
        for p in 0..hw {
            let at = |c: usize| (n * s.c + c) * hw + p;
            let mean = (0..s.c).map(|c| x[at(c)] as f64).sum::<f64>() / s.c as f64;
            let var = (0..s.c)
                .map(|c| (x[at(c)] as f64 - mean).powi(2))
                .sum::<f64>()
                / s.c as f64;
            let inv = 1.0 / (var + eps as f64).sqrt();
            for c in 0..s.c {
                y[at(c)] = ((x[at(c)] as f64 - mean) * inv) as f32 * weight[c] + bias[c];
            }
        }
    }
    y
}

/// Per sample, the inputs' values one after the other (`(values, per-sample length)`
/// each): concatenation along the channels of NCHW tensors of one plane size.
pub fn concat(parts: &[(&[f32], usize)], n: usize) -> Vec<f32> {
    let mut y = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum());
    for s in 0..n {
        for (v, per) in parts {
            y.extend_from_slice(&v[s * per..(s + 1) * per]);
        }
    }
    y
}

/// Applies an activation in place.
pub fn act_inplace(x: &mut [f32], act: Act) {
    x.iter_mut().for_each(|v| *v = act.apply(*v));
}

/// Inference batch norm: `(x - mean) / sqrt(var + eps) * weight + bias` per channel.
#[allow(clippy::too_many_arguments)] // mirrors BatchNorm2d's four tensors + eps
pub fn batch_norm(
    x: &[f32],
    s: Shape,
    weight: &[f32],
    bias: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
) -> Vec<f32> {
    let hw = s.h * s.w;
    x.iter()
        .enumerate()
        .map(|(i, v)| {
            let c = (i / hw) % s.c;
            (v - mean[c]) / (var[c] + eps).sqrt() * weight[c] + bias[c]
        })
        .collect()
}

/// Zeroes the channels whose `keep` flag is 0 in a tensor laid out `[outer, C, inner]`
/// (a weight `[Co, Ci, kh, kw]` has outer 1 and inner `Ci*kh*kw`; an activation NCHW has
/// outer N and inner HW). Kept values are copied bit for bit.
pub fn mask_channels(x: &[f32], channels: usize, inner: usize, keep: &[u32]) -> Vec<f32> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            if keep[(i / inner) % channels] != 0 {
                v
            } else {
                0.0
            }
        })
        .collect()
}

fn param<'a>(w: &'a Weights, node: &str, suffix: &str) -> Result<&'a [f32]> {
    let key = format!("{node}.{suffix}");
    w.get(&key)
        .map(|t| t.data.as_slice())
        .ok_or_else(|| Error::Graph(format!("missing weight '{key}'")))
}

/// Runs the whole graph on a batch `input` (`[N, C, H, W]`) and returns every node's output
/// (index = node id), each shaped `[N, c, h, w]`.
pub fn run(graph: &Graph, weights: &Weights, input: &Tensor) -> Result<Vec<Tensor>> {
    let s0 = graph.input_shape();
    let n = input.shape.first().copied().unwrap_or(0);
    if input.shape != [n, s0.c, s0.h, s0.w] || n == 0 {
        return Err(Error::InvalidArg(format!(
            "input shape {:?} does not match graph input {s0} with batch >= 1",
            input.shape
        )));
    }
    let mut outs: Vec<Tensor> = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let x = |i: usize| outs[node.inputs[i]].data.as_slice();
        let xs = |i: usize| graph.nodes[node.inputs[i]].shape;
        let name = node.name.as_str();
        let data = match &node.op {
            Op::Input => input.data.clone(),
            Op::Conv2d(c) => {
                let bias = if c.bias {
                    Some(param(weights, name, "bias")?)
                } else {
                    None
                };
                let res = if c.residual { Some(x(1)) } else { None };
                conv2d(
                    x(0),
                    n,
                    xs(0),
                    c,
                    param(weights, name, "weight")?,
                    bias,
                    res,
                )
            }
            Op::Linear(l) => {
                let bias = if l.bias {
                    Some(param(weights, name, "bias")?)
                } else {
                    None
                };
                linear(x(0), n, l, param(weights, name, "weight")?, bias)
            }
            Op::BatchNorm { eps, .. } => batch_norm(
                x(0),
                xs(0),
                param(weights, name, "weight")?,
                param(weights, name, "bias")?,
                param(weights, name, "running_mean")?,
                param(weights, name, "running_var")?,
                *eps,
            ),
            Op::Relu | Op::Relu6 => {
                let mut v = x(0).to_vec();
                act_inplace(
                    &mut v,
                    if node.op == Op::Relu {
                        Act::Relu
                    } else {
                        Act::Relu6
                    },
                );
                v
            }
            Op::MaxPool(p) => pool(x(0), n, xs(0), p, true),
            Op::AvgPool(p) => pool(x(0), n, xs(0), p, false),
            Op::AdaptiveAvgPool { h, w } => adaptive_avg_pool(x(0), n, xs(0), *h, *w),
            Op::Add { act } => add(x(0), x(1), *act),
            Op::Activation(act) => {
                let mut v = x(0).to_vec();
                act_inplace(&mut v, *act);
                v
            }
            Op::Mul => mul(x(0), x(1), xs(0).h * xs(0).w),
            Op::Clip { lo, hi } => x(0).iter().map(|v| v.max(*lo).min(*hi)).collect(),
            Op::Concat => {
                let parts: Vec<(&[f32], usize)> = (0..node.inputs.len())
                    .map(|i| (x(i), xs(i).numel()))
                    .collect();
                concat(&parts, n)
            }
            Op::LayerNorm { eps, .. } => layer_norm(
                x(0),
                xs(0),
                param(weights, name, "weight")?,
                param(weights, name, "bias")?,
                *eps,
            ),
            Op::Flatten | Op::Dropout => x(0).to_vec(),
        };
        let s = node.shape;
        outs.push(Tensor::new(vec![n, s.c, s.h, s.w], data)?);
    }
    Ok(outs)
}
