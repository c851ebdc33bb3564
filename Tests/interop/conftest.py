"""Shared pytest fixtures and helpers for edgeopt's interoperability tests.

Environment (set by scripts/test):
  EDGEOPT_BIN       path to the edgeopt binary (default: <repo>/.build/debug/edgeopt)
  EDGEOPT_FIXTURES  directory written by scripts/make-fixtures.py

Fixtures:
  repo_root     pathlib.Path of the repository
  models_dir    <repo>/models
  edgeopt_bin   pathlib.Path of the binary; fails (not skips) when it does not exist
  fixtures_dir  pathlib.Path of the generated fixtures; skips when EDGEOPT_FIXTURES is unset,
                fails when it is set but missing
  run_edgeopt   run_edgeopt(*args, timeout=600, cwd=None, env=None) -> Run(code, stdout, stderr)

Helpers (import from conftest): ort_session, ort_run, load_data_set, load_npz.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess

import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Run:
    """Outcome of one edgeopt invocation."""
    code: int
    stdout: str
    stderr: str
    args: tuple[str, ...] = ()

    def __str__(self) -> str:  # shown in assertion messages
        return (f"edgeopt {' '.join(self.args)} -> exit {self.code}\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}")


@pytest.fixture(scope="session")
def repo_root() -> pathlib.Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def models_dir(repo_root) -> pathlib.Path:
    return repo_root / "models"


@pytest.fixture(scope="session")
def edgeopt_bin(repo_root) -> pathlib.Path:
    path = pathlib.Path(os.environ.get("EDGEOPT_BIN", repo_root / ".build" / "debug" / "edgeopt"))
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"edgeopt binary not found at {path}; run `swift build` or set EDGEOPT_BIN")
    return path


@pytest.fixture(scope="session")
def fixtures_dir() -> pathlib.Path:
    value = os.environ.get("EDGEOPT_FIXTURES")
    if not value:
        pytest.skip("EDGEOPT_FIXTURES is not set (scripts/test sets it after scripts/make-fixtures.py)")
    path = pathlib.Path(value)
    if not path.is_dir():
        pytest.fail(f"EDGEOPT_FIXTURES={path} does not exist; run scripts/make-fixtures.py {path}")
    return path


@pytest.fixture(scope="session")
def run_edgeopt(edgeopt_bin):
    """Run edgeopt with the given arguments and capture (exit code, stdout, stderr)."""

    def run(*args, timeout: float = 600, cwd=None, env=None, input: str | None = None) -> Run:
        argv = [str(edgeopt_bin), *[str(a) for a in args]]
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                               env=full_env, input=input)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"edgeopt {' '.join(argv[1:])} did not finish within {timeout} s "
                        f"(stderr so far: {e.stderr!r})")
        return Run(p.returncode, p.stdout, p.stderr, tuple(argv[1:]))

    return run


def ort_session(model_path, threads: int = 1, optimize: bool = True):
    """An onnxruntime CPU session (quiet; graph optimisations optional)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


def ort_run(model_path, feeds: dict, output_names=None, threads: int = 1, optimize: bool = True) -> list:
    """Run a model in onnxruntime: list of outputs in graph order (or `output_names` order)."""
    return ort_session(model_path, threads, optimize).run(output_names, feeds)


def load_data_set(case_dir, index: int = 0):
    """(inputs by graph-input name, expected outputs by graph-output name) of
    `case_dir/test_data_set_<index>` in the ONNX backend test-data layout."""
    import onnx
    from onnx import numpy_helper

    case_dir = pathlib.Path(case_dir)
    model = onnx.load(str(case_dir / "model.onnx"), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    graph_inputs = [v for v in model.graph.input if v.name not in inits]
    data_dir = case_dir / f"test_data_set_{index}"

    def read(path, vi):
        t = vi.type
        if t.HasField("sequence_type"):
            proto = onnx.SequenceProto()
            proto.ParseFromString(path.read_bytes())
            return numpy_helper.to_list(proto)
        if t.HasField("optional_type"):
            proto = onnx.OptionalProto()
            proto.ParseFromString(path.read_bytes())
            return numpy_helper.to_optional(proto)
        if t.HasField("map_type"):
            proto = onnx.MapProto()
            proto.ParseFromString(path.read_bytes())
            return numpy_helper.to_dict(proto)
        proto = onnx.TensorProto()
        proto.ParseFromString(path.read_bytes())
        return numpy_helper.to_array(proto)

    inputs = {}
    for k, vi in enumerate(graph_inputs):
        p = data_dir / f"input_{k}.pb"
        if p.exists():
            inputs[vi.name] = read(p, vi)
    outputs = {}
    for k, vi in enumerate(model.graph.output):
        p = data_dir / f"output_{k}.pb"
        if p.exists():
            outputs[vi.name] = read(p, vi)
    return inputs, outputs


def load_npz(path) -> dict[str, np.ndarray]:
    with np.load(str(path)) as z:
        return {k: z[k] for k in z.files}
