#!/usr/bin/env python3
"""BatchNorm-heavy CNN exports for scripts/bench-optimize: BatchNormalization nodes are kept.

    scripts/export-bn-cnns.py OUTDIR

Writes OUTDIR/resnet18_bn.onnx (ResNet-18: 20 Conv, 20 BN, 17 Relu, 8 residual Add) and
OUTDIR/efficientnet_b0_bn.onnx (EfficientNet-B0 layout: 81 Conv, 49 BN, SiLU written as
Sigmoid+Mul, squeeze-excitation), 1x3x224x224, random weights and non-trivial BN statistics
(seeded). torch.onnx.export with the TorchScript exporter, training=TrainingMode.PRESERVE on an
eval-mode model and do_constant_folding=False keeps inference BatchNormalization nodes (the default
EVAL export folds them into the convolutions; torch 2.13's dynamo exporter keeps them only with
optimize=False and needs onnxscript). Dev tool: needs torch; the product never does.
"""
import os
import sys

import onnx
import torch
import torch.nn as nn
torch.manual_seed(0)

def cbr(ci, co, k, s=1, g=1, act=nn.ReLU):
    layers = [nn.Conv2d(ci, co, k, s, k // 2, groups=g, bias=False), nn.BatchNorm2d(co)]
    if act: layers.append(act())
    return nn.Sequential(*layers)

class Basic(nn.Module):
    def __init__(s, ci, co, stride):
        super().__init__()
        s.a = cbr(ci, co, 3, stride); s.b = cbr(co, co, 3, act=None)
        s.down = cbr(ci, co, 1, stride, act=None) if stride != 1 or ci != co else None
    def forward(s, x):
        return torch.relu(s.b(s.a(x)) + (s.down(x) if s.down is not None else x))

class ResNet18(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem = nn.Sequential(cbr(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1))
        layers, ci = [], 64
        for co, st in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [Basic(ci, co, st), Basic(co, co, 1)]; ci = co
        s.layers = nn.Sequential(*layers); s.fc = nn.Linear(512, 1000)
    def forward(s, x): return s.fc(s.layers(s.stem(x)).mean((2, 3)))

class SE(nn.Module):
    def __init__(s, c, r):
        super().__init__(); s.a = nn.Conv2d(c, r, 1); s.b = nn.Conv2d(r, c, 1)
    def forward(s, x): return x * torch.sigmoid(s.b(nn.functional.silu(s.a(x.mean((2, 3), keepdim=True)))))

class MBConv(nn.Module):
    def __init__(s, ci, co, k, st, e):
        super().__init__()
        m = ci * e
        s.expand = cbr(ci, m, 1, act=nn.SiLU) if e != 1 else None
        s.dw = cbr(m, m, k, st, g=m, act=nn.SiLU); s.se = SE(m, max(1, ci // 4)); s.proj = cbr(m, co, 1, act=None)
        s.res = st == 1 and ci == co
    def forward(s, x):
        y = s.expand(x) if s.expand is not None else x
        y = s.proj(s.se(s.dw(y)))
        return y + x if s.res else y

class EfficientNetB0(nn.Module):
    def __init__(s):
        super().__init__()
        cfg = [(1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3), (6, 112, 3, 1, 5), (6, 192, 4, 2, 5), (6, 320, 1, 1, 3)]
        s.stem = cbr(3, 32, 3, 2, act=nn.SiLU); blocks, ci = [], 32
        for e, co, n, st, k in cfg:
            for i in range(n): blocks.append(MBConv(ci, co, k, st if i == 0 else 1, e)); ci = co
        s.blocks = nn.Sequential(*blocks); s.head = cbr(ci, 1280, 1, act=nn.SiLU); s.fc = nn.Linear(1280, 1000)
    def forward(s, x): return s.fc(s.head(s.blocks(s.stem(x))).mean((2, 3)))

def randomize_bn(m):
    for b in m.modules():
        if isinstance(b, nn.BatchNorm2d):
            b.running_mean.uniform_(-0.1, 0.1); b.running_var.uniform_(0.5, 1.5)
            b.weight.data.uniform_(0.5, 1.5); b.bias.data.uniform_(-0.1, 0.1)

for name, cls in [("resnet18_bn", ResNet18), ("efficientnet_b0_bn", EfficientNetB0)]:
    m = cls(); randomize_bn(m); m.eval()
    path = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", f"{name}.onnx")
    torch.onnx.export(m, (torch.randn(1, 3, 224, 224),), path, dynamo=False, opset_version=17,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      input_names=["input"], output_names=["logits"])
    p = onnx.load(path)
    ops = {}
    for n in p.graph.node: ops[n.op_type] = ops.get(n.op_type, 0) + 1
    print(name, len(p.graph.node), "nodes", {k: v for k, v in sorted(ops.items())})
