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

import ctypes
import glob
import os
import re
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


def session(path: pathlib.Path, tally: "Tally | None" = None):
    """An onnxruntime session for the model. Files stamped with an IR version newer than this
    onnxruntime accepts (onnx's node suite is stamped IR 14) are loaded with the stamp lowered to
    its maximum, when they have no external data; the graph is unchanged, and a model that needs
    the newer IR still fails to load."""
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001
        m = re.search(r"Unsupported model IR version: \d+, max supported IR version: (\d+)", str(e))
        model = onnx.load(str(path), load_external_data=False) if m else None
        if model is None or any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
            raise
        model.ir_version = int(m.group(1))
        if tally is not None:
            tally.ir_lowered.add(path.name if path.name != "model.onnx" else path.parent.name)
        return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


EXOTIC = ("bfloat16", "float8", "int4", "uint4", "float4", "int2", "uint2")


def run(sess, feeds: dict) -> list:
    """Outputs of one run. Element types numpy cannot hold (bfloat16, float8, ...) travel as
    OrtValues and come back as (type, shape, raw bytes), which compares bitwise like arrays."""
    exotic_in = any(isinstance(v, np.ndarray) and v.dtype.kind == "V" or
                    isinstance(v, np.ndarray) and any(e in str(v.dtype) for e in EXOTIC) for v in feeds.values())
    exotic_out = any(any(e in o.type for e in EXOTIC) for o in sess.get_outputs())
    if not (exotic_in or exotic_out):
        return sess.run(None, feeds)
    values = {}
    for name, v in feeds.items():
        if isinstance(v, np.ndarray) and any(e in str(v.dtype) for e in EXOTIC):
            storage = np.ascontiguousarray(v).view(np.uint8 if v.dtype.itemsize == 1 else np.uint16)
            bits = 4 if any(e in str(v.dtype) for e in ("int4", "float4")) else 2 if "int2" in str(v.dtype) else 0
            if bits:
                # onnxruntime takes the shape from the array but reads the bytes packed, low bits
                # first; the packed bytes go at the front of an array of the logical shape.
                codes = storage.reshape(-1) & ((1 << bits) - 1)
                per_byte = 8 // bits
                codes = np.append(codes, np.zeros((-len(codes)) % per_byte, np.uint8)).reshape(-1, per_byte)
                packed = np.zeros(len(codes), np.uint8)
                for k in range(per_byte):
                    packed |= (codes[:, k] << (bits * k)).astype(np.uint8)
                buffer = np.zeros(v.size, np.uint8)
                buffer[:len(packed)] = packed
                storage = buffer.reshape(v.shape)
            values[name] = ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
                storage, onnx.helper.np_dtype_to_tensor_dtype(v.dtype))
        else:
            values[name] = ort.OrtValue.ortvalue_from_numpy(np.asarray(v))
    outputs = sess.run_with_ort_values(None, values)
    result = []
    for value in outputs:
        if value.is_tensor():
            raw = ctypes.string_at(value.data_ptr(), value.tensor_size_in_bytes()) if value.tensor_size_in_bytes() else b""
            result.append((value.data_type(), tuple(value.shape()), raw))
        else:
            result.append(value.numpy())
    return result


def to_feed(value):
    """Test-case inputs as onnxruntime takes them: numpy scalars and TensorProtos become arrays."""
    if isinstance(value, onnx.TensorProto):
        return onnx.numpy_helper.to_array(value)
    if isinstance(value, np.generic):
        return np.asarray(value)
    if isinstance(value, list):
        return [to_feed(v) for v in value]
    return value


