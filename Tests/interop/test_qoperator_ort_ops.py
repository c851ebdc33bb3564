"""ONNX Runtime's QOperator contrib ops in edgeopt's engine, against onnxruntime bit for bit.

`quantize_static(..., quant_format=QuantFormat.QOperator)` turns Concat into com.microsoft
QLinearConcat (SqueezeNet's Fire modules, ShuffleNet), AveragePool into QLinearAveragePool
(Inception, DenseNet), Sigmoid into QLinearSigmoid (EfficientNet's SiLU and squeeze-excitation)
and LeakyRelu into QLinearLeakyRelu. For each op, single-node models over many attribute and
type combinations (QLinearSigmoid/LeakyRelu over all 256 input bytes) give exactly onnxruntime's
bytes in `edgeopt run`. Then small CNNs built here (a SqueezeNet-style Fire network with
AveragePools, a SiLU network with a squeeze-excitation gate) are quantized by onnxruntime itself
to QOperator; edgeopt runs them to onnxruntime's outputs exactly, and `edgeopt validate` compares
them with their float models.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

ort = pytest.importorskip("onnxruntime")
quantization = pytest.importorskip("onnxruntime.quantization")

NP = {TensorProto.UINT8: np.uint8, TensorProto.INT8: np.int8}


def ort_run(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)


def engine_run(run_edgeopt, model: onnx.ModelProto, feeds: dict, tmp_path, tag: str) -> list[np.ndarray]:
    path, inp, out = tmp_path / f"{tag}.onnx", tmp_path / f"{tag}_in.npz", tmp_path / f"{tag}_out.npz"
    onnx.save(model, path)
    np.savez(inp, **feeds)
    r = run_edgeopt("run", path, "--input", inp, "-o", out)
    assert r.code == 0, r
    y = np.load(out)
    return [y[o.name] for o in model.graph.output]


def scalar(name, value, dtype=TensorProto.FLOAT):
    return numpy_helper.from_array(np.array(value, dtype=np.float32 if dtype == TensorProto.FLOAT else NP[dtype]), name)


def single_op(op, inputs, x_shapes, qtype, initializers, out_type=None, **attrs):
    """A model of one com.microsoft node whose data inputs (names x0, x1, …) are graph inputs."""
    node = helper.make_node(op, inputs, ["y"], domain="com.microsoft", **attrs)
    graph_inputs = [helper.make_tensor_value_info(f"x{k}", qtype, s) for k, s in enumerate(x_shapes)]
    graph = helper.make_graph([node], op, graph_inputs, [helper.make_tensor_value_info("y", out_type or qtype, None)],
                              initializer=initializers)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


def random_bytes(rng, shape, qtype):
    info = np.iinfo(NP[qtype])
    return rng.integers(info.min, info.max + 1, size=shape).astype(NP[qtype])


def assert_bit_exact(run_edgeopt, model, feeds, tmp_path, tag):
    expected = ort_run(model, feeds)
    got = engine_run(run_edgeopt, model, feeds, tmp_path, tag)
    for e, g in zip(expected, got):
        assert e.dtype == g.dtype and e.shape == g.shape, (tag, e.dtype, g.dtype, e.shape, g.shape)
        diff = np.abs(e.astype(np.int64) - g.astype(np.int64)) if e.dtype != np.float32 else np.abs(e - g)
        assert np.array_equal(e, g), f"{tag}: {int((diff > 0).sum())} of {e.size} differ, max {diff.max()}"


CONCAT_CASES = [
    # (qtype, shapes, axis, input (scale, zero point) triples, output (scale, zero point))
    (TensorProto.UINT8, [(2, 3, 5, 4), (2, 6, 5, 4), (2, 1, 5, 4)], 1, [(0.05, 128), (0.02, 100), (0.1, 0)], (0.05, 128)),
    (TensorProto.INT8, [(2, 3, 5, 4), (2, 6, 5, 4), (2, 1, 5, 4)], 1, [(0.05, -3), (0.013, 10), (0.1, 0)], (0.05, -3)),
    (TensorProto.UINT8, [(3, 4, 7), (3, 4, 2)], -1, [(0.5, 7), (0.25, 200)], (0.3, 90)),
    (TensorProto.INT8, [(1, 8), (4, 8)], 0, [(1.0, 0), (0.0078125, -128)], (0.0625, 5)),
]


@pytest.mark.parametrize("case", range(len(CONCAT_CASES)))
def test_qlinear_concat_bit_exact(case, run_edgeopt, tmp_path):
    qtype, shapes, axis, params, (sy, zy) = CONCAT_CASES[case]
    rng = np.random.default_rng(case)
    inits = [scalar("ys", sy), scalar("yz", zy, qtype)]
    inputs = ["ys", "yz"]
    for k, (s, z) in enumerate(params):
        inits += [scalar(f"s{k}", s), scalar(f"z{k}", z, qtype)]
        inputs += [f"x{k}", f"s{k}", f"z{k}"]
    m = single_op("QLinearConcat", inputs, shapes, qtype, inits, axis=axis)
    feeds = {f"x{k}": random_bytes(rng, s, qtype) for k, s in enumerate(shapes)}
    assert_bit_exact(run_edgeopt, m, feeds, tmp_path, f"concat{case}")


POOL_CASES = [
    # (qtype, x shape, attributes)
    (TensorProto.UINT8, (2, 3, 9, 9), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    (TensorProto.UINT8, (2, 3, 9, 9), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)),
    (TensorProto.INT8, (1, 4, 10, 7), dict(kernel_shape=[3, 2], strides=[2, 2], pads=[0, 1, 1, 0], ceil_mode=1)),
    (TensorProto.INT8, (1, 4, 8, 8), dict(kernel_shape=[3, 3], strides=[1, 1], auto_pad="SAME_UPPER")),
    (TensorProto.UINT8, (2, 8, 8, 5), dict(kernel_shape=[2, 2], strides=[2, 2], channels_last=1)),
    (TensorProto.UINT8, (2, 3, 11), dict(kernel_shape=[4], strides=[3], pads=[2, 1])),
    (TensorProto.INT8, (1, 2, 5, 6, 4), dict(kernel_shape=[2, 3, 2], strides=[1, 2, 2], pads=[1, 0, 1, 0, 1, 1])),
    (TensorProto.UINT8, (2, 16, 7, 7), dict(kernel_shape=[7, 7])),          # ONNX Runtime's global path
    (TensorProto.INT8, (2, 7, 7, 16), dict(kernel_shape=[7, 7], channels_last=1)),
]


@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_qlinear_average_pool_bit_exact(case, run_edgeopt, tmp_path):
    qtype, shape, attrs = POOL_CASES[case]
    rng = np.random.default_rng(100 + case)
    zx, zy = (131, 120) if qtype == TensorProto.UINT8 else (-7, 3)
    inits = [scalar("xs", 0.0372), scalar("xz", zx, qtype), scalar("ys", 0.0291), scalar("yz", zy, qtype)]
    m = single_op("QLinearAveragePool", ["x0", "xs", "xz", "ys", "yz"], [shape], qtype, inits, **attrs)
    assert_bit_exact(run_edgeopt, m, {"x0": random_bytes(rng, shape, qtype)}, tmp_path, f"pool{case}")


@pytest.mark.parametrize("op,attrs", [("QLinearSigmoid", {}), ("QLinearLeakyRelu", {"alpha": 0.1}),
                                      ("QLinearLeakyRelu", {})])
@pytest.mark.parametrize("qtype", [TensorProto.UINT8, TensorProto.INT8])
@pytest.mark.parametrize("scales", [(0.02, 1 / 256), (0.1, 0.0041), (0.5, 0.0039215)])
def test_qlinear_lookup_all_bytes(op, attrs, qtype, scales, run_edgeopt, tmp_path):
    """Every input byte once: the whole table is compared."""
    sx, sy = scales
    zx, zy = (128, 0) if qtype == TensorProto.UINT8 else (0, -128)
    if op == "QLinearLeakyRelu":
        sy, zy = sx, zx
    inits = [scalar("xs", sx), scalar("xz", zx, qtype), scalar("ys", sy), scalar("yz", zy, qtype)]
    m = single_op(op, ["x0", "xs", "xz", "ys", "yz"], [(4, 64)], qtype, inits, **attrs)
    x = np.arange(256, dtype=np.uint8).view(NP[qtype]).reshape(4, 64)
    assert_bit_exact(run_edgeopt, m, {"x0": x}, tmp_path, f"{op}{qtype}{sx}")


# Small float CNNs quantized by onnxruntime itself.

def conv(name, x, cin, cout, k, rng, nodes, inits, stride=1, pad=0, act="Relu"):
    w = (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2 / (cin * k * k))).astype(np.float32)
    b = (rng.standard_normal(cout) * 0.1).astype(np.float32)
    inits += [numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(b, f"{name}_b")]
    nodes.append(helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [f"{name}_c"], kernel_shape=[k, k],
                                  strides=[stride, stride], pads=[pad] * 4))
    if act == "Relu":
        nodes.append(helper.make_node("Relu", [f"{name}_c"], [f"{name}_y"]))
    elif act == "SiLU":
        nodes.append(helper.make_node("Sigmoid", [f"{name}_c"], [f"{name}_s"]))
        nodes.append(helper.make_node("Mul", [f"{name}_c", f"{name}_s"], [f"{name}_y"]))
    else:
        return f"{name}_c"
    return f"{name}_y"


def fire_net(rng):
    """conv → maxpool → Fire(16) → Fire(16) → AveragePool 3×3/2 → Fire(32) → AveragePool 3×3/1 pad 1 → conv → GAP."""
    nodes, inits = [], []
    x = conv("c0", "input", 3, 16, 3, rng, nodes, inits, stride=2)
    nodes.append(helper.make_node("MaxPool", [x], ["p0"], kernel_shape=[3, 3], strides=[2, 2]))
    x, cin = "p0", 16

    def fire(name, x, cin, squeeze, expand):
        s = conv(f"{name}_s", x, cin, squeeze, 1, rng, nodes, inits)
        e1 = conv(f"{name}_e1", s, squeeze, expand, 1, rng, nodes, inits)
        e3 = conv(f"{name}_e3", s, squeeze, expand, 3, rng, nodes, inits, pad=1)
        nodes.append(helper.make_node("Concat", [e1, e3], [f"{name}_cat"], axis=1))
        return f"{name}_cat", 2 * expand

    x, cin = fire("f1", x, cin, 8, 16)
    x, cin = fire("f2", x, cin, 8, 16)
    nodes.append(helper.make_node("AveragePool", [x], ["a1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    x, cin = fire("f3", "a1", cin, 16, 32)
    nodes.append(helper.make_node("AveragePool", [x], ["a2"], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
                                  count_include_pad=1))
    x = conv("c9", "a2", cin, 10, 1, rng, nodes, inits)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["logits"]))
    return nodes, inits


def silu_net(rng):
    """conv+SiLU → conv+SiLU with a squeeze-excitation gate (GAP → conv → SiLU → conv → Sigmoid → Mul) → GAP."""
    nodes, inits = [], []
    x = conv("c0", "input", 3, 16, 3, rng, nodes, inits, stride=2, act="SiLU")
    x = conv("c1", x, 16, 24, 3, rng, nodes, inits, pad=1, act="SiLU")
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["se_p"]))
    s = conv("se1", "se_p", 24, 8, 1, rng, nodes, inits, act="SiLU")
    g = conv("se2", s, 8, 24, 1, rng, nodes, inits, act=None)
    nodes.append(helper.make_node("Sigmoid", [g], ["se_g"]))
    nodes.append(helper.make_node("Mul", [x, "se_g"], ["se_y"]))
    x = conv("c2", "se_y", 24, 10, 1, rng, nodes, inits, act=None)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["logits"]))
    return nodes, inits


NETS = {"fire": (fire_net, {"QLinearConcat", "QLinearAveragePool"}), "silu": (silu_net, {"QLinearSigmoid"})}


@pytest.mark.parametrize("activation", ["QUInt8", "QInt8"])
@pytest.mark.parametrize("net", sorted(NETS))
def test_ort_quantized_networks(net, activation, run_edgeopt, tmp_path):
    build, expected_ops = NETS[net]
    rng = np.random.default_rng(7)
    nodes, inits = build(rng)
    graph = helper.make_graph(nodes, net, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    float_path, q_path = tmp_path / "float.onnx", tmp_path / "q.onnx"
    onnx.save(model, float_path)
    calib = rng.standard_normal((16, 3, 32, 32)).astype(np.float32)

    class Reader(quantization.CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"input": calib[k:k + 4]} for k in range(0, 16, 4)])

        def get_next(self):
            return next(self.it, None)

    quantization.quantize_static(str(float_path), str(q_path), Reader(), quant_format=quantization.QuantFormat.QOperator,
                                 activation_type=getattr(quantization.QuantType, activation),
                                 weight_type=quantization.QuantType.QInt8)
    q = onnx.load(q_path)
    ops = {n.op_type for n in q.graph.node}
    assert expected_ops <= ops, ops
    assert not ops & {"Concat", "AveragePool", "Sigmoid"}, ops

    x = rng.standard_normal((8, 3, 32, 32)).astype(np.float32)
    options = ort.SessionOptions()
    options.log_severity_level = 4
    expected = ort.InferenceSession(str(q_path), options, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    got = engine_run(run_edgeopt, q, {"input": x}, tmp_path, "engine")[0]
    assert np.array_equal(expected, got), f"max |diff| {np.abs(expected - got).max()}"

    data = tmp_path / "eval.npz"
    np.savez(data, input=x)
    r = run_edgeopt("validate", "--reference", float_path, "--candidate", q_path, "--data", data, "--format", "json")
    assert r.code == 0, r
    report = json.loads(r.stdout)
    out = report["outputs"][0]
    assert out["name"] == "logits" and out["rows"] == 8
    assert 0.9 < out["cosine"] < 1, out


@pytest.mark.parametrize("sx,sy", [(0.08228061348199844, 0.004450588021427393), (0.03364746272563934, 0.00446718093007803),
                                   (0.058490362018346786, 0.004492201842367649)])
def test_qlinear_sigmoid_is_mlas_logistic(sx, sy, run_edgeopt, tmp_path):
    """Scales (found by search) where MLAS's rational logistic and 1/(1 + e^−x) quantize one byte
    differently: onnxruntime takes the former, and so must edgeopt."""
    qtype = TensorProto.UINT8
    inits = [scalar("xs", sx), scalar("xz", 128, qtype), scalar("ys", sy), scalar("yz", 0, qtype)]
    m = single_op("QLinearSigmoid", ["x0", "xs", "xz", "ys", "yz"], [(4, 64)], qtype, inits)
    x = np.arange(256, dtype=np.uint8).reshape(4, 64)
    expected = ort_run(m, {"x0": x})[0]
    xf = np.float32(sx) * (x.astype(np.int32) - 128).astype(np.float32)
    exact = (1 / (1 + np.exp(-xf.astype(np.float64)))).astype(np.float32)
    exact_q = np.clip(np.rint(exact / np.float32(sy)), 0, 255).astype(np.uint8)
    assert (exact_q != expected).sum() >= 1  # the case tells the two apart
    assert_bit_exact(run_edgeopt, m, {"x0": x}, tmp_path, "mlas")
