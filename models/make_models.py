#!/usr/bin/env python3
"""Reproduce the real models in models/ from scikit-learn's bundled digits data set.

Writes, next to this script:
  digits_train.npz / digits_calib.npz / digits_eval.npz   stratified 1,200 / 200 / 397 split
  digits_cnn.onnx            Conv-BN-ReLU x3 CNN, opset 13, BatchNormalization nodes kept
  digits_cnn_constants.onnx  the same trained weights, opset 12, every weight a Constant node
  digits_attention.onnx      tiny ViT (patch conv, 2 pre-LN attention blocks), opset 14
  README.md                  provenance, accuracies measured with onnxruntime, shapes, sizes

Usage: python models/make_models.py [--check]
  --check  re-measure the committed .onnx files with onnxruntime and compare with README.md
           (does not retrain).

Everything is seeded and single-threaded, so a rerun on the same torch build reproduces the
same weights. Training takes about a minute on one CPU core.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20241122
N_EVAL = 397
N_CALIB = 200  # the remaining 1,200 samples are the training set
INPUT_NAME = "input"
OUTPUT_NAME = "logits"


def load_split():
    """Stratified train / calibration / evaluation split of load_digits.

    Pixels (integers 0..16) are scaled to [0, 1] and laid out NCHW = (N, 1, 8, 8) float32.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.data.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    x_rest, x_eval, y_rest, y_eval = train_test_split(
        x, y, test_size=N_EVAL, stratify=y, random_state=SEED % (2**31))
    x_train, x_calib, y_train, y_calib = train_test_split(
        x_rest, y_rest, test_size=N_CALIB, stratify=y_rest, random_state=SEED % (2**31))
    return (x_train, y_train), (x_calib, y_calib), (x_eval, y_eval)


def build_cnn():
    import torch.nn as nn

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    # 8x8 -> 8x8 (16ch) -> 8x8 (32ch) -> pool 4x4 -> 4x4 (64ch) -> pool 2x2 -> 256 -> 10
    return nn.Sequential(
        *block(1, 16), *block(16, 32), nn.MaxPool2d(2),
        *block(32, 64), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 2 * 2, 10))


def build_attention():
    """A tiny ViT: 2x2 patches of the 8x8 image -> 16 tokens of width 32, learned position
    embedding, two pre-LayerNorm blocks (4-head softmax attention written with MatMul, GELU MLP),
    mean pooling over tokens, LayerNorm, linear head."""
    import torch
    import torch.nn as nn

    dim, heads, depth, mlp = 32, 4, 2, 64

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)
            self.scale = (dim // heads) ** -0.5

        def forward(self, x):
            b, n, c = x.shape
            qkv = self.qkv(x).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            attn = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
            return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(dim)
            self.attn = Attention()
            self.ln2 = nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class TinyViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = nn.Conv2d(1, dim, kernel_size=2, stride=2)
            self.pos = nn.Parameter(torch.zeros(1, 16, dim))
            nn.init.trunc_normal_(self.pos, std=0.02)
            self.blocks = nn.Sequential(*[Block() for _ in range(depth)])
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, 10)

        def forward(self, x):
            x = self.patch(x).flatten(2).transpose(1, 2) + self.pos
            x = self.blocks(x)
            return self.head(self.norm(x.mean(dim=1)))

    return TinyViT()


def train(model, train_xy, epochs, lr, weight_decay, batch=64, augment=False):
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(train_xy[0])
    y = torch.from_numpy(train_xy[1])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            xb = x[idx]
            if augment:
                # Random shift by up to one pixel (zero fill): cheap, label-preserving for digits.
                dx, dy = torch.randint(-1, 2, (2,), generator=gen).tolist()
                xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
                if dy == 1: xb[:, :, 0, :] = 0
                if dy == -1: xb[:, :, -1, :] = 0
                if dx == 1: xb[:, :, :, 0] = 0
                if dx == -1: xb[:, :, :, -1] = 0
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model


def export(model, path, opset, keep_bn):
    import torch

    dummy = torch.zeros(1, 1, 8, 8)
    # PRESERVE on an eval-mode model exports BatchNormalization nodes (inference form) instead
    # of folding them into the Conv weights, so the committed CNN exercises BN folding passes.
    mode = torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(
        model, (dummy,), path, dynamo=False, opset_version=opset, training=mode,
        do_constant_folding=True, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})


