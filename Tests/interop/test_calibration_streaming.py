"""Calibration data read one batch at a time from archives numpy writes.

`edgeopt quantize models/digits_cnn.onnx --calib DATA` gives the byte-identical model whether DATA
is the shipped digits_calib.npz, or the same array written by np.savez (stored), by
np.savez_compressed (deflate), with ZIP64 size fields (zipfile's ZIP64 limit lowered so every size
goes through the ZIP64 extra field), or as a directory holding input.npy. A member damaged by
numpy-independent means (a flipped byte, a cut file) is refused with exit 65 and the member named.
"""
from __future__ import annotations

import zipfile

import numpy as np
import pytest


@pytest.fixture(scope="module")
def calib(models_dir):
    return np.load(models_dir / "digits_calib.npz")["input"]


def quantize(run_edgeopt, models_dir, data, out):
    return run_edgeopt("quantize", models_dir / "digits_cnn.onnx", "--calib", data, "-o", out)


def test_every_layout_gives_the_same_model(run_edgeopt, models_dir, calib, tmp_path, monkeypatch):
    r = quantize(run_edgeopt, models_dir, models_dir / "digits_calib.npz", tmp_path / "reference.onnx")
    assert r.code == 0, r
    reference = (tmp_path / "reference.onnx").read_bytes()
    np.savez(tmp_path / "stored.npz", input=calib)
    np.savez_compressed(tmp_path / "deflate.npz", input=calib)
    (tmp_path / "npy").mkdir()
    np.save(tmp_path / "npy" / "input.npy", calib)
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 16)
    np.savez(tmp_path / "zip64_stored.npz", input=calib)
    np.savez_compressed(tmp_path / "zip64_deflate.npz", input=calib)
    for name in ("stored.npz", "deflate.npz", "zip64_stored.npz", "zip64_deflate.npz", "npy"):
        out = tmp_path / f"{name}.onnx"
        r = quantize(run_edgeopt, models_dir, tmp_path / name, out)
        assert r.code == 0, r
        assert out.read_bytes() == reference, name


@pytest.mark.parametrize("compressed", [False, True])
def test_damaged_members_are_refused_naming_the_member(run_edgeopt, models_dir, calib, tmp_path, compressed):
    good = tmp_path / "good.npz"
    (np.savez_compressed if compressed else np.savez)(good, input=calib)
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "flipped.npz").write_bytes(bytes(data))
    r = quantize(run_edgeopt, models_dir, tmp_path / "flipped.npz", tmp_path / "x.onnx")
    assert r.code == 65, r
    assert "flipped.npz member 'input.npy'" in r.stderr, r
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[: len(data) // 2])
    r = quantize(run_edgeopt, models_dir, tmp_path / "cut.npz", tmp_path / "x.onnx")
    assert r.code == 65 and "cut.npz" in r.stderr, r
    assert not (tmp_path / "x.onnx").exists()
