"""A small branched Keras CNN, trained briefly on scikit-learn's 8x8 digits and converted to
ONNX by keras2onnx 1.7.0 (opset 13), with seeded test and calibration sets. Versions are pinned
in requirements.txt.

keras2onnx 1.7.0 (the last release) was written for TensorFlow <= 2.3 and Python <= 3.8. Under
TensorFlow 2.12 / Python 3.11 its imports fail, so `_shim_keras2onnx` below gives it, before it
is imported, the names it looks up (nothing of the converter itself is changed):

- `tensorflow.python.keras` is a stub in TF 2.12 (no `applications`): alias it to Keras 2.12, the
  package `tf.keras` is since TF 2.6;
- `keras.layers.advanced_activations` / `keras.layers.wrappers` (modules gone in Keras 2.12):
  `keras.layers`, which still exports LeakyReLU, ReLU, Softmax, TimeDistributed...;
- `keras.layers.recurrent_v2` / `keras.layers.normalization_v2`: namespaces holding GRU, LSTM
  and BatchNormalization.

And the model is built with eager execution off: keras2onnx reads `model.outputs[0].graph`,
which TF >= 2.4's functional models (KerasTensor) no longer have, but graph-mode ones do.

`debug_mode=True` turns off the pass that onnxconverter-common runs at the end of the
conversion (it cancels transposes, removes Identity nodes and sorts the nodes): the file is the
graph as keras2onnx's converters emit it, in reverse order (outputs first), the way files made
while that pass was skipped or failed came out (onnx/keras-onnx issues #58, #170, #184, #339,
#537). The script checks that the node list is out of topological order and that onnxruntime
(which sorts) agrees with Keras.

    python -m venv /tmp/k2o && /tmp/k2o/bin/pip install -r requirements.txt
    /tmp/k2o/bin/python make_model.py
"""

import importlib
import os
import sys
import types

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
    os.environ.setdefault(_v, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

SEED = 20261206
HERE = os.path.dirname(os.path.abspath(__file__))
N_TEST = 20
N_CALIB = 32


def _shim_keras2onnx():
    tfp = importlib.import_module("tensorflow.python")
    sys.modules["tensorflow.python.keras"] = keras
    tfp.keras = keras
    keras.layers.advanced_activations = keras.layers
    keras.layers.wrappers = keras.layers
    keras.layers.recurrent_v2 = types.SimpleNamespace(GRU=keras.layers.GRU, LSTM=keras.layers.LSTM)
    keras.layers.normalization_v2 = types.SimpleNamespace(
        BatchNormalization=keras.layers.BatchNormalization
    )
    return importlib.import_module("keras2onnx")


def digits():
    """models/digits-cnn's split: default_rng(0) permutation, first 359 test. NHWC, / 16."""
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(x))
    n_test = int(round(0.2 * len(x)))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    return x[train], y[train], x[test], y[test]


def build():
    L = keras.layers
    inp = keras.Input((8, 8, 1), name="input")
    x = L.Conv2D(8, 3, padding="same", use_bias=False)(inp)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    a = L.Conv2D(4, 1, activation="relu")(x)
    b = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = L.Add()([x, L.Concatenate()([a, b])])
    x = L.MaxPooling2D(2)(x)
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(10, name="logits")(x))


def out_of_order(graph):
    """Nodes reading a tensor that no earlier node (nor an input / initializer) produced."""
    seen = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    late = 0
    for n in graph.node:
        late += any(i and i not in seen for i in n.input)
        seen.update(n.output)
    return late


def main():
    keras2onnx = _shim_keras2onnx()
    tf.compat.v1.disable_eager_execution()
    tf.random.set_seed(SEED)
    np.random.seed(SEED)
    rng = np.random.default_rng(SEED)
    xtr, ytr, xte, yte = digits()
    model = build()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(xtr, ytr, batch_size=32, epochs=25, verbose=0, shuffle=True)
    want = model.predict(xte, verbose=0)

    onx = keras2onnx.convert_keras(model, "digits", target_opset=13, debug_mode=True)
    path = os.path.join(HERE, "model.onnx")
    onnx.save(onx, path)
    late = out_of_order(onx.graph)
    assert late > 0, "keras2onnx wrote the nodes in order: this sample would test nothing"

    test_idx = np.sort(rng.choice(len(xte), N_TEST, replace=False))
    calib_idx = np.sort(rng.choice(len(xtr), N_CALIB, replace=False))
    np.savez(os.path.join(HERE, "test.npz"), input=xte[test_idx][:, None], labels=yte[test_idx])
    np.savez(os.path.join(HERE, "calib.npz"), input=xtr[calib_idx][:, None])

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    got = np.concatenate([sess.run(None, {name: s})[0] for s in xte[:, None]])
    print("input", name, sess.get_inputs()[0].shape, "output", sess.get_outputs()[0].name)
    print("nodes", len(onx.graph.node), "reading a later node's output:", late)
    print("onnxruntime vs keras max abs diff:", float(np.abs(got - want).max()))
    print("float test accuracy (359):", float((got.argmax(1) == yte).mean()))
    print("float accuracy on test.npz (20):", float((got[test_idx].argmax(1) == yte[test_idx]).mean()))
    print("ops:", [n.op_type for n in onx.graph.node])
    print("tensorflow", tf.__version__, "keras", keras.__version__, "keras2onnx", keras2onnx.__version__)


if __name__ == "__main__":
    main()
