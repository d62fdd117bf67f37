"""Three small Keras models converted by TensorFlow's TFLiteConverter with full-integer
quantization (int8 weights, activations, inputs and outputs), and TFLite-Micro's outputs.

- residual/: conv + batch norm + ReLU blocks with two residual ADDs, global average pooling
  (MEAN), dense, softmax (a ResNet-style block, 32x32x3 input).
- mbv3/: a MobileNetV3-style block: conv, depthwise conv, HARD_SWISH, 1x1 conv, average
  pooling, dense, softmax (32x32x3 input).
- concat/: two conv branches concatenated on channels, MEAN over height and width, dense,
  softmax (24x24x1 input).

Two files kiln must refuse, each naming what it cannot run: unsupported/model_float.tflite (EXP,
CUMSUM and SQRT, three operators kiln has no kernel for) and int16x8/model_int16.tflite (the
residual model in TFLite's 16x8 mode: int16 activations).

gated/ (dense, TANH and LOGISTIC gating each other by MUL, dense) and activations/ (LOGISTIC,
TANH and HARD_SWISH of the input, concatenated) keep the converter's default float inputs and
outputs: a QUANTIZE at the input, a DEQUANTIZE at the output. Their test_float.npz holds every
int8 value of the input's quantization, every tie between two of them, then noise; tflm_float.npz
TFLite-Micro's float outputs.

concat-uint8/ is the concat model with uint8 inputs and outputs (int8 inside), as the converter
writes it for `inference_input_type = tf.uint8`; its files keep the int8 names.

Each int8 folder gets model_int8.tflite, test_int8.npz (21 int8 inputs keyed by the input name:
the first is the quantized mean input, then random ones) and tflm_int8.npz (TFLite-Micro's
outputs). Weights are Keras' seeded initialisation, batch-norm statistics are set to random
values, the representative data set is seeded noise: these models test conversion, not accuracy.

    python -m venv /tmp/tfl && /tmp/tfl/bin/pip install -r requirements.txt
    /tmp/tfl/bin/python make_models.py
"""

import os

import numpy as np
import tensorflow as tf
import tflite
from tflite_micro.python.tflite_micro import runtime

SEED = 20261204
K = tf.keras
L = tf.keras.layers


def randomize_bn(model, rng):
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, g.shape).astype(np.float32),
                rng.uniform(-0.2, 0.2, b.shape).astype(np.float32),
                rng.uniform(-0.1, 0.1, m.shape).astype(np.float32),
                rng.uniform(0.5, 1.5, v.shape).astype(np.float32),
            ])


