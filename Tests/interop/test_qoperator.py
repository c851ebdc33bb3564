"""`edgeopt quantize --quant-format qoperator` (and --equalize / --bias-correction) against onnx/onnxruntime.

For each case the quantized file
* passes `onnx.checker.check_model(full_check=True)`,
* holds no float Conv/Gemm/MatMul (they became QLinearConv, QLinearMatMul or com.microsoft QGemm),
  with QuantizeLinear/DequantizeLinear only at the borders of quantized regions,
* runs in onnxruntime with top-1 on digits_eval.npz at most 0.5 points below the float model's,
* and onnxruntime's outputs agree with edgeopt's engine (`edgeopt run`) on top-1 for >= 99.5% of
  samples; where every op in the model is integer (the CNNs), logits differ by at most one step
  of the output quantization.
With fixtures: MobileNetV2 (depthwise-separable, ReLU6, residual Adds) quantized to QOperator with
--equalize --equalize-relu6 bounded --bias-correction runs in onnxruntime and gives the engine's
logits bit for bit.
"""
from __future__ import annotations

import collections
import json

import numpy as np
import onnx
import onnx.numpy_helper
import pytest

ort = pytest.importorskip("onnxruntime")

CASES = [
    ("digits_cnn", "default", []),
    ("digits_cnn_constants", "default", []),
    ("digits_cnn", "symmetric", []),          # Relu with zero point 0: the clamp is kept as DQ-Clip-Q
    ("digits_cnn", "full-integer", ["--float-io"]),  # int8 graph I/O: test_integer_io.py
    ("digits_attention", "default", []),      # QLinearMatMul, activation x activation included
    ("digits_cnn", "default", ["--equalize", "--bias-correction"]),
]


def ort_outputs(path, x, batch=100):
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.intra_op_num_threads = 2
    s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    return np.concatenate([s.run(None, {name: x[k:k + batch]})[0] for k in range(0, len(x), batch)])


def engine_outputs(run_edgeopt, path, x, tmp_path, input_name="input"):
    feeds, out = tmp_path / "feeds.npz", tmp_path / "engine.npz"
    np.savez(feeds, **{input_name: x})
    r = run_edgeopt("run", str(path), "--input", str(feeds), "-o", str(out))
    assert r.code == 0, r
    y = np.load(out)
    return y[y.files[0]]


def final_output_scale(model: onnx.ModelProto) -> float | None:
    """Scale of the DequantizeLinear that produces the graph output, if one does."""
    out = model.graph.output[0].name
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "DequantizeLinear" and n.output[0] == out:
            return float(inits[n.input[1]])
    return None


@pytest.mark.parametrize("name,scheme,extra", CASES, ids=[f"{n}-{s}{''.join(e)}" for n, s, e in CASES])
def test_qoperator(name, scheme, extra, models_dir, run_edgeopt, tmp_path):
    source = models_dir / f"{name}.onnx"
    out = tmp_path / "q.onnx"
    r = run_edgeopt("quantize", str(source), "--calib", str(models_dir / "digits_calib.npz"), "-o", str(out),
                    "--scheme", scheme, "--quant-format", "qoperator", *extra, "--format", "json")
    assert r.code == 0, r
    summary = json.loads(r.stdout)["summary"]
    assert summary["format"] == "qoperator"
    q = onnx.load(str(out))
    onnx.checker.check_model(q, full_check=True)
    ops = collections.Counter(n.op_type for n in q.graph.node)
    print(f"{name} {scheme} {extra}: {dict(ops)}")
    assert ops["Conv"] == ops["Gemm"] == ops["MatMul"] == 0
    assert ops["QLinearConv"] + ops["QLinearMatMul"] + ops["QGemm"] == summary["integerNodes"] > 0
    if name.startswith("digits_cnn"):
        # Input Q, output DQ, and (symmetric scheme) one DQ-Clip-Q per kept Relu clamp: nothing else.
        assert ops["QuantizeLinear"] == 1 + summary["keptClamps"]
        assert ops["DequantizeLinear"] == 1 + summary["keptClamps"]
        assert ops["MaxPool"] == 2 and summary["integerPassThroughNodes"] >= 3
    if "--equalize" in extra:
        assert summary["equalizedPairs"] >= 1 and summary["equalizationFloatError"] <= 1e-4
    if "--bias-correction" in extra:
        assert summary["biasCorrectedLayers"] == summary["quantizedWeights"]

    data = np.load(models_dir / "digits_eval.npz")
    x, labels = data["input"], data["label"]
    fp = ort_outputs(source, x).argmax(1)
    y = ort_outputs(out, x)
    fp_acc, q_acc = (fp == labels).mean(), (y.argmax(1) == labels).mean()
    print(f"{name} {scheme} {extra}: onnxruntime top-1 {fp_acc:.4f} -> {q_acc:.4f}")
    assert q_acc >= fp_acc - 0.005

    e = engine_outputs(run_edgeopt, out, x, tmp_path)
    agreement = (e.argmax(1) == y.argmax(1)).mean()
    print(f"{name} {scheme} {extra}: engine vs onnxruntime top-1 agreement {agreement:.4f}, max |diff| {np.abs(e - y).max():.4g}")
    assert agreement >= 0.995
    step = final_output_scale(q)
    if name.startswith("digits_cnn") and step is not None:
        assert np.abs(e - y).max() <= step * 1.001


def test_mobilenetv2_qoperator_with_equalization(fixtures_dir, run_edgeopt, tmp_path):
    source = fixtures_dir / "torch" / "mobilenetv2" / "model.onnx"
    rng = np.random.default_rng(0)
    calib = tmp_path / "calib.npz"
    np.savez(calib, input=rng.standard_normal((8, 3, 224, 224)).astype(np.float32))
    out = tmp_path / "q.onnx"
    r = run_edgeopt("quantize", str(source), "--calib", str(calib), "-o", str(out), "--quant-format", "qoperator",
                    "--equalize", "--equalize-relu6", "bounded", "--bias-correction", "--format", "json", timeout=1200)
    assert r.code == 0, r
    summary = json.loads(r.stdout)["summary"]
    q = onnx.load(str(out))
    onnx.checker.check_model(q, full_check=True)
    ops = collections.Counter(n.op_type for n in q.graph.node)
    assert ops["Conv"] == ops["Gemm"] == 0 and ops["QLinearConv"] == 52 and ops["QGemm"] == 1
    # The residual Adds and the pooling are integer ops too (com.microsoft contrib operators).
    assert ops["QLinearAdd"] == 10 and ops["QLinearGlobalAveragePool"] == 1 and ops["Add"] == ops["GlobalAveragePool"] == 0
    # Across ReLU6 too (bounded: exact on the calibration data, which the engine check uses).
    assert summary["equalizedPairs"] > 2 and summary["equalizationFloatError"] <= 1e-4
    x = rng.standard_normal((32, 3, 224, 224)).astype(np.float32)
    y = ort_outputs(out, x, batch=16)
    e = engine_outputs(run_edgeopt, out, x, tmp_path)
    agreement = (e.argmax(1) == y.argmax(1)).mean()
    # Every op is integer in both engines with the same arithmetic (QLinearAdd and
    # QLinearGlobalAveragePool as MLAS computes them): the logits are identical.
    differing = int(np.count_nonzero(e != y))
    print(f"mobilenetv2: agreement {agreement:.4f}, {differing}/{y.size} logits differ")
    assert agreement >= 0.995
    assert differing == 0
