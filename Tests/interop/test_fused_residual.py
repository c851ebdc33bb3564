"""Residual fusion in `edgeopt optimize`: Conv(+BN) -> Add(skip) [-> Relu] becomes one FusedConv
with a fourth input Z, written as onnxruntime's com.microsoft::FusedConv(X, W, B, Z) with
--fused-conv-contrib (ORT adds Z after the bias and before the activation, as edgeopt's kernel does)
or as standard Conv -> Add -> Relu otherwise. Both outputs must run in onnxruntime and match the
original model in onnxruntime: max|a-b| / max|b| <= 1e-5.

The model is built here with onnx.helper: a ResNet-style basic block (Add then Relu), a
downsample block (1x1 stride-2 shortcut conv, the Add's other input computed first) and a
MobileNetV2-style block (Add without activation), plus a broadcast Add (of a pooled [N, C, 1, 1]
value) that must stay an Add.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-5


def residual_model(path):
    rng = np.random.default_rng(7)
    inits = []

    def weight(name, shape, scale=0.3):
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    nodes = []

    def conv_bn(x, y, cin, cout, k, stride=1):
        w = weight(f"{y}_w", (cout, cin, k, k), scale=1.0 / np.sqrt(cin * k * k))
        nodes.append(helper.make_node("Conv", [x, w], [f"{y}_c"], kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[k // 2] * 4))
        g = weight(f"{y}_g", (cout,), 0.2)
        inits[-1] = numpy_helper.from_array(numpy_helper.to_array(inits[-1]) + 1, g)
        b, m = weight(f"{y}_b", (cout,), 0.1), weight(f"{y}_m", (cout,), 0.1)
        v = f"{y}_v"
        inits.append(numpy_helper.from_array(rng.uniform(0.5, 1.5, cout).astype(np.float32), v))
        nodes.append(helper.make_node("BatchNormalization", [f"{y}_c", g, b, m, v], [y]))

    # Stem.
    conv_bn("x", "stem", 3, 8, 3)
    nodes.append(helper.make_node("Relu", ["stem"], ["s0"]))
    # Basic block: conv-bn-relu, conv-bn, Add(., s0), Relu.
    conv_bn("s0", "b1a", 8, 8, 3)
    nodes.append(helper.make_node("Relu", ["b1a"], ["b1r"]))
    conv_bn("b1r", "b1b", 8, 8, 3)
    nodes.append(helper.make_node("Add", ["b1b", "s0"], ["b1s"]))
    nodes.append(helper.make_node("Relu", ["b1s"], ["s1"]))
    # Downsample block: main branch first, shortcut conv second, Add(main, shortcut), Relu.
    conv_bn("s1", "b2a", 8, 16, 3, stride=2)
    nodes.append(helper.make_node("Relu", ["b2a"], ["b2r"]))
    conv_bn("b2r", "b2b", 16, 16, 3)
    conv_bn("s1", "b2d", 8, 16, 1, stride=2)
    nodes.append(helper.make_node("Add", ["b2b", "b2d"], ["b2s"]))
    nodes.append(helper.make_node("Relu", ["b2s"], ["s2"]))
    # MobileNetV2-style: 1x1 expand, depthwise 3x3, 1x1 project, Add without activation.
    conv_bn("s2", "b3e", 16, 32, 1)
    nodes.append(helper.make_node("Clip", ["b3e", "zero", "six"], ["b3er"]))
    dw = weight("b3d_w", (32, 1, 3, 3))
    nodes.append(helper.make_node("Conv", ["b3er", dw], ["b3d"], group=32, pads=[1, 1, 1, 1]))
    conv_bn("b3d", "b3p", 32, 16, 1)
    nodes.append(helper.make_node("Add", ["s2", "b3p"], ["s3"]))
    # A broadcast Add of a computed [N, 16, 1, 1] value (a constant one would fold into the bias):
    # stays an Add.
    nodes.append(helper.make_node("GlobalAveragePool", ["s3"], ["pooled"]))
    nodes.append(helper.make_node("Conv", ["s3", weight("b4_w", (16, 16, 1, 1), 0.25)], ["b4"]))
    nodes.append(helper.make_node("Add", ["b4", "pooled"], ["y"]))
    inits += [numpy_helper.from_array(np.array(0, np.float32), "zero"), numpy_helper.from_array(np.array(6, np.float32), "six")]
    graph = helper.make_graph(nodes, "residual", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 15, 13])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 16, 8, 7])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def session(path):
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def relative_error(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


@pytest.mark.parametrize("contrib", [True, False], ids=["contrib", "standard"])
def test_residual_fusion_runs_in_onnxruntime(run_edgeopt, tmp_path, contrib):
    src, out = tmp_path / "residual.onnx", tmp_path / "out.onnx"
    residual_model(src)
    args = ["optimize", str(src), "-o", str(out)] + (["--fused-conv-contrib"] if contrib else [])
    result = run_edgeopt(*args)
    assert result.code == 0, str(result)
    model = onnx.load(str(out))
    ops = [(n.domain, n.op_type, len(n.input)) for n in model.graph.node]
    if contrib:
        with_z = [n for n in model.graph.node if n.domain == "com.microsoft" and n.op_type == "FusedConv" and len(n.input) == 4]
        # The basic block, the downsample block (on the shortcut conv) and the MobileNetV2 block.
        assert len(with_z) == 3, ops
        assert sorted(n.input[3] for n in with_z) == ["b2d", "s0", "s2"], ops
        assert {dict((a.name, helper.get_attribute_value(a)) for a in n.attribute).get("activation", b"") for n in with_z} == {b"Relu", b""}
        assert sum(1 for n in model.graph.node if n.op_type == "Add") == 1, ops  # the broadcast Add
    else:
        onnx.checker.check_model(model, full_check=True)
        assert all(n.domain in ("", "ai.onnx") for n in model.graph.node), ops
        assert sum(1 for n in model.graph.node if n.op_type == "Add") == 4, ops
    feed = {"x": np.random.default_rng(3).standard_normal((2, 3, 15, 13)).astype(np.float32)}
    expected = session(src).run(None, feed)[0]
    actual = session(out).run(None, feed)[0]
    assert actual.shape == expected.shape
    error = relative_error(actual, expected)
    print(f"residual fusion ({'contrib' if contrib else 'standard'}): {ops}\nrelative error vs original in ORT: {error:.2e}")
    assert error <= TOLERANCE
    # edgeopt's engine runs the optimized (standard) file to the same numbers.
    if not contrib:
        np.save(tmp_path / "x.npy", feed["x"])
        run = run_edgeopt("run", str(out), "--input", f"x={tmp_path / 'x.npy'}", "-o", str(tmp_path / "y.npz"))
        assert run.code == 0, str(run)
        got = np.load(tmp_path / "y.npz")["y"]
        assert relative_error(got, expected) <= TOLERANCE


def test_gemm_residual_fusion_on_a_torch_mlp(run_edgeopt, tmp_path):
    """A residual MLP exported by torch.onnx (2-D input, so every Linear is a Gemm): the blocks'
    Gemm -> Add(skip) [-> Relu] tails fuse (the report's node count drops by the fused Adds and
    Relus), the standard output passes the checker, and ORT and edgeopt's engine run it to the
    original's numbers."""
    torch = pytest.importorskip("torch")

    class ResidualMLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = torch.nn.Linear(32, 64), torch.nn.Linear(64, 32)
            self.l3, self.head = torch.nn.Linear(32, 32), torch.nn.Linear(32, 10)

        def forward(self, x):
            h = torch.relu(self.l2(torch.relu(self.l1(x))) + x)  # Gemm -> Add -> Relu
            h = self.l3(h) + h  # Gemm -> Add
            return self.head(h)

    torch.manual_seed(0)
    src, out = tmp_path / "mlp.onnx", tmp_path / "out.onnx"
    torch.onnx.export(ResidualMLP().eval(), (torch.randn(4, 32),), str(src), dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["y"])
    assert [n.op_type for n in onnx.load(str(src)).graph.node] == ["Gemm", "Relu", "Gemm", "Add", "Relu", "Gemm", "Add", "Gemm"]
    result = run_edgeopt("optimize", str(src), "-o", str(out), "--format", "json")
    assert result.code == 0, str(result)
    report = json.loads(result.stdout)
    # Gemm+Relu, Gemm+Add+Relu and Gemm+Add each become one node; the head stays a Gemm.
    assert (report["pipeline"]["nodesBefore"], report["pipeline"]["nodesAfter"]) == (8, 4), report["pipeline"]
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node] == ["Gemm", "Relu", "Gemm", "Add", "Relu", "Gemm", "Add", "Gemm"]
    feed = {"x": np.random.default_rng(5).standard_normal((4, 32)).astype(np.float32)}
    expected = session(src).run(None, feed)[0]
    assert relative_error(session(out).run(None, feed)[0], expected) <= TOLERANCE
    np.save(tmp_path / "x.npy", feed["x"])
    run = run_edgeopt("run", str(src), "--input", f"x={tmp_path / 'x.npy'}", "-o", str(tmp_path / "y.npz"))
    assert run.code == 0, str(run)
    assert relative_error(np.load(tmp_path / "y.npz")["y"], expected) <= TOLERANCE