def initializers_to_constants(path):
    """Rewrite the model so that every initializer becomes a Constant node at the top of the
    graph (the form many exporters emit and that static quantizers tend to miss)."""
    import onnx
    from onnx import helper

    m = onnx.load(path)
    g = m.graph
    consts = []
    for init in g.initializer:
        t = onnx.TensorProto()
        t.CopyFrom(init)
        consts.append(helper.make_node("Constant", [], [init.name], value=t, name=f"Constant_{init.name}"))
    del g.initializer[:]
    nodes = consts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)


def ort_accuracy(path, x, y):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    logits = sess.run(None, {INPUT_NAME: x})[0]
    correct = int((logits.argmax(axis=1) == y).sum())
    return correct, logits


def ort_quantize_static_baseline(path, calib_x, eval_x, eval_y):
    """The peer baseline of issue 5: onnxruntime's quantize_static, per-channel QDQ, MinMax,
    int8 weights and activations, calibrated on digits_calib.npz one sample at a time.
    Returns (correct on eval, quantized file size, weight elements by dtype in the result)."""
    import logging
    import tempfile

    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{INPUT_NAME: calib_x[i:i + 1]} for i in range(len(calib_x))])

        def get_next(self):
            return next(self.it, None)

    logging.getLogger().setLevel(logging.ERROR)  # quantize_static nags about pre-processing
    with tempfile.TemporaryDirectory() as tmp:
        dst = os.path.join(tmp, "q.onnx")
        quantize_static(path, dst, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        correct, _ = ort_accuracy(dst, eval_x, eval_y)
        m = onnx.load(dst)
        by_dtype = {}
        tensors = list(m.graph.initializer) + [a.t for n in m.graph.node if n.op_type == "Constant"
                                               for a in n.attribute if a.name == "value"]
        for t in tensors:
            if len(t.dims) and int(np.prod(t.dims)) > 1:  # weights, not scalar scales/zero points
                k = onnx.TensorProto.DataType.Name(t.data_type)
                by_dtype[k] = by_dtype.get(k, 0) + int(np.prod(t.dims))
        return correct, os.path.getsize(dst), dict(sorted(by_dtype.items()))


def describe(path):
    import onnx

    m = onnx.load(path)
    g = m.graph
    weights = {i.name: i for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    weights[n.output[0]] = a.t
    # Elements of every initializer and Constant-node tensor, all dtypes (shape scalars included).
    params = sum(int(np.prod(t.dims)) for t in weights.values())
    const_params = sum(int(np.prod(t.dims)) for k, t in weights.items() if k not in {i.name for i in g.initializer})
    ops = {}
    for n in g.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1

    def shape(vi):
        return "[" + ", ".join(d.dim_param or str(d.dim_value) for d in vi.type.tensor_type.shape.dim) + "]"

    return {
        "opset": next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")),
        "inputs": [(i.name, shape(i)) for i in g.input if i.name not in weights],
        "outputs": [(o.name, shape(o)) for o in g.output],
        "params": params,
        "const_params": const_params,
        "ops": dict(sorted(ops.items())),
        "size": os.path.getsize(path),
        "sha256": hashlib.sha256(open(path, "rb").read()).hexdigest(),
    }


README_HEAD = """# models/

Real small models trained on real data, with their calibration and evaluation data. Everything
here is reproduced by `python models/make_models.py` (seeded, single-threaded; about a minute on
one CPU core). This file is generated by that script; `python models/make_models.py --check`
re-measures the committed files and compares them with the table below, as does
`Tests/interop/test_models.py`.

## Data

scikit-learn's bundled `load_digits` (UCI optdigits test set: 1,797 grayscale 8x8 images of
handwritten digits, 10 classes, pixel values 0..16). Pixels are divided by 16 to lie in [0, 1]
and laid out NCHW `(N, 1, 8, 8)` float32. Stratified split with
`sklearn.model_selection.train_test_split(random_state={seed})`: first {n_eval} evaluation
samples, then {n_calib} calibration samples from the rest; the remaining {n_train} train.

| file | samples | keys |
|---|---|---|
| `digits_train.npz` | {n_train} | `input` float32 (N,1,8,8), `label` int64 (N) |
| `digits_calib.npz` | {n_calib} | `input` float32 (N,1,8,8), `label` int64 (N) |
| `digits_eval.npz` | {n_eval} | `input` float32 (N,1,8,8), `label` int64 (N) |

## Models

Accuracy is top-1 on all {n_eval} samples of `digits_eval.npz`, measured with onnxruntime
{ort_version} (CPUExecutionProvider) on the committed `.onnx` file.

| model | FP32 accuracy | correct | opset | weight elements | of which in Constant nodes | file size (bytes) |
|---|---|---|---|---|---|---|
{rows}

All models: input `input` float32 `[batch, 1, 8, 8]`, output `logits` float32 `[batch, 10]`
(unnormalised class scores; argmax is the digit). `batch` is a symbolic dimension.
"Weight elements" counts every element of every initializer and Constant-node tensor, whatever
its dtype (so the attention model's 49 scalar Constants — shape pieces, LayerNorm epsilon, the
attention scale — count too); the CNN's figure is its trainable parameters plus the BN running
mean and variance (see the recipe table).

Operator counts:

{ops}

### digits_cnn.onnx

`Conv(1→16,3x3)-BN-ReLU, Conv(16→32,3x3)-BN-ReLU, MaxPool 2, Conv(32→64,3x3)-BN-ReLU, MaxPool 2,
Flatten, Dropout(0.25, training only), Linear(256→10)`; convolutions have no bias (BN follows).
Exported with `torch.onnx.export(dynamo=False, opset_version=13, training=PRESERVE)` from the
eval-mode model, which keeps the BatchNormalization nodes (inference form, running statistics)
instead of folding them into the convolutions, so BN folding has something to do.

### digits_cnn_constants.onnx

The same trained weights exported at opset 12, then every initializer rewritten as a `Constant`
node (`onnx.helper.make_node("Constant", value=tensor)`) placed at the top of the graph; the graph
has no initializers. It computes the same outputs as `digits_cnn.onnx` (checked by
`Tests/interop/test_models.py`). This is the form on which static quantizers that only look at
initializers leave the weights in float.

### digits_attention.onnx

A tiny vision transformer: a 2x2/stride-2 patch convolution to 16 tokens of width 32, a learned
position embedding, two pre-LayerNorm blocks (4-head softmax attention written with MatMul;
MLP 32→64→32 with exact GELU), mean over tokens, LayerNorm, Linear(32→10). Exported at opset 14,
so LayerNorm appears decomposed (ReduceMean, Sub, Pow, Sqrt, Div, Mul, Add) and GELU as its Erf
form, and the batch-dependent reshapes as Shape→Gather→Unsqueeze→Concat→Reshape chains.

## Peer baseline: onnxruntime `quantize_static`

What ONNX Runtime {ort_version}'s own static quantizer gives on these files, with the settings
the quantization targets compare against: `quantize_static(quant_format=QDQ, per_channel=True,
activation_type=QInt8, weight_type=QInt8, calibrate_method=MinMax)`, calibrated on all
{n_calib} samples of `digits_calib.npz`, measured on `digits_eval.npz`. "Non-scalar tensor
elements" counts initializer and Constant-node tensors with more than one element by dtype: on
the Constant-node model the weights stay FLOAT (Q/DQ pairs are added around them) and the file
grows instead of shrinking.

| model | FP32 accuracy | INT8 accuracy | correct | FP32 file | INT8 file | non-scalar tensor elements by dtype |
|---|---|---|---|---|---|---|
{baseline_rows}

## Training recipe

torch {torch_version} (CPU), onnx {onnx_version}, numpy {numpy_version}, scikit-learn
{sklearn_version}. `torch.manual_seed({seed})`, `torch.use_deterministic_algorithms(True)`,
`torch.set_num_threads(1)`. AdamW with a one-cycle learning-rate schedule, batch 64,
cross-entropy, random ±1-pixel shifts of each batch (zero fill) as augmentation.

| model | epochs | max lr | weight decay | trainable parameters | BN buffers | torch accuracy on eval |
|---|---|---|---|---|---|---|
{recipe_rows}

## SHA-256

{hashes}
"""

RECIPES = {
    "digits_cnn": dict(epochs=40, lr=3e-3, weight_decay=1e-4),
    "digits_attention": dict(epochs=150, lr=3e-3, weight_decay=5e-2),
}


def make():
    import onnx
    import onnxruntime as ort
    import sklearn
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    random.seed(SEED)
    np.random.seed(SEED % (2**32))

    train_xy, calib_xy, eval_xy = load_split()
    for name, (x, y) in (("train", train_xy), ("calib", calib_xy), ("eval", eval_xy)):
        np.savez(os.path.join(HERE, f"digits_{name}.npz"), **{INPUT_NAME: x, "label": y})

    torch_acc, torch_params, torch_buffers = {}, {}, {}
    paths = {}
    for name, builder, opset, keep_bn in (
            ("digits_cnn", build_cnn, 13, True),
            ("digits_attention", build_attention, 14, False)):
        torch.manual_seed(SEED)
        model = train(builder(), train_xy, augment=True, **RECIPES[name])
        with torch.no_grad():
            pred = model(torch.from_numpy(eval_xy[0])).argmax(1).numpy()
        torch_acc[name] = float((pred == eval_xy[1]).mean())
        torch_params[name] = sum(p.numel() for p in model.parameters())
        torch_buffers[name] = sum(b.numel() for n, b in model.named_buffers() if "running" in n)
        path = os.path.join(HERE, f"{name}.onnx")
        export(model, path, opset, keep_bn)
        onnx.checker.check_model(onnx.load(path), full_check=True)
        paths[name] = path
        if name == "digits_cnn":
            cpath = os.path.join(HERE, "digits_cnn_constants.onnx")
            export(model, cpath, 12, keep_bn)
            initializers_to_constants(cpath)
            paths["digits_cnn_constants"] = cpath
        print(f"{name}: torch eval accuracy {torch_acc[name]:.4f}", flush=True)

    rows, ops, hashes = [], [], []
    n = len(eval_xy[1])
    for name, path in paths.items():
        correct, _ = ort_accuracy(path, eval_xy[0], eval_xy[1])
        info = describe(path)
        rows.append(f"| `{name}.onnx` | {100.0 * correct / n:.2f}% | {correct}/{n} | {info['opset']} | "
                    f"{info['params']:,} | {info['const_params']:,} | {info['size']:,} |")
        ops.append(f"- `{name}.onnx`: " + ", ".join(f"{k} {v}" for k, v in info["ops"].items()))
        hashes.append(f"- `{name}.onnx`: `{info['sha256']}`")
        print(f"{name}: onnxruntime eval accuracy {correct}/{n} = {100.0 * correct / n:.2f}%, "
              f"{info['params']} params, {info['size']} bytes", flush=True)
    baseline_rows = []
    for name, path in paths.items():
        fp32, _ = ort_accuracy(path, eval_xy[0], eval_xy[1])
        correct, qsize, by_dtype = ort_quantize_static_baseline(path, calib_xy[0], eval_xy[0], eval_xy[1])
        baseline_rows.append(
            f"| `{name}.onnx` | {100.0 * fp32 / n:.2f}% | {100.0 * correct / n:.2f}% | {correct}/{n} | "
            f"{os.path.getsize(path):,} | {qsize:,} | " + ", ".join(f"{k} {v:,}" for k, v in by_dtype.items()) + " |")
        print(f"{name}: onnxruntime quantize_static int8 {correct}/{n}, {qsize} bytes, {by_dtype}", flush=True)
    recipe_rows = [f"| `{k}` | {v['epochs']} | {v['lr']} | {v['weight_decay']} | {torch_params[k]:,} | {torch_buffers[k]:,} | {100 * torch_acc[k]:.2f}% |"
                   for k, v in RECIPES.items()]
    text = README_HEAD.format(
        seed=SEED, n_eval=N_EVAL, n_calib=N_CALIB, n_train=len(train_xy[1]),
        ort_version=ort.__version__, torch_version=torch.__version__, onnx_version=onnx.__version__,
        numpy_version=np.__version__, sklearn_version=sklearn.__version__,
        rows="\n".join(rows), ops="\n".join(ops), recipe_rows="\n".join(recipe_rows),
        baseline_rows="\n".join(baseline_rows),
        hashes="\n".join(hashes))
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write(text)


def readme_accuracies():
    """{model file: accuracy in percent} parsed from the README's model table."""
    import re

    out = {}
    with open(os.path.join(HERE, "README.md")) as f:
        for line in f:
            m = re.match(r"\| `([\w.]+\.onnx)` \| ([0-9.]+)% \|", line)
            if m:
                out[m.group(1)] = float(m.group(2))
    return out


def check():
    ev = np.load(os.path.join(HERE, "digits_eval.npz"))
    ok = True
    for fname, stated in readme_accuracies().items():
        correct, _ = ort_accuracy(os.path.join(HERE, fname), ev[INPUT_NAME], ev["label"])
        measured = 100.0 * correct / len(ev["label"])
        good = abs(measured - stated) <= 0.1
        ok &= good
        print(f"{fname}: README {stated:.2f}%, onnxruntime {measured:.2f}% {'ok' if good else 'MISMATCH'}")
    return ok


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if args.check:
        sys.exit(0 if check() else 1)
    make()
