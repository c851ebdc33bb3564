"""`edgeopt report` against independent counts made here with onnx + numpy straight from each
file's protobuf (no edgeopt code involved).

Conventions shared with edgeopt (see Sources/EdgeAnalysis/WeightInventory.swift):
  * weights = initializers + Constant-node values + outputs of ConstantOfShape whose shape input
    is a constant, in the main graph and in every If/Loop/Scan body, each stored tensor once;
  * parameters = elements of weights whose type is not int64/bool/string; the others are
    "constant elements";
  * bytes = ceil(elements * bits / 8);
  * MACs (Conv, ConvTranspose, Gemm, MatMul, main graph) from onnx's own shape inference.

Environment: EDGEOPT_BIN (the edgeopt binary; default .build/debug/edgeopt), EDGEOPT_FIXTURES
(generated fixtures; torch-model tests skip without it).
"""
from __future__ import annotations

import collections
import glob
import json
import math
import os
import subprocess

import numpy as np
import onnx
import pytest
from onnx import AttributeProto, TensorProto, numpy_helper, shape_inference

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EDGEOPT = os.environ.get("EDGEOPT_BIN", os.path.join(ROOT, ".build", "debug", "edgeopt"))
FIXTURES = os.environ.get("EDGEOPT_FIXTURES")
LIGHT = sorted(glob.glob(os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light", "*.onnx")))
ARCH_LIGHT = sorted(glob.glob(os.path.join(ROOT, "Tests", "Fixtures", "arch-light", "*.onnx")))
MODELS = sorted(glob.glob(os.path.join(ROOT, "models", "*.onnx")))
TORCH = sorted(glob.glob(os.path.join(FIXTURES, "torch", "*", "model.onnx"))) if FIXTURES else []

NOT_PARAMETERS = {TensorProto.INT64, TensorProto.BOOL, TensorProto.STRING}


def run(*args, check=True):
    proc = subprocess.run([EDGEOPT, *args], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"edgeopt {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


def report(path, *args):
    return json.loads(run("report", path, "--format", "json", *args).stdout)


# ---------------------------------------------------------------------------------------------
# independent counts
# ---------------------------------------------------------------------------------------------

def bits(data_type):
    if data_type in (TensorProto.INT4, TensorProto.UINT4, getattr(TensorProto, "FLOAT4E2M1", -1)):
        return 4
    if data_type in (getattr(TensorProto, "INT2", -1), getattr(TensorProto, "UINT2", -1)):
        return 2
    return onnx.helper.tensor_dtype_to_np_dtype(data_type).itemsize * 8


def dtype_label(data_type):
    """edgeopt's dtype names: float32, float64, otherwise the lower-case ONNX name."""
    name = TensorProto.DataType.Name(data_type).lower()
    return {"float": "float32", "double": "float64"}.get(name, name)


class Counts:
    def __init__(self):
        self.tensors = []  # (data_type, elements, in_subgraph, kind)
        self.ops = collections.Counter()

    def add(self, data_type, elements, depth, kind):
        self.tensors.append((data_type, int(elements), depth > 0, kind))

    @property
    def parameters(self):
        return sum(e for t, e, _, _ in self.tensors if t not in NOT_PARAMETERS)

    @property
    def parameter_bytes(self):
        return sum(math.ceil(e * bits(t) / 8) for t, e, _, _ in self.tensors if t not in NOT_PARAMETERS)

    @property
    def constant_elements(self):
        return sum(e for t, e, _, _ in self.tensors if t in NOT_PARAMETERS)

    @property
    def bytes_by_dtype(self):
        out = collections.Counter()
        for t, e, _, _ in self.tensors:
            out[dtype_label(t)] += math.ceil(e * bits(t) / 8) if t != TensorProto.STRING else 0
        return dict(out)


def independent_counts(path):
    model = onnx.load(path)
    counts = Counts()

    def walk(graph, depth, outer):
        known = dict(outer)  # constant int values visible in this scope, for ConstantOfShape
        for init in graph.initializer:
            counts.add(init.data_type, int(np.prod(init.dims)), depth, "initializer")
            if init.data_type == TensorProto.INT64:
                known[init.name] = numpy_helper.to_array(init)
        for n in graph.node:
            domain = n.domain if n.domain not in ("", "ai.onnx") else ""
            counts.ops[f"{domain}:{n.op_type}" if domain else n.op_type] += 1
            if n.op_type == "Constant" and not domain:
                a = n.attribute[0]
                if a.name == "value":
                    counts.add(a.t.data_type, int(np.prod(a.t.dims)), depth, "constant")
                    if a.t.data_type == TensorProto.INT64:
                        known[n.output[0]] = numpy_helper.to_array(a.t)
                elif a.name == "sparse_value":
                    counts.add(a.sparse_tensor.values.data_type, int(np.prod(a.sparse_tensor.dims)), depth, "constant")
                elif a.name in ("value_float", "value_int"):
                    counts.add(TensorProto.FLOAT if a.name == "value_float" else TensorProto.INT64, 1, depth, "constant")
                    if a.name == "value_int":
                        known[n.output[0]] = np.array(a.i)
                elif a.name in ("value_floats", "value_ints"):
                    values = a.floats if a.name == "value_floats" else a.ints
                    counts.add(TensorProto.FLOAT if a.name == "value_floats" else TensorProto.INT64, len(values), depth, "constant")
                    if a.name == "value_ints":
                        known[n.output[0]] = np.array(list(values))
                elif a.name in ("value_string", "value_strings"):
                    counts.add(TensorProto.STRING, 1 if a.name == "value_string" else len(a.strings), depth, "constant")
            if n.op_type == "ConstantOfShape" and not domain and n.input and n.input[0] in known:
                fill = [a.t.data_type for a in n.attribute if a.name == "value"]
                counts.add(fill[0] if fill else TensorProto.FLOAT, int(np.prod(known[n.input[0]])), depth, "constantOfShape")
            for a in n.attribute:
                if a.type == AttributeProto.GRAPH:
                    walk(a.g, depth + 1, known)
                elif a.type == AttributeProto.GRAPHS:
                    for g in a.graphs:
                        walk(g, depth + 1, known)

    walk(model.graph, 0, {})
    return counts


def input_pins(path):
    """Concrete shapes for the graph inputs: those of the case's own test_data_set_0 inputs when
    the fixture has them (exports may bake a traced length into the graph), else every symbolic
    dimension set to 1."""
    model = onnx.load(path, load_external_data=False)
    init = {i.name for i in model.graph.initializer}
    inputs = [vi for vi in model.graph.input if vi.name not in init]
    data = os.path.join(os.path.dirname(path), "test_data_set_0")
    pins = {}
    for k, vi in enumerate(inputs):
        pb = os.path.join(data, f"input_{k}.pb")
        if os.path.exists(pb):
            t = TensorProto()
            with open(pb, "rb") as f:
                t.ParseFromString(f.read())
            pins[vi.name] = list(t.dims)
        else:
            pins[vi.name] = [d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim]
    return pins


def independent_duplicates(path):
    """Parameter tensors (initializers and Constant values, more than one element) whose bytes
    equal an earlier one's of the same dtype and shape, in storage order."""
    model = onnx.load(path)
    seen = collections.defaultdict(list)
    tensors = elements = 0

    def visit(t):
        nonlocal tensors, elements
        if t.data_type in NOT_PARAMETERS or int(np.prod(t.dims)) <= 1:
            return
        arr = numpy_helper.to_array(t)
        key = (t.data_type, tuple(t.dims))
        raw = arr.tobytes()
        if raw in seen[key]:
            tensors += 1
            elements += arr.size
        else:
            seen[key].append(raw)

    def walk(graph):
        for init in graph.initializer:
            visit(init)
        for n in graph.node:
            if n.op_type == "Constant" and n.domain in ("", "ai.onnx") and n.attribute[0].name == "value":
                visit(n.attribute[0].t)
            for a in n.attribute:
                if a.type == AttributeProto.GRAPH:
                    walk(a.g)
                elif a.type == AttributeProto.GRAPHS:
                    for g in a.graphs:
                        walk(g)

    walk(model.graph)
    return tensors, elements


def onnx_shapes(path):
    """Static shapes of main-graph values according to onnx's own shape inference."""
    model = onnx.load(path, load_external_data=False)
    pins = input_pins(path)
    for vi in model.graph.input:
        if vi.name not in pins:
            continue
        for d, v in zip(vi.type.tensor_type.shape.dim, pins[vi.name]):
            d.Clear()
            d.dim_value = v
    inferred = shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    shapes = {}
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
            dims = vi.type.tensor_type.shape.dim
            if all(d.HasField("dim_value") for d in dims):
                shapes[vi.name] = [d.dim_value for d in dims]
    for i in inferred.graph.initializer:
        shapes[i.name] = list(i.dims)
    for n in inferred.graph.node:
        if n.op_type == "Constant" and n.attribute[0].name == "value":
            shapes[n.output[0]] = list(n.attribute[0].t.dims)
    return inferred, shapes


def independent_macs(path):
    model, shapes = onnx_shapes(path)
    total, missing = 0, 0
    for n in model.graph.node:
        if n.op_type not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
            continue
        try:
            if n.op_type == "Conv":
                total += int(np.prod(shapes[n.output[0]])) * int(np.prod(shapes[n.input[1]][1:]))
            elif n.op_type == "ConvTranspose":
                total += int(np.prod(shapes[n.input[0]])) * int(np.prod(shapes[n.input[1]][1:]))
            elif n.op_type == "Gemm":
                a = shapes[n.input[0]]
                trans_a = any(x.name == "transA" and x.i for x in n.attribute)
                total += int(np.prod(shapes[n.output[0]])) * (a[0] if trans_a else a[1])
            else:
                total += int(np.prod(shapes[n.output[0]])) * shapes[n.input[0]][-1]
        except KeyError:
            missing += 1
    return total, missing


def pin_args(path):
    """--input-shape for every graph input, the same shapes onnx_shapes uses."""
    args = []
    for name, dims in sorted(input_pins(path).items()):
        args += ["--input-shape", f"{name}={','.join(str(d) for d in dims)}"]
    return args


def compare_with_independent(path):
    args = pin_args(path)
    r = report(path, "--per-layer", *args)
    c = independent_counts(path)
    assert r["parameters"]["count"] == c.parameters, path
    assert r["parameters"]["bytes"] == c.parameter_bytes, path
    assert r["parameters"]["constantElements"] == c.constant_elements, path
    assert r["parameters"]["tensors"] == len(c.tensors), path
    assert {d["dtype"]: d["bytes"] for d in r["bytesByDType"]} == c.bytes_by_dtype, path
    assert r["opCounts"] == dict(c.ops), path
    assert r["model"]["fileBytes"] == os.path.getsize(path)
    dup_tensors, dup_elements = independent_duplicates(path)
    assert (r["parameters"]["duplicateTensors"], r["parameters"]["duplicateElements"]) == (dup_tensors, dup_elements), path
    macs, missing = independent_macs(path)
    if missing == 0:
        ours = sum(l["macs"] for l in r["layers"] if l["graph"] == "" and l["op"] in ("Conv", "ConvTranspose", "Gemm", "MatMul"))
        assert ours == macs, f"{path}: MACs {ours} vs onnx-shape-inference count {macs}"
    # Every fully known main-graph output shape agrees with onnx's shape inference.
    _, shapes = onnx_shapes(path)
    checked = 0
    for layer in r["layers"]:
        if layer["graph"]:
            continue
        for out in layer["outputs"]:
            shape = out["type"]["shape"]
            if out["name"] in shapes and shape is not None and all(isinstance(d, int) for d in shape):
                assert shape == shapes[out["name"]], f"{path}: {out['name']} {shape} vs onnx {shapes[out['name']]}"
                checked += 1
    return r, c


# ---------------------------------------------------------------------------------------------
# figures against independent counts
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", LIGHT, ids=[os.path.basename(p) for p in LIGHT])
def test_light_models_match_independent_counts(path):
    r, c = compare_with_independent(path)
    assert r["parameters"]["count"] > 0


@pytest.mark.parametrize("path", ARCH_LIGHT, ids=[os.path.basename(p) for p in ARCH_LIGHT])
def test_arch_light_models_match_independent_counts(path):
    compare_with_independent(path)


def test_arch_light_resnet50_is_the_folded_torchvision_count():
    path = os.path.join(ROOT, "Tests", "Fixtures", "arch-light", "resnet50_224.onnx")
    if not os.path.exists(path):
        pytest.skip("arch-light fixtures not present")
    r = report(path)
    # torchvision's 25,557,032 minus the BatchNorm scale/shift pairs folded into conv biases.
    assert r["parameters"]["count"] == 25_507_944
    assert 4.0e9 < r["compute"]["macs"] < 4.2e9


@pytest.mark.parametrize("path", MODELS, ids=[os.path.basename(p) for p in MODELS])
def test_repository_models_match_independent_counts(path):
    compare_with_independent(path)


@pytest.mark.parametrize("path", TORCH, ids=[os.path.basename(os.path.dirname(p)) for p in TORCH])
def test_torch_exports_match_independent_counts(path):
    compare_with_independent(path)


def torch_fixture(name):
    if not FIXTURES:
        pytest.skip("EDGEOPT_FIXTURES not set")
    path = os.path.join(FIXTURES, "torch", name, "model.onnx")
    if not os.path.exists(path):
        pytest.skip(f"{path} not generated")
    return path


def test_torch_resnet50_with_folded_batchnorm():
    # torchvision init: every folded conv bias is zero and the exporter stores one shared zero
    # bias per width, so the file holds 25,507,944 weights (what the issue quotes).
    r = report(torch_fixture("resnet50_default_init"), "--dim", "batch=1")
    assert r["parameters"]["count"] == 25_507_944
    assert abs(r["compute"]["macs"] - 4.1e9) < 0.05e9, r["compute"]["macs"]
    # Realistic BN statistics: no sharing, torchvision's 25,557,032 minus one of the two BN
    # parameters per channel (γ, β fold into one conv bias): 25,557,032 − 26,560.
    r = report(torch_fixture("resnet50"), "--dim", "batch=1")
    assert r["parameters"]["count"] == 25_557_032 - 26_560
    assert r["compute"]["macs"] == 4_089_184_256


def test_constant_node_model_reports_the_same_parameters_as_its_initializer_twin():
    a = report(torch_fixture("mobilenetv2_opset12"), "--dim", "batch=1")
    b = report(torch_fixture("mobilenetv2_opset12_constants"), "--dim", "batch=1")
    assert b["parameters"]["fromConstantNodes"] > 0
    for key in ("count", "bytes", "constantElements"):
        assert a["parameters"][key] == b["parameters"][key], key
    assert a["compute"] == b["compute"]
    assert a["memory"]["peakLiveBytes"] == b["memory"]["peakLiveBytes"]


def test_weights_inside_control_flow_bodies_count():
    path = torch_fixture("control_flow")
    r = report(path)
    main_only = sum(int(np.prod(i.dims)) for i in onnx.load(path).graph.initializer if i.data_type not in NOT_PARAMETERS)
    assert r["parameters"]["inSubgraphs"] > 0
    assert r["parameters"]["count"] > main_only
    assert r["parameters"]["count"] == independent_counts(path).parameters


# ---------------------------------------------------------------------------------------------
# formats, options, errors
# ---------------------------------------------------------------------------------------------

def digits():
    path = os.path.join(ROOT, "models", "digits_cnn.onnx")
    if not os.path.exists(path):
        pytest.skip("models/digits_cnn.onnx missing")
    return path


def test_json_is_deterministic_and_table_and_markdown_carry_the_same_figures():
    path = digits()
    a = run("report", path, "--format", "json").stdout
    b = run("report", path, "--format", "json").stdout
    assert a == b
    r = json.loads(a)
    grouped = f"{r['parameters']['count']:,}"
    table = run("report", path).stdout
    markdown = run("report", path, "--format", "markdown").stdout
    assert grouped in table and grouped in markdown
    assert "| op | count |" in markdown
    assert r["schema"] == "edgeopt.report/1"


def test_per_layer_rows_cover_every_node():
    path = digits()
    r = report(path, "--per-layer")
    model = onnx.load(path)
    assert [l["name"] for l in r["layers"] if not l["graph"]][:3] == [n.name or f"{n.op_type}→{n.output[0]}" for n in model.graph.node][:3]
    assert len([l for l in r["layers"] if not l["graph"]]) == len(model.graph.node)
    assert sum(l["macs"] for l in r["layers"]) == r["compute"]["macs"]


def test_baseline_comparison_reports_deltas_and_ratios(tmp_path):
    path = digits()
    twin = os.path.join(ROOT, "models", "digits_cnn_constants.onnx")
    if not os.path.exists(twin):
        pytest.skip("constant-node twin missing")
    r = json.loads(run("report", path, "--baseline", twin, "--format", "json").stdout)
    metrics = {m["name"]: m for m in r["metrics"]}
    assert metrics["parameters"]["delta"] == r["model"]["parameters"]["count"] - r["baseline"]["parameters"]["count"]
    assert metrics["macs"]["baseline"] == r["baseline"]["compute"]["macs"]
    # Against itself: zero deltas, ratio exactly 1.
    same = json.loads(run("report", path, "--baseline", path, "--format", "json").stdout)
    assert all(m["delta"] == 0 and m["ratio"] in (None, 1.0) and "ratio" in m for m in same["metrics"])
    table = run("report", path, "--baseline", twin).stdout
    assert "ratio" in table and "baseline" in table


def test_input_shape_pins_and_contradictions(tmp_path):
    path = str(tmp_path / "dyn.onnx")
    x = onnx.helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])
    y = onnx.helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    g = onnx.helper.make_graph([onnx.helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "g", [x], [y], [w])
    onnx.save(onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", 17)]), path)
    r = report(path, "--input-shape", "x=2,3,8,8")
    assert r["outputs"][0]["type"]["shape"] == [2, 4, 8, 8]
    assert r["compute"]["macs"] == 2 * 4 * 8 * 8 * 3 * 9
    r = report(path, "--dim", "batch=5")
    assert r["inputs"][0]["type"]["shape"] == [5, 3, 8, 8]
    r = report(path)
    assert r["outputs"][0]["type"]["shape"] == ["batch", 4, 8, 8]
    bad = run("report", path, "--input-shape", "x=2,4,8,8", check=False)
    assert bad.returncode == 65 and "'x'" in bad.stderr and "fixed at 3" in bad.stderr
    assert run("report", path, "--input-shape", "nope=1", check=False).returncode == 65
    assert run("report", path, "--input-shape", "x=a,b", check=False).returncode == 64


def test_custom_domain_ops_are_listed_not_fatal(tmp_path):
    path = str(tmp_path / "custom.onnx")
    x = onnx.helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])
    y = onnx.helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])
    w = numpy_helper.from_array(np.ones((16, 16), np.float32), "w")
    nodes = [onnx.helper.make_node("MatMul", ["x", "w"], ["h"]),
             onnx.helper.make_node("Swizzle", ["h"], ["y"], domain="com.example.custom")]
    g = onnx.helper.make_graph(nodes, "g", [x], [y], [w])
    m = onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", 17), onnx.helper.make_opsetid("com.example.custom", 1)])
    onnx.save(m, path)
    r = report(path)
    assert r["unknownOps"] == {"com.example.custom:Swizzle": 1}
    assert r["parameters"]["count"] == 256
    assert r["compute"]["macs"] == 256
    assert "com.example.custom:Swizzle" in run("report", path).stdout


def test_bad_files_exit_65(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07this is not a model" * 10)
    proc = run("report", str(garbage), check=False)
    assert proc.returncode == 65 and "garbage.onnx" in proc.stderr
    proc = run("report", str(tmp_path / "missing.onnx"), check=False)
    assert proc.returncode == 65


BAD_MODELS = sorted(glob.glob(os.path.join(ROOT, "Tests", "Corpus", "bad-models", "*.onnx")))


@pytest.mark.parametrize("path", BAD_MODELS, ids=[os.path.basename(p) for p in BAD_MODELS])
def test_bad_model_corpus_exits_65_naming_the_file(path):
    proc = run("report", path, check=False)
    assert proc.returncode == 65, proc.stderr
    assert os.path.basename(path) in proc.stderr
    assert "internal error" not in proc.stderr
