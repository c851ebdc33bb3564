#!/usr/bin/env python3
"""Train a small depthwise-separable CNN (MobileNetV2-style blocks: 1x1 expand, 3x3 depthwise,
1x1 project, BatchNorm + ReLU6, residual) on models/digits_train.npz and export it to ONNX with
BatchNorm folded (torch's eval-mode export), for measuring cross-layer equalization and bias
correction on a *trained* depthwise-separable network with labels (the torchvision MobileNetV2
fixture has random weights, where top-1 agreement is dominated by near-ties).

Usage: scripts/make-separable-digits.py OUT.onnx [--epochs 60] [--seed 0]
Prints float top-1 on models/digits_eval.npz. Needs torch, numpy, onnx (the dev venv).
"""
import argparse
import os

import numpy as np
import torch
from torch import nn


def conv_bn(cin, cout, k=1, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class Block(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.residual = stride == 1 and cin == cout
        self.body = nn.Sequential(conv_bn(cin, hidden), conv_bn(hidden, hidden, 3, stride, groups=hidden),
                                  conv_bn(hidden, cout, act=False))

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class SeparableNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(conv_bn(1, 16, 3), Block(16, 16, 1, 4), Block(16, 24, 2, 4),
                                      Block(24, 24, 1, 4), Block(24, 32, 2, 4), conv_bn(32, 64))
        self.classifier = nn.Linear(64, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    train = np.load(os.path.join(root, "models/digits_train.npz"))
    ev = np.load(os.path.join(root, "models/digits_eval.npz"))
    x, y = torch.from_numpy(train["input"]), torch.from_numpy(train["label"]).long()
    model = SeparableNet()
    opt = torch.optim.Adam(model.parameters(), 3e-3, weight_decay=1e-4)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x))
        for k in range(0, len(x), 64):
            idx = perm[k:k + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(ev["input"])).argmax(1).numpy() == ev["label"]).mean()
    print(f"float top-1 on digits_eval: {acc:.4f}")
    torch.onnx.export(model, (torch.from_numpy(ev["input"][:2]),), args.out, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      dynamo=False)


if __name__ == "__main__":
    main()
