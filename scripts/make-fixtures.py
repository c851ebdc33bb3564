#!/usr/bin/env python3
"""Generate edgeopt's test fixtures (git-ignored) into OUTDIR.

    python scripts/make-fixtures.py OUTDIR [--only node,light,torch]

Layout (every case uses the ONNX backend test-data layout: model.onnx + test_data_set_N/):

  OUTDIR/node/<case>/model.onnx, test_data_set_0/input_K.pb, output_K.pb
      Every case of the ONNX node conformance suite
      (onnx.backend.test.case.node.collect_testcases()), written exactly as onnx's own
      generator (onnx/backend/test/cmd_tools.py generate-data) writes them.
      OUTDIR/node/index.json lists each case with its op type.
  OUTDIR/light/<name>/model.onnx, test_data_set_0/input_0.pb, output_0.pb
      The light_*.onnx models shipped in the onnx wheel with their shipped expected outputs and
      the inputs that produce them (onnx's runner feeds arange(n).reshape(shape)/n as float32,
      see Runner.generate_dummy_data(random=False); checked here with onnxruntime).
  OUTDIR/torch/<name>/model.onnx, test_data_set_N/...
      Models exported with torch.onnx (torchvision architectures written out by hand, since
      torchvision is not installed) and built with onnx.helper; expected outputs from
      onnxruntime. OUTDIR/torch/index.json holds independent counts computed with numpy straight
      from each protobuf (weight elements, bytes by dtype, op counts, Conv/Gemm/MatMul MACs).

Idempotent: each unit (the node suite, the light suite, each torch model) is built in a
temporary directory, renamed into place, and skipped next time if its stamp.json matches the
generator and library versions. Prints what it made or skipped and the time taken.
"""
from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import re
import shutil
import sys
import time

import numpy as np

GENERATOR_VERSION = 1  # bump to force regeneration of everything


def log(msg):
    print(msg, flush=True)


def versions():
    import onnx
    import onnxruntime

    v = {"generator": GENERATOR_VERSION, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
         "numpy": np.__version__}
    try:
        import torch
        v["torch"] = torch.__version__
    except ImportError:
        pass
    return v


