"""paddle-mbv3 quantized by onnxruntime's quantization tool in the QOperator format.

Reads ../paddle-mbv3/{model.onnx, calib.npz, test.npz}; writes here:
- model.onnx: `quantize_static` with QuantFormat.QOperator (QLinearConv, QLinearMatMul and
  onnxruntime's com.microsoft QLinear* operators), int8 activations and per-channel int8
  weights, MinMax calibration over calib.npz; input and output stay float32.
- test.npz: a copy of ../paddle-mbv3/test.npz; ort_outputs.npz: onnxruntime's outputs of
  model.onnx on it (graph optimisations off, so the QOperator graph runs as written).

    python -m venv /tmp/ort && /tmp/ort/bin/pip install -r requirements.txt
    /tmp/ort/bin/python make_model.py
"""

import os
import shutil

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "paddle-mbv3")


class Reader(CalibrationDataReader):
    def __init__(self, x):
        self.it = iter([{"image": s} for s in x])

    def get_next(self):
        return next(self.it, None)


def main():
    calib = np.load(os.path.join(SRC, "calib.npz"))["image"]
    out = os.path.join(HERE, "model.onnx")
    quantize_static(
        os.path.join(SRC, "model.onnx"),
        out,
        Reader(calib),
        quant_format=QuantFormat.QOperator,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        calibrate_method=CalibrationMethod.MinMax,
    )
    shutil.copyfile(os.path.join(SRC, "test.npz"), os.path.join(HERE, "test.npz"))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(out, so, providers=["CPUExecutionProvider"])
    test = np.load(os.path.join(HERE, "test.npz"))["image"]
    name = sess.get_outputs()[0].name
    ys = np.stack([sess.run([name], {"image": x})[0] for x in test])
    np.savez(os.path.join(HERE, "ort_outputs.npz"), **{name: ys})
    import onnx

    ops = sorted({(n.domain, n.op_type) for n in onnx.load(out).graph.node})
    print(ops, ys.shape)


if __name__ == "__main__":
    main()
