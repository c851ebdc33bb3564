"""Every file in Tests/Corpus/bad-models/ (made by Tests/Corpus/make-bad-models.py) must make
`edgeopt convert` exit with status 65 and a one-line message that names the file and contains
the phrase bad-models.json expects: no crash, no hang, no absurd allocation, and no output file.
"""
from __future__ import annotations

import json
import os
import pathlib
import resource
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "Tests" / "Corpus" / "bad-models"
EXPECTED = json.loads((ROOT / "Tests" / "Corpus" / "bad-models.json").read_text())
FILES = sorted(p.name for p in CORPUS.iterdir() if p.is_file())

# No bad file may make edgeopt allocate more than this (address space, so mapping counts too).
MEMORY_LIMIT = 2 << 30


def test_every_corpus_file_has_an_expectation():
    assert set(FILES) == set(EXPECTED), "bad-models/ and bad-models.json disagree; re-run make-bad-models.py"
    assert len(FILES) >= 20


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.parametrize("name", FILES)
def test_bad_model_is_rejected_with_exit_65(name, edgeopt_bin, tmp_path):
    out = tmp_path / "out.onnx"
    run = subprocess.run([str(edgeopt_bin), "convert", str(CORPUS / name), "-o", str(out)],
                         capture_output=True, text=True, timeout=60, preexec_fn=_limit_memory)
    assert run.returncode == 65, f"exit {run.returncode}\nstdout: {run.stdout}\nstderr: {run.stderr}"
    message = run.stderr.strip()
    assert message.startswith("error: "), message
    assert name in message, f"message does not name the file: {message}"
    assert EXPECTED[name] in message, f"expected {EXPECTED[name]!r} in: {message}"
    assert len(message.splitlines()) == 1, f"expected a one-line message, got:\n{message}"
    assert not out.exists(), "a rejected model must not produce output"
    assert not [p for p in tmp_path.iterdir()], "temporary files left behind"
