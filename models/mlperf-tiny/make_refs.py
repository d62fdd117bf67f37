"""Test inputs and TFLite-Micro reference outputs for the MLPerf Tiny models.

For each model key (kws, vww, ic, ad) this writes, next to the model files:
- test_int8.npz: the shipped int8 input first, then 20 inputs made here (10 perturbations of the
  shipped input, 10 uniform random), keyed by the model's input tensor name, shape [N, *input].
- tflm_int8.npz: TFLite-Micro's outputs of model_int8.tflite on those inputs (int8, keyed by the
  output tensor name).
- test_float.npz / tflm_float.npz: the same inputs dequantized with the int8 model's input
  parameters (the shipped float input first), and TFLite-Micro's outputs of model_float.tflite.
  TFLite-Micro refuses hybrid models (float activations, int8 weights: the KWS float file); for
  those, litert_float.npz holds the outputs of TFLite's own interpreter (LiteRT) instead, whose
  hybrid kernels quantize the activations at run time.

- model_int8.onnx / model_float.onnx: the same files converted by tf2onnx (`--tflite`, opset 13),
  the usual TFLite → ONNX route; ort_float.npz: onnxruntime's outputs of model_float.onnx on
  test_float.npz (the float reference of the hybrid KWS file, whose weights tf2onnx dequantizes).

TFLite-Micro's Python interpreter runs its reference kernels, which CMSIS-NN is bit-exact with.
Run from this folder with the pinned packages of requirements.txt:
    python -m venv /tmp/tflm && /tmp/tflm/bin/pip install -r requirements.txt
    /tmp/tflm/bin/python make_refs.py
"""

import os
import subprocess
import sys

import numpy as np
import tflite
from tflite_micro.python.tflite_micro import runtime

KEYS = ["kws", "vww", "ic", "ad"]
SEED = 20261204


def io_names(path):
    """The names of the first subgraph's input and output tensors."""
    with open(path, "rb") as f:
        m = tflite.Model.GetRootAsModel(f.read(), 0)
    sg = m.Subgraphs(0)
    return sg.Tensors(sg.Inputs(0)).Name().decode(), sg.Tensors(sg.Outputs(0)).Name().decode()


def run_litert(path, inputs):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=path)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    outs = []
    for x in inputs:
        interp.set_tensor(inp["index"], x.astype(inp["dtype"]).reshape(inp["shape"]))
        interp.invoke()
        outs.append(interp.get_tensor(out["index"]).copy())
    inp["name"], out["name"] = io_names(path)
    return inp, out, np.stack(outs)


def run(path, inputs):
    try:
        interp = runtime.Interpreter.from_file(path)
    except RuntimeError:
        return None
    inp = interp.get_input_details(0)
    out = interp.get_output_details(0)
    outs = []
    for x in inputs:
        interp.reset()
        interp.set_input(x.astype(inp["dtype"]).reshape(inp["shape"]), 0)
        interp.invoke()
        outs.append(interp.get_output(0).copy().reshape(out["shape"]))
    inp["name"], out["name"] = io_names(path)
    return inp, out, np.stack(outs)


def tf2onnx(tfl, onnx_path):
    subprocess.run(
        [sys.executable, "-m", "tf2onnx.convert", "--tflite", tfl, "--output", onnx_path, "--opset", "13"],
        check=True,
        capture_output=True,
    )


def run_ort(path, inputs):
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    i = sess.get_inputs()[0]
    o = sess.get_outputs()[0]
    ys = [sess.run([o.name], {i.name: x})[0] for x in inputs]
    return o.name, np.stack(ys)


def main():
    rng = np.random.default_rng(SEED)
    here = os.path.dirname(os.path.abspath(__file__))
    for key in KEYS:
        d = os.path.join(here, key)
        shipped = np.load(os.path.join(d, f"{key}_input_int8.npy"))[0]
        shipped_f = np.load(os.path.join(d, f"{key}_input_float.npy"))[0].astype(np.float32)
        x0 = shipped.astype(np.int32)
        xs = [shipped]
        for _ in range(10):
            noise = rng.integers(-12, 13, size=x0.shape)
            xs.append(np.clip(x0 + noise, -128, 127).astype(np.int8))
        for _ in range(10):
            xs.append(rng.integers(-128, 128, size=x0.shape).astype(np.int8))

        path = os.path.join(d, "model_int8.tflite")
        inp, out, ys = run(path, xs)
        scale, zp = inp["quantization_parameters"]["scales"][0], inp["quantization_parameters"]["zero_points"][0]
        np.savez(os.path.join(d, "test_int8.npz"), **{inp["name"]: np.stack(xs)})
        np.savez(os.path.join(d, "tflm_int8.npz"), **{out["name"]: ys})

        xf = [shipped_f] + [((x.astype(np.float32) - zp) * scale).astype(np.float32) for x in xs[1:]]
        path = os.path.join(d, "model_float.tflite")
        got = run(path, xf)
        ref = "tflm"
        if got is None:
            got, ref = run_litert(path, xf), "litert"
        inp_f, out_f, yf = got
        np.savez(os.path.join(d, "test_float.npz"), **{inp_f["name"]: np.stack(xf)})
        np.savez(os.path.join(d, f"{ref}_float.npz"), **{out_f["name"]: yf})

        for kind in ["int8", "float"]:
            tf2onnx(os.path.join(d, f"model_{kind}.tflite"), os.path.join(d, f"model_{kind}.onnx"))
        oname, yo = run_ort(os.path.join(d, "model_float.onnx"), xf)
        np.savez(os.path.join(d, "ort_float.npz"), **{oname: yo})
        print(key, inp["name"], np.stack(xs).shape, out["name"], ys.shape, "float", out_f["name"], yf.shape)


if __name__ == "__main__":
    main()
