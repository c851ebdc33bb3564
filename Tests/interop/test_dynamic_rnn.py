"""`edgeopt quantize --mode dynamic` on recurrent models exported by torch.onnx, against onnxruntime.

The models: input 32 → a 2-layer nn.LSTM (or nn.GRU), hidden 64 → a bidirectional 1-layer one,
hidden 48 → Linear(96, 10), sequence 10, batch 16 (exported by the TorchScript exporter, opset 17,
so each layer is one ONNX LSTM/GRU node with W/R/B initializers).

LSTM → com.microsoft::DynamicQuantizeLSTM (as onnxruntime's quantize_dynamic writes it):
* onnxruntime runs the output; edgeopt's engine agrees with it to float rounding: both form the
  same integer products (uint8 X/H quantized from their own range × int8 W/R, int32 sums), so the
  only differences are float rounding in the gates (MLAS's sigmoid/tanh approximations differ from
  libm's by ~1e-7). Now and then such a difference moves one value of H (or of the next layer's X)
  across a uint8 rounding boundary; that sequence then differs by about one quantization step
  from there on. Measured over 3×1,600 outputs of magnitude ~0.2: most within 3e-8, the worst
  2.0e-4 (seed 3, 178 values). Traced with the LSTM outputs as graph outputs: the two
  unidirectional layers agree to 1.2e-7, and the difference starts in the bidirectional layer's
  reverse direction for one batch row, where such an input difference moves a uint8 step. Asserted: ≥ 80% of values within 1e-6 and all
  within 1e-3 (0.5% of the output range).
* W and R shrink 4× (int8 for float32), the SQNR against the float model is at least 35 dB and
  within 0.5 dB of onnxruntime's quantize_dynamic on the same model (printed side by side).
* edgeopt's engine runs the model onnxruntime's quantize_dynamic writes, within the same bound.

GRU → int8 W/R behind DequantizeLinear (no integer GRU exists in ONNX or onnxruntime): the GRU
nodes stay float; onnxruntime's quantize_dynamic leaves GRU weights in float (printed).
"""
from __future__ import annotations

import numpy as np
import onnx
import onnx.numpy_helper
import pytest

from conftest import ort_run

ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

SEQ, BATCH, INPUT = 10, 16, 32


def export(kind: str, path) -> None:
    recurrent = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = recurrent(INPUT, 64, num_layers=2)
            self.b = recurrent(64, 48, num_layers=1, bidirectional=True)
            self.head = torch.nn.Linear(96, 10)

        def forward(self, x):
            y, _ = self.a(x)
            y, _ = self.b(y)
            return self.head(y)

    torch.manual_seed(0)
    net = Net().eval()
    torch.onnx.export(net, (torch.randn(SEQ, BATCH, INPUT),), str(path), dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["y"])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("rnn")
    for kind in ("lstm", "gru"):
        export(kind, d / f"{kind}.onnx")
    return d


