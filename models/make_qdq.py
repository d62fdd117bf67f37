#!/usr/bin/env python3
"""Make models/digits-cnn-qdq/: digits-cnn quantized to int8 QDQ by onnxruntime.

    python3 -m venv /tmp/qdq-venv
    /tmp/qdq-venv/bin/pip install -r models/requirements-qdq.txt
    /tmp/qdq-venv/bin/python models/make_qdq.py

(models/requirements-qdq.txt is models/requirements.txt plus onnxruntime and
its dependencies, all pinned.) Reads models/digits-cnn/{model.onnx, calib.npz,
test.npz}, writes models/digits-cnn-qdq/:

  model.onnx        the QDQ model (float input `input` [1,1,8,8], float output
                    `logits` [1,10]; int8 QuantizeLinear/DequantizeLinear inside)
  test.npz          a byte copy of digits-cnn/test.npz (input [N,1,1,8,8], labels [N])
  ort_outputs.npz   `logits` float32 [N,1,10]: onnxruntime's output of the QDQ
                    model for each test sample, in test.npz order (the reference)

The README in that folder is hand-written and quotes the numbers printed here.

Steps:

1. Fold bn1 into conv1 with numpy (float64, then rounded to float32):
   s = bn.scale / sqrt(running_var + eps), W' = W * s (per output channel),
   b' = bn.bias - running_mean * s; conv1 gets the new bias `conv1.bias`,
   bn1 is dropped and relu1 reads conv1_out. Every other node, tensor and
   initializer keeps its name. Without this step onnxruntime's quantizer would
   quantize BatchNormalization as a node of its own (QDQ around BN, int8 BN
   scale); folded, the QDQ graph has QDQ around Conv, Relu, MaxPool, Flatten
   and Gemm only, which is what an int8 deployment runs. The folded float model
   goes to a temporary file only; its ORT outputs are checked against the
   original float model's.
   onnxruntime.quantization.quant_pre_process is not run: the graph is already
   minimal and fully shape-inferred, and its ORT graph optimisation would only
   rename and rewrite things (quantize_static logs a warning suggesting it;
   that warning is expected).

2. onnxruntime.quantization.quantize_static on the folded model: QDQ format,
   int8 activations (asymmetric, zero point from the MinMax range), int8
   weights per output channel (symmetric, zero point 0, range [-127, 127]),
   MinMax calibration over all of digits-cnn/calib.npz fed one sample at a
   time, int32 bias (scale = input scale * weight scale, zero point 0) behind
   a DequantizeLinear, Relu kept as a node (QDQKeepRemovableActivations=True,
   so the graph keeps the float model's node list less bn1). Model input and
   output stay float32.

3. Check the result with onnx.checker (full check), run it with an
   onnxruntime.InferenceSession on CPUExecutionProvider with graph
   optimisations disabled (ORT_DISABLE_ALL, one thread) so that ORT executes
   the QDQ graph as written (no QDQ fusion into QLinearConv etc.), one test
   sample at a time, and save those outputs as ort_outputs.npz.

Prints: float and QDQ test accuracy under ORT, the op-type histogram, every
node, every initializer (dtype, shape), weight DequantizeLinear axes, the
activation and bias integer types, and the scale / zero point of the last
QuantizeLinear before the output (1 LSB of the output = that scale).

Deterministic: MinMax calibration and the quantizer have no randomness and
the npz writer (numpy.savez, zip entries dated 1980-01-01) has no timestamps,
so a rerun with the pinned versions reproduces the files byte for byte
(checked on the build machine).
"""

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import collections  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from onnxruntime.quantization import (  # noqa: E402
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "digits-cnn")
DST = os.path.join(HERE, "digits-cnn-qdq")
INPUT = "input"

QUANT_OPTIONS = dict(
    quant_format=QuantFormat.QDQ,
    per_channel=True,
    reduce_range=False,
    activation_type=QuantType.QInt8,
    weight_type=QuantType.QInt8,
    calibrate_method=CalibrationMethod.MinMax,
    extra_options={
        "ActivationSymmetric": False,  # int8 activations with a real zero point
        "WeightSymmetric": True,  # int8 weights, zero point 0, [-127, 127]
        "QDQKeepRemovableActivations": True,  # keep Relu as a node
    },
)


