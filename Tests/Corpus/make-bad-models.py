"""Writes the bad-input corpus: files edgeopt must reject with exit status 65 and a message
naming the problem, never a crash, a hang or an absurd allocation.

    python Tests/Corpus/make-bad-models.py        # rewrites Tests/Corpus/bad-models/ and bad-models.json

bad-models.json maps each file to a phrase its error message must contain. Deterministic
(seeded), so re-running gives identical files. Deeply nested messages are encoded by hand
because protobuf libraries refuse to build them.
"""
from __future__ import annotations

import json
import pathlib
import random
import shutil
import struct
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "bad-models"


def small_model(nodes=None, initializers=(), inputs=None, outputs=None, name="g"):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    nodes = nodes if nodes is not None else [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, name, inputs if inputs is not None else [x],
                              outputs if outputs is not None else [y], initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def raw_tensor(name, dims, raw: bytes, dtype=TensorProto.FLOAT):
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def external_tensor(name, dims, location, offset=None, length=None):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = t.external_data.add()
            entry.key, entry.value = key, str(value)
    return t


def with_weight(tensor):
    """x + weight → y, with `tensor` as the weight initializer."""
    add = helper.make_node("Add", ["x", tensor.name], ["y"], name="add_weight")
    return small_model([add], initializers=[tensor])


# Hand encoding of the protobuf wire format (for the nesting bomb).
def varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(number: int, payload: bytes | str) -> bytes:
    payload = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def nested_if_model(depth: int) -> bytes:
    """depth If nodes, each holding the next graph as then_branch. Built from the inside out;
    the parts are joined once at the end so the cost stays linear in the depth."""
    output = field(1, "y")  # ValueInfoProto.name
    inner = field(1, field(1, "x") + field(2, "y") + field(4, "Identity")) + field(2, "leaf") + field(12, output)
    # Each level wraps the inner graph G as: graph{ node{ ... attribute{ name type g:G } } name output }.
    # Lengths depend on the inner size, so track it and emit prefixes/suffixes.
    prefixes, suffixes = [], []
    size = len(inner)
    for level in range(depth):
        attr_head = field(1, "then_branch") + varint(20 << 3) + varint(5) + varint(6 << 3 | 2) + varint(size)
        attr_size = len(attr_head) + size
        node_head = field(1, "c") + field(2, "y") + field(3, f"if{level}") + field(4, "If") + varint(5 << 3 | 2) + varint(attr_size)
        node_size = len(node_head) + attr_size
        graph_head = varint(1 << 3 | 2) + varint(node_size)
        graph_tail = field(2, f"g{level}") + field(12, output)
        prefixes.append(graph_head + node_head + attr_head)
        suffixes.append(graph_tail)
        size = len(graph_head) + node_size + len(graph_tail)
    graph = b"".join(reversed(prefixes)) + inner + b"".join(suffixes)
    assert len(graph) == size
    opset = field(1, "") + varint(2 << 3) + varint(17)
    return varint(1 << 3) + varint(8) + varint(7 << 3 | 2) + varint(size) + graph + field(8, opset)


def png_bytes() -> bytes:
    """A real 1×1 RGBA PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00\xff")) + chunk(b"IEND", b"")


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "data").mkdir(parents=True)
    expected: dict[str, str] = {}

    def save(name: str, content: bytes | onnx.ModelProto, phrase: str):
        data = content.SerializeToString() if isinstance(content, onnx.ModelProto) else content
        (OUT / name).write_bytes(data)
        expected[name] = phrase

    big = small_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                      initializers=[numpy_helper.from_array(np.ones(2, np.float32), "w"),
                                    numpy_helper.from_array(np.arange(512, dtype=np.float32), "table")]).SerializeToString()

    save("empty.onnx", b"", "empty file")
    save("truncated.onnx", big[: len(big) // 2], "truncated")
    save("random-bytes.onnx", random.Random(7).randbytes(4096), "not a valid ONNX model")
    save("image.png", png_bytes(), "not a valid ONNX model")
    save("text.onnx", b'ir_version: 8\ngraph { name: "g" node { op_type: "Relu" } }\n', "not a valid ONNX model")
    tensor_only = TensorProto()
    tensor_only.dims.extend([3])
    save("tensor-not-model.pb", tensor_only.SerializeToString(), "no graph")

    save("huge-dims.onnx", with_weight(raw_tensor("w", [1 << 20, 1 << 20, 1 << 20], b"\0" * 8)), "absurd number of elements")
    save("declared-size-beyond-file.onnx", with_weight(raw_tensor("w", [1_000_000_000], b"\0" * 8)),
         "raw_data holds 8 bytes but float32[1000000000] needs 4000000000")
    save("negative-dim.onnx", with_weight(raw_tensor("w", [2, -1], b"\0" * 8)), "negative dimension")
    typed = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    del typed.float_data[:]
    typed.float_data.extend([1.0, 2.0, 3.0])
    save("typed-count-mismatch.onnx", with_weight(typed), "float_data holds 3 values")
    odd_type = raw_tensor("w", [2], b"\0" * 8)
    odd_type.data_type = 99
    save("unknown-element-type.onnx", with_weight(odd_type), "element type 99")

    (OUT / "data" / "short.bin").write_bytes(bytes(16))
    save("missing-external-file.onnx", with_weight(external_tensor("w", [2], "data/missing.bin")), "does not exist")
    save("external-offset-past-eof.onnx", with_weight(external_tensor("w", [2], "data/short.bin", offset=4096, length=8)),
         "beyond the end")
    save("external-range-past-eof.onnx", with_weight(external_tensor("w", [4], "data/short.bin", offset=8, length=16)),
         "beyond the end")
    save("external-escapes-directory.onnx", with_weight(external_tensor("w", [2], "../make-bad-models.py")), "escapes")
    save("external-absolute-path.onnx", with_weight(external_tensor("w", [2], "/etc/hostname")), "absolute path")

    save("dangling-input.onnx", small_model([helper.make_node("Add", ["x", "ghost"], ["y"], name="add_ghost")]),
         "'ghost'")
    save("cycle.onnx", small_model([
        helper.make_node("Add", ["x", "c_out"], ["a_out"], name="a"),
        helper.make_node("Relu", ["a_out"], ["b_out"], name="b"),
        helper.make_node("Relu", ["b_out"], ["c_out"], name="c"),
        helper.make_node("Identity", ["c_out"], ["y"], name="d"),
    ]), "cycle: 'a' (Add) → 'b' (Relu) → 'c' (Relu) → 'a' (Add)")
    save("duplicate-output.onnx", small_model([
        helper.make_node("Relu", ["x"], ["y"], name="first"),
        helper.make_node("Neg", ["x"], ["y"], name="second"),
    ]), "'y' is defined more than once")
    save("dangling-in-subgraph.onnx", small_model([
        helper.make_node("If", ["cond"], ["y"], name="branch",
                         then_branch=helper.make_graph([helper.make_node("Relu", ["nowhere"], ["t"], name="inner")], "then", [],
                                                       [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])]),
                         else_branch=helper.make_graph([helper.make_node("Relu", ["x"], ["e"])], "else", [],
                                                       [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])),
    ], inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
               helper.make_tensor_value_info("cond", TensorProto.BOOL, [])]), "'nowhere'")
    save("nested-if-10k.onnx", nested_if_model(10_000), "nested")

    (HERE / "bad-models.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {len(expected)} bad models ({total} bytes) to {OUT}")


if __name__ == "__main__":
    main()
