#!/usr/bin/env python3
"""Writes the ONNX import fixtures of tests/onnx.rs (a development tool: CI only reads them).

    python3 -m venv .venv && .venv/bin/pip install torch torchvision onnx onnxruntime onnxscript
    .venv/bin/python scripts/onnx/make_fixtures.py tests/fixtures/onnx

Each fixture is `NAME.onnx` (plus `NAME.onnx.data` where weights are external), `NAME.in.npy`
(the input, f32 NCHW) and `NAME.out.npy` (onnxruntime's output on it). Kept tiny (KBs).

    .venv/bin/python scripts/onnx/make_fixtures.py --full DIR

exports torchvision's resnet18, mobilenet_v2, mobilenet_v3_small, efficientnet_b0 and
convnext_tiny (random weights, 10 classes) with both exporters at 3x64x64 and 3x224x224 for a
manual check (`splitbench predict`), with the same .npy pairs. Not committed: MBs each.
"""
import argparse
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(7)


def golden(path, x):
    """Runs onnxruntime on x and writes the .npy pair beside path."""
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    y = sess.run(None, {name: x})[0]
    stem = path[: -len(".onnx")]
    np.save(stem + ".in.npy", x.astype(np.float32))
    np.save(stem + ".out.npy", y.astype(np.float32))


def export(model, shape, path, dynamo, external=False):
    model.eval()
    x = torch.randn(*shape)
    if dynamo:
        torch.onnx.export(model, (x,), path, dynamo=True, external_data=external)
    else:
        torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17)
    golden(path, x.numpy())


def init_bn(m):
    # Non-trivial running statistics, so folding them is tested.
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    return m


