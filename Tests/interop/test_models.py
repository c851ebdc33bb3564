"""The committed models in models/ are what models/README.md says they are.

* every models/*.onnx passes the ONNX checker and runs in onnxruntime with the documented
  input/output names and shapes;
* the FP32 accuracy the README states is what onnxruntime measures on digits_eval.npz
  (within 0.1 point), and meets the targets (CNN >= 95%, attention model >= 90%);
* the Constant-node twin has no initializers, keeps every weight in Constant nodes at opset 11
  or 12, and gives the same outputs as the initializer model;
* the data files have the documented keys, dtypes and sizes, and the README's SHA-256 and file
  sizes match the committed files;
* the generated torch fixtures reproduce the published torchvision figures.
"""
from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import onnx
import pytest

from conftest import REPO_ROOT, load_data_set, load_npz, ort_run

MODELS = REPO_ROOT / "models"
README = MODELS / "README.md"
ONNX_FILES = sorted(p.name for p in MODELS.glob("*.onnx"))
TARGETS = {"digits_cnn.onnx": 95.0, "digits_cnn_constants.onnx": 95.0, "digits_attention.onnx": 90.0}


def readme_table():
    """{file: (accuracy %, correct, total, opset, weight elements, file size)} from the README."""
    rows = {}
    pattern = re.compile(r"^\| `([\w.]+\.onnx)` \| ([0-9.]+)% \| (\d+)/(\d+) \| (\d+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \|$")
    for line in README.read_text().splitlines():
        m = pattern.match(line)
        if m:
            rows[m.group(1)] = (float(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)),
                                int(m.group(6).replace(",", "")), int(m.group(8).replace(",", "")))
    return rows


@pytest.fixture(scope="module")
def eval_set():
    return load_npz(MODELS / "digits_eval.npz")


def test_readme_lists_exactly_the_committed_models():
    assert ONNX_FILES, "models/ holds no .onnx files"
    assert sorted(readme_table()) == ONNX_FILES


@pytest.mark.parametrize("name", ONNX_FILES)
def test_model_is_valid_and_has_documented_interface(name):
    path = MODELS / name
    assert path.stat().st_size < 2 * 1024 * 1024, f"{name} should stay small"
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    inits = {i.name for i in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in inits]
    assert [v.name for v in inputs] == ["input"]
    assert [v.name for v in model.graph.output] == ["logits"]
    dims = [d.dim_param or d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 1, 8, 8]
    out = ort_run(path, {"input": np.zeros((3, 1, 8, 8), np.float32)})[0]
    assert out.shape == (3, 10) and out.dtype == np.float32


@pytest.mark.parametrize("name", ONNX_FILES)
def test_readme_accuracy_is_what_onnxruntime_measures(name, eval_set):
    stated, correct, total, opset, elements, size = readme_table()[name]
    logits = ort_run(MODELS / name, {"input": eval_set["input"]})[0]
    pred = logits.argmax(axis=1)
    measured = 100.0 * float((pred == eval_set["label"]).mean())
    assert total == len(eval_set["label"]) == 397
    assert abs(measured - stated) <= 0.1, f"{name}: README says {stated}%, onnxruntime measures {measured:.2f}%"
    assert int((pred == eval_set["label"]).sum()) == correct
    assert measured >= TARGETS[name]
    assert (MODELS / name).stat().st_size == size
    model = onnx.load(str(MODELS / name))
    assert next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == opset


@pytest.mark.parametrize("name", ONNX_FILES)
def test_readme_weight_count_matches_the_file(name):
    """Elements of every initializer and Constant-node tensor, counted with numpy."""
    model = onnx.load(str(MODELS / name))
    arrays = [onnx.numpy_helper.to_array(t) for t in model.graph.initializer]
    arrays += [onnx.numpy_helper.to_array(a.t) for n in model.graph.node if n.op_type == "Constant"
               for a in n.attribute if a.name == "value"]
    assert sum(a.size for a in arrays) == readme_table()[name][4]


def test_readme_hashes_match_the_committed_files():
    text = README.read_text()
    for name in ONNX_FILES:
        m = re.search(rf"`{re.escape(name)}`: `([0-9a-f]{{64}})`", text)
        assert m, f"README has no SHA-256 for {name}"
        assert hashlib.sha256((MODELS / name).read_bytes()).hexdigest() == m.group(1), name


