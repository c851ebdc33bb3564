"""The engine's integer softmax gives ONNX Runtime's integers, bit for bit.

onnxruntime fuses DequantizeLinear → Softmax → QuantizeLinear into com.microsoft QLinearSoftmax
(an exp lookup table over the 256 codes, integer sums, a floored 1/y_scale); edgeopt's
`QDQLowering` lowers the same pattern to its own QLinearSoftmax kernel. Each case runs one small
QDQ model through both on random 8-bit inputs and asserts equal codes. The cases cover both
8-bit types, opset 13 (one axis, also a non-last one) and opset 11 (flattened from axis), and
scales on both sides of typical softmax calibrations; a float DQ → Softmax → Q differs from
onnxruntime on many of them, so the test cannot pass by leaving the pattern unfused.
"""
from __future__ import annotations

import zlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx import numpy_helper as nh

from conftest import load_npz, ort_run

TYPES = {"uint8": (np.uint8, TensorProto.UINT8, 0, 256), "int8": (np.int8, TensorProto.INT8, -128, 128)}

# (x scale, y scale, opset, axis or None, shape)
CASES = [
    (0.05, 1 / 256, 13, -1, (3, 4, 16, 16)),
    (0.0871, 1 / 255, 13, -1, (2, 7, 33)),
    (0.013, 0.0041, 13, 1, (2, 5, 6)),
    (0.25, 1 / 256, 13, None, (4, 10)),
    (0.031, 1 / 200, 11, 1, (2, 3, 4, 5)),
    (0.1, 1 / 256, 11, None, (3, 8)),
    (0.0039, 0.02, 14, -1, (5, 64)),
]


def model(path, type_name, xs, ys, opset, axis, shape, zx, zy):
    dtype, elem, _, _ = TYPES[type_name]
    attrs = {} if axis is None else {"axis": axis}
    nodes = [
        helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["xf"]),
        helper.make_node("Softmax", ["xf"], ["sf"], **attrs),
        helper.make_node("QuantizeLinear", ["sf", "ys", "yz"], ["y"]),
    ]
    inits = [nh.from_array(np.array(xs, np.float32), "xs"), nh.from_array(np.array(zx, dtype), "xz"),
             nh.from_array(np.array(ys, np.float32), "ys"), nh.from_array(np.array(zy, dtype), "yz")]
    graph = helper.make_graph(nodes, "qsoftmax", [helper.make_tensor_value_info("x", elem, list(shape))],
                              [helper.make_tensor_value_info("y", elem, list(shape))], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, str(path))


@pytest.mark.parametrize("type_name", list(TYPES))
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[2]}-{c[3]}-{'x'.join(map(str, c[4]))}" for c in CASES])
def test_qdq_softmax_matches_onnxruntime(run_edgeopt, tmp_path, type_name, case):
    xs, ys, opset, axis, shape = case
    dtype, _, lo, hi = TYPES[type_name]
    rng = np.random.default_rng(zlib.crc32(repr((type_name, case)).encode()))
    zx = int(rng.integers(lo, hi))
    zy = lo  # what a softmax calibration gives (output range [0, 1])
    path = tmp_path / "q.onnx"
    model(path, type_name, xs, ys, opset, axis, shape, zx, zy)
    x = rng.integers(lo, hi, size=shape).astype(dtype)
    # Rows with a repeated maximum and narrow ranges, where the table shift matters most.
    x.reshape(-1)[: shape[-1]] = x.reshape(-1)[0]
    expected = ort_run(path, {"x": x})[0]
    np.savez(tmp_path / "feeds.npz", x=x)
    r = run_edgeopt("run", str(path), "--input", str(tmp_path / "feeds.npz"), "-o", str(tmp_path / "out.npz"))
    assert r.code == 0, r
    got = load_npz(tmp_path / "out.npz")["y"]
    assert got.dtype == expected.dtype
    mismatch = np.flatnonzero(got.astype(np.int32) != expected.astype(np.int32))
    assert mismatch.size == 0, (f"{mismatch.size}/{got.size} codes differ, first at {mismatch[:5]}: "
                                f"edgeopt {got.reshape(-1)[mismatch[:5]]} onnxruntime {expected.reshape(-1)[mismatch[:5]]}")