def fold_bn(model):
    """Return a copy of `model` with bn1 folded into the bias-less conv1."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    nodes = {n.name: n for n in g.node}
    conv, bn = nodes["conv1"], nodes["bn1"]
    assert conv.op_type == "Conv" and len(conv.input) == 2
    assert bn.op_type == "BatchNormalization" and bn.input[0] == conv.output[0]
    eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
    inits = {t.name: t for t in g.initializer}
    arr = {k: numpy_helper.to_array(inits[k]).astype(np.float64)
           for k in [conv.input[1]] + list(bn.input[1:])}
    w = arr[conv.input[1]]
    scale, bias, mean, var = (arr[k] for k in bn.input[1:])
    s = scale / np.sqrt(var + eps)
    w_f = (w * s.reshape(-1, 1, 1, 1)).astype(np.float32)
    b_f = (bias - mean * s).astype(np.float32)

    bias_name = "conv1.bias"
    keep = [t for t in g.initializer if t.name not in bn.input[1:]]
    del g.initializer[:]
    for t in keep:
        if t.name == conv.input[1]:
            t = numpy_helper.from_array(w_f, t.name)
        g.initializer.append(t)
        if t.name == conv.input[1]:
            g.initializer.append(numpy_helper.from_array(b_f, bias_name))
    conv.input.append(bias_name)
    bn_out = bn.output[0]
    new_nodes = [n for n in g.node if n.name != "bn1"]
    for n in new_nodes:
        for i, x in enumerate(n.input):
            if x == bn_out:
                n.input[i] = conv.output[0]
    del g.node[:]
    g.node.extend(new_nodes)
    del g.value_info[:]
    onnx.checker.check_model(m, full_check=True)
    return m


class NpzReader(CalibrationDataReader):
    """Feeds calib.npz[input] one sample ([1,1,8,8]) at a time, in file order."""

    def __init__(self, xs):
        self.xs = xs
        self.i = 0

    def get_next(self):
        if self.i >= len(self.xs):
            return None
        self.i += 1
        return {INPUT: self.xs[self.i - 1]}

    def rewind(self):
        self.i = 0


def session(path):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def run(path, xs):
    """Run sample by sample; returns {output name: [N, *output_shape]}."""
    sess = session(path)
    names = [o.name for o in sess.get_outputs()]
    outs = [sess.run(names, {INPUT: x}) for x in xs]
    return {n: np.stack([o[k] for o in outs]).astype(np.float32) for k, n in enumerate(names)}


def accuracy(logits, labels):
    pred = logits.reshape(len(labels), -1).argmax(axis=1)
    ok = int((pred == labels).sum())
    return ok / len(labels), ok


def describe(model):
    g = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    hist = collections.Counter(n.op_type for n in g.node)
    print(f"  opset {[(o.domain or 'ai.onnx', o.version) for o in model.opset_import]}, "
          f"IR version {model.ir_version}, producer {model.producer_name} {model.producer_version}")
    print("  op histogram:", ", ".join(f"{k} {v}" for k, v in sorted(hist.items())))
    print("  nodes:")
    for n in g.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        print(f"    {n.op_type:17s} {n.name:28s} in={list(n.input)} out={list(n.output)}"
              + (f" attrs={attrs}" if attrs else ""))
    print("  initializers:")
    for t in g.initializer:
        a = inits[t.name]
        val = f" = {a.tolist()}" if a.size <= 1 else ""
        print(f"    {t.name:40s} {a.dtype} {list(a.shape)}{val}")

    # weights / biases: DequantizeLinear whose x is an initializer
    print("  DequantizeLinear of initializers (weights, biases):")
    for n in g.node:
        if n.op_type == "DequantizeLinear" and n.input[0] in inits:
            axis = [a.i for a in n.attribute if a.name == "axis"]
            print(f"    {n.name}: x {inits[n.input[0]].dtype} {list(inits[n.input[0]].shape)}, "
                  f"scale {list(inits[n.input[1]].shape)}, "
                  f"axis attribute {'= ' + str(axis[0]) if axis else 'absent (default 1)'}")
    act_types = sorted({str(inits[n.input[2]].dtype) for n in g.node
                        if n.op_type == "QuantizeLinear" and len(n.input) > 2})
    print(f"  activation QuantizeLinear zero-point dtypes: {act_types}")

    out = g.output[0].name
    dq = producer[out]
    assert dq.op_type == "DequantizeLinear", dq.op_type
    q = producer[dq.input[0]]
    assert q.op_type == "QuantizeLinear", q.op_type
    scale = float(inits[q.input[1]])
    zp = int(inits[q.input[2]])
    print(f"  last QuantizeLinear before `{out}`: {q.name}, scale {scale!r} "
          f"(float32 bits {np.float32(scale).view(np.uint32):#010x}), zero point {zp} "
          f"({inits[q.input[2]].dtype}); output range [{(-128 - zp) * scale:.6g}, "
          f"{(127 - zp) * scale:.6g}]")


def main():
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, numpy {np.__version__}")
    src_model = os.path.join(SRC, "model.onnx")
    float_model = onnx.load(src_model)
    calib = np.load(os.path.join(SRC, "calib.npz"))[INPUT]
    test = np.load(os.path.join(SRC, "test.npz"))
    xs, labels = test[INPUT], test["labels"]
    print(f"calib {calib.dtype} {list(calib.shape)}, test {xs.dtype} {list(xs.shape)}")
    out_name = float_model.graph.output[0].name

    os.makedirs(DST, exist_ok=True)
    dst_model = os.path.join(DST, "model.onnx")
    with tempfile.TemporaryDirectory(prefix="kiln-qdq.") as tmp:
        folded_path = os.path.join(tmp, "folded.onnx")
        onnx.save(fold_bn(float_model), folded_path)

        y_float = run(src_model, xs)[out_name]
        y_fold = run(folded_path, xs)[out_name]
        err = float(np.abs(y_float - y_fold).max())
        assert np.allclose(y_fold, y_float, rtol=1e-4, atol=1e-5), err
        acc, ok = accuracy(y_float, labels)
        acc_f, ok_f = accuracy(y_fold, labels)
        print(f"float digits-cnn under ORT: accuracy {acc:.4f} ({ok}/{len(labels)})")
        print(f"BN-folded float under ORT:  accuracy {acc_f:.4f} ({ok_f}/{len(labels)}), "
              f"max |diff| vs unfolded {err:.2e}")

        quantize_static(folded_path, dst_model, NpzReader(calib), **QUANT_OPTIONS)

    qdq = onnx.load(dst_model)
    onnx.checker.check_model(qdq, full_check=True)
    print("QDQ model: onnx.checker full check passed")
    describe(qdq)

    ort_out = run(dst_model, xs)
    y_q = ort_out[out_name]
    assert y_q.shape == (len(xs), 1, 10), y_q.shape
    acc_q, ok_q = accuracy(y_q, labels)
    agree = int((y_q.reshape(len(xs), -1).argmax(1) == y_float.reshape(len(xs), -1).argmax(1)).sum())
    print(f"QDQ model under ORT:        accuracy {acc_q:.4f} ({ok_q}/{len(labels)}), "
          f"argmax agrees with float on {agree}/{len(labels)}, "
          f"|QDQ - float| max {float(np.abs(y_q - y_float).max()):.4f} "
          f"mean {float(np.abs(y_q - y_float).mean()):.4f}")
    inits = {t.name: numpy_helper.to_array(t) for t in qdq.graph.initializer}
    s, zp = float(inits[f"{out_name}_scale"]), int(inits[f"{out_name}_zero_point"])
    codes = np.round(y_q / s) + zp
    y_cal = run(src_model, calib)[out_name]
    print(f"  float {out_name} range on test [{y_float.min():.4f}, {y_float.max():.4f}], "
          f"on calib [{y_cal.min():.4f}, {y_cal.max():.4f}]; QDQ outputs saturated at -128: "
          f"{int((codes == -128).sum())}, at 127: {int((codes == 127).sum())} "
          f"(of {codes.size})")

    shutil.copyfile(os.path.join(SRC, "test.npz"), os.path.join(DST, "test.npz"))
    np.savez(os.path.join(DST, "ort_outputs.npz"), **ort_out)
    for f in ("model.onnx", "test.npz", "ort_outputs.npz"):
        print(f"wrote digits-cnn-qdq/{f} ({os.path.getsize(os.path.join(DST, f))} bytes)")


if __name__ == "__main__":
    main()
