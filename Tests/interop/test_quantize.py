"""`edgeopt quantize` (INT8 static, QDQ) and `edgeopt validate` against onnx/onnxruntime.

On models/digits_cnn.onnx and its Constant-node opset-12 twin (where onnxruntime's quantize_static
leaves the weights in float), for each calibration method:

* the quantized file passes `onnx.checker.check_model(full_check=True)` and runs in onnxruntime,
* its weights (initializer + Constant-node bytes, counted here with numpy) are >= 3.8x smaller,
* INT8 top-1 on digits_eval.npz measured by onnxruntime drops by at most 0.5 points,
* edgeopt's engine (`edgeopt run`, integer QDQ execution) agrees with onnxruntime on top-1 for
  >= 99.5% of the samples,
* the input model is left byte-identical.
Also: validate's JSON figures against numpy on the same outputs, and bad data exits 65.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
import onnx.numpy_helper
import pytest

ort = pytest.importorskip("onnxruntime")

MODELS = ["digits_cnn", "digits_cnn_constants"]
METHODS = ["minmax", "percentile", "entropy", "mse"]


def weight_bytes(model: onnx.ModelProto) -> int:
    total = 0
    for t in model.graph.initializer:
        total += onnx.numpy_helper.to_array(t).nbytes
    for n in model.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    total += onnx.numpy_helper.to_array(a.t).nbytes
    return total


def ort_logits(path, x):
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.intra_op_num_threads = 2
    s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return s.run(None, {"input": x})[0]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", MODELS)
def test_quantize_int8(name, method, models_dir, run_edgeopt, tmp_path):
    source = models_dir / f"{name}.onnx"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    out = tmp_path / "q.onnx"
    r = run_edgeopt("quantize", str(source), "--calib", str(models_dir / "digits_calib.npz"), "-o", str(out),
                    "--method", method, "--format", "json")
    assert r.code == 0, r
    report = json.loads(r.stdout)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest

    q = onnx.load(str(out))
    onnx.checker.check_model(q, full_check=True)
    original = onnx.load(str(source))
    ratio = weight_bytes(original) / weight_bytes(q)
    print(f"{name} {method}: weights {weight_bytes(original)} -> {weight_bytes(q)} bytes ({ratio:.2f}x)")
    assert ratio >= 3.8
    assert report["summary"]["weightBytesAfter"] == weight_bytes(q)
    float_weights = [t.name for t in q.graph.initializer
                     if t.data_type == onnx.TensorProto.FLOAT and len(t.dims) > 0 and np.prod(t.dims) > 1
                     and not t.name.endswith("_scale")]
    assert float_weights == []
    assert not any(n.op_type == "Constant" for n in q.graph.node)

    data = np.load(models_dir / "digits_eval.npz")
    x, labels = data["input"], data["label"]
    fp = ort_logits(source, x).argmax(1)
    int8 = ort_logits(out, x).argmax(1)
    fp_acc, int8_acc = (fp == labels).mean(), (int8 == labels).mean()
    print(f"{name} {method}: onnxruntime top-1 {fp_acc:.4f} -> {int8_acc:.4f}")
    assert int8_acc >= fp_acc - 0.005

    inputs = tmp_path / "in.npz"
    np.savez(inputs, input=x)
    engine_out = tmp_path / "engine.npz"
    r = run_edgeopt("run", str(out), "--input", str(inputs), "-o", str(engine_out))
    assert r.code == 0, r
    engine = np.load(engine_out)["logits"].argmax(1)
    agreement = (engine == int8).mean()
    print(f"{name} {method}: edgeopt engine vs onnxruntime top-1 agreement {agreement:.4f}")
    assert agreement >= 0.995


def test_validate_matches_numpy(models_dir, run_edgeopt, tmp_path):
    source = models_dir / "digits_cnn.onnx"
    out = tmp_path / "q.onnx"
    r = run_edgeopt("quantize", str(source), "--calib", str(models_dir / "digits_calib.npz"), "-o", str(out))
    assert r.code == 0, r
    r = run_edgeopt("validate", "--reference", str(source), "--candidate", str(out),
                    "--data", str(models_dir / "digits_eval.npz"), "--labels", "label", "--format", "json")
    assert r.code == 0, r
    report = json.loads(r.stdout)
    data = np.load(models_dir / "digits_eval.npz")
    x, labels = data["input"], data["label"]
    # Independent figures from onnxruntime: the reference is float (agrees with edgeopt's engine
    # to ~1e-6), the candidate within the quantized engines' small disagreement.
    ref = ort_logits(source, x).astype(np.float64)
    (o,) = report["outputs"]
    assert o["name"] == "logits" and o["rows"] == len(labels)
    assert o["referenceTop1"] == pytest.approx((ref.argmax(1) == labels).mean(), abs=1e-9)
    cand = ort_logits(out, x).astype(np.float64)
    sqnr = 10 * np.log10((ref ** 2).sum() / ((ref - cand) ** 2).sum())
    assert o["sqnrDB"] == pytest.approx(sqnr, abs=1.0)
    assert o["candidateTop1"] == pytest.approx((cand.argmax(1) == labels).mean(), abs=0.005)
    cos = (ref * cand).sum() / np.sqrt((ref ** 2).sum() * (cand ** 2).sum())
    assert o["cosine"] == pytest.approx(cos, abs=1e-3)
    layers = report["layers"]
    assert len(layers) >= 3, layers
    sq = [l["sqnrDB"] for l in layers]
    assert sq == sorted(sq)
    for fmt in ("table", "markdown"):
        r = run_edgeopt("validate", "--reference", str(source), "--candidate", str(out),
                        "--data", str(models_dir / "digits_eval.npz"), "--format", fmt)
        assert r.code == 0 and "logits" in r.stdout, r


def test_bad_calibration_data_exits_65(models_dir, run_edgeopt, tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((4, 1, 8, 8), np.float32))
    r = run_edgeopt("quantize", str(models_dir / "digits_cnn.onnx"), "--calib", str(bad), "-o", str(tmp_path / "q.onnx"))
    assert r.code == 65, r
    assert "input" in r.stderr
    np.savez(bad, input=np.zeros((4, 1, 8, 8), np.float64))
    r = run_edgeopt("quantize", str(models_dir / "digits_cnn.onnx"), "--calib", str(bad), "-o", str(tmp_path / "q.onnx"))
    assert r.code == 65 and "float64" in r.stderr, r
    np.savez(bad, input=np.zeros((0, 1, 8, 8), np.float32))
    r = run_edgeopt("quantize", str(models_dir / "digits_cnn.onnx"), "--calib", str(bad), "-o", str(tmp_path / "q.onnx"))
    assert r.code == 65 and "empty" in r.stderr, r
    assert not (tmp_path / "q.onnx").exists()
