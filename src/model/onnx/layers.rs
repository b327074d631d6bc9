//! The layers of an ONNX graph that become IR nodes with weights or several inputs:
//! convolutions, pooling, reshapes, linear layers, sums, products (GELU, SiLU, gates,
//! constant scales) and batch norm.

use super::attrs::{attr_f, attr_i, attr_ints, attr_s, pair, resolve_shape, transpose};
use super::consts::Const;
use super::proto::NodeProto;
use super::translate::{unsupported, Step, Tx, Val, Why, MAX_DIM, NHWC};
use crate::model::graph::{Act, Conv2d, Linear, NodeId, Op, Pool};

impl Tx<'_> {
    pub(super) fn conv(
        &mut self,
        n: &NodeProto,
        x: Option<(NodeId, usize)>,
        w: Option<Const>,
        b: Option<Const>,
        wname: Option<&str>,
    ) -> Step {
        let (Some((id, 4)), Some(w)) = (x, w) else {
            return Err(unsupported("only an NCHW tensor with constant weights"));
        };
        if w.dims.len() != 4 {
            return Err(unsupported(format!("weights of rank {}", w.dims.len())));
        }
        let s = self.g.nodes[id].shape;
        let (kh, kw) = (w.dims[2], w.dims[3]);
        let [sh, sw] = pair(attr_ints(n, "strides"), 1).ok_or_else(|| unsupported("strides"))?;
        if pair(attr_ints(n, "dilations"), 1) != Some([1, 1]) {
            return Err(unsupported("dilations other than 1"));
        }
        let (ph, pw) = self.pads(n, (s.h, s.w), (kh, kw), (sh, sw))?;
        let groups = attr_i(n, "group", 1).max(1) as usize;
        let conv = Conv2d {
            in_c: w.dims[1] * groups,
            out_c: w.dims[0],
            kernel: (kh, kw),
            stride: (sh, sw),
            padding: (ph, pw),
            groups,
            bias: b.is_some(),
            act: Default::default(),
            residual: false,
        };
        let v = self.push(n, wname, Op::Conv2d(conv), &[id])?;
        let Val::Node { id: out, .. } = v else {
            unreachable!()
        };
        self.param(out, "weight", w.dims.clone(), w.as_f32())?;
        if let Some(b) = b {
            if b.len() != conv.out_c {
                return Err(Why::File(format!(
                    "bias of {} values for {} channels",
                    b.len(),
                    conv.out_c
                )));
            }
            self.param(out, "bias", vec![conv.out_c], b.as_f32())?;
        }
        Ok(v)
    }

    /// Symmetric padding from `pads` or `auto_pad` for an input of `hw`.
    pub(super) fn pads(
        &self,
        n: &NodeProto,
        hw: (usize, usize),
        k: (usize, usize),
        s: (usize, usize),
    ) -> std::result::Result<(usize, usize), Why> {
        let auto = attr_s(n, "auto_pad");
        let (t, l, b, r) = match auto.as_str() {
            "" | "NOTSET" => match attr_ints(n, "pads").as_deref() {
                None => (0, 0, 0, 0),
                Some([t, l, b, r]) => (*t, *l, *b, *r),
                Some(p) => return Err(unsupported(format!("pads {p:?}"))),
            },
            "VALID" => (0, 0, 0, 0),
            _ => {
                let total = |len: usize, k: usize, s: usize| {
                    ((len.div_ceil(s) - 1) * s + k).saturating_sub(len) as i64
                };
                let (th, tw) = (total(hw.0, k.0, s.0), total(hw.1, k.1, s.1));
                let lower = auto == "SAME_LOWER";
                let split = |t: i64| {
                    if lower {
                        (t - t / 2, t / 2)
                    } else {
                        (t / 2, t - t / 2)
                    }
                };
                let ((a, c), (bb, d)) = (split(th), split(tw));
                (a, bb, c, d)
            }
        };
        if [t, l].iter().any(|&v| v > MAX_DIM as i64) {
            return Err(unsupported(format!("padding [{t}, {l}, {b}, {r}]")));
        }
        if t != b || l != r || t < 0 || l < 0 {
            return Err(unsupported(format!(
                "asymmetric padding [{t}, {l}, {b}, {r}]"
            )));
        }
        Ok((t as usize, l as usize))
    }

    pub(super) fn pool(&mut self, n: &NodeProto, op: &str, x: Option<(NodeId, usize)>) -> Step {
        let Some((id, 4)) = x else {
            return Err(unsupported("only NCHW tensors"));
        };
        let s = self.g.nodes[id].shape;
        let [kh, kw] =
            pair(attr_ints(n, "kernel_shape"), 0).ok_or_else(|| unsupported("kernel_shape"))?;
        let [sh, sw] = pair(attr_ints(n, "strides"), 1).ok_or_else(|| unsupported("strides"))?;
        if kh != kw || sh != sw {
            return Err(unsupported("non-square windows or strides"));
        }
        if pair(attr_ints(n, "dilations"), 1) != Some([1, 1]) {
            return Err(unsupported("dilations other than 1"));
        }
        let (ph, pw) = self.pads(n, (s.h, s.w), (kh, kw), (sh, sw))?;
        if ph != pw {
            return Err(unsupported("different padding along H and W"));
        }
        let floor = Pool {
            kernel: kh,
            stride: sh,
            padding: ph,
            ceil: false,
        };
        let p = Pool {
            ceil: attr_i(n, "ceil_mode", 0) != 0,
            ..floor
        };
        let partial = |len| p.out_len(len) != floor.out_len(len);
        if op == "AveragePool" && (partial(s.h) || partial(s.w)) {
            // torch divides a partial window by its clipped size; the kernels by the whole.
            return Err(unsupported("ceil_mode=1 where it adds a partial window"));
        }
        if op == "AveragePool" {
            if ph > 0 && attr_i(n, "count_include_pad", 0) == 0 {
                return Err(unsupported("count_include_pad=0 with padding"));
            }
            self.push(n, None, Op::AvgPool(p), &[id])
        } else {
            self.push(n, None, Op::MaxPool(p), &[id])
        }
    }

    pub(super) fn reshape(
        &mut self,
        n: &NodeProto,
        x: Option<(NodeId, usize)>,
        shape: Option<Const>,
    ) -> Step {
        let (Some((id, rank)), Some(shape)) = (x, shape) else {
            return Err(unsupported("only a tensor to a constant shape"));
        };
        let cur = self.dims(id, rank);
        let to = resolve_shape(&cur, &shape.as_ints()).map_err(Why::File)?;
        let numel = self.g.nodes[id].shape.numel() as i64;
        if to == cur {
            Ok(Val::Node { id, rank })
        } else if self.batch == 1 && to == [numel] {
            // Fully flat (the dynamo exporter's `as_strided` at batch 1; see "Gather").
            Ok(Val::Node { id, rank: 1 })
        } else if to == [self.batch, numel] {
            if rank == 2 {
                Ok(Val::Node { id, rank })
            } else {
                self.push(n, None, Op::Flatten, &[id])
            }
        } else {
            Err(unsupported(format!(
                "to {to:?} (only flattening to [N, features])"
            )))
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn linear(
        &mut self,
        n: &NodeProto,
        id: NodeId,
        w: Vec<f32>,
        out_f: usize,
        in_f: usize,
        bias: Option<Vec<f32>>,
        wname: Option<&str>,
    ) -> Step {
        let l = Linear {
            in_f,
            out_f,
            bias: bias.is_some(),
            act: Default::default(),
        };
        let v = self.push(n, wname, Op::Linear(l), &[id])?;
        let Val::Node { id: out, .. } = v else {
            unreachable!()
        };
        self.param(out, "weight", vec![out_f, in_f], w)?;
        if let Some(b) = bias {
            self.param(out, "bias", vec![out_f], b)?;
        }
        Ok(v)
    }

    pub(super) fn gemm(
        &mut self,
        n: &NodeProto,
        x: Option<(NodeId, usize)>,
        b: Option<Const>,
        c: Option<Const>,
        wname: Option<&str>,
    ) -> Step {
        let (Some((id, 2)), Some(b)) = (x, b) else {
            return Err(unsupported("only an N x K tensor times a constant matrix"));
        };
        if attr_i(n, "transA", 0) != 0 || b.dims.len() != 2 {
            return Err(unsupported("transA=1 or a non-matrix B"));
        }
        let (alpha, beta) = (
            attr_f(n, "alpha").unwrap_or(1.0),
            attr_f(n, "beta").unwrap_or(1.0),
        );
        let trans_b = attr_i(n, "transB", 0) != 0;
        let (out_f, in_f) = if trans_b {
            (b.dims[0], b.dims[1])
        } else {
            (b.dims[1], b.dims[0])
        };
        let mut w = if trans_b {
            b.as_f32()
        } else {
            transpose(&b.as_f32(), in_f, out_f)
        };
        w.iter_mut().for_each(|v| *v *= alpha);
        let bias = match c {
            None => None,
            Some(c) if c.len() == out_f => Some(c.as_f32().iter().map(|v| v * beta).collect()),
            Some(c) if c.len() == 1 => Some(vec![c.as_f32()[0] * beta; out_f]),
            Some(c) => return Err(unsupported(format!("C of shape {:?}", c.dims))),
        };
        self.linear(n, id, w, out_f, in_f, bias, wname)
    }

    pub(super) fn add(&mut self, n: &NodeProto, ins: &[Option<Val>]) -> Step {
        match (
            ins.first().cloned().flatten(),
            ins.get(1).cloned().flatten(),
        ) {
            (Some(Val::Gelu { id, rank, step: 2 }), Some(Val::Const(c)))
            | (Some(Val::Const(c)), Some(Val::Gelu { id, rank, step: 2 }))
                if c.scalar_f32() == Some(1.0) =>
            {
                Ok(Val::Gelu { id, rank, step: 3 })
            }
            (Some(Val::Gelu { .. }), _) | (_, Some(Val::Gelu { .. })) => {
                Err(unsupported("an unfinished GELU pattern"))
            }
            (Some(Val::Node { id: a, rank: ra }), Some(Val::Node { id: b, rank: rb })) => {
                if ra != rb || self.g.nodes[a].shape != self.g.nodes[b].shape {
                    return Err(unsupported("broadcasting (only tensors of one shape)"));
                }
                match self.push(
                    n,
                    None,
                    Op::Add {
                        act: Default::default(),
                    },
                    &[a, b],
                )? {
                    Val::Node { id, .. } => Ok(Val::Node { id, rank: ra }),
                    v => Ok(v),
                }
            }
            (Some(Val::Node { id, rank }), Some(Val::Const(c)))
            | (Some(Val::Const(c)), Some(Val::Node { id, rank })) => {
                // A bias: fold it into the conv or linear layer (read only here) before it.
                let x_name = n
                    .input
                    .iter()
                    .find(|i| matches!(self.vals.get(i.as_str()), Some(Val::Node { .. })))
                    .map(String::as_str)
                    .unwrap_or("");
                let once = self.uses.get(x_name) == Some(&1);
                let node = &mut self.g.nodes[id];
                let channels = node.shape.c;
                let per_channel = c.len() == channels
                    && c.dims.iter().filter(|&&d| d != 1).count() <= 1
                    && (rank == 2 || rank == NHWC || c.dims.len() >= 3);
                let slot = match &mut node.op {
                    Op::Linear(l) if !l.bias => Some(&mut l.bias),
                    Op::Conv2d(cv) if !cv.bias && !cv.residual => Some(&mut cv.bias),
                    _ => None,
                };
                match slot {
                    Some(flag) if once && per_channel => {
                        *flag = true;
                        self.param(id, "bias", vec![channels], c.as_f32())?;
                        Ok(Val::Node { id, rank })
                    }
                    _ => Err(unsupported("adding a constant other than a layer's bias")),
                }
            }
            _ => Err(Why::File("needs two inputs".into())),
        }
    }

    /// `Mul` and `Div`: GELU's steps, SiLU (`x * sigmoid(x)`), gates (squeeze-excite) and
    /// products with constants (a depthwise 1x1 convolution: layer scale).
    pub(super) fn mul(&mut self, n: &NodeProto, op: &str, ins: &[Option<Val>]) -> Step {
        let (a, b) = (
            ins.first().cloned().flatten(),
            ins.get(1).cloned().flatten(),
        );
        let half = |c: &Const| c.scalar_f32() == Some(0.5);
        let sqrt2 = |c: &Const| {
            c.scalar_f32()
                .is_some_and(|v| (v - std::f32::consts::SQRT_2).abs() < 1e-5)
        };
        match (a, b) {
            (Some(Val::Node { id, rank }), Some(Val::Const(c))) if op == "Div" && sqrt2(&c) => {
                Ok(Val::Gelu { id, rank, step: 1 })
            }
            (Some(Val::Node { id, rank }), Some(Val::Gelu { id: g, step: 3, .. }))
            | (Some(Val::Gelu { id: g, step: 3, .. }), Some(Val::Node { id, rank }))
                if op == "Mul" && id == g =>
            {
                Ok(Val::Gelu { id, rank, step: 4 })
            }
            (Some(Val::Gelu { id, rank, step: 4 }), Some(Val::Const(c)))
            | (Some(Val::Const(c)), Some(Val::Gelu { id, rank, step: 4 }))
                if op == "Mul" && half(&c) =>
            {
                self.unary(n, Some((id, rank)), Op::Activation(Act::Gelu))
            }
            (Some(Val::Gelu { .. }), _) | (_, Some(Val::Gelu { .. })) => {
                Err(unsupported("an unfinished GELU pattern"))
            }
            (Some(Val::Node { id: a, rank: ra }), Some(Val::Node { id: b, rank: rb }))
                if op == "Mul" =>
            {
                // SiLU: x * sigmoid(x), the sigmoid's output read only here.
                for (k, (x, s)) in [(a, b), (b, a)].into_iter().enumerate() {
                    let sig_value = n.input[1 - k].as_str();
                    let sig = &self.g.nodes[s];
                    if sig.op == Op::Activation(Act::Sigmoid)
                        && sig.inputs == [x]
                        && self.uses.get(sig_value) == Some(&1)
                    {
                        self.g.nodes[s].op = Op::Activation(Act::Silu);
                        return Ok(Val::Node { id: s, rank: ra });
                    }
                }
                let (sa, sb) = (self.g.nodes[a].shape, self.g.nodes[b].shape);
                let (big, small, rank) = if sa.numel() >= sb.numel() {
                    (a, b, ra)
                } else {
                    (b, a, rb)
                };
                match self.push(n, None, Op::Mul, &[big, small]) {
                    Ok(Val::Node { id, .. }) => Ok(Val::Node { id, rank }),
                    Ok(v) => Ok(v),
                    Err(_) => Err(unsupported(format!(
                        "broadcasting {} by {} (only one shape, or one value per channel)",
                        self.g.nodes[big].shape, self.g.nodes[small].shape
                    ))),
                }
            }
            (Some(Val::Node { id, rank }), Some(Val::Const(c)))
            | (Some(Val::Const(c)), Some(Val::Node { id, rank })) => {
                if op == "Div" && matches!(ins.first(), Some(Some(Val::Const(_)))) {
                    return Err(unsupported("a constant divided by a tensor"));
                }
                // A scalar or per-channel constant: a depthwise 1x1 convolution.
                let ch = self.g.nodes[id].shape.c;
                let per_channel = c.len() == ch
                    && c.dims.iter().filter(|&&d| d != 1).count() <= 1
                    && (rank != 4 || c.dims.len() >= 3);
                let mut v = match (c.len(), per_channel) {
                    (1, _) => vec![c.as_f32()[0]; ch],
                    (_, true) => c.as_f32(),
                    _ => return Err(unsupported(format!("by a constant of shape {:?}", c.dims))),
                };
                if op == "Div" {
                    v.iter_mut().for_each(|x| *x = 1.0 / *x);
                }
                let conv = Conv2d::new(ch, ch, 1, 1, 0, ch);
                let cname = n
                    .input
                    .iter()
                    .find(|i| matches!(self.vals.get(i.as_str()), Some(Val::Const(_))))
                    .cloned();
                let out = self.push(
                    n,
                    cname.as_deref().map(|c| format!("{c}.weight")).as_deref(),
                    Op::Conv2d(conv),
                    &[id],
                )?;
                self.param(id_of(&out), "weight", vec![ch, 1, 1, 1], v)?;
                Ok(Val::Node {
                    id: id_of(&out),
                    rank,
                })
            }
            _ => Err(unsupported("")),
        }
    }

    pub(super) fn batch_norm(
        &mut self,
        n: &NodeProto,
        x: Option<(NodeId, usize)>,
        ins: &[Option<Val>],
    ) -> Step {
        let Some((id, 4)) = x else {
            return Err(unsupported("only NCHW tensors"));
        };
        if attr_i(n, "training_mode", 0) != 0 {
            return Err(unsupported("training_mode=1"));
        }
        let c = self.g.nodes[id].shape.c;
        let mut params = Vec::new();
        for k in 1..5 {
            match ins.get(k).cloned().flatten() {
                Some(Val::Const(t)) if t.len() == c => params.push(t.as_f32()),
                _ => return Err(unsupported("non-constant or mis-sized statistics")),
            }
        }
        let eps = attr_f(n, "epsilon").unwrap_or(1e-5);
        let wname = n.input.get(1).map(String::as_str);
        let after_conv = matches!(self.g.nodes[id].op, Op::Conv2d(cv) if !cv.residual)
            && n.input.first().and_then(|i| self.uses.get(i.as_str())) == Some(&1);
        if !after_conv {
            // Nothing to fold it into: a per-channel scale and shift is a depthwise 1x1
            // convolution with a bias.
            let (g, b, m, var) = (&params[0], &params[1], &params[2], &params[3]);
            let scale: Vec<f32> = (0..c).map(|i| g[i] / (var[i] + eps).sqrt()).collect();
            let shift: Vec<f32> = (0..c).map(|i| b[i] - m[i] * scale[i]).collect();
            let mut conv = Conv2d::new(c, c, 1, 1, 0, c);
            conv.bias = true;
            let v = self.push(n, wname, Op::Conv2d(conv), &[id])?;
            self.param(id_of(&v), "weight", vec![c, 1, 1, 1], scale)?;
            self.param(id_of(&v), "bias", vec![c], shift)?;
            return Ok(v);
        }
        let v = self.push(n, wname, Op::BatchNorm { c, eps }, &[id])?;
        for (suffix, p) in ["weight", "bias", "running_mean", "running_var"]
            .iter()
            .zip(params)
        {
            self.param(id_of(&v), suffix, vec![c], p)?;
        }
        Ok(v)
    }
}

pub(super) fn id_of(v: &Val) -> NodeId {
    match v {
        Val::Node { id, .. } => *id,
        _ => 0,
    }
}