class Unit:
    """One idempotent piece of output: a directory that appears atomically with a stamp."""

    def __init__(self, path, stamp):
        self.path = path
        self.stamp = stamp
        self.tmp = f"{path}.tmp-{os.getpid()}"

    def done(self):
        try:
            with open(os.path.join(self.path, "stamp.json")) as f:
                return json.load(f) == self.stamp
        except (OSError, ValueError):
            return False

    def __enter__(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        os.makedirs(self.tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        with open(os.path.join(self.tmp, "stamp.json"), "w") as f:
            json.dump(self.stamp, f, indent=1, sort_keys=True)
        shutil.rmtree(self.path, ignore_errors=True)
        os.rename(self.tmp, self.path)
        return False


# ---------------------------------------------------------------------------------------------
# Writing test data sets
# ---------------------------------------------------------------------------------------------

def write_value(path, value, vi):
    """Serialize one input/output the way onnx/backend/test/cmd_tools.py does."""
    from onnx import TensorProto, numpy_helper

    t = vi.type
    if t.HasField("map_type"):
        data = numpy_helper.from_dict(value, vi.name).SerializeToString()
    elif t.HasField("sequence_type"):
        data = numpy_helper.from_list(value, vi.name).SerializeToString()
    elif t.HasField("optional_type"):
        data = numpy_helper.from_optional(value, vi.name).SerializeToString()
    elif isinstance(value, TensorProto):
        data = value.SerializeToString()
    else:
        data = numpy_helper.from_array(value, vi.name).SerializeToString()
    with open(path, "wb") as f:
        f.write(data)


def write_data_set(case_dir, index, model, inputs, outputs, input_vis=None):
    d = os.path.join(case_dir, f"test_data_set_{index}")
    os.makedirs(d, exist_ok=True)
    input_vis = input_vis if input_vis is not None else list(model.graph.input)
    for j, value in enumerate(inputs):
        write_value(os.path.join(d, f"input_{j}.pb"), value, input_vis[j])
    for j, value in enumerate(outputs):
        write_value(os.path.join(d, f"output_{j}.pb"), value, model.graph.output[j])


def value_kind(vi):
    t = vi.type
    for k in ("tensor_type", "sequence_type", "map_type", "optional_type", "sparse_tensor_type"):
        if t.HasField(k):
            return k[:-len("_type")]
    return "unknown"


def graph_op_types(graph, acc=None):
    """Op types of a graph and all its nested subgraphs (If/Loop/Scan bodies)."""
    from onnx import AttributeProto

    acc = acc if acc is not None else collections.Counter()
    for n in graph.node:
        acc[(n.domain or "", n.op_type)] += 1
        for a in n.attribute:
            if a.type == AttributeProto.GRAPH:
                graph_op_types(a.g, acc)
            elif a.type == AttributeProto.GRAPHS:
                for g in a.graphs:
                    graph_op_types(g, acc)
    return acc


# ---------------------------------------------------------------------------------------------
# node: the ONNX node conformance suite
# ---------------------------------------------------------------------------------------------

def make_node(outdir, stamp):
    unit = Unit(os.path.join(outdir, "node"), stamp)
    if unit.done():
        log(f"node: up to date ({unit.path})")
        return
    import warnings

    from onnx.backend.test.case import node as node_cases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the suite's numpy references divide by zero on purpose
        cases = node_cases.collect_testcases()
    base_op = {}
    for c in cases:
        if len(c.model.graph.node) == 1 and "_expanded" not in c.name:
            n = c.model.graph.node[0]
            base_op[c.name] = (n.domain or "", n.op_type)
    index = []
    with unit as tmp:
        for c in cases:
            case_dir = os.path.join(tmp, c.name)
            os.makedirs(case_dir)
            with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
                f.write(c.model.SerializeToString())
            for i, (inputs, outputs) in enumerate(c.data_sets):
                write_data_set(case_dir, i, c.model, inputs, outputs)
            m = re.match(r"^(.*)_expanded(_ver\d+)?$", c.name)
            expanded = m is not None
            domain, op = base_op.get(m.group(1) if m else c.name, (None, None))
            if op is None and not expanded:
                n = c.model.graph.node[-1]
                domain, op = n.domain or "", n.op_type
            index.append({
                "name": c.name,
                "op_type": op,
                "domain": domain,
                "expanded": expanded,
                "graph_ops": sorted(f"{d}:{o}" if d else o for d, o in graph_op_types(c.model.graph)),
                "opset_import": {(o.domain or "ai.onnx"): o.version for o in c.model.opset_import},
                "inputs": [value_kind(v) for v in c.model.graph.input],
                "outputs": [value_kind(v) for v in c.model.graph.output],
                "data_sets": len(c.data_sets),
                "rtol": c.rtol,
                "atol": c.atol,
            })
        with open(os.path.join(tmp, "index.json"), "w") as f:
            json.dump({"count": len(index), "cases": index}, f, indent=1)
    log(f"node: wrote {len(index)} cases, {len({e['op_type'] for e in index})} op types, to {unit.path}")


# ---------------------------------------------------------------------------------------------
# light: light_*.onnx from the onnx wheel
# ---------------------------------------------------------------------------------------------

def make_light(outdir, stamp):
    unit = Unit(os.path.join(outdir, "light"), stamp)
    if unit.done():
        log(f"light: up to date ({unit.path})")
        return
    import onnx
    import onnx.backend.test.case.model as model_cases
    import onnxruntime as ort
    from onnx.backend.test.runner import Runner

    light_dir = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
    tolerances = {c.model_name: (c.rtol, c.atol) for c in model_cases.collect_testcases() if c.kind == "real"}
    index = []
    with unit as tmp:
        for src in sorted(glob.glob(os.path.join(light_dir, "light_*.onnx"))):
            name = os.path.basename(src)[len("light_"):-len(".onnx")]
            case_dir = os.path.join(tmp, name)
            os.makedirs(case_dir)
            shutil.copy(src, os.path.join(case_dir, "model.onnx"))
            model = onnx.load(src)
            inits = {i.name for i in model.graph.initializer}
            input_vis = [v for v in model.graph.input if v.name not in inits]
            # Exactly the feed onnx's backend runner uses for these models.
            inputs = [Runner.generate_dummy_data(v, seed=0, name=name, random=False) for v in input_vis]
            outputs = []
            for i in range(len(model.graph.output)):
                p = f"{src[:-len('.onnx')]}_output_{i}.pb"
                outputs.append(onnx.numpy_helper.to_array(onnx.load_tensor(p)))
            write_data_set(case_dir, 0, model, inputs, outputs, input_vis)
            so = ort.SessionOptions()
            so.log_severity_level = 3  # two Caffe2 models carry an unused initializer ORT warns about
            sess = ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
            got = sess.run(None, {v.name: x for v, x in zip(input_vis, inputs)})
            rtol, atol = tolerances.get(name, (1e-3, 1e-7))
            max_abs = max(float(np.max(np.abs(g - e))) for g, e in zip(got, outputs))
            ok = all(np.allclose(g, e, rtol=rtol, atol=atol) for g, e in zip(got, outputs))
            if not ok:
                raise SystemExit(f"light {name}: onnxruntime disagrees with the shipped output "
                                 f"(max abs {max_abs}); input recipe is wrong")
            entry = {"name": name, "source": f"onnx/backend/test/data/light/light_{name}.onnx",
                     "rtol": rtol, "atol": atol, "onnxruntime_max_abs_diff": max_abs,
                     "inputs": [{"name": v.name, "shape": list(x.shape), "dtype": str(x.dtype)}
                                for v, x in zip(input_vis, inputs)],
                     "input_recipe": "np.arange(n).reshape(shape) / n as float32 "
                                     "(onnx Runner.generate_dummy_data, random=False)"}
            entry.update(count_model(os.path.join(case_dir, "model.onnx"),
                                     {v.name: x for v, x in zip(input_vis, inputs)}))
            index.append(entry)
        with open(os.path.join(tmp, "index.json"), "w") as f:
            json.dump({"count": len(index), "models": index}, f, indent=1)
    log(f"light: wrote {len(index)} models ({', '.join(e['name'] for e in index)}), "
        f"inputs reproduce the shipped outputs in onnxruntime")


# ---------------------------------------------------------------------------------------------
# Independent counts straight from the protobuf
# ---------------------------------------------------------------------------------------------

DTYPE_NAMES = None


def dtype_name(code):
    global DTYPE_NAMES
    if DTYPE_NAMES is None:
        from onnx import TensorProto
        DTYPE_NAMES = {v: k for k, v in TensorProto.DataType.items()}
    return DTYPE_NAMES[code]


def count_model(path, feeds):
    """Counts over the file's own tensors.

    weight elements: every initializer (main graph and subgraphs) and every Constant node's
    tensor, each counted once however many nodes read it. Bytes by dtype are the decoded numpy
    arrays' nbytes. ConstantOfShape outputs with a constant shape are listed separately (the
    light models generate their weights that way). MACs: Conv/ConvTranspose/Gemm/MatMul from
    onnx shape inference with the inputs pinned to the shapes of `feeds` (main graph only; nodes
    inside If/Loop bodies are not counted).
    """
    import onnx
    from onnx import AttributeProto, numpy_helper

    model = onnx.load(path, load_external_data=True)
    elements = collections.Counter()
    nbytes = collections.Counter()
    tensors = 0
    const_node_elements = 0
    subgraph_elements = 0
    cos_elements = 0

    def add(arr, dtype, in_subgraph, from_constant):
        nonlocal tensors, const_node_elements, subgraph_elements
        tensors += 1
        elements[dtype] += arr.size
        nbytes[dtype] += arr.nbytes
        if from_constant:
            const_node_elements += arr.size
        if in_subgraph:
            subgraph_elements += arr.size

    def walk(graph, depth):
        nonlocal cos_elements
        consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        for init in graph.initializer:
            add(consts[init.name], dtype_name(init.data_type), depth > 0, False)
        for n in graph.node:
            if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
                for a in n.attribute:
                    if a.name == "value":
                        arr = numpy_helper.to_array(a.t)
                        add(arr, dtype_name(a.t.data_type), depth > 0, True)
                        consts[n.output[0]] = arr
                    elif a.name in ("value_float", "value_int"):
                        arr = np.array(a.f if a.name == "value_float" else a.i,
                                       dtype=np.float32 if a.name == "value_float" else np.int64)
                        add(arr, "FLOAT" if a.name == "value_float" else "INT64", depth > 0, True)
                    elif a.name in ("value_floats", "value_ints"):
                        arr = np.array(list(a.floats) if a.name == "value_floats" else list(a.ints),
                                       dtype=np.float32 if a.name == "value_floats" else np.int64)
                        add(arr, "FLOAT" if a.name == "value_floats" else "INT64", depth > 0, True)
            if n.op_type == "ConstantOfShape" and n.input and n.input[0] in consts:
                cos_elements += int(np.prod(consts[n.input[0]]))
            for a in n.attribute:
                if a.type == AttributeProto.GRAPH:
                    walk(a.g, depth + 1)
                elif a.type == AttributeProto.GRAPHS:
                    for g in a.graphs:
                        walk(g, depth + 1)

    walk(model.graph, 0)
    ops = graph_op_types(model.graph)
    top_ops = collections.Counter(n.op_type for n in model.graph.node)
    # Size of the distinct external-data files the tensors point at.
    locations = set()
    for t in onnx.external_data_helper._get_all_tensors(onnx.load(path, load_external_data=False)):
        if t.data_location == onnx.TensorProto.EXTERNAL:
            locations.update(e.value for e in t.external_data if e.key == "location")
    ext = sum(os.path.getsize(os.path.join(os.path.dirname(path), loc)) for loc in locations)
    opset = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}

    def dims(vi):
        return [d.dim_param if d.HasField("dim_param") else d.dim_value
                for d in vi.type.tensor_type.shape.dim]

    init_names = {i.name for i in model.graph.initializer}
    return {
        "file_size": os.path.getsize(path),
        "external_data_size": ext,
        "opset_import": opset,
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "graph_inputs": [{"name": v.name, "elem_type": dtype_name(v.type.tensor_type.elem_type), "shape": dims(v)}
                         for v in model.graph.input if v.name not in init_names],
        "graph_outputs": [{"name": v.name, "elem_type": dtype_name(v.type.tensor_type.elem_type), "shape": dims(v)}
                          for v in model.graph.output],
        "weight_tensors": tensors,
        "weight_elements": int(sum(elements.values())),
        "weight_elements_float": int(elements.get("FLOAT", 0)),
        "weight_elements_in_constant_nodes": int(const_node_elements),
        "weight_elements_in_subgraphs": int(subgraph_elements),
        "constantofshape_elements": int(cos_elements),
        "elements_by_dtype": dict(sorted(elements.items())),
        "bytes_by_dtype": dict(sorted(nbytes.items())),
        "weight_bytes": int(sum(nbytes.values())),
        "node_count": len(model.graph.node),
        "op_counts": dict(sorted(top_ops.items())),
        "op_counts_with_subgraphs": dict(sorted((f"{d}:{o}" if d else o, c) for (d, o), c in ops.items())),
        "macs": count_macs(model, feeds),
    }


def count_macs(model, feeds):
    """Multiply-accumulates of Conv, ConvTranspose, Gemm and MatMul in the main graph.

    Conv: N*Cout*prod(out spatial) * (Cin/group)*prod(kernel); ConvTranspose: N*Cin*prod(in
    spatial) * (Cout/group)*prod(kernel); Gemm: M*N*K; MatMul: prod(broadcast batch)*M*N*K.
    """
    import onnx
    from onnx import shape_inference

    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in m.graph.input:
        if vi.name in feeds:
            for d, s in zip(vi.type.tensor_type.shape.dim, feeds[vi.name].shape):
                d.Clear()
                d.dim_value = int(s)
    for vi in m.graph.output:
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_param"):
                d.Clear()
    del m.graph.value_info[:]
    m = shape_inference.infer_shapes(m, strict_mode=False, data_prop=True)
    shapes = {}
    for vi in list(m.graph.input) + list(m.graph.value_info) + list(m.graph.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
            ds = vi.type.tensor_type.shape.dim
            if all(d.HasField("dim_value") for d in ds):
                shapes[vi.name] = [d.dim_value for d in ds]
    for i in m.graph.initializer:
        shapes[i.name] = list(i.dims)
    for n in m.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    shapes[n.output[0]] = list(a.t.dims)

    def attr(n, name, default):
        for a in n.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    missing = {name for n in m.graph.node if n.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul")
               for name in (n.input[0], n.input[1], n.output[0]) if name not in shapes}
    if missing and feeds is not None:
        # onnx shape inference gives up on Loop outputs and some data-dependent reshapes; take
        # those shapes from an onnxruntime run that exposes the missing values as outputs.
        probe = onnx.ModelProto()
        probe.CopyFrom(model)
        for name in sorted(missing):
            probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(probe.SerializeToString(), so, providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        for name, value in zip(names, sess.run(None, feeds)):
            if name in missing:
                shapes[name] = list(value.shape)

    by_op = collections.Counter()
    unknown = []
    for n in m.graph.node:
        if n.op_type not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
            continue
        try:
            if n.op_type == "Conv":
                w, y = shapes[n.input[1]], shapes[n.output[0]]
                macs = int(np.prod(y)) * int(np.prod(w[1:]))
            elif n.op_type == "ConvTranspose":
                x, w = shapes[n.input[0]], shapes[n.input[1]]
                macs = int(np.prod(x)) * int(np.prod(w[1:]))
            elif n.op_type == "Gemm":
                a, y = shapes[n.input[0]], shapes[n.output[0]]
                k = a[0] if attr(n, "transA", 0) else a[1]
                macs = int(np.prod(y)) * k
            else:
                a, y = shapes[n.input[0]], shapes[n.output[0]]
                macs = int(np.prod(y)) * a[-1]
        except KeyError:
            unknown.append(n.name or n.output[0])
            continue
        by_op[n.op_type] += macs
    return {"total": int(sum(by_op.values())), "by_op": dict(sorted(by_op.items())),
            "nodes_without_shapes": unknown}


# ---------------------------------------------------------------------------------------------
# torch: torchvision architectures and other exporter models
# ---------------------------------------------------------------------------------------------

def torch_modules():
    """ResNet-50 and MobileNetV2 exactly as torchvision defines them (layer shapes and order),
    written out here because torchvision is not installed."""
    import torch
    import torch.nn as nn

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            return self.relu(out + identity)

    class ResNet50(nn.Module):
        def __init__(self, num_classes=1000):
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            self.layer1 = self._make_layer(64, 3)
            self.layer2 = self._make_layer(128, 4, stride=2)
            self.layer3 = self._make_layer(256, 6, stride=2)
            self.layer4 = self._make_layer(512, 3, stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * 4, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

        def _make_layer(self, planes, blocks, stride=1):
            downsample = None
            if stride != 1 or self.inplanes != planes * 4:
                downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False),
                                           nn.BatchNorm2d(planes * 4))
            layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * 4
            layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    def make_divisible(v, divisor=8):
        new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
        return new_v + divisor if new_v < 0.9 * v else new_v

    def conv_bn_act(cin, cout, k=3, stride=1, groups=1, act=True):
        layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.ReLU6(inplace=True))
        return nn.Sequential(*layers)

    class InvertedResidual(nn.Module):
        def __init__(self, inp, oup, stride, expand_ratio):
            super().__init__()
            hidden = int(round(inp * expand_ratio))
            self.use_res_connect = stride == 1 and inp == oup
            layers = []
            if expand_ratio != 1:
                layers.append(conv_bn_act(inp, hidden, k=1))
            layers += [conv_bn_act(hidden, hidden, stride=stride, groups=hidden),
                       conv_bn_act(hidden, oup, k=1, act=False)]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.conv(x) if self.use_res_connect else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self, num_classes=1000):
            super().__init__()
            settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                        [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
            inp, last = make_divisible(32), make_divisible(1280)
            features = [conv_bn_act(3, inp, stride=2)]
            for t, c, n, s in settings:
                out = make_divisible(c)
                for i in range(n):
                    features.append(InvertedResidual(inp, out, s if i == 0 else 1, t))
                    inp = out
            features.append(conv_bn_act(inp, last, k=1))
            self.features = nn.Sequential(*features)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out")
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.zeros_(m.bias)

        def forward(self, x):
            x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
            return self.classifier(torch.flatten(x, 1))

    class EncoderBlock(nn.Module):
        """nn.TransformerEncoderLayer, batch_first. The wrapper passes is_causal explicitly:
        torch 2.13's TorchScript exporter otherwise traces it into a tensor and fails."""

        def __init__(self):
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(256, 8, 1024, dropout=0.1, activation="gelu", batch_first=True)

        def forward(self, x):
            return self.layer(x, is_causal=False)

    class MLP(nn.Module):
        """~100 MB of float32 weights: 1024 -> 4096 -> 4096 -> 1024 -> 1000."""

        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(1024, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                                     nn.Linear(4096, 1024), nn.ReLU(), nn.Linear(1024, 1000))

        def forward(self, x):
            return self.net(x)

    return ResNet50, MobileNetV2, EncoderBlock, MLP


def realistic_bn(model, shape, seed):
    """Give every BatchNorm realistic running statistics: the cumulative mean/variance of its
    input over random batches (momentum=None), then random affine parameters. Folding BN then
    changes every conv weight, and activations stay well scaled through deep networks."""
    import torch
    import torch.nn as nn

    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(*shape, generator=g))
        for bn in bns:
            bn.weight.copy_(torch.empty_like(bn.weight).uniform_(0.5, 1.5, generator=g))
            bn.bias.copy_(torch.empty_like(bn.bias).normal_(0.0, 0.1, generator=g))
            bn.momentum = 0.1
    model.eval()