def residual():
    x = inp = K.Input((32, 32, 3), batch_size=1, name="image")
    x = L.Conv2D(16, 3, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    for _ in range(2):
        y = L.Conv2D(16, 3, padding="same", use_bias=False)(x)
        y = L.BatchNormalization()(y)
        y = L.ReLU()(y)
        y = L.Conv2D(16, 3, padding="same", use_bias=False)(y)
        y = L.BatchNormalization()(y)
        x = L.ReLU()(L.Add()([x, y]))
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(10)(x)
    return K.Model(inp, L.Softmax()(x))


def mbv3():
    x = inp = K.Input((32, 32, 3), batch_size=1, name="image")
    x = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("hard_swish")(x)
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("hard_swish")(x)
    x = L.Conv2D(24, 1, use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.AveragePooling2D(16)(x)
    x = L.Flatten()(x)
    x = L.Dense(5)(x)
    return K.Model(inp, L.Softmax()(x))


def concat():
    x = inp = K.Input((24, 24, 1), batch_size=1, name="spectrogram")
    a = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    b = L.Conv2D(8, 5, padding="same", activation="relu")(x)
    x = L.Concatenate()([a, b])
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = K.ops.mean(x, axis=[1, 2])
    x = L.Dense(4)(x)
    return K.Model(inp, L.Softmax()(x))


def gated():
    x = inp = K.Input((64,), batch_size=1, name="features")
    h = L.Dense(64)(x)
    t = L.Activation("tanh")(h)
    s = L.Activation("sigmoid")(h)
    x = L.Multiply()([t, s])
    return K.Model(inp, L.Dense(8)(x))


def activations():
    x = inp = K.Input((256,), batch_size=1, name="values")
    ys = [L.Activation(a)(x) for a in ("sigmoid", "tanh", "hard_swish")]
    return K.Model(inp, L.Concatenate()(ys))


def unsupported():
    x = inp = K.Input((16,), batch_size=1, name="features")
    x = L.Dense(8)(x)
    x = K.ops.exp(x)
    x = K.ops.cumsum(x, axis=1)
    x = K.ops.sqrt(x)
    return K.Model(inp, L.Dense(2)(x))


def convert_float(model):
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def convert(model, shape, rng, io=tf.int8, int16=False):
    """Full-integer conversion with a seeded representative set: int8 activations with `io`
    inputs and outputs, or TFLite's 16x8 mode (int16 activations) when `int16`."""

    def rep():
        for _ in range(16 if int16 else 64):
            yield [rng.normal(0.0, 1.0, (1, *shape)).astype(np.float32)]

    c = tf.lite.TFLiteConverter.from_keras_model(model)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = rep
    if int16:
        c.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
    else:
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        c.inference_input_type = io
        c.inference_output_type = io
    return c.convert()


def io_names(data):
    m = tflite.Model.GetRootAsModel(data, 0)
    sg = m.Subgraphs(0)
    return sg.Tensors(sg.Inputs(0)).Name().decode(), sg.Tensors(sg.Outputs(0)).Name().decode()


def main():
    tf.keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    here = os.path.dirname(os.path.abspath(__file__))
    for name, make, shape, io in [
        ("residual", residual, (32, 32, 3), tf.int8),
        ("mbv3", mbv3, (32, 32, 3), tf.int8),
        ("concat", concat, (24, 24, 1), tf.int8),
        ("concat-uint8", concat, (24, 24, 1), tf.uint8),
    ]:
        model = make()
        randomize_bn(model, rng)
        data = convert(model, shape, rng, io)
        lo, hi, dt = (0, 255, np.uint8) if io == tf.uint8 else (-128, 127, np.int8)
        d = os.path.join(here, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "model_int8.tflite"), "wb") as f:
            f.write(data)
        interp = runtime.Interpreter.from_bytes(data)
        inp = interp.get_input_details(0)
        out = interp.get_output_details(0)
        scale = inp["quantization_parameters"]["scales"][0]
        zp = inp["quantization_parameters"]["zero_points"][0]
        xs = [np.full((1, *shape), zp, dtype=dt)]
        for _ in range(20):
            real = rng.normal(0.0, 1.0, (1, *shape))
            xs.append(np.clip(np.round(real / scale) + zp, lo, hi).astype(dt))
        ys = []
        for x in xs:
            interp.reset()
            interp.set_input(x, 0)
            interp.invoke()
            ys.append(interp.get_output(0).copy().reshape(out["shape"]))
        iname, oname = io_names(data)
        np.savez(os.path.join(d, "test_int8.npz"), **{iname: np.stack(xs)})
        np.savez(os.path.join(d, "tflm_int8.npz"), **{oname: np.stack(ys)})
        print(name, iname, oname, len(data), "bytes")

    for name, data in [
        ("unsupported/model_float.tflite", convert_float(unsupported())),
        ("int16x8/model_int16.tflite", convert(residual(), (32, 32, 3), rng, int16=True)),
    ]:
        path = os.path.join(here, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        print(name, len(data), "bytes")

    float_io(here)


def float_io(here):
    """Float inputs and outputs around int8 layers (the converter's default I/O): QUANTIZE at the
    input, DEQUANTIZE at the output. Own seed, so the models above do not change."""
    rng = np.random.default_rng(SEED + 1)
    for name, make, n in [("gated", gated, 64), ("activations", activations, 256)]:
        data = convert(make(), (n,), rng, io=tf.float32)
        d = os.path.join(here, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "model_int8.tflite"), "wb") as f:
            f.write(data)
        interp = runtime.Interpreter.from_bytes(data)
        m = tflite.Model.GetRootAsModel(data, 0)
        sg = m.Subgraphs(0)
        q = sg.Tensors(sg.Operators(0).Outputs(0)).Quantization()
        scale, zp = np.float32(q.Scale(0)), int(q.ZeroPoint(0))
        steps = np.arange(-128, 128, dtype=np.float32) - zp
        # Every int8 value of the input's QUANTIZE, then every tie between two of them (TFLite
        # rounds ties away from zero), then noise.
        xs = [np.resize(steps * scale, (1, n)), np.resize((steps + 0.5) * scale, (1, n))]
        xs = [x.astype(np.float32) for x in xs]
        xs += [rng.normal(0.0, 1.5, (1, n)).astype(np.float32) for _ in range(19)]
        ys = []
        for x in xs:
            interp.reset()
            interp.set_input(x, 0)
            interp.invoke()
            ys.append(interp.get_output(0).copy())
        iname, oname = io_names(data)
        np.savez(os.path.join(d, "test_float.npz"), **{iname: np.stack(xs)})
        np.savez(os.path.join(d, "tflm_float.npz"), **{oname: np.stack(ys)})
        ties = np.sum((xs[1] / scale) % 1 == 0.5)
        print(name, iname, oname, len(data), "bytes;", ties, "exact ties in sample 1")


if __name__ == "__main__":
    main()
