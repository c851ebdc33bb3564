"""Quantized models give the same integers in edgeopt as in onnxruntime.

models/digits_cnn.onnx is quantized with onnxruntime's own tooling (quant_pre_process, then
quantize_static calibrated on models/digits_calib.npz) in three forms: QDQ with per-tensor
weights, QDQ with per-channel weights, and the QOperator format (QLinearConv, com.microsoft QGemm).
Both engines run models/digits_eval.npz (397 images, one batch). edgeopt executes QDQ
Conv/Gemm as integer kernels (int32 accumulation, float32 requantization, round half to even),
as onnxruntime's QDQ fusion does, so the logits — DequantizeLinear of uint8 values — must match
bit for bit. The test prints the max abs difference, the number of differing elements and the
top-1 agreement, and requires top-1 agreement ≥ 99.5 % even where bits differ.
"""
from __future__ import annotations

import pathlib

import numpy as np
import pytest

from conftest import load_npz, ort_run

FORMATS = {
    "qdq_per_tensor": dict(format="QDQ", per_channel=False),
    "qdq_per_channel": dict(format="QDQ", per_channel=True),
    "qoperator": dict(format="QOperator", per_channel=False),
}


@pytest.fixture(scope="module")
def quantized_models(tmp_path_factory, models_dir):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = tmp_path_factory.mktemp("quantized")
    calib = load_npz(models_dir / "digits_calib.npz")["input"]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"input": calib[i:i + 1]} for i in range(len(calib))])

        def get_next(self):
            return next(self.items, None)

    pre = out / "digits_cnn_pre.onnx"
    # Folds BatchNormalization into Conv (onnxruntime's recommended pre-processing).
    quant_pre_process(str(models_dir / "digits_cnn.onnx"), str(pre))
    paths = {}
    for name, cfg in FORMATS.items():
        path = out / f"digits_cnn_{name}.onnx"
        quantize_static(str(pre), str(path), Reader(),
                        quant_format=QuantFormat.QDQ if cfg["format"] == "QDQ" else QuantFormat.QOperator,
                        per_channel=cfg["per_channel"], activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
        paths[name] = path
    return paths


@pytest.fixture(scope="module")
def eval_data(models_dir):
    return load_npz(models_dir / "digits_eval.npz")


@pytest.mark.parametrize("name", list(FORMATS))
def test_quantized_digits_match_onnxruntime(name, quantized_models, eval_data, run_edgeopt, tmp_path):
    model = quantized_models[name]
    x, labels = eval_data["input"], eval_data["label"]
    ort_logits = ort_run(model, {"input": x})[0]

    np.save(tmp_path / "input.npy", x)
    result = run_edgeopt("run", model, "--input", f"input={tmp_path / 'input.npy'}",
                         "--output", tmp_path / "out.npz", "--threads", "1")
    assert result.code == 0, str(result)
    ours = load_npz(tmp_path / "out.npz")["logits"]
    assert ours.shape == ort_logits.shape and ours.dtype == ort_logits.dtype

    diff = np.abs(ours.astype(np.float64) - ort_logits.astype(np.float64))
    differing = int(np.count_nonzero(diff))
    agreement = float(np.mean(ours.argmax(1) == ort_logits.argmax(1)))
    accuracy_ours = float(np.mean(ours.argmax(1) == labels))
    accuracy_ort = float(np.mean(ort_logits.argmax(1) == labels))
    print(f"{name}: max abs diff {diff.max():.6g}, {differing}/{diff.size} logits differ, "
          f"top-1 agreement {agreement:.4f}, accuracy edgeopt {accuracy_ours:.4f} / onnxruntime {accuracy_ort:.4f}")
    assert agreement >= 0.995
    # Integer-exact: the logits are DequantizeLinear of identical uint8 values.
    assert differing == 0, f"{differing} logits differ (max {diff.max()})"

