"""`edgeopt optimize` on models with model-local functions (ModelProto.functions).

* A hand-built model (onnx.helper) whose local function holds Conv+BatchNormalization, a foldable
  Mul of two Constants, an Identity on the function output and a LeakyRelu whose alpha refers to the
  caller's attribute: the passes must fold inside the body, keep the referencing node and the
  function interface, and the result must pass the full checker and equal the original in
  onnxruntime; edgeopt's engine (`edgeopt run`) must equal onnxruntime on the original.
* A real torch export with functions: torch.onnx.export(..., dynamo=False,
  export_modules_as_functions={Block, BatchNorm2d}) (torch 2.13's dynamo exporter inlines
  everything, so it emits no functions). Its weights are function inputs, so BN folds only with
  --inline-functions.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from test_optimize import relative_error, session

ort = pytest.importorskip("onnxruntime")

DOMAIN = "test.local"


def const(name, array):
    return helper.make_node("Constant", [], [name], name=f"const_{name}", value=numpy_helper.from_array(array, name))


def block_model(path):
    rng = np.random.default_rng(0)
    c = 4
    f32 = np.float32
    body = [
        const("w", (rng.standard_normal((c, c, 3, 3)) * 0.3).astype(f32)),
        const("gamma", (rng.standard_normal(c) * 0.5 + 1).astype(f32)),
        const("beta", rng.standard_normal(c).astype(f32)),
        const("mean", (rng.standard_normal(c) * 0.3).astype(f32)),
        const("var", (rng.random(c) + 0.5).astype(f32)),
        const("k1", np.array(2.0, f32)),
        const("k2", np.array(0.75, f32)),
        helper.make_node("Conv", ["a", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["n"], name="bn", epsilon=1e-3),
        helper.make_node("Mul", ["k1", "k2"], ["k"], name="k"),
        helper.make_node("Mul", ["n", "k"], ["s"], name="scale"),
    ]
    act = helper.make_node("LeakyRelu", ["s"], ["l"], name="act")
    act.attribute.append(helper.make_attribute_ref("alpha", TensorProto.FLOAT))
    body += [act, helper.make_node("Identity", ["l"], ["r"], name="out")]
    fn = helper.make_function(DOMAIN, "Block", ["a"], ["r"], body, [helper.make_opsetid("", 17)],
                              attributes=[], attribute_protos=[helper.make_attribute("alpha", 0.05)])
    graph = helper.make_graph(
        [helper.make_node("Block", ["x"], ["h"], name="b1", domain=DOMAIN, alpha=0.3),
         helper.make_node("Block", ["h"], ["y"], name="b2", domain=DOMAIN)],
        "main", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, 8, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(DOMAIN, 1)],
                              functions=[fn], ir_version=9)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def ort_outputs(path, feed):
    return session(path).run(None, feed)


def test_passes_fold_inside_a_local_function(run_edgeopt, tmp_path):
    src, dst = tmp_path / "fn.onnx", tmp_path / "out.onnx"
    block_model(src)
    r = run_edgeopt("optimize", src, "-o", dst, "--format", "json")
    assert r.code == 0, r
    report = json.loads(r.stdout)
    assert report["pipeline"]["nodesBefore"] == 2 + 13
    assert report["pipeline"]["nodesAfter"] == 2 + 4

    out = onnx.load(dst)
    onnx.checker.check_model(out, full_check=True)
    assert [n.op_type for n in out.graph.node] == ["Block", "Block"]
    (fn,) = out.functions
    assert sorted(n.op_type for n in fn.node) == ["Constant", "Constant", "Conv", "LeakyRelu"]
    act = next(n for n in fn.node if n.op_type == "LeakyRelu")
    assert [a.ref_attr_name for a in act.attribute] == ["alpha"], "the caller's alpha stays a reference"
    assert list(act.output) == ["r"] and list(fn.input) == ["a"] and list(fn.output) == ["r"]

    x = np.random.default_rng(1).standard_normal((1, 4, 8, 8)).astype(np.float32)
    (before,) = ort_outputs(src, {"x": x})
    (after,) = ort_outputs(dst, {"x": x})
    assert relative_error(after, before) <= 1e-5

    # The engine runs the function model itself (calls expanded) and agrees with onnxruntime.
    np.save(tmp_path / "x.npy", x)
    r = run_edgeopt("run", src, "--input", f"x={tmp_path / 'x.npy'}", "-o", tmp_path / "y.npy")
    assert r.code == 0, r
    assert relative_error(np.load(tmp_path / "y.npy"), before) <= 1e-5


torch = pytest.importorskip("torch")


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.b1 = torch.nn.BatchNorm2d(c)
        self.c2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.b2 = torch.nn.BatchNorm2d(c)

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(self.b2(self.c2(y)) + x)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.blocks = torch.nn.Sequential(Block(8), Block(8))

    def forward(self, x):
        return self.blocks(torch.relu(self.bn(self.stem(x)))).mean((2, 3))


def torch_export(path):
    torch.manual_seed(0)
    net = Net()
    # Non-trivial statistics, so a wrong fold shows.
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    net.eval()
    torch.onnx.export(net, (torch.randn(1, 3, 16, 16),), str(path), dynamo=False, opset_version=17,
                      training=torch.onnx.TrainingMode.PRESERVE,
                      export_modules_as_functions={Block, torch.nn.BatchNorm2d})


def count(model, op):
    return sum(n.op_type == op for n in model.graph.node) + sum(n.op_type == op for f in model.functions for n in f.node)


@pytest.mark.parametrize("inline", [False, True], ids=["in-bodies", "inline-functions"])
def test_torch_export_with_functions(inline, run_edgeopt, tmp_path):
    src, dst = tmp_path / "torch_fn.onnx", tmp_path / "out.onnx"
    try:
        torch_export(src)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"torch cannot export modules as functions here: {e}")
    original = onnx.load(src)
    assert original.functions, "the export keeps local functions"
    # One BatchNorm2d function (its body: one BatchNormalization) called for all five BNs, four of
    # them from inside the Block function.
    assert count(original, "BatchNormalization") == 1
    r = run_edgeopt("optimize", src, "-o", dst, "--format", "json", *(["--inline-functions"] if inline else []))
    assert r.code == 0, r
    out = onnx.load(dst)
    onnx.checker.check_model(out, full_check=True)
    if inline:
        assert not out.functions
        assert count(out, "BatchNormalization") == 0, "every BN folds once the calls are expanded"
        assert count(out, "Conv") == 5
    else:
        # Inside the bodies the statistics are function inputs: the BNs stay, the interface stays.
        assert {f.name for f in out.functions} == {f.name for f in original.functions}
        for f, g in zip(out.functions, original.functions):
            assert list(f.input) == list(g.input) and list(f.output) == list(g.output)
        # Nothing in them is foldable: each body comes out as it went in (no function touched
        # beyond what its interface allows).
        for f, g in zip(out.functions, original.functions):
            assert [n.op_type for n in f.node] == [n.op_type for n in g.node]
    x = np.random.default_rng(2).standard_normal((1, 3, 16, 16)).astype(np.float32)
    (before,) = ort_outputs(src, {session(src).get_inputs()[0].name: x})
    (after,) = ort_outputs(dst, {session(dst).get_inputs()[0].name: x})
    err = relative_error(after, before)
    print(f"torch functions ({'inlined' if inline else 'in bodies'}): nodes {sum(1 for _ in original.graph.node)} main + "
          f"{sum(len(f.node) for f in original.functions)} in functions → {len(out.graph.node)} + "
          f"{sum(len(f.node) for f in out.functions)}; max rel error vs ORT {err:.2e}")
    assert err <= 1e-5
