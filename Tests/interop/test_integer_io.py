"""Full-integer scheme with int8 graph inputs and outputs (Edge TPU style).

The written model takes and returns int8; each boundary's scale and zero point are in the
model's metadata (`edgeopt.integer_io.<tensor>`). ONNX Runtime runs it on inputs quantized with
those numbers, edgeopt's engine gives the same int8 outputs, accuracy holds on the held-out
digits, and `edgeopt validate` compares it with the float model through the recorded scales.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

ort = pytest.importorskip("onnxruntime")

CASES = [("digits_cnn", "qdq"), ("digits_cnn_constants", "qdq"), ("digits_cnn", "qoperator"), ("digits_attention", "qdq")]


def boundaries(model: onnx.ModelProto) -> dict[str, tuple[str, float, int]]:
    out = {}
    for p in model.metadata_props:
        if p.key.startswith("edgeopt.integer_io."):
            role, *fields = p.value.split()
            kv = dict(f.split("=", 1) for f in fields)
            assert kv["type"] == "int8"
            out[p.key[len("edgeopt.integer_io."):]] = (role, float(kv["scale"]), int(kv["zero_point"]))
    return out


@pytest.mark.parametrize("name,form", CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_full_integer_model_has_int8_io(name, form, models_dir, run_edgeopt, tmp_path):
    source = models_dir / f"{name}.onnx"
    out = tmp_path / "int8io.onnx"
    r = run_edgeopt("quantize", source, "--calib", models_dir / "digits_calib.npz", "-o", out, "--scheme", "full-integer",
                    "--quant-format", form, "--format", "json")
    assert r.code == 0, r
    report = json.loads(r.stdout)
    q = onnx.load(str(out))
    onnx.checker.check_model(q, full_check=True)
    io = boundaries(q)
    assert set(io) == {"input", q.graph.output[0].name}, io
    assert q.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT8
    assert q.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.INT8
    assert len(report["integerIO"]) == 2

    data = np.load(models_dir / "digits_eval.npz")
    x, labels = data["input"], data["label"]
    _, s_in, z_in = io["input"]
    xq = np.clip(np.round(x / np.float32(s_in)) + z_in, -128, 127).astype(np.int8)
    options = ort.SessionOptions()
    options.log_severity_level = 4
    y = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"]).run(None, {"input": xq})[0]
    assert y.dtype == np.int8
    float_acc = (ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0].argmax(1) == labels).mean()
    acc = (y.argmax(1) == labels).mean()
    print(f"\n{name} {form}: int8 I/O top-1 {acc:.4f} (float {float_acc:.4f})")
    assert acc >= float_acc - 0.005

    # edgeopt's engine on the same int8 feed. The CNNs are integer end to end, so the int8 outputs
    # agree to ±1 step (rounding ties); the attention model also has float operators between
    # Q/DQ pairs (Softmax, Erf, ...) where ORT and the engine may round a step apart.
    feeds, engine = tmp_path / "feeds.npz", tmp_path / "engine.npz"
    np.savez(feeds, input=xq)
    r = run_edgeopt("run", out, "--input", feeds, "-o", engine)
    assert r.code == 0, r
    e = np.load(engine)[q.graph.output[0].name]
    assert e.dtype == np.int8
    assert (e.argmax(1) == y.argmax(1)).mean() >= 0.995
    if name.startswith("digits_cnn"):
        assert np.abs(e.astype(np.int32) - y).max() <= 1

    # validate reads the recorded scales and compares in float.
    v = run_edgeopt("validate", "--reference", source, "--candidate", out, "--data", models_dir / "digits_eval.npz",
                    "--labels", "label", "--format", "json", "--no-layers")
    assert v.code == 0, v
    o = json.loads(v.stdout)["outputs"][0]
    assert abs(o["candidateTop1"] - acc) <= 1 / len(labels) + 1e-9
    assert o["cosine"] > 0.99


def test_float_io_flag_keeps_float_borders(models_dir, run_edgeopt, tmp_path):
    out = tmp_path / "floatio.onnx"
    r = run_edgeopt("quantize", models_dir / "digits_cnn.onnx", "--calib", models_dir / "digits_calib.npz", "-o", out,
                    "--scheme", "full-integer", "--float-io")
    assert r.code == 0, r
    q = onnx.load(str(out))
    assert q.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert not boundaries(q)
