//! The model zoo: torchvision's architectures with torchvision's module paths, so a
//! `state_dict` saved from PyTorch loads by key without any renaming.
//!
//! Graphs are *unfused*: convs without bias where torchvision has `bias=False`, explicit
//! `BatchNorm`, `ReLU`/`ReLU6`, `Dropout` and `Flatten` nodes. [`crate::model::fuse`] turns
//! them into the inference graph the GPU runs.
//!
//! Nodes that are not torchvision modules (residual adds, the second ReLU of a block,
//! `flatten`) get names that cannot collide with parameter keys (`layer1.0.add`,
//! `layer1.0.relu2`). In ResNet blocks the `downsample` branch comes before `conv1`, so
//! the main path's last conv has the larger id and fusion can fold the add into it.

use super::graph::{Conv2d, Graph, Linear, NodeId, Op, Pool, Shape};
use crate::error::{Error, Result};

/// Zoo model names, as accepted by [`build`].
pub fn names() -> &'static [&'static str] {
    &[
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet18-cifar",
        "vgg16",
        "mobilenet_v2",
        "alexnet",
    ]
}

/// Options that change a zoo model's shape; `None` keeps the model's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZooOptions {
    /// Per-sample input shape (default 3x224x224; 3x32x32 for `resnet18-cifar`).
    pub input: Option<Shape>,
    /// Number of classes (default 1000; 10 for `resnet18-cifar`).
    pub classes: Option<usize>,
    /// Base width of ResNets: stem and `layer1` channels, doubled per stage (default 64).
    /// Only ResNets accept it.
    pub width: Option<usize>,
}

/// A module of a classifier head before its last linear layer.
#[derive(Clone, Copy)]
enum Layer {
    /// `nn.Linear` with this many outputs.
    Linear(usize),
    /// `nn.ReLU`.
    Relu,
    /// `nn.Dropout`.
    Dropout,
}

/// Batch norm epsilon of every torchvision model here (PyTorch's default).
const BN_EPS: f32 = 1e-5;

/// Builds the named zoo model; unknown names give [`Error::UnknownModel`], options that are
/// zero, unsupported by the model or that shrink a feature map to nothing give an error.
pub fn build(name: &str, opts: &ZooOptions) -> Result<Graph> {
    let cifar = name == "resnet18-cifar";
    let input = opts.input.unwrap_or(if cifar {
        Shape::new(3, 32, 32)
    } else {
        Shape::new(3, 224, 224)
    });
    let classes = opts.classes.unwrap_or(if cifar { 10 } else { 1000 });
    if input.numel() == 0 {
        return Err(Error::InvalidArg(format!(
            "input shape {input} has a zero dimension"
        )));
    }
    if classes == 0 {
        return Err(Error::InvalidArg("classes must be at least 1".into()));
    }
    let is_resnet = name.starts_with("resnet");
    if opts.width.is_some() && !is_resnet {
        return Err(Error::InvalidArg(format!(
            "width applies only to ResNet models, not {name}"
        )));
    }
    let width = opts.width.unwrap_or(64);
    if width == 0 {
        return Err(Error::InvalidArg("width must be at least 1".into()));
    }
    let mut b = Builder {
        g: Graph::new(name, input),
    };
    match name {
        "resnet18" => b.resnet(Block::Basic, [2, 2, 2, 2], width, classes, true)?,
        "resnet34" => b.resnet(Block::Basic, [3, 4, 6, 3], width, classes, true)?,
        "resnet50" => b.resnet(Block::Bottleneck, [3, 4, 6, 3], width, classes, true)?,
        "resnet18-cifar" => b.resnet(Block::Basic, [2, 2, 2, 2], width, classes, false)?,
        "vgg16" => b.vgg16(classes)?,
        "mobilenet_v2" => b.mobilenet_v2(classes)?,
        "alexnet" => b.alexnet(classes)?,
        _ => {
            return Err(Error::UnknownModel {
                name: name.into(),
                known: names().join(", "),
            })
        }
    }
    Ok(b.g)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Basic,
    Bottleneck,
}

impl Block {
    fn expansion(self) -> usize {
        match self {
            Block::Basic => 1,
            Block::Bottleneck => 4,
        }
    }
}

/// Thin wrapper over [`Graph::push`] with one method per torch module.
struct Builder {
    g: Graph,
}

impl Builder {
    fn channels(&self, x: NodeId) -> usize {
        self.g.nodes[x].shape.c
    }

    /// `nn.Conv2d(in, out, k, stride, padding, groups=groups, bias=bias)`, `in` taken from `x`.
    #[allow(clippy::too_many_arguments)] // mirrors nn.Conv2d's argument list
    fn conv(
        &mut self,
        name: &str,
        x: NodeId,
        out_c: usize,
        k: usize,
        stride: usize,
        pad: usize,
        groups: usize,
        bias: bool,
    ) -> Result<NodeId> {
        let mut c = Conv2d::new(self.channels(x), out_c, k, stride, pad, groups);
        c.bias = bias;
        self.g.push(name, Op::Conv2d(c), &[x])
    }