def test_constant_twin_keeps_every_weight_in_constant_nodes():
    twin = onnx.load(str(MODELS / "digits_cnn_constants.onnx"))
    base = onnx.load(str(MODELS / "digits_cnn.onnx"))
    assert len(twin.graph.initializer) == 0
    assert next(o.version for o in twin.opset_import if o.domain in ("", "ai.onnx")) in (11, 12)
    consts = {n.output[0]: onnx.numpy_helper.to_array(n.attribute[0].t)
              for n in twin.graph.node if n.op_type == "Constant"}
    weights = {i.name: onnx.numpy_helper.to_array(i) for i in base.graph.initializer}
    # Same tensors (shape multiset and total element count) as the initializer model.
    assert sorted(a.shape for a in consts.values()) == sorted(a.shape for a in weights.values())
    assert sum(a.size for a in consts.values()) == sum(a.size for a in weights.values())
    # Every Conv/Gemm/BatchNormalization parameter input is produced by a Constant node.
    for n in twin.graph.node:
        if n.op_type in ("Conv", "Gemm", "BatchNormalization"):
            assert all(name in consts for name in n.input[1:]), n.name


def test_constant_twin_gives_the_same_outputs(eval_set):
    x = eval_set["input"]
    a = ort_run(MODELS / "digits_cnn.onnx", {"input": x})[0]
    b = ort_run(MODELS / "digits_cnn_constants.onnx", {"input": x})[0]
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    assert (a.argmax(1) == b.argmax(1)).all()


def test_data_files_have_documented_layout():
    sizes = {}
    for split, n in (("train", 1200), ("calib", 200), ("eval", 397)):
        data = load_npz(MODELS / f"digits_{split}.npz")
        assert sorted(data) == ["input", "label"]
        assert data["input"].dtype == np.float32 and data["input"].shape == (n, 1, 8, 8)
        assert data["label"].dtype == np.int64 and data["label"].shape == (n,)
        assert 0.0 <= data["input"].min() and data["input"].max() <= 1.0
        # Stratified: every class present, in proportion (digits has 174..183 samples per class).
        counts = np.bincount(data["label"], minlength=10)
        assert counts.min() >= int(0.09 * n) and counts.max() <= int(np.ceil(0.11 * n)) + 1
        sizes[split] = n
    assert sum(sizes.values()) == 1797


def test_splits_match_sklearn_digits():
    """The three files together are exactly load_digits() / 16, sample for sample."""
    from sklearn.datasets import load_digits

    d = load_digits()
    ref = sorted(map(bytes, np.concatenate([(d.data / 16.0).astype(np.float32).reshape(-1, 64).view(np.uint8),
                                            d.target.astype(np.int64).reshape(-1, 1).view(np.uint8)], axis=1)))
    ours = []
    for split in ("train", "calib", "eval"):
        data = load_npz(MODELS / f"digits_{split}.npz")
        x = data["input"].reshape(-1, 64).view(np.uint8)
        y = data["label"].reshape(-1, 1).view(np.uint8)
        ours += list(map(bytes, np.concatenate([x, y], axis=1)))
    assert sorted(ours) == ref


def test_torch_fixtures_match_published_torchvision_figures(fixtures_dir):
    """torchvision ResNet-50 has 25,557,032 parameters; exported with BN folded (torchvision's
    own initialisation, whose zero folded biases the exporter shares) the file holds 25,507,944
    weights and about 4.1 GMACs at 224x224. MobileNetV2 has 3,504,872 parameters."""
    index = {m["name"]: m for m in json.loads((fixtures_dir / "torch" / "index.json").read_text())["models"]}
    r = index["resnet50_default_init"]
    assert r["torch_parameters"] == 25_557_032
    assert r["weight_elements"] == 25_507_944
    assert 4.05e9 < r["macs"]["total"] < 4.15e9
    assert index["resnet50"]["torch_parameters"] == 25_557_032
    # Folding BN into 53 convs: drop 2 x 26,560 BN parameters, add 26,560 conv biases.
    assert index["resnet50"]["weight_elements"] == 25_557_032 - 26_560
    assert index["mobilenetv2"]["torch_parameters"] == 3_504_872
    # The Constant-node twin holds exactly the weights of its initializer twin.
    a, b = index["mobilenetv2_opset12"], index["mobilenetv2_opset12_constants"]
    assert a["weight_elements"] == b["weight_elements"] and b["weight_elements_in_constant_nodes"] == b["weight_elements"]
    assert index["control_flow"]["weight_elements_in_subgraphs"] == 160


@pytest.mark.parametrize("name", ["mobilenetv2_opset12", "mobilenetv2_opset12_constants", "mobilenetv2_external",
                                  "control_flow", "transformer_encoder"])
def test_torch_fixture_outputs_reproduce_in_onnxruntime(fixtures_dir, name):
    case = fixtures_dir / "torch" / name
    for k in range(len(list(case.glob("test_data_set_*")))):
        inputs, expected = load_data_set(case, k)
        got = ort_run(case / "model.onnx", inputs)
        for g, e in zip(got, expected.values()):
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
