"""Writes the small tensor files the Swift TensorIO tests read, with numpy's and onnx's own
writers, so that the tests check edgeopt against independent implementations.

Run from this directory: python make-tensor-files.py
"""
import numpy as np
import numpy.lib.format as npf
import onnx
from onnx import helper, numpy_helper

a = (np.arange(6, dtype=np.float32) * 0.5 - 1).reshape(2, 3)  # [[-1,-0.5,0],[0.5,1,1.5]]
np.save("f32_2x3.npy", a)
with open("i64_v2.npy", "wb") as f:
    npf.write_array(f, np.array([1, -2, 3_000_000_000], dtype=np.int64), version=(2, 0))
with open("u8_v3.npy", "wb") as f:
    npf.write_array(f, np.array([[7, 255]], dtype=np.uint8), version=(3, 0))
np.save("f16_scalar.npy", np.float16(-2.5))
np.save("fortran.npy", np.asfortranarray(a))
np.save("bigendian.npy", a.astype(">f4"))

arrays = dict(a=a, b=np.array([1, 2, 3], dtype=np.int64), c=np.array([True, False]), d=np.zeros((0, 4), np.float64))
np.savez("stored.npz", **arrays)
np.savez_compressed("compressed.npz", **arrays)

t = numpy_helper.from_array(np.array([1, -2, 0.5], dtype=np.float16), name="x")
open("raw_f16.pb", "wb").write(t.SerializeToString())
t = helper.make_tensor("y", onnx.TensorProto.INT32, [2, 2], [1, -2, 3, 2147483647])
open("typed_i32.pb", "wb").write(t.SerializeToString())
t = helper.make_tensor("s", onnx.TensorProto.STRING, [2], [b"edge", b"opt"])
open("strings.pb", "wb").write(t.SerializeToString())