    fn bn(&mut self, name: &str, x: NodeId) -> Result<NodeId> {
        let c = self.channels(x);
        self.g.push(name, Op::BatchNorm { c, eps: BN_EPS }, &[x])
    }

    fn op(&mut self, name: &str, op: Op, x: NodeId) -> Result<NodeId> {
        self.g.push(name, op, &[x])
    }

    fn linear(&mut self, name: &str, x: NodeId, out_f: usize) -> Result<NodeId> {
        let l = Linear {
            in_f: self.g.nodes[x].shape.numel(),
            out_f,
            bias: true,
            act: Default::default(),
        };
        self.g.push(name, Op::Linear(l), &[x])
    }

    /// The classifier head: adaptive average pooling to `pool` x `pool`, flatten, then
    /// `classifier.{i}` modules in order (torchvision's `nn.Sequential` indices); the last
    /// linear layer has `classes` outputs.
    fn head(&mut self, x: NodeId, pool: usize, layers: &[Layer], classes: usize) -> Result<()> {
        let mut x = self.op("avgpool", Op::AdaptiveAvgPool { h: pool, w: pool }, x)?;
        x = self.op("flatten", Op::Flatten, x)?;
        for (i, l) in layers.iter().enumerate() {
            let name = format!("classifier.{i}");
            x = match *l {
                Layer::Linear(out_f) => self.linear(&name, x, out_f)?,
                Layer::Relu => self.op(&name, Op::Relu, x)?,
                Layer::Dropout => self.op(&name, Op::Dropout, x)?,
            };
        }
        self.linear(&format!("classifier.{}", layers.len()), x, classes)?;
        Ok(())
    }

    fn add(&mut self, name: &str, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.g.push(
            name,
            Op::Add {
                act: Default::default(),
            },
            &[a, b],
        )
    }

    /// torchvision `ResNet`; `imagenet` selects the 7x7/2 stem + max-pool, otherwise the
    /// CIFAR stem of the paper's reference (3x3 stride-1 conv, no max-pool).
    fn resnet(
        &mut self,
        block: Block,
        layers: [usize; 4],
        width: usize,
        classes: usize,
        imagenet: bool,
    ) -> Result<()> {
        let mut x = if imagenet {
            self.conv("conv1", 0, width, 7, 2, 3, 1, false)?
        } else {
            self.conv("conv1", 0, width, 3, 1, 1, 1, false)?
        };
        x = self.bn("bn1", x)?;
        x = self.op("relu", Op::Relu, x)?;
        if imagenet {
            let p = Pool {
                kernel: 3,
                stride: 2,
                padding: 1,
                ceil: false,
            };
            x = self.op("maxpool", Op::MaxPool(p), x)?;
        }
        for (i, &n) in layers.iter().enumerate() {
            let planes = width << i;
            for j in 0..n {
                let stride = if i > 0 && j == 0 { 2 } else { 1 };
                let name = format!("layer{}.{j}", i + 1);
                x = self.res_block(block, &name, x, planes, stride)?;
            }
        }
        x = self.op("avgpool", Op::AdaptiveAvgPool { h: 1, w: 1 }, x)?;
        x = self.op("flatten", Op::Flatten, x)?;
        self.linear("fc", x, classes)?;
        Ok(())
    }

    /// torchvision `BasicBlock` / `Bottleneck` (v1.5: stride on the 3x3 conv).
    fn res_block(
        &mut self,
        block: Block,
        name: &str,
        x: NodeId,
        planes: usize,
        stride: usize,
    ) -> Result<NodeId> {
        let out_c = planes * block.expansion();
        // Downsample first so the main path's last conv gets the larger id (see module doc).
        let identity = if stride != 1 || self.channels(x) != out_c {
            let d = self.conv(
                &format!("{name}.downsample.0"),
                x,
                out_c,
                1,
                stride,
                0,
                1,
                false,
            )?;
            self.bn(&format!("{name}.downsample.1"), d)?
        } else {
            x
        };
        let mut y = x;
        let convs: Vec<(usize, usize, usize, usize)> = match block {
            // (out channels, kernel, stride, padding)
            Block::Basic => vec![(planes, 3, stride, 1), (planes, 3, 1, 1)],
            Block::Bottleneck => vec![(planes, 1, 1, 0), (planes, 3, stride, 1), (out_c, 1, 1, 0)],
        };
        let last = convs.len();
        for (k, &(oc, ks, s, p)) in convs.iter().enumerate() {
            let k = k + 1;
            y = self.conv(&format!("{name}.conv{k}"), y, oc, ks, s, p, 1, false)?;
            y = self.bn(&format!("{name}.bn{k}"), y)?;
            if k < last {
                y = self.op(&format!("{name}.relu{k}"), Op::Relu, y)?;
            }
        }
        y = self.add(&format!("{name}.add"), y, identity)?;
        self.op(&format!("{name}.relu{last}"), Op::Relu, y)
    }

