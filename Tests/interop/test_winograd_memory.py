"""Winograd's memory in the engine's default mode (issue 3).

The engine transforms Winograd weights U = G g Gᵀ per run, so a session holds each 3×3 Conv's
weights once, as their im2col packing: C_out rounded up to the GEMM micro-kernel's MR rows
(4 portable, 6 AVX2, 14 AVX-512) × 9·C_in floats. `edgeopt bench --json` must report exactly
that in both modes, and both modes must compute what onnxruntime computes.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

from conftest import ort_run

# (C_in, C_out, stride, plane in): 28×28 and 14×14 planes choose F(4,3), 7×7 F(2,3); stride 2 im2col.
LAYERS = [(16, 29, 1, 28), (29, 43, 2, 28), (43, 57, 1, 14), (57, 71, 2, 14), (71, 33, 1, 7)]


def model(tmp_path):
    rng = np.random.default_rng(3)
    nodes, inits, prev = [], [], "x"
    for k, (cin, cout, stride, _) in enumerate(LAYERS):
        w = (rng.standard_normal((cout, cin, 3, 3)) / np.sqrt(9 * cin)).astype(np.float32)
        b = rng.standard_normal(cout).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{k}"), numpy_helper.from_array(b, f"b{k}")]
        out = "y" if k == len(LAYERS) - 1 else f"h{k}"
        nodes.append(helper.make_node("Conv", [prev, f"w{k}", f"b{k}"], [f"c{k}"], pads=[1, 1, 1, 1], strides=[stride, stride]))
        nodes.append(helper.make_node("Relu", [f"c{k}"], [out]))
        prev = out
    graph = helper.make_graph(nodes, "wino", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 28, 28])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "wino.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


def packed_bytes(mr: int) -> int:
    return sum(((cout + mr - 1) // mr * mr * 9 * cin + cout) * 4 for cin, cout, _, _ in LAYERS)


def test_bench_reports_the_im2col_packing_in_both_modes(run_edgeopt, tmp_path):
    path = model(tmp_path)
    held = {}
    for flags in [(), ("--no-winograd",)]:
        r = run_edgeopt("bench", str(path), "--runs", "2", "--warmup", "1", "--threads", "2", "--json", *flags)
        assert r.code == 0, r
        held[flags] = json.loads(r.stdout)["held_weight_bytes"]
    assert held[()] == held[("--no-winograd",)]
    # Exactly one ISA's packing (the formulas differ for MR = 4, 6, 14 with these channel counts).
    assert len({packed_bytes(mr) for mr in (4, 6, 14)}) == 3
    assert held[()] in {packed_bytes(mr) for mr in (4, 6, 14)}, held


def test_both_modes_match_onnxruntime(run_edgeopt, tmp_path):
    path = model(tmp_path)
    x = np.random.default_rng(4).standard_normal((1, 16, 28, 28)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    want = ort_run(path, {"x": x})[0]
    for flags in [(), ("--no-winograd",)]:
        out = tmp_path / "y.npz"
        r = run_edgeopt("run", str(path), "--input", f"x={tmp_path / 'x.npy'}", "--output", str(out), "--threads", "2", *flags)
        assert r.code == 0, r
        got = np.load(out)["y"]
        assert got.shape == want.shape
        assert np.abs(got.astype(np.float64) - want).max() <= 1e-4 * np.abs(want).max(), flags
