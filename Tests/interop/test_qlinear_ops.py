"""The engine's integer Add, Mul and global average pooling give ONNX Runtime's integers, bit for bit.

Each case is a small model in two forms, run by onnxruntime and by `edgeopt run` on the same
random 8-bit inputs:
* QDQ: DequantizeLinear → Add | Mul | GlobalAveragePool → QuantizeLinear, which onnxruntime
  fuses into com.microsoft QLinearAdd / QLinearMul / QLinearGlobalAveragePool and edgeopt's
  `QDQLowering` lowers to the same operators;
* QOperator: the com.microsoft operator written explicitly (edgeopt's own kernels).
Also DequantizeLinear → GlobalAveragePool → Flatten → QuantizeLinear, where onnxruntime keeps the
pooling in float (MLAS's four-lane sum) and edgeopt fuses DQ + pooling with the same order: the
float pooled values and the final integers must be identical.
Scales are chosen so that many results land near rounding ties (products and sums of small
integers times scales with short binary expansions), where a different formula would show.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx import numpy_helper as nh

from conftest import load_npz, ort_run

TYPES = {"uint8": (np.uint8, TensorProto.UINT8, 0, 256), "int8": (np.int8, TensorProto.INT8, -128, 128)}


def scalar(name, value, dtype):
    return nh.from_array(np.array(value, dtype=dtype), name)


def save(tmp_path, name, nodes, inputs, outputs, inits, ms=False):
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.microsoft", 1)] if ms else [])
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def engine(run_edgeopt, path, feeds, tmp_path):
    np.savez(tmp_path / "feeds.npz", **feeds)
    r = run_edgeopt("run", str(path), "--input", str(tmp_path / "feeds.npz"), "-o", str(tmp_path / "out.npz"))
    assert r.code == 0, r
    return load_npz(tmp_path / "out.npz")


# (a scale, b scale, c scale): ratios with ties (0.5 / 0.25 steps) and awkward ones.
BINARY_SCALES = [(0.5, 0.25, 0.5), (0.02, 0.03, 0.05), (0.0234567, 0.0131, 0.0371), (0.1, 0.1, 0.2)]


SHAPES = [((4, 16, 9, 9), (4, 16, 9, 9)), ((4, 16, 9, 9), (1, 16, 1, 1)), ((1, 16, 1, 1), (4, 16, 9, 9)),
          ((4, 16, 9, 9), (1,)), ((2, 1, 5), (3, 1))]


@pytest.mark.parametrize("op", ["Add", "Mul"])
@pytest.mark.parametrize("shapes", SHAPES, ids=["same", "b_channel", "a_channel", "b_scalar", "both"])
@pytest.mark.parametrize("type_name", list(TYPES))
@pytest.mark.parametrize("scales", BINARY_SCALES, ids=[str(s) for s in BINARY_SCALES])
@pytest.mark.parametrize("form", ["qdq", "qoperator"])
def test_binary_matches_onnxruntime(op, shapes, type_name, scales, form, run_edgeopt, tmp_path):
    np_type, onnx_type, lo, hi = TYPES[type_name]
    rng = np.random.default_rng(7)
    a = rng.integers(lo, hi, shapes[0]).astype(np_type)
    b = rng.integers(lo, hi, shapes[1]).astype(np_type)
    sa, sb, sc = scales
    if op == "Mul":
        sc = sc * 8
    za, zb, zc = (3, -5, 7) if type_name == "int8" else (128, 120, 100)
    inits = [scalar("sa", sa, np.float32), scalar("za", za, np_type), scalar("sb", sb, np.float32),
             scalar("zb", zb, np_type), scalar("sc", sc, np.float32), scalar("zc", zc, np_type)]
    inputs = [helper.make_tensor_value_info("a", onnx_type, list(a.shape)),
              helper.make_tensor_value_info("b", onnx_type, list(b.shape))]
    outputs = [helper.make_tensor_value_info("y", onnx_type, None)]
    if form == "qdq":
        nodes = [helper.make_node("DequantizeLinear", ["a", "sa", "za"], ["af"]),
                 helper.make_node("DequantizeLinear", ["b", "sb", "zb"], ["bf"]),
                 helper.make_node(op, ["af", "bf"], ["yf"]),
                 helper.make_node("QuantizeLinear", ["yf", "sc", "zc"], ["y"])]
    else:
        nodes = [helper.make_node(f"QLinear{op}", ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"], ["y"], domain="com.microsoft")]
    path = save(tmp_path, f"{op}_{form}", nodes, inputs, outputs, inits, ms=form == "qoperator")
    theirs = ort_run(path, {"a": a, "b": b})[0]
    ours = engine(run_edgeopt, path, {"a": a, "b": b}, tmp_path)["y"]
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    differing = int(np.count_nonzero(ours != theirs))
    print(f"{op} {shapes} {type_name} {scales} {form}: {differing}/{ours.size} differ")
    assert differing == 0


@pytest.mark.parametrize("type_name", list(TYPES))
@pytest.mark.parametrize("form", ["qdq", "qoperator"])
@pytest.mark.parametrize("spatial", [(7, 7), (3, 5), (1, 1), (8, 8)])
def test_global_average_pool_matches_onnxruntime(type_name, form, spatial, run_edgeopt, tmp_path):
    np_type, onnx_type, lo, hi = TYPES[type_name]
    rng = np.random.default_rng(3)
    x = rng.integers(lo, hi, (8, 64) + spatial).astype(np_type)
    zx, zy = (-4, 2) if type_name == "int8" else (5, 3)
    inits = [scalar("sx", 0.0234567, np.float32), scalar("zx", zx, np_type),
             scalar("sy", 0.0131, np.float32), scalar("zy", zy, np_type)]
    inputs = [helper.make_tensor_value_info("x", onnx_type, list(x.shape))]
    outputs = [helper.make_tensor_value_info("y", onnx_type, None)]
    if form == "qdq":
        nodes = [helper.make_node("DequantizeLinear", ["x", "sx", "zx"], ["xf"]),
                 helper.make_node("GlobalAveragePool", ["xf"], ["yf"]),
                 helper.make_node("QuantizeLinear", ["yf", "sy", "zy"], ["y"])]
    else:
        nodes = [helper.make_node("QLinearGlobalAveragePool", ["x", "sx", "zx", "sy", "zy"], ["y"],
                                  domain="com.microsoft", channels_last=0)]
    path = save(tmp_path, f"gap_{form}", nodes, inputs, outputs, inits, ms=form == "qoperator")
    theirs = ort_run(path, {"x": x})[0]
    ours = engine(run_edgeopt, path, {"x": x}, tmp_path)["y"]
    assert ours.shape == theirs.shape == (8, 64, 1, 1)
    differing = int(np.count_nonzero(ours != theirs))
    print(f"GlobalAveragePool {type_name} {spatial} {form}: {differing}/{ours.size} differ")
    assert differing == 0


def test_float_global_average_pool_after_dequantize_matches_onnxruntime(run_edgeopt, tmp_path):
    """DQ → GlobalAveragePool → Flatten → Q (MobileNetV2's head as edgeopt quantized it before):
    onnxruntime does not fuse the pool, and sums each plane in MLAS's four-lane order."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (32, 1280, 7, 7)).astype(np.uint8)
    inits = [scalar("s", 0.0234567, np.float32), scalar("z", 0, np.uint8),
             scalar("s2", 0.0131, np.float32), scalar("z2", 0, np.uint8)]
    nodes = [helper.make_node("DequantizeLinear", ["x", "s", "z"], ["xf"]),
             helper.make_node("GlobalAveragePool", ["xf"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("QuantizeLinear", ["f", "s2", "z2"], ["y"])]
    path = save(tmp_path, "gap_float", nodes, [helper.make_tensor_value_info("x", TensorProto.UINT8, list(x.shape))],
                [helper.make_tensor_value_info("y", TensorProto.UINT8, None), helper.make_tensor_value_info("g", TensorProto.FLOAT, None)],
                inits)
    y, g = ort_run(path, {"x": x})
    ours = engine(run_edgeopt, path, {"x": x}, tmp_path)
    # A sequential float sum differs from onnxruntime's in the last bit for about 60% of planes.
    assert int(np.count_nonzero(ours["g"] != g)) == 0
    assert int(np.count_nonzero(ours["y"] != y)) == 0


@pytest.mark.parametrize("type_name", list(TYPES))
@pytest.mark.parametrize("shapes", SHAPES[:4], ids=["same", "b_channel", "a_channel", "b_scalar"])
def test_add_with_random_parameters_matches_onnxruntime(type_name, shapes, run_edgeopt, tmp_path):
    """Random scales and zero points, many values each: about one sum in a thousand lands where
    the float DQ → Add → Q, MLAS's unfused SSE2 formula and its AVX2 fma formula disagree; only
    the last matches onnxruntime on all of them (and only with the operands swapped when A is the
    broadcast one)."""
    np_type, onnx_type, lo, hi = TYPES[type_name]
    rng = np.random.default_rng(42)
    a_all, b_all, params = [], [], []
    for k in range(12):
        sa, sb = (float(np.float32(rng.choice([0.1, 0.05, 0.2, 0.25, 0.5]) * rng.choice([1, 1.37, 0.731]))) for _ in range(2))
        sc = float(np.float32(rng.choice([0.1, 0.2, 0.4, 0.5, 0.25]) * rng.choice([1, 1.11, 0.9])))
        params.append((sa, sb, sc, *(int(rng.integers(lo, hi)) for _ in range(3))))
    scale = (100, 200)
    a_shape = scale if shapes[0] != (1, 16, 1, 1) else (100, 1)
    b_shape = {(4, 16, 9, 9): scale, (1, 16, 1, 1): (1, 200), (1,): (1,)}[shapes[1]] if shapes[0] != (1, 16, 1, 1) else scale
    differing = 0
    for k, (sa, sb, sc, za, zb, zc) in enumerate(params):
        a = rng.integers(lo, hi, a_shape).astype(np_type)
        b = rng.integers(lo, hi, b_shape).astype(np_type)
        inits = [scalar("sa", sa, np.float32), scalar("za", za, np_type), scalar("sb", sb, np.float32),
                 scalar("zb", zb, np_type), scalar("sc", sc, np.float32), scalar("zc", zc, np_type)]
        nodes = [helper.make_node("DequantizeLinear", ["a", "sa", "za"], ["af"]),
                 helper.make_node("DequantizeLinear", ["b", "sb", "zb"], ["bf"]),
                 helper.make_node("Add", ["af", "bf"], ["yf"]),
                 helper.make_node("QuantizeLinear", ["yf", "sc", "zc"], ["y"])]
        path = save(tmp_path, f"add_{k}", nodes, [helper.make_tensor_value_info("a", onnx_type, list(a.shape)),
                                                   helper.make_tensor_value_info("b", onnx_type, list(b.shape))],
                    [helper.make_tensor_value_info("y", onnx_type, None)], inits)
        theirs = ort_run(path, {"a": a, "b": b})[0]
        ours = engine(run_edgeopt, path, {"a": a, "b": b}, tmp_path)["y"]
        differing += int(np.count_nonzero(ours != theirs))
    print(f"Add {type_name} {a_shape}+{b_shape}, 12 random parameter sets: {differing} values differ")
    assert differing == 0