    /// torchvision `vgg16` (configuration "D", no batch norm).
    fn vgg16(&mut self, classes: usize) -> Result<()> {
        const CFG: [usize; 18] = [
            64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
        ];
        let mut x = 0;
        let mut idx = 0;
        for &c in &CFG {
            if c == 0 {
                let p = Pool {
                    kernel: 2,
                    stride: 2,
                    padding: 0,
                    ceil: false,
                };
                x = self.op(&format!("features.{idx}"), Op::MaxPool(p), x)?;
                idx += 1;
            } else {
                x = self.conv(&format!("features.{idx}"), x, c, 3, 1, 1, 1, true)?;
                x = self.op(&format!("features.{}", idx + 1), Op::Relu, x)?;
                idx += 2;
            }
        }
        use Layer::*;
        let fc = [Linear(4096), Relu, Dropout, Linear(4096), Relu, Dropout];
        self.head(x, 7, &fc, classes)?;
        Ok(())
    }

    /// torchvision `alexnet`.
    fn alexnet(&mut self, classes: usize) -> Result<()> {
        let pool = Op::MaxPool(Pool {
            kernel: 3,
            stride: 2,
            padding: 0,
            ceil: false,
        });
        let mut x = self.conv("features.0", 0, 64, 11, 4, 2, 1, true)?;
        x = self.op("features.1", Op::Relu, x)?;
        x = self.op("features.2", pool, x)?;
        x = self.conv("features.3", x, 192, 5, 1, 2, 1, true)?;
        x = self.op("features.4", Op::Relu, x)?;
        x = self.op("features.5", pool, x)?;
        x = self.conv("features.6", x, 384, 3, 1, 1, 1, true)?;
        x = self.op("features.7", Op::Relu, x)?;
        x = self.conv("features.8", x, 256, 3, 1, 1, 1, true)?;
        x = self.op("features.9", Op::Relu, x)?;
        x = self.conv("features.10", x, 256, 3, 1, 1, 1, true)?;
        x = self.op("features.11", Op::Relu, x)?;
        x = self.op("features.12", pool, x)?;
        use Layer::*;
        let fc = [Dropout, Linear(4096), Relu, Dropout, Linear(4096), Relu];
        self.head(x, 6, &fc, classes)?;
        Ok(())
    }

    /// torchvision `Conv2dNormActivation` with ReLU6: `{name}.0` conv, `.1` bn, `.2` relu6.
    fn conv_bn_relu6(
        &mut self,
        name: &str,
        x: NodeId,
        out_c: usize,
        k: usize,
        stride: usize,
        groups: usize,
    ) -> Result<NodeId> {
        let y = self.conv(
            &format!("{name}.0"),
            x,
            out_c,
            k,
            stride,
            (k - 1) / 2,
            groups,
            false,
        )?;
        let y = self.bn(&format!("{name}.1"), y)?;
        self.op(&format!("{name}.2"), Op::Relu6, y)
    }

    /// torchvision `mobilenet_v2` (width 1.0: every channel count is already a multiple of 8).
    fn mobilenet_v2(&mut self, classes: usize) -> Result<()> {
        // (expand ratio t, out channels c, repeats n, first stride s)
        const SETTING: [(usize, usize, usize, usize); 7] = [
            (1, 16, 1, 1),
            (6, 24, 2, 2),
            (6, 32, 3, 2),
            (6, 64, 4, 2),
            (6, 96, 3, 1),
            (6, 160, 3, 2),
            (6, 320, 1, 1),
        ];
        let mut x = self.conv_bn_relu6("features.0", 0, 32, 3, 2, 1)?;
        let mut idx = 1;
        for &(t, c, n, s) in &SETTING {
            for j in 0..n {
                let stride = if j == 0 { s } else { 1 };
                x = self.inverted_residual(&format!("features.{idx}"), x, c, stride, t)?;
                idx += 1;
            }
        }
        x = self.conv_bn_relu6(&format!("features.{idx}"), x, 1280, 1, 1, 1)?;
        // torchvision calls F.adaptive_avg_pool2d and torch.flatten: no module names.
        self.head(x, 1, &[Layer::Dropout], classes)?;
        Ok(())
    }

    /// torchvision `InvertedResidual`: `{name}.conv.M...`, residual add when shapes match.
    fn inverted_residual(
        &mut self,
        name: &str,
        x: NodeId,
        out_c: usize,
        stride: usize,
        t: usize,
    ) -> Result<NodeId> {
        let in_c = self.channels(x);
        let hidden = in_c * t;
        let mut m = 0;
        let mut y = x;
        if t != 1 {
            y = self.conv_bn_relu6(&format!("{name}.conv.{m}"), y, hidden, 1, 1, 1)?;
            m += 1;
        }
        y = self.conv_bn_relu6(&format!("{name}.conv.{m}"), y, hidden, 3, stride, hidden)?;
        y = self.conv(
            &format!("{name}.conv.{}", m + 1),
            y,
            out_c,
            1,
            1,
            0,
            1,
            false,
        )?;
        y = self.bn(&format!("{name}.conv.{}", m + 2), y)?;
        if stride == 1 && in_c == out_c {
            y = self.add(&format!("{name}.add"), x, y)?;
        }
        Ok(y)
    }
}