class TinyResNet(torch.nn.Module):
    """A ResNet in miniature: stem, max pool, one basic block, a strided block with a
    downsample, global pool, fc."""

    def __init__(self, w=4, classes=5):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(3, w, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.a = nn.Conv2d(w, w, 3, 1, 1, bias=False)
        self.abn = nn.BatchNorm2d(w)
        self.b = nn.Conv2d(w, 2 * w, 3, 2, 1, bias=False)
        self.bbn = nn.BatchNorm2d(2 * w)
        self.down = nn.Conv2d(w, 2 * w, 1, 2, 0, bias=False)
        self.dbn = nn.BatchNorm2d(2 * w)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * w, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.relu(self.abn(self.a(x)) + x)
        x = self.relu(self.bbn(self.b(x)) + self.dbn(self.down(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TinyMobileNet(torch.nn.Module):
    """MobileNetV2 in miniature: ReLU6 (Clip), an inverted residual with a depthwise conv,
    dropout, global pool, fc."""

    def __init__(self, classes=5):
        super().__init__()
        nn = torch.nn
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        self.block = nn.Sequential(
            nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
            nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
            nn.Conv2d(16, 8, 1, bias=False), nn.BatchNorm2d(8),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(8, classes))

    def forward(self, x):
        x = self.stem(x)
        x = x + self.block(x)
        return self.classifier(torch.flatten(self.pool(x), 1))


def helper_model(path, nodes, inits, in_shape, out_shape, opset=17, in_dims=None):
    """A one-graph model from onnx.helper nodes; in_dims may hold symbolic names."""
    dims = in_dims or list(in_shape)
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v.astype(v.dtype), k) for k, v in inits.items()],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(m, path)
    return m


def per_op(d):
    f = lambda *s: RNG.standard_normal(s).astype(np.float32)
    x = f(2, 3, 9, 7)
    # Conv with asymmetric-free padding, stride 2, bias; Clip(0, 6) as inputs; Gemm with
    # transB = 0 after a Reshape whose shape is computed (Shape -> Gather -> Unsqueeze ->
    # Concat), the plumbing exporters write.
    p = os.path.join(d, "ops_conv_clip_gemm.onnx")
    helper_model(
        p,
        [
            helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1], strides=[2, 2]),
            helper.make_node("Constant", [], ["lo"], name="lo", value=numpy_helper.from_array(np.array(0.0, np.float32))),
            helper.make_node("Constant", [], ["hi"], name="hi", value=numpy_helper.from_array(np.array(6.0, np.float32))),
            helper.make_node("Clip", ["c", "lo", "hi"], ["r"], name="relu6"),
            helper.make_node("MaxPool", ["r"], ["m"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Shape", ["m"], ["s"], name="shape"),
            helper.make_node("Constant", [], ["zero"], name="zero", value=numpy_helper.from_array(np.array(0, np.int64))),
            helper.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
            helper.make_node("Unsqueeze", ["n", "ax"], ["n1"], name="unsq"),
            helper.make_node("Concat", ["n1", "minus1"], ["shp"], name="concat", axis=0),
            helper.make_node("Reshape", ["m", "shp"], ["flat"], name="reshape"),
            helper.make_node("Gemm", ["flat", "fw", "fb"], ["y"], name="fc", transB=0),
        ],
        {
            "w": f(6, 3, 3, 3), "b": f(6),
            "ax": np.array([0], np.int64), "minus1": np.array([-1], np.int64),
            "fw": f(6 * 2 * 2, 4), "fb": f(4),
        },
        x.shape, None,
    )
    golden(p, x)
    # BatchNormalization alone, average pool (count_include_pad), ReduceMean over H, W
    # without keepdims, MatMul + Add as a linear layer.
    p = os.path.join(d, "ops_bn_avgpool_reducemean_matmul.onnx")
    helper_model(
        p,
        [
            helper.make_node("BatchNormalization", ["x", "g", "bb", "mu", "var"], ["n"], name="bn", epsilon=1e-3),
            helper.make_node("AveragePool", ["n"], ["a"], name="avg", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], count_include_pad=1),
            helper.make_node("Relu", ["a"], ["r"], name="relu"),
            helper.make_node("ReduceMean", ["r", "axes"], ["gm"], name="mean", keepdims=0),
            helper.make_node("MatMul", ["gm", "mw"], ["mm"], name="linear"),
            helper.make_node("Add", ["mm", "mb"], ["y"], name="linear_bias"),
        ],
        {
            "g": f(3), "bb": f(3), "mu": f(3), "var": np.abs(f(3)) + 0.5,
            "axes": np.array([2, 3], np.int64), "mw": f(3, 5), "mb": f(5),
        },
        x.shape, None, opset=18,
    )
    golden(p, x)
    # A branch and its concatenation along the channels (Inception/DenseNet-style), with
    # the squeeze-excite gate, hard swish and a SiLU pair.
    p = os.path.join(d, "ops_concat_se.onnx")
    helper_model(
        p,
        [
            helper.make_node("Conv", ["x", "w1"], ["a"], name="branch1", pads=[1, 1, 1, 1]),
            helper.make_node("Conv", ["x", "w2", "b2"], ["b"], name="branch2"),
            helper.make_node("HardSwish", ["b"], ["bh"], name="hswish"),
            helper.make_node("Concat", ["a", "bh", "x"], ["cat"], name="cat", axis=1),
            helper.make_node("GlobalAveragePool", ["cat"], ["g"], name="se_pool"),
            helper.make_node("Conv", ["g", "sw", "sb"], ["s"], name="se_fc"),
            helper.make_node("Sigmoid", ["s"], ["sg"], name="se_gate"),
            helper.make_node("Mul", ["cat", "sg"], ["m"], name="se_scale"),
            helper.make_node("Sigmoid", ["m"], ["ms"], name="silu_gate"),
            helper.make_node("Mul", ["m", "ms"], ["y"], name="silu"),
        ],
        {
            "w1": f(4, 3, 3, 3), "w2": f(2, 3, 1, 1), "b2": f(2),
            "sw": f(9, 9, 1, 1), "sb": f(9),
        },
        x.shape, None,
    )
    golden(p, x)
    # Max pooling with ceil_mode adding partial windows (9x7 -> 5x4), a clip with other
    # bounds than ReLU6's, average pooling with a 1x1 window.
    p = os.path.join(d, "ops_ceilpool_clip.onnx")
    helper_model(
        p,
        [
            helper.make_node("MaxPool", ["x"], ["m"], name="pool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
            helper.make_node("Constant", [], ["lo"], name="lo", value=numpy_helper.from_array(np.array(-0.5, np.float32))),
            helper.make_node("Constant", [], ["hi"], name="hi", value=numpy_helper.from_array(np.array(0.7, np.float32))),
            helper.make_node("Clip", ["m", "lo", "hi"], ["c"], name="clip"),
            helper.make_node("AveragePool", ["c"], ["y"], name="avg1", kernel_shape=[1, 1]),
        ],
        {},
        x.shape, None,
    )
    golden(p, x)
    # Negative fixtures: unsupported ops (every one must be listed), a symbolic height.
    helper_model(
        os.path.join(d, "bad_unsupported.onnx"),
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
            helper.make_node("Sin", ["c"], ["s"], name="weird_sine"),
            helper.make_node("LpNormalization", ["s"], ["y"], name="weird_norm"),
        ],
        {"w": f(2, 3, 1, 1)},
        x.shape, None,
    )
    helper_model(
        os.path.join(d, "bad_symbolic.onnx"),
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        {},
        None, None, in_dims=["batch", 3, "height", 8],
    )


def fixtures(d):
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(0)
    per_op(d)
    for name, make in [("tiny_resnet", TinyResNet), ("tiny_mobilenet", TinyMobileNet)]:
        m = init_bn(make())
        export(m, (2, 3, 16, 16), os.path.join(d, f"{name}_ts17.onnx"), dynamo=False)
        export(m, (2, 3, 16, 16), os.path.join(d, f"{name}_dynamo.onnx"), dynamo=True, external=True)
    fmnist(d)


def fmnist(d):
    """A Fashion-MNIST-shaped classifier (1x28x28, 10 classes) for `eval --model F.onnx`."""
    nn = torch.nn
    torch.manual_seed(1)
    m = nn.Sequential(nn.Conv2d(1, 4, 3, 1, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    export(m, (2, 1, 28, 28), os.path.join(d, "tiny_fmnist_ts17.onnx"), dynamo=False)


def full(d):
    import torchvision

    os.makedirs(d, exist_ok=True)
    for arch in ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny"]:
        m = getattr(torchvision.models, arch)(num_classes=10)
        for hw in [64, 224]:
            export(m, (1, 3, hw, hw), os.path.join(d, f"{arch}_{hw}_ts17.onnx"), dynamo=False)
            export(m, (1, 3, hw, hw), os.path.join(d, f"{arch}_{hw}_dynamo.onnx"), dynamo=True, external=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--full", action="store_true")
    a = ap.parse_args()
    (full if a.full else fixtures)(a.dir)
