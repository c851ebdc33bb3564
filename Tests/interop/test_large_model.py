"""`edgeopt optimize` on a model larger than 2 GiB (the protobuf limit), stored with external data.

The model: nine fully connected layers of 8192×8192 float weights (256 MiB each, 2.25 GiB in
all) as MatMul + Add + Relu, one layer's weight an identical copy of another's, an unused
initializer and an Identity. Expected: the passes run (MatMul+Add → Gemm, weight
deduplication, dead-initializer and Identity removal), the output is written with external
data, ONNX Runtime runs it and gives the original's outputs within 1e-5 relative, it is
smaller than the input, and the input files are untouched.

Costs about 7 GB of temporary disk and a minute; set EDGEOPT_SKIP_LARGE=1 to skip it.
"""
from __future__ import annotations

import json
import os
import pathlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

ort = pytest.importorskip("onnxruntime")

WIDTH = 8192
LAYERS = 9

pytestmark = pytest.mark.skipif(os.environ.get("EDGEOPT_SKIP_LARGE") == "1", reason="EDGEOPT_SKIP_LARGE=1")


def build(directory: pathlib.Path) -> pathlib.Path:
    rng = np.random.default_rng(7)
    initializers, nodes = [], []
    x = "input"
    weights = []
    for i in range(LAYERS):
        if i == LAYERS - 1:
            w = weights[-1].copy()  # identical content under another name: deduplication target
        else:
            # He-style scaling keeps activations O(1) through the ReLU chain.
            w = (rng.standard_normal((WIDTH, WIDTH), dtype=np.float32) * np.float32(np.sqrt(2.0 / WIDTH)))
        weights.append(w)
        b = rng.standard_normal(WIDTH, dtype=np.float32) * np.float32(0.01)
        initializers += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"mm{i}"], name=f"mm{i}"),
                  helper.make_node("Add", [f"mm{i}", f"b{i}"], [f"add{i}"], name=f"add{i}"),
                  helper.make_node("Relu", [f"add{i}"], [f"relu{i}"], name=f"relu{i}")]
        x = f"relu{i}"
    nodes.append(helper.make_node("Identity", [x], ["output"], name="identity"))
    initializers.append(numpy_helper.from_array(np.ones(1024, np.float32), "unused"))
    graph = helper.make_graph(nodes, "large", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [2, WIDTH])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [2, WIDTH])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = directory / "large.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="large.onnx.data", size_threshold=1024)
    return path


def session(path):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def test_optimize_model_over_2gb_with_external_data(run_edgeopt, tmp_path):
    src = build(tmp_path)
    data = tmp_path / "large.onnx.data"
    assert data.stat().st_size > 2**31
    before = (src.stat().st_size, src.stat().st_mtime_ns, data.stat().st_size, data.stat().st_mtime_ns)
    feed = {"input": np.random.default_rng(1).standard_normal((2, WIDTH), dtype=np.float32)}
    expected = session(src).run(None, feed)[0]

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "large.onnx"
    result = run_edgeopt("optimize", src, "-o", out, "--format", "json", timeout=1200)
    assert result.code == 0, str(result)
    report = json.loads(result.stdout)
    fired = {p["name"] for p in report["pipeline"]["passes"] if p.get("rewrites", 0) > 0}
    print(f"\nfired: {sorted(fired)}; bytes {report.get('inputBytes')} -> {report.get('outputBytes')}")
    assert (src.stat().st_size, src.stat().st_mtime_ns, data.stat().st_size, data.stat().st_mtime_ns) == before

    model = onnx.load(str(out), load_external_data=False)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Gemm") == LAYERS and "MatMul" not in ops and "Identity" not in ops, ops
    assert "unused" not in {t.name for t in model.graph.initializer}
    size_in = src.stat().st_size + data.stat().st_size
    size_out = sum(p.stat().st_size for p in out_dir.iterdir())
    # One 256 MiB duplicate is shared now.
    assert size_out <= size_in - WIDTH * WIDTH * 4 + 1024, (size_in, size_out)
    assert report["inputBytes"] == size_in and report["outputBytes"] == size_out, (report["inputBytes"], report["outputBytes"])
    onnx.checker.check_model(str(out), full_check=True)
    actual = session(out).run(None, feed)[0]
    error = float(np.max(np.abs(actual.astype(np.float64) - expected)) / np.max(np.abs(expected)))
    assert error <= 1e-5, error