def export_torch(model, args, path, opset, input_names, output_names, dynamic_axes, keep_bn=False):
    import warnings

    import torch

    mode = torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, path, dynamo=False, opset_version=opset, training=mode,
                          do_constant_folding=True, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes)


def initializers_to_constants(model):
    """Every initializer becomes a Constant node at the top of the graph."""
    from onnx import TensorProto, helper

    g = model.graph
    consts = []
    for init in g.initializer:
        t = TensorProto()
        t.CopyFrom(init)
        consts.append(helper.make_node("Constant", [], [init.name], value=t, name=f"Constant_{init.name}"))
    inits = {i.name for i in g.initializer}
    kept_inputs = [i for i in g.input if i.name not in inits]
    del g.input[:]
    g.input.extend(kept_inputs)
    del g.initializer[:]
    nodes = consts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return model


def control_flow_model():
    """Weights inside If and Loop bodies (built with onnx.helper, opset 13).

    y_if  = If(cond): then  MatMul(MatMul(x, Wt) + bt, S)   Wt body initializer, bt body Constant,
                                                            S the outer-scope initializer
                      else  x * We + be                     We body Constant, be body initializer
    y     = Loop(3 iterations) over h: tanh(MatMul(h, Wl) + bl)   Wl body initializer, bl Constant
    z     = MatMul(x, S) + MatMul(y, S)                      S shared: counted once
    out   = Gemm(z, W0, b0)
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)

    def w(*shape):
        return (rng.standard_normal(shape) * 0.3).astype(np.float32)

    def const(name, arr):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(arr, name), name=f"c_{name}")

    f8 = [1, 8]
    then_g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "Wt"], ["t1"]), const("bt", w(8)),
         helper.make_node("Add", ["t1", "bt"], ["t2"]), helper.make_node("MatMul", ["t2", "S"], ["then_out"])],
        "then_body", [], [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, f8)],
        initializer=[numpy_helper.from_array(w(8, 8), "Wt")])
    else_g = helper.make_graph(
        [const("We", w(8)), helper.make_node("Mul", ["x", "We"], ["e1"]),
         helper.make_node("Add", ["e1", "be"], ["else_out"])],
        "else_body", [], [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, f8)],
        initializer=[numpy_helper.from_array(w(8), "be")])
    body = helper.make_graph(
        [helper.make_node("MatMul", ["h_in", "Wl"], ["l1"]), const("bl", w(8)),
         helper.make_node("Add", ["l1", "bl"], ["l2"]), helper.make_node("Tanh", ["l2"], ["h_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "loop_body",
        [helper.make_tensor_value_info("iter", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_in", TensorProto.FLOAT, f8)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_out", TensorProto.FLOAT, f8)],
        initializer=[numpy_helper.from_array(w(8, 8), "Wl")])
    nodes = [
        helper.make_node("If", ["cond"], ["y_if"], then_branch=then_g, else_branch=else_g, name="branch"),
        helper.make_node("Loop", ["trip", "loop_cond", "y_if"], ["y"], body=body, name="loop"),
        helper.make_node("MatMul", ["x", "S"], ["zx"]), helper.make_node("MatMul", ["y", "S"], ["zy"]),
        helper.make_node("Add", ["zx", "zy"], ["z"]),
        helper.make_node("Gemm", ["z", "W0", "b0"], ["out"], name="head"),
    ]
    inits = [numpy_helper.from_array(w(8, 8), "S"), numpy_helper.from_array(w(8, 4), "W0"),
             numpy_helper.from_array(w(4), "b0"), numpy_helper.from_array(np.array(3, np.int64), "trip"),
             numpy_helper.from_array(np.array(True), "loop_cond")]
    graph = helper.make_graph(nodes, "control_flow_weights",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, f8),
                               helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgeopt-fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def ort_run(path, feeds):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def torch_specs():
    """name -> (builder(dir) -> (feeds list, torch params, torch outputs or None), note)."""
    import onnx
    import torch

    ResNet50, MobileNetV2, EncoderBlock, MLP = torch_modules()
    img = {"input": {0: "batch"}, "output": {0: "batch"}}

    def image(seed):
        return np.random.default_rng(seed).standard_normal((1, 3, 224, 224)).astype(np.float32)

    def torch_model(cls, seed, bn_shape=None):
        torch.manual_seed(seed)
        m = cls()
        if bn_shape:
            realistic_bn(m, bn_shape, seed)
        return m.eval()

    def exported(cls, seed, bn_shape, x, opset, keep_bn=False, names=("input", "output"), axes=None):
        def build(d):
            m = torch_model(cls, seed, bn_shape)
            with torch.no_grad():
                ref = m(torch.from_numpy(x)).numpy()
            export_torch(m, (torch.from_numpy(x),), os.path.join(d, "model.onnx"), opset, [names[0]], [names[1]],
                         axes if axes is not None else img, keep_bn)
            return [{names[0]: x}], sum(p.numel() for p in m.parameters()), [ref]
        return build

    def mobilenet_opset12(constants):
        def build(d):
            feeds, n, ref = exported(MobileNetV2, 2, (4, 3, 224, 224), image(2), 12)(d)
            if constants:
                p = os.path.join(d, "model.onnx")
                onnx.save(initializers_to_constants(onnx.load(p)), p)
            return feeds, n, ref
        return build

    def external(d):
        feeds, n, ref = exported(MobileNetV2, 2, (4, 3, 224, 224), image(2), 17)(d)
        p = os.path.join(d, "model.onnx")
        onnx.save_model(onnx.load(p), p, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=1024)
        return feeds, n, ref

    def control_flow(d):
        onnx.save(control_flow_model(), os.path.join(d, "model.onnx"))
        x = np.random.default_rng(8).standard_normal((1, 8)).astype(np.float32)
        return [{"x": x, "cond": np.array(True)}, {"x": x, "cond": np.array(False)}], None, None

    tokens = np.random.default_rng(4).standard_normal((1, 32, 256)).astype(np.float32)
    return {
        "resnet50": (exported(ResNet50, 1, (4, 3, 224, 224), image(1), 17),
                     "torchvision ResNet-50 architecture, seeded weights, realistic BN statistics, "
                     "BN folded into Conv (do_constant_folding=True), opset 17"),
        "resnet50_default_init": (exported(ResNet50, 1, None, image(1), 17),
                                  "torchvision ResNet-50 with torchvision's own initialisation (BN weight 1, "
                                  "bias 0, running mean 0, var 1): every folded conv bias is zero and the "
                                  "exporter shares identical tensors, leaving one zero bias per width"),
        "mobilenetv2": (exported(MobileNetV2, 2, (4, 3, 224, 224), image(2), 17),
                        "torchvision MobileNetV2 architecture, BN folded, opset 17"),
        "mobilenetv2_bn": (exported(MobileNetV2, 2, (4, 3, 224, 224), image(2), 17, keep_bn=True),
                           "MobileNetV2 with its 52 BatchNormalization nodes kept (training=PRESERVE), opset 17"),
        "mobilenetv2_opset12": (mobilenet_opset12(False),
                                "MobileNetV2, BN folded, opset 12, weights as initializers "
                                "(the initializer twin of mobilenetv2_opset12_constants)"),
        "mobilenetv2_opset12_constants": (mobilenet_opset12(True),
                                          "the same export with every weight a Constant node, opset 12"),
        "mobilenetv2_external": (external, "mobilenetv2 saved with save_as_external_data=True "
                                           "(model.onnx.data, tensors >= 1 KiB)"),
        "control_flow": (control_flow, "weights inside If/Loop bodies (initializers and Constant nodes) "
                                       "and a shared outer initializer read from a subgraph; "
                                       "test_data_set_0 takes the then branch, test_data_set_1 the else"),
        "transformer_encoder": (exported(EncoderBlock, 3, None, tokens, 17, names=("src", "out"),
                                         axes={"src": {0: "batch", 1: "seq"}, "out": {0: "batch", 1: "seq"}}),
                                "nn.TransformerEncoderLayer(d_model=256, nhead=8, dim_feedforward=1024, "
                                "gelu, batch_first=True), opset 17, dynamic batch and seq"),
        "mlp_100mb": (exported(MLP, 5, None, np.random.default_rng(5).standard_normal((1, 1024)).astype(np.float32),
                               17, axes={"input": {0: "batch"}, "output": {0: "batch"}}),
                      "MLP 1024-4096-4096-1024-1000 with ReLU, about 100 MB of float32 weights, opset 17"),
    }


def make_torch(outdir, stamp):
    import onnx
    import torch

    torch.set_num_threads(2)
    root = os.path.join(outdir, "torch")
    os.makedirs(root, exist_ok=True)
    specs = torch_specs()
    for name, (build, note) in specs.items():
        unit = Unit(os.path.join(root, name), stamp)
        if unit.done():
            log(f"torch/{name}: up to date")
            continue
        t0 = time.time()
        with unit as d:
            feeds, torch_params, torch_ref = build(d)
            path = os.path.join(d, "model.onnx")
            model = onnx.load(path, load_external_data=False)
            onnx.checker.check_model(path, full_check=True)
            input_vis = {v.name: v for v in model.graph.input}
            info = {"name": name, "note": note}
            diffs = []
            for i, feed in enumerate(feeds):
                outs = ort_run(path, feed)
                write_data_set(d, i, model, list(feed.values()), outs, [input_vis[k] for k in feed])
                if i == 0 and torch_ref is not None:
                    diffs = [float(np.max(np.abs(o - r))) for o, r in zip(outs, torch_ref)]
            info["torch_parameters"] = torch_params
            info["onnxruntime_vs_torch_max_abs_diff"] = diffs
            info.update(count_model(path, feeds[0]))
            with open(os.path.join(d, "info.json"), "w") as f:
                json.dump(info, f, indent=1)
        log(f"torch/{name}: {info['weight_elements']:,} weight elements, {info['file_size']:,} bytes "
            f"(+{info['external_data_size']:,} external), {info['macs']['total']:,} MACs, "
            f"ort-vs-torch {diffs} ({time.time() - t0:.1f} s)")
    index = []
    for name in specs:
        with open(os.path.join(root, name, "info.json")) as f:
            index.append(json.load(f))
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"count": len(index), "models": index}, f, indent=1)
    log(f"torch: index.json lists {len(index)} models")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--only", default="node,light,torch", help="comma-separated subset of node,light,torch")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    stamp = versions()
    steps = {"node": make_node, "light": make_light, "torch": make_torch}
    t_all = time.time()
    for part in args.only.split(","):
        if part not in steps:
            sys.exit(f"make-fixtures: unknown part {part!r} (choose from {', '.join(steps)})")
        t0 = time.time()
        steps[part](os.path.abspath(args.outdir), stamp)
        log(f"{part}: {time.time() - t0:.1f} s")
    log(f"make-fixtures: done in {time.time() - t_all:.1f} s -> {os.path.abspath(args.outdir)}")


if __name__ == "__main__":
    main()