def same(a, b) -> bool:
    """Bitwise equality of onnxruntime outputs (arrays, sequences, optionals, maps)."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype == object:
            return a.tolist() == b.tolist()
        return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
    if isinstance(a, tuple) and isinstance(b, tuple):  # (type, shape, raw bytes) from run()
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and np.asarray(a).tobytes() == np.asarray(b).tobytes()


def classify_ort_failure(reason: str) -> str:
    """A short, name-free description of why onnxruntime could not run a model."""
    if m := re.search(r"Could not find an implementation for (\w+)", reason):
        return f"no onnxruntime kernel for {m.group(1)} with these types/opset"
    if m := re.search(r"Failed to find kernel for (\w+)", reason):
        return f"no onnxruntime kernel for {m.group(1)} with these types/opset"
    if m := re.search(r"Fatal error: ([\w.]+:\w+)", reason):
        return f"operator not registered in onnxruntime ({m.group(1).split('(')[0]})"
    if "opset" in reason.lower() and ("guarantee" in reason or "supported" in reason or "under development" in reason):
        return "model opset newer than this onnxruntime supports"
    if m := re.search(r"Unsupported model IR version: (\d+), max supported IR version: (\d+)", reason):
        return f"model IR version {m.group(1)} newer than onnxruntime's maximum {m.group(2)}"
    if "Type Error" in reason:
        return "onnxruntime type check rejects the model"
    if "nondeterministic" in reason:
        return reason
    if m := re.search(r"running (\w+) node", reason):
        return f"onnxruntime fails while running {m.group(1)}"
    if m := re.search(r"Exception during initialization: onnxruntime::(\w+)", reason):
        return f"onnxruntime cannot initialize its {m.group(1)} kernel for these attributes"
    if m := re.search(r"This is an invalid model. In Node, \(\"[^\"]*\", (\w+)", reason):
        return f"onnxruntime's graph checks reject this {m.group(1)} node"
    text = re.sub(r"/onnxruntime_src/\S+\s*", "", reason)
    text = re.sub(r"\[ONNXRuntimeError\] : \d+ : |Load model from \S+ failed:", "", text)
    text = re.sub(r"'[^']*'|\d+", "…", text).strip()
    return text.split("\n")[0][:100]


class Tally:
    def __init__(self, corpus: str):
        self.corpus = corpus
        self.tried = 0
        self.passed = 0
        self.skipped_ort: dict[str, int] = {}
        self.checker_invalid_original = 0
        self.ir_lowered: set[str] = set()
        self.failures: list[str] = []

    def skip_ort(self, reason: str):
        key = classify_ort_failure(reason)
        self.skipped_ort[key] = self.skipped_ort.get(key, 0) + 1

    def report(self):
        skipped = sum(self.skipped_ort.values())
        print(f"\n[{self.corpus}] tried {self.tried}, passed {self.passed}, failed {len(self.failures)}; "
              f"original fails the checker: {self.checker_invalid_original}; "
              f"outputs not compared (onnxruntime cannot run the original or it is nondeterministic): {skipped}; "
              f"compared with the IR version stamp lowered for onnxruntime: {len(self.ir_lowered)}")
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
        before = session(original, tally)
        expected = [run(before, feeds) for feeds in feeds_list]
        again = [run(before, feeds) for feeds in feeds_list]
    except Exception as e:  # noqa: BLE001
        tally.skip_ort(f"{type(e).__name__}: {str(e).strip()}")
        tally.passed += 1
        return
    if not all(same(a, b) for a, b in zip(expected, again)):
        tally.skip_ort("nondeterministic in onnxruntime (two runs of the original differ)")
        tally.passed += 1
        return
    try:
        after = session(out, tally)
        actual = [run(after, feeds) for feeds in feeds_list]
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
            feeds_list.append({name: to_feed(value) for name, value in zip(input_names, inputs)})
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


def fixture_models() -> list[tuple[str, pathlib.Path, list[dict]]]:
    """The torch-exported fixture models (`$EDGEOPT_FIXTURES/torch/<name>/`) with their data sets."""
    fixtures = os.environ.get("EDGEOPT_FIXTURES")
    if not fixtures or not (pathlib.Path(fixtures) / "torch").is_dir():
        return []
    cases = []
    for case_dir in sorted((pathlib.Path(fixtures) / "torch").iterdir()):
        model_path = case_dir / "model.onnx"
        if not model_path.exists():
            continue
        model = onnx.load(str(model_path), load_external_data=False)
        initializer_names = {t.name for t in model.graph.initializer}
        inputs = [i for i in model.graph.input if i.name not in initializer_names]
        feeds_list = []
        for data_dir in sorted(case_dir.glob("test_data_set_*")):
            feeds_list.append({v.name: load_pb(data_dir / f"input_{k}.pb", v.type)
                               for k, v in enumerate(inputs) if (data_dir / f"input_{k}.pb").exists()})
        cases.append((f"torch/{case_dir.name}", model_path, feeds_list or [random_feeds(model_path)]))
    return cases


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


@pytest.mark.parametrize("external", [False, True], ids=["inline", "external-data"])
def test_fixture_torch_models_round_trip(tmp_path_factory, external):
    cases = fixture_models()
    if not cases:
        pytest.skip("no $EDGEOPT_FIXTURES/torch models (scripts/make-fixtures.py makes them)")
    tmp = tmp_path_factory.mktemp("torch")
    tally = Tally(f"fixture torch models ({'external data' if external else 'inline'})")
    for name, model_path, feeds_list in cases:
        out = tmp / name.replace("/", "_") / "model.onnx"
        out.parent.mkdir(parents=True, exist_ok=True)
        round_trip(tally, name, model_path, out, feeds_list, ("--external-data",) if external else ())
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