def inputs(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((SEQ, BATCH, INPUT)).astype(np.float32)


def sqnr(reference: np.ndarray, y: np.ndarray) -> float:
    return float(10 * np.log10((reference ** 2).sum() / ((reference - y) ** 2).sum()))


def engine_run(run_edgeopt, model, x, tmp_path) -> np.ndarray:
    np.save(tmp_path / "x.npy", x)
    r = run_edgeopt("run", model, "--input", f"x={tmp_path / 'x.npy'}", "-o", tmp_path / "y.npy", "--threads", "1")
    assert r.code == 0, r
    return np.load(tmp_path / "y.npy")


def recurrent_weight_bytes(model: onnx.ModelProto, op_types) -> int:
    """Bytes of the initializers read (directly or through DequantizeLinear/Reshape) as W or R."""
    init = {t.name: t for t in model.graph.initializer}
    producers = {o: n for n in model.graph.node for o in n.output}

    def sources(name):
        if name in init:
            return {name}
        node = producers.get(name)
        if node is None or node.op_type not in ("DequantizeLinear", "Reshape"):
            return set()
        return sources(node.input[0])

    names = set()
    for n in model.graph.node:
        if n.op_type in op_types:
            names |= sources(n.input[1]) | sources(n.input[2])
    return sum(onnx.numpy_helper.to_array(init[k]).nbytes for k in names)


@pytest.mark.parametrize("granularity", ["per-channel", "per-tensor"])
def test_lstm_becomes_dynamic_quantize_lstm(models, run_edgeopt, tmp_path, granularity):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, out = models / "lstm.onnx", tmp_path / "lstm_q.onnx"
    r = run_edgeopt("quantize", source, "--mode", "dynamic", "-o", out, "--format", "json",
                    *(["--per-tensor"] if granularity == "per-tensor" else []))
    assert r.code == 0, r
    q = onnx.load(str(out))
    onnx.checker.check_model(q)
    ops = [(n.domain, n.op_type) for n in q.graph.node]
    assert ops.count(("com.microsoft", "DynamicQuantizeLSTM")) == 3 and ("", "LSTM") not in ops
    lstm = next(n for n in q.graph.node if n.op_type == "DynamicQuantizeLSTM" and
                any(a.name == "direction" and a.s == b"bidirectional" for a in n.attribute))
    init = {t.name: onnx.numpy_helper.to_array(t) for t in q.graph.initializer}
    # ORT's layout: W [D, input, 4·hidden] int8, scales [D, 4·hidden] per channel or [D].
    assert init[lstm.input[1]].shape == (2, 64, 4 * 48) and init[lstm.input[1]].dtype == np.int8
    assert init[lstm.input[8]].shape == ((2, 4 * 48) if granularity == "per-channel" else (2,))

    float_bytes = recurrent_weight_bytes(onnx.load(str(source)), {"LSTM"})
    int8_bytes = recurrent_weight_bytes(q, {"DynamicQuantizeLSTM"})
    assert float_bytes / int8_bytes >= 3.99, (float_bytes, int8_bytes)

    ort_theirs = tmp_path / "lstm_ort.onnx"
    quantize_dynamic(str(source), str(ort_theirs), weight_type=QuantType.QInt8, per_channel=granularity == "per-channel")
    worst, close, total, ours_db, theirs_db, theirs_worst = 0.0, 0, 0, [], [], 0.0
    for seed in (1, 2, 3):
        x = inputs(seed)
        reference = ort_run(source, {"x": x})[0]
        ort_ours = ort_run(out, {"x": x})[0]
        engine = engine_run(run_edgeopt, out, x, tmp_path)
        difference = np.abs(engine - ort_ours)
        worst = max(worst, float(difference.max()))
        close += int((difference <= 1e-6).sum())
        total += difference.size
        ours_db.append(sqnr(reference, ort_ours))
        theirs = ort_run(ort_theirs, {"x": x})[0]
        theirs_db.append(sqnr(reference, theirs))
        # edgeopt's engine also runs the model onnxruntime's own quantizer wrote.
        theirs_worst = max(theirs_worst, float(np.abs(engine_run(run_edgeopt, ort_theirs, x, tmp_path) - theirs).max()))
    print(f"\nLSTM {granularity}: engine vs ORT worst {worst:.2e}, {close}/{total} within 1e-6; SQNR edgeopt {np.mean(ours_db):.2f} dB, "
          f"ORT quantize_dynamic {np.mean(theirs_db):.2f} dB; W/R {float_bytes} → {int8_bytes} bytes; "
          f"engine on ORT's model vs ORT {theirs_worst:.2e}")
    assert worst <= 1e-3 and close >= 0.8 * total
    assert theirs_worst <= 1e-3
    assert np.mean(ours_db) >= 35 and np.mean(ours_db) >= np.mean(theirs_db) - 0.5


def test_gru_gets_int8_weights_behind_dequantize_linear(models, run_edgeopt, tmp_path):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, out = models / "gru.onnx", tmp_path / "gru_q.onnx"
    r = run_edgeopt("quantize", source, "--mode", "dynamic", "-o", out)
    assert r.code == 0, r
    assert "int8 weights behind DequantizeLinear, float compute" in r.stdout
    q = onnx.load(str(out))
    onnx.checker.check_model(q, full_check=True)
    assert [n.op_type for n in q.graph.node].count("GRU") == 3
    float_bytes = recurrent_weight_bytes(onnx.load(str(source)), {"GRU"})
    int8_bytes = recurrent_weight_bytes(q, {"GRU"})
    assert float_bytes / int8_bytes >= 3.99, (float_bytes, int8_bytes)

    ort_theirs = tmp_path / "gru_ort.onnx"
    quantize_dynamic(str(source), str(ort_theirs), weight_type=QuantType.QInt8, per_channel=True)
    theirs_bytes = recurrent_weight_bytes(onnx.load(str(ort_theirs)), {"GRU"})
    x = inputs()
    reference = ort_run(source, {"x": x})[0]
    ort_ours = ort_run(out, {"x": x})[0]
    engine = engine_run(run_edgeopt, out, x, tmp_path)
    print(f"\nGRU: engine vs ORT {np.abs(engine - ort_ours).max():.2e}; SQNR edgeopt {sqnr(reference, ort_ours):.2f} dB "
          f"(W/R {float_bytes} → {int8_bytes} bytes), ORT quantize_dynamic "
          f"{sqnr(reference, ort_run(ort_theirs, {'x': x})[0]):.2f} dB (W/R {theirs_bytes} bytes)")
    assert np.abs(engine - ort_ours).max() <= 1e-5
    assert sqnr(reference, ort_ours) >= 35


def test_lstm_format_dq_is_standard_onnx(models, run_edgeopt, tmp_path):
    out = tmp_path / "lstm_dq.onnx"
    r = run_edgeopt("quantize", models / "lstm.onnx", "--mode", "dynamic", "--lstm-format", "dq", "-o", out)
    assert r.code == 0, r
    q = onnx.load(str(out))
    onnx.checker.check_model(q, full_check=True)
    assert all(n.domain in ("", "ai.onnx") for n in q.graph.node)
    assert [n.op_type for n in q.graph.node].count("LSTM") == 3
    x = inputs()
    reference = ort_run(models / "lstm.onnx", {"x": x})[0]
    assert sqnr(reference, ort_run(out, {"x": x})[0]) >= 35
    # Float compute on the dequantized weights: the float LSTM's agreement.
    assert np.abs(engine_run(run_edgeopt, out, x, tmp_path) - ort_run(out, {"x": x})[0]).max() <= 1e-5


def test_lstm_sequence_lens_match_onnxruntime(run_edgeopt, tmp_path):
    """Bidirectional LSTM with sequence_lens (lengths 6, 3, 0, 5, 1 of 6): the rows whose sequence
    has ended change H's dynamic range exactly as in onnxruntime (a finished row is its last state
    for one more step, then zeros), so Y, Y_h and Y_c agree to float rounding."""
    import onnx.helper as h

    rng = np.random.default_rng(0)
    seq, batch, size, hidden = 6, 5, 7, 8
    weights = [onnx.numpy_helper.from_array(rng.normal(0, 0.4, shape).astype(np.float32), name) for name, shape in
               [("W", (2, 4 * hidden, size)), ("R", (2, 4 * hidden, hidden)), ("B", (2, 8 * hidden))]]
    graph = h.make_graph([h.make_node("LSTM", ["x", "W", "R", "B", "lens"], ["y", "yh", "yc"], hidden_size=hidden,
                                      direction="bidirectional")], "lstm",
                         [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [seq, batch, size]),
                          h.make_tensor_value_info("lens", onnx.TensorProto.INT32, [batch])],
                         [h.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in ("y", "yh", "yc")], weights)
    source, out = tmp_path / "lens.onnx", tmp_path / "lens_q.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], ir_version=8), str(source))
    r = run_edgeopt("quantize", source, "--mode", "dynamic", "-o", out)
    assert r.code == 0, r
    feeds = {"x": rng.normal(0, 1, (seq, batch, size)).astype(np.float32), "lens": np.array([6, 3, 0, 5, 1], np.int32)}
    expected = ort_run(out, feeds)
    np.savez(tmp_path / "in.npz", **feeds)
    r = run_edgeopt("run", out, "--input", tmp_path / "in.npz", "-o", tmp_path / "out.npz", "--threads", "1")
    assert r.code == 0, r
    got = np.load(tmp_path / "out.npz")
    for name, want in zip(("y", "yh", "yc"), expected):
        assert np.abs(got[name] - want).max() <= 1e-6, name
