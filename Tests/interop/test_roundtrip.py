"""Round trip through edgeopt's IR: `edgeopt convert` must give a model that

* passes `onnx.checker.check_model(full_check=True)` wherever the original does, and
* gives outputs IDENTICAL to the original's in onnxruntime (bitwise; NaN == NaN) on the same
  inputs, wherever onnxruntime can run the original (and runs it deterministically).

Corpora: every model of the ONNX node conformance suite (from `$EDGEOPT_FIXTURES/node/<case>/`
when present, else generated here with `collect_testcases()`), the `light_*` models shipped in
the onnx wheel, and every `models/*.onnx`; light and models/ are also converted with
`--external-data` and loaded from the data file.

Run: EDGEOPT_BIN=.build/debug/edgeopt pytest -s Tests/interop/test_roundtrip.py
"""

from __future__ import annotations

import glob
import os
import pathlib
import subprocess
import warnings

import numpy as np
import onnx
import onnx.numpy_helper
import pytest

ort = pytest.importorskip("onnxruntime")

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("EDGEOPT_BIN", str(ROOT / ".build" / "debug" / "edgeopt"))
LIGHT_DIR = pathlib.Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def convert(src: pathlib.Path, dst: pathlib.Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([BIN, "convert", str(src), "-o", str(dst), *extra],
                          capture_output=True, text=True, timeout=300)


def check(path: pathlib.Path) -> str | None:
    """None when the checker accepts the model (path form, so external data resolves)."""
    try:
        onnx.checker.check_model(str(path), full_check=True)
        return None
    except Exception as e:  # noqa: BLE001 - any checker failure is a verdict, not a test error
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def session(path: pathlib.Path):
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def same(a, b) -> bool:
    """Bitwise equality of onnxruntime outputs (arrays, sequences, optionals, maps)."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype == object:
            return a.tolist() == b.tolist()
        return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and np.asarray(a).tobytes() == np.asarray(b).tobytes()


class Tally:
    def __init__(self, corpus: str):
        self.corpus = corpus
        self.tried = 0
        self.passed = 0
        self.skipped_ort: dict[str, int] = {}
        self.checker_invalid_original = 0
        self.failures: list[str] = []

    def skip_ort(self, reason: str):
        key = reason.split(":")[0][:60]
        self.skipped_ort[key] = self.skipped_ort.get(key, 0) + 1

    def report(self):
        skipped = sum(self.skipped_ort.values())
        print(f"\n[{self.corpus}] tried {self.tried}, passed {self.passed}, failed {len(self.failures)}; "
              f"original fails the checker: {self.checker_invalid_original}; "
              f"outputs not compared (onnxruntime cannot run the original or it is nondeterministic): {skipped}")
        for reason, n in sorted(self.skipped_ort.items(), key=lambda kv: -kv[1]):
            print(f"    not compared, {n:4d}× {reason}")
        for f in self.failures[:50]:
            print(f"    FAIL {f}")
        assert not self.failures, f"{len(self.failures)} {self.corpus} models failed the round trip"


def round_trip(tally: Tally, name: str, original: pathlib.Path, out: pathlib.Path,
               feeds_list: list[dict], extra: tuple[str, ...] = ()):
    tally.tried += 1
    result = convert(original, out, *extra)
    if result.returncode != 0:
        tally.failures.append(f"{name}: edgeopt convert exited {result.returncode}: {result.stderr.strip()[:300]}")
        return
    original_verdict = check(original)
    if original_verdict is None:
        verdict = check(out)
        if verdict is not None:
            tally.failures.append(f"{name}: converted model fails the checker: {verdict}")
            return
    else:
        tally.checker_invalid_original += 1
    try:
        before = session(original)
        expected = [before.run(None, feeds) for feeds in feeds_list]
        again = [before.run(None, feeds) for feeds in feeds_list]
    except Exception as e:  # noqa: BLE001
        tally.skip_ort(f"{type(e).__name__}: {str(e).strip()[:200]}")
        tally.passed += 1
        return
    if not all(same(a, b) for a, b in zip(expected, again)):
        tally.skip_ort("nondeterministic in onnxruntime (two runs of the original differ)")
        tally.passed += 1
        return
    try:
        after = session(out)
        actual = [after.run(None, feeds) for feeds in feeds_list]
    except Exception as e:  # noqa: BLE001
        tally.failures.append(f"{name}: onnxruntime runs the original but not the converted model: {str(e)[:300]}")
        return
    for k, (a, b) in enumerate(zip(expected, actual)):
        if not same(a, b):
            tally.failures.append(f"{name}: outputs differ on data set {k}")
            return
    tally.passed += 1


# ---------------------------------------------------------------------------------------------
# Corpora


def node_cases(tmp: pathlib.Path) -> list[tuple[str, pathlib.Path, list[dict]]]:
    """(name, model path, feeds per data set) for every node conformance case."""
    fixtures = os.environ.get("EDGEOPT_FIXTURES")
    cases = []
    if fixtures and (pathlib.Path(fixtures) / "node").is_dir():
        for case_dir in sorted((pathlib.Path(fixtures) / "node").iterdir()):
            model_path = case_dir / "model.onnx"
            if not model_path.exists():
                continue
            model = onnx.load(str(model_path), load_external_data=False)
            input_names = [i.name for i in model.graph.input]
            feeds_list = []
            for data_dir in sorted(case_dir.glob("test_data_set_*")):
                feeds = {}
                for k, name in enumerate(input_names):
                    pb = data_dir / f"input_{k}.pb"
                    if pb.exists():
                        feeds[name] = load_pb(pb, model.graph.input[k].type)
                feeds_list.append(feeds)
            cases.append((case_dir.name, model_path, feeds_list or [{}]))
        return cases

    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collected = collect_testcases()
    for case in collected:
        if case.model is None:
            continue
        case_dir = tmp / case.name
        case_dir.mkdir(parents=True, exist_ok=True)
        model_path = case_dir / "model.onnx"
        onnx.save(case.model, str(model_path))
        input_names = [i.name for i in case.model.graph.input]
        feeds_list = []
        for inputs, _outputs in case.data_sets or []:
            feeds_list.append({name: value for name, value in zip(input_names, inputs)})
        cases.append((case.name, model_path, feeds_list or [{}]))
    return cases


def load_pb(path: pathlib.Path, type_proto) -> object:
    """A test-data input file: TensorProto, SequenceProto or OptionalProto, chosen by the input's type."""
    data = path.read_bytes()
    which = type_proto.WhichOneof("value")
    if which == "sequence_type":
        seq = onnx.SequenceProto()
        seq.ParseFromString(data)
        return onnx.numpy_helper.to_list(seq)
    if which == "optional_type":
        opt = onnx.OptionalProto()
        opt.ParseFromString(data)
        return onnx.numpy_helper.to_optional(opt)
    tensor = onnx.TensorProto()
    tensor.ParseFromString(data)
    return onnx.numpy_helper.to_array(tensor)


def random_feeds(path: pathlib.Path, seed: int = 0) -> dict:
    """Seeded inputs of each graph input's declared type; symbolic dims become 1."""
    model = onnx.load(str(path), load_external_data=False)
    initializer_names = {t.name for t in model.graph.initializer}
    rng = np.random.default_rng(seed)
    feeds = {}
    for value in model.graph.input:
        if value.name in initializer_names:
            continue
        t = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 1 for d in t.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)
        if np.issubdtype(dtype, np.floating):
            feeds[value.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[value.name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            feeds[value.name] = rng.integers(0, 10, shape).astype(dtype)
    return feeds


def file_models() -> list[pathlib.Path]:
    return sorted(pathlib.Path(p) for p in glob.glob(str(LIGHT_DIR / "light_*.onnx"))) + \
        sorted(pathlib.Path(p) for p in glob.glob(str(ROOT / "models" / "*.onnx")))


# ---------------------------------------------------------------------------------------------
# Tests


@pytest.fixture(scope="module", autouse=True)
def binary():
    if not os.path.exists(BIN):
        pytest.fail(f"edgeopt binary not found at {BIN}; build it or set EDGEOPT_BIN")


def test_node_conformance_models_round_trip(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("node")
    tally = Tally("node conformance suite")
    for name, model_path, feeds_list in node_cases(tmp / "cases"):
        out = tmp / "out" / name / "model.onnx"
        out.parent.mkdir(parents=True, exist_ok=True)
        round_trip(tally, name, model_path, out, feeds_list)
    assert tally.tried > 1000, "the node conformance suite should hold well over a thousand models"
    tally.report()


@pytest.mark.parametrize("external", [False, True], ids=["inline", "external-data"])
def test_light_and_project_models_round_trip(tmp_path_factory, external):
    tmp = tmp_path_factory.mktemp("files")
    tally = Tally(f"light_* and models/ ({'external data' if external else 'inline'})")
    models = file_models()
    assert any("light_" in m.name for m in models), f"no light_* models under {LIGHT_DIR}"
    for model_path in models:
        out = tmp / model_path.name
        # The default threshold (1 KiB): tiny tensors such as shape operands stay inline, where
        # onnx's shape inference (part of the full check) can read them.
        extra = ("--external-data",) if external else ()
        round_trip(tally, model_path.name, model_path, out, [random_feeds(model_path)], extra)
        if external and out.exists():
            data = out.parent / (out.name + ".data")
            source = onnx.load(str(model_path))
            has_large = any(onnx.numpy_helper.to_array(t).nbytes >= 1024 for t in source.graph.initializer)
            if has_large and not data.exists():
                tally.failures.append(f"{model_path.name}: --external-data wrote no {data.name}")
            if data.exists():
                loaded = onnx.load(str(out), load_external_data=False)
                inline = [t.name for t in loaded.graph.initializer
                          if t.data_location != onnx.TensorProto.EXTERNAL and len(t.raw_data) >= 1024]
                if inline:
                    tally.failures.append(f"{model_path.name}: initializers of 1 KiB or more left inline: {inline[:3]}")
                external_count = sum(t.data_location == onnx.TensorProto.EXTERNAL for t in loaded.graph.initializer)
                print(f"    {model_path.name}: {external_count} initializers in {data.name} ({data.stat().st_size} bytes)")
    tally.report()


def test_conversion_is_deterministic_and_leaves_input_alone(tmp_path):
    model_path = next(m for m in file_models())
    before = model_path.read_bytes()
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"
    assert convert(model_path, a).returncode == 0
    assert convert(model_path, b).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    # Converting the converted model again changes nothing either (a fixed point).
    c = tmp_path / "c.onnx"
    assert convert(a, c).returncode == 0
    assert c.read_bytes() == a.read_bytes()
    assert model_path.read_bytes() == before
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"
