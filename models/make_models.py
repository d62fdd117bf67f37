#!/usr/bin/env python3
"""Re-create the kiln sample models under models/<name>/ deterministically.

    python3 -m venv /tmp/models-venv
    /tmp/models-venv/bin/pip install -r models/requirements.txt
    /tmp/models-venv/bin/python models/make_models.py            # all three
    /tmp/models-venv/bin/python models/make_models.py digits-cnn # just one

Models written (each folder: model.onnx, test.npz, calib.npz; the READMEs are
hand-written and quote the numbers this script prints):

  digits-mlp   MLP 64-32-10 trained with numpy on scikit-learn's bundled 8x8 digits
  digits-cnn   small CNN (Conv-BN-Relu-MaxPool-Conv-Relu-MaxPool-Gemm), numpy-trained
  ds-cnn-kws   MLPerf Tiny KWS DS-CNN (small) topology with seeded random weights
  (digits-cnn-qdq, onnxruntime's int8 QDQ of digits-cnn, is made by models/make_qdq.py)

No torch, no skl2onnx: graphs are built by hand with onnx.helper (opset 13,
IR version 8), checked with onnx.checker and compared against the numpy
forward pass with onnx.reference.ReferenceEvaluator.

Data layout (docs: /work/shared/DESIGN.md "Data"): test.npz / calib.npz are
keyed by the ONNX input name, arrays [N, *input_shape with batch 1], float32;
test.npz of the classifiers also has `labels` (int64, [N]). calib.npz samples
come from the training split only.
"""

import os

# Single-threaded BLAS: reproducible float summation order, and the build
# machine is small.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import sys  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402
from onnx.reference.op_run import OpRun  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13
IR_VERSION = 8
PRODUCER = "kiln models/make_models.py"

SPLIT_SEED = 0  # digits train/test split
CALIB_SEED = 1  # which train samples go into calib.npz
N_CALIB_DIGITS = 100


# --------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------

def digits_split():
    """Fixed seeded 80/20 split of sklearn's digits (1797 samples).

    Returns X_train, y_train, X_test, y_test, calib_idx (indices into train).
    X is float32 pixels / 16 in [0, 1], shape [n, 64]; y int64.
    """
    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(X))
    n_test = int(round(0.2 * len(X)))  # 359
    test_idx, train_idx = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    calib_idx = np.sort(
        np.random.default_rng(CALIB_SEED).choice(len(train_idx), N_CALIB_DIGITS, replace=False)
    )
    return X[train_idx], y[train_idx], X[test_idx], y[test_idx], calib_idx


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def xent_grad(logits, y):
    """Mean cross-entropy loss and its gradient w.r.t. logits."""
    p = softmax(logits)
    n = len(y)
    loss = -np.log(p[np.arange(n), y] + 1e-12).mean()
    g = p.copy()
    g[np.arange(n), y] -= 1.0
    return loss, g / n


class Adam:
    def __init__(self, params, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
        self.p, self.lr, self.b1, self.b2, self.eps, self.wd = params, lr, b1, b2, eps, wd
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads, decay_keys=()):
        self.t += 1
        for k, g in grads.items():
            if k in decay_keys and self.wd:
                g = g + self.wd * self.p[k]
            self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g * g
            mh = self.m[k] / (1 - self.b1 ** self.t)
            vh = self.v[k] / (1 - self.b2 ** self.t)
            self.p[k] -= self.lr * mh / (np.sqrt(vh) + self.eps)


def init(name, arr):
    return numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name)


# onnx.reference's BatchNormalization-9 (used for opset 9..13) mixes the batch
# statistics into the running ones whenever `momentum` is set -- and the schema
# default (0.9) always sets it -- so it never runs the one-output inference mode
# the spec defines (known bug, onnx/onnx PR #8442). We check our models against
# the spec's inference formula instead, overriding just that operator. (Our BN
# nodes carry no `momentum` attribute: it means nothing at inference.)
class BatchNormalization(OpRun):
    op_domain = ""

    def _run(self, x, scale, bias, mean, var, epsilon=None, momentum=None, training_mode=None):
        assert len(self.output) == 1 and not training_mode, "inference-mode BN only"
        sh = (1, -1) + (1,) * (x.ndim - 2)
        y = (x - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + epsilon) * scale.reshape(sh) + bias.reshape(sh)
        return (y.astype(x.dtype),)


def reference(model):
    return ReferenceEvaluator(model, new_ops=[BatchNormalization])


def make_model(graph):
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
        producer_version="1",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    names = [n.name for n in model.graph.node]
    assert all(names) and len(set(names)) == len(names), names
    return model


def n_params(model):
    return int(sum(np.prod(t.dims) for t in model.graph.initializer))


def run_reference(model, input_name, xs):
    """Run ReferenceEvaluator sample by sample; xs is [N, *input_shape]."""
    sess = reference(model)
    outs = [sess.run(None, {input_name: x})[0] for x in xs]
    return np.stack(outs)


def check_close(ref, ours, what):
    err = np.abs(ref - ours)
    tol = 1e-5 + 1e-4 * np.abs(ref)
    worst = float(err.max())
    assert np.all(err <= tol), f"{what}: ONNX reference vs numpy differ, max abs err {worst}"
    print(f"  {what}: ReferenceEvaluator == numpy forward (max abs err {worst:.2e})")


def save(name, model, test, calib):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    np.savez(os.path.join(d, "test.npz"), **test)
    np.savez(os.path.join(d, "calib.npz"), **calib)
    for f in ("model.onnx", "test.npz", "calib.npz"):
        print(f"  wrote {name}/{f} ({os.path.getsize(os.path.join(d, f))} bytes)")


def conv_out(h, k, s, p0, p1):
    return (h + p0 + p1 - k) // s + 1


# --------------------------------------------------------------------------
# numpy building blocks (NCHW); float64 for training, any dtype for inference
# --------------------------------------------------------------------------

def conv2d(x, w, b=None, stride=1, pads=(0, 0, 0, 0), group=1):
    """ONNX Conv semantics. pads = (top, left, bottom, right)."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    t, l, bo, r = pads
    xp = np.pad(x, ((0, 0), (0, 0), (t, bo), (l, r)))
    oh = conv_out(h, kh, stride, t, bo)
    ow = conv_out(wd, kw, stride, l, r)
    out = np.zeros((n, m, oh, ow), dtype=np.result_type(x, w))
    mg = m // group
    for g in range(group):
        xg = xp[:, g * cg:(g + 1) * cg]
        wg = w[g * mg:(g + 1) * mg]
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]  # n,cg,oh,ow
                out[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, wg[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def conv2d_same3_backward(x, w, dout):
    """Backward of a stride-1, pad-1, 3x3, group-1 conv without bias term."""
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    n, c, h, wd = x.shape
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(3):
        for j in range(3):
            patch = xp[:, :, i:i + h, j:j + wd]
            dw[:, :, i, j] = np.einsum("nmhw,nchw->mc", dout, patch)
            dxp[:, :, i:i + h, j:j + wd] += np.einsum("nmhw,mc->nchw", dout, w[:, :, i, j])
    return dxp[:, :, 1:-1, 1:-1], dw


def maxpool2(x):
    n, c, h, w = x.shape
    win = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    arg = win.argmax(axis=-1)
    return np.take_along_axis(win, arg[..., None], axis=-1)[..., 0], arg


def maxpool2_backward(dout, arg, shape):
    n, c, h, w = shape
    dwin = np.zeros((n, c, h // 2, w // 2, 4), dtype=dout.dtype)
    np.put_along_axis(dwin, arg[..., None], dout[..., None], axis=-1)
    return dwin.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(shape)


def bn_infer(x, scale, bias, mean, var, eps):
    sh = (1, -1, 1, 1)
    return (x - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * scale.reshape(sh) + bias.reshape(sh)


# --------------------------------------------------------------------------
# 1. digits-mlp
# --------------------------------------------------------------------------

def mlp_forward(p, x):
    h = np.maximum(x @ p["fc1_w"].T + p["fc1_b"], 0)
    return h @ p["fc2_w"].T + p["fc2_b"]


def make_digits_mlp():
    print("digits-mlp")
    Xtr, ytr, Xte, yte, calib_idx = digits_split()
    rng = np.random.default_rng(100)
    H = 32
    p = {
        "fc1_w": rng.normal(0, np.sqrt(2 / 64), (H, 64)),
        "fc1_b": np.zeros(H),
        "fc2_w": rng.normal(0, np.sqrt(2 / H), (10, H)),
        "fc2_b": np.zeros(10),
    }
    opt = Adam(p, lr=3e-3, wd=1e-4)
    X, Y = Xtr.astype(np.float64), ytr
    for epoch in range(60):
        perm = rng.permutation(len(X))
        tot = 0.0
        for s in range(0, len(X), 32):
            idx = perm[s:s + 32]
            x, y = X[idx], Y[idx]
            z1 = x @ p["fc1_w"].T + p["fc1_b"]
            h = np.maximum(z1, 0)
            logits = h @ p["fc2_w"].T + p["fc2_b"]
            loss, g = xent_grad(logits, y)
            tot += loss * len(idx)
            dh = g @ p["fc2_w"]
            dz1 = dh * (z1 > 0)
            grads = {
                "fc2_w": g.T @ h, "fc2_b": g.sum(0),
                "fc1_w": dz1.T @ x, "fc1_b": dz1.sum(0),
            }
            opt.step(grads, decay_keys=("fc1_w", "fc2_w"))
        if epoch % 20 == 19:
            print(f"  epoch {epoch + 1}: train loss {tot / len(X):.4f}")

    p32 = {k: v.astype(np.float32) for k, v in p.items()}

    # ONNX: input [N,64] (symbolic batch) -> Gemm -> Relu -> Gemm -> logits [N,10]
    nodes = [
        helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["fc1_out"], name="fc1", transB=1),
        helper.make_node("Relu", ["fc1_out"], ["relu1_out"], name="relu1"),
        helper.make_node("Gemm", ["relu1_out", "fc2.weight", "fc2.bias"], ["logits"], name="fc2", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "digits_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        [init("fc1.weight", p32["fc1_w"]), init("fc1.bias", p32["fc1_b"]),
         init("fc2.weight", p32["fc2_w"]), init("fc2.bias", p32["fc2_b"])],
    )
    graph.doc_string = "MLP 64-32-10 on sklearn digits (pixels/16). Output: logits."
    model = make_model(graph)

    test_x = Xte[:, None, :]  # [N,1,64]
    calib_x = Xtr[calib_idx][:, None, :]
    ours = mlp_forward(p32, Xte)[:, None, :]
    ref = run_reference(model, "input", test_x)
    check_close(ref, ours, "digits-mlp")
    # the symbolic batch works too: whole test set as one batch
    ref_batch = reference(model).run(None, {"input": Xte})[0]
    check_close(ref_batch, ours[:, 0], "digits-mlp (batch N)")

    acc_train = float((mlp_forward(p32, Xtr).argmax(1) == ytr).mean())
    acc = float((ref[:, 0].argmax(1) == yte).mean())
    params = n_params(model)
    macs = 64 * H + H * 10
    print(f"  params {params}, MACs {macs}")
    print(f"  float accuracy: train {acc_train:.4f}, test {acc:.4f} ({int(round(acc * len(yte)))}/{len(yte)})")
    save("digits-mlp", model,
         {"input": test_x.astype(np.float32), "labels": yte.astype(np.int64)},
         {"input": calib_x.astype(np.float32)})


# --------------------------------------------------------------------------
# 2. digits-cnn
# --------------------------------------------------------------------------

BN_EPS = 1e-5


def cnn_forward(p, x):
    """Inference forward, x [N,1,8,8] -> logits [N,10]."""
    z = conv2d(x, p["conv1_w"], None, pads=(1, 1, 1, 1))
    z = bn_infer(z, p["bn1_scale"], p["bn1_bias"], p["bn1_mean"], p["bn1_var"], BN_EPS)
    z = np.maximum(z, 0)
    z, _ = maxpool2(z)
    z = conv2d(z, p["conv2_w"], p["conv2_b"], pads=(1, 1, 1, 1))
    z = np.maximum(z, 0)
    z, _ = maxpool2(z)
    z = z.reshape(len(z), -1)
    return z @ p["fc_w"].T + p["fc_b"]


def make_digits_cnn():
    print("digits-cnn")
    Xtr, ytr, Xte, yte, calib_idx = digits_split()
    rng = np.random.default_rng(200)
    C1, C2 = 8, 16
    p = {
        "conv1_w": rng.normal(0, np.sqrt(2 / 9), (C1, 1, 3, 3)),  # no bias: BN follows
        "bn1_scale": np.ones(C1),
        "bn1_bias": np.zeros(C1),
        "conv2_w": rng.normal(0, np.sqrt(2 / (C1 * 9)), (C2, C1, 3, 3)),
        "conv2_b": np.zeros(C2),
        "fc_w": rng.normal(0, np.sqrt(1 / (C2 * 4)), (10, C2 * 4)),
        "fc_b": np.zeros(10),
    }
    run_mean, run_var = np.zeros(C1), np.ones(C1)
    opt = Adam(p, lr=3e-3, wd=1e-4)
    X = Xtr.astype(np.float64).reshape(-1, 1, 8, 8)
    epochs, bs = 30, 32
    for epoch in range(epochs):
        if epoch == 20:
            opt.lr = 1e-3
        perm = rng.permutation(len(X))
        tot = 0.0
        for s in range(0, len(X), bs):
            idx = perm[s:s + bs]
            x, y = X[idx], ytr[idx]
            n = len(idx)
            # forward (BN in training mode: batch statistics)
            c1 = conv2d(x, p["conv1_w"], None, pads=(1, 1, 1, 1))  # n,8,8,8
            mu = c1.mean(axis=(0, 2, 3))
            var = c1.var(axis=(0, 2, 3))
            cnt = n * 64
            run_mean = 0.9 * run_mean + 0.1 * mu
            run_var = 0.9 * run_var + 0.1 * var * cnt / (cnt - 1)
            inv = 1.0 / np.sqrt(var + BN_EPS)
            xhat = (c1 - mu.reshape(1, -1, 1, 1)) * inv.reshape(1, -1, 1, 1)
            b1 = xhat * p["bn1_scale"].reshape(1, -1, 1, 1) + p["bn1_bias"].reshape(1, -1, 1, 1)
            r1 = np.maximum(b1, 0)
            m1, arg1 = maxpool2(r1)  # n,8,4,4
            c2 = conv2d(m1, p["conv2_w"], p["conv2_b"], pads=(1, 1, 1, 1))  # n,16,4,4
            r2 = np.maximum(c2, 0)
            m2, arg2 = maxpool2(r2)  # n,16,2,2
            f = m2.reshape(n, -1)
            logits = f @ p["fc_w"].T + p["fc_b"]
            loss, g = xent_grad(logits, y)
            tot += loss * n
            # backward
            grads = {"fc_w": g.T @ f, "fc_b": g.sum(0)}
            dm2 = (g @ p["fc_w"]).reshape(m2.shape)
            dr2 = maxpool2_backward(dm2, arg2, r2.shape)
            dc2 = dr2 * (c2 > 0)
            grads["conv2_b"] = dc2.sum(axis=(0, 2, 3))
            dm1, grads["conv2_w"] = conv2d_same3_backward(m1, p["conv2_w"], dc2)
            dr1 = maxpool2_backward(dm1, arg1, r1.shape)
            db1 = dr1 * (b1 > 0)
            grads["bn1_scale"] = (db1 * xhat).sum(axis=(0, 2, 3))
            grads["bn1_bias"] = db1.sum(axis=(0, 2, 3))
            dxhat = db1 * p["bn1_scale"].reshape(1, -1, 1, 1)
            dc1 = (inv.reshape(1, -1, 1, 1) / cnt) * (
                cnt * dxhat
                - dxhat.sum(axis=(0, 2, 3), keepdims=True)
                - xhat * (dxhat * xhat).sum(axis=(0, 2, 3), keepdims=True)
            )
            _, grads["conv1_w"] = conv2d_same3_backward(x, p["conv1_w"], dc1)
            opt.step(grads, decay_keys=("conv1_w", "conv2_w", "fc_w"))
        if epoch % 5 == 4:
            print(f"  epoch {epoch + 1}: train loss {tot / len(X):.4f}")

    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    p32["bn1_mean"] = run_mean.astype(np.float32)
    p32["bn1_var"] = run_var.astype(np.float32)
    print("  BN running mean", np.round(p32["bn1_mean"], 3))
    print("  BN running var ", np.round(p32["bn1_var"], 3))

    nodes = [
        helper.make_node("Conv", ["input", "conv1.weight"], ["conv1_out"], name="conv1",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("BatchNormalization",
                         ["conv1_out", "bn1.scale", "bn1.bias", "bn1.running_mean", "bn1.running_var"],
                         ["bn1_out"], name="bn1", epsilon=BN_EPS),
        helper.make_node("Relu", ["bn1_out"], ["relu1_out"], name="relu1"),
        helper.make_node("MaxPool", ["relu1_out"], ["pool1_out"], name="pool1",
                         kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["pool1_out", "conv2.weight", "conv2.bias"], ["conv2_out"], name="conv2",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Relu", ["conv2_out"], ["relu2_out"], name="relu2"),
        helper.make_node("MaxPool", ["relu2_out"], ["pool2_out"], name="pool2",
                         kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pool2_out"], ["flatten_out"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flatten_out", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "digits_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        [init("conv1.weight", p32["conv1_w"]),
         init("bn1.scale", p32["bn1_scale"]), init("bn1.bias", p32["bn1_bias"]),
         init("bn1.running_mean", p32["bn1_mean"]), init("bn1.running_var", p32["bn1_var"]),
         init("conv2.weight", p32["conv2_w"]), init("conv2.bias", p32["conv2_b"]),
         init("fc.weight", p32["fc_w"]), init("fc.bias", p32["fc_b"])],
    )
    graph.doc_string = "Small CNN on sklearn digits (pixels/16, 1x8x8). Output: logits."
    model = make_model(graph)

    test_x = Xte.reshape(-1, 1, 1, 8, 8)
    calib_x = Xtr[calib_idx].reshape(-1, 1, 1, 8, 8)
    ours = cnn_forward(p32, Xte.reshape(-1, 1, 8, 8))[:, None, :]
    ref = run_reference(model, "input", test_x)
    check_close(ref, ours, "digits-cnn")

    acc_train = float((cnn_forward(p32, Xtr.reshape(-1, 1, 8, 8)).argmax(1) == ytr).mean())
    acc = float((ref[:, 0].argmax(1) == yte).mean())
    params = n_params(model)
    macs = C1 * 64 * 9 + C2 * 16 * C1 * 9 + C2 * 4 * 10
    print(f"  params {params} (initializer elements, incl. BN running stats), MACs {macs}")
    print(f"  float accuracy: train {acc_train:.4f}, test {acc:.4f} ({int(round(acc * len(yte)))}/{len(yte)})")
    save("digits-cnn", model,
         {"input": test_x.astype(np.float32), "labels": yte.astype(np.int64)},
         {"input": calib_x.astype(np.float32)})


# --------------------------------------------------------------------------
# 3. ds-cnn-kws (random weights)
# --------------------------------------------------------------------------

KWS_F = 64
KWS_BLOCKS = 4
KWS_CLASSES = 12
# TF "same" padding for 10x4 stride 2 on 49x10: out 25x5, pad H 4/5, W 1/1
KWS_CONV1_PADS = (4, 1, 5, 1)  # top, left, bottom, right


def mfcc_like(rng, n):
    """Random [n,1,49,10] float64 inputs with some MFCC-like structure, so that
    samples differ from one another (not just iid noise, which the final
    average pool would wash out): per-sample gain, per-coefficient offsets, a
    slowly varying energy envelope over the 49 frames, plus white noise."""
    gain = rng.uniform(0.5, 2.0, (n, 1, 1, 1))
    offsets = rng.normal(0.0, 1.0, (n, 1, 1, 10))
    walk = np.cumsum(rng.normal(0.0, 1.0, (n, 1, 49, 1)), axis=2)
    walk = (walk - walk.mean(axis=2, keepdims=True)) / (walk.std(axis=2, keepdims=True) + 1e-6)
    loading = rng.normal(0.0, 1.0, (n, 1, 1, 10))
    noise = rng.normal(0.0, 0.5, (n, 1, 49, 10))
    return gain * (offsets + walk * loading + noise)


def kws_layers():
    """(name, kind) list of conv layers, in order."""
    layers = [("conv1", "conv")]
    for i in range(1, KWS_BLOCKS + 1):
        layers += [(f"dw{i}", "dw"), (f"pw{i}", "pw")]
    return layers


def kws_forward(p, x, eps=1e-3, collect=None):
    z = x
    for name, kind in kws_layers():
        if kind == "conv":
            z = conv2d(z, p[f"{name}.weight"], p[f"{name}.bias"], stride=2, pads=KWS_CONV1_PADS)
        elif kind == "dw":
            z = conv2d(z, p[f"{name}.weight"], p[f"{name}.bias"], pads=(1, 1, 1, 1), group=KWS_F)
        else:
            z = conv2d(z, p[f"{name}.weight"], p[f"{name}.bias"])
        if collect is not None:
            # calibrating BN: record the pre-BN statistics, then normalise with them
            collect[name] = (z.mean(axis=(0, 2, 3)), z.var(axis=(0, 2, 3)))
            p[f"{name}_bn.running_mean"] = collect[name][0].astype(z.dtype)
            p[f"{name}_bn.running_var"] = collect[name][1].astype(z.dtype)
        z = bn_infer(z, p[f"{name}_bn.scale"], p[f"{name}_bn.bias"],
                     p[f"{name}_bn.running_mean"], p[f"{name}_bn.running_var"], eps)
        z = np.maximum(z, 0)
    z = z.mean(axis=(2, 3))  # AveragePool 25x5 -> [N,64]
    logits = z @ p["fc.weight"].T + p["fc.bias"]
    return softmax(logits)


def make_ds_cnn_kws():
    print("ds-cnn-kws")
    F = KWS_F
    eps = 1e-3  # Keras BatchNormalization default
    rng = np.random.default_rng(300)
    p = {}

    def he(shape, fan_in):
        return rng.normal(0, np.sqrt(2.0 / fan_in), shape)

    for name, kind in kws_layers():
        if kind == "conv":
            p[f"{name}.weight"] = he((F, 1, 10, 4), 40)
        elif kind == "dw":
            p[f"{name}.weight"] = he((F, 1, 3, 3), 9)
        else:
            p[f"{name}.weight"] = he((F, F, 1, 1), F)
        p[f"{name}.bias"] = rng.normal(0, 0.05, F)
        p[f"{name}_bn.scale"] = rng.uniform(0.6, 1.4, F)
        p[f"{name}_bn.bias"] = rng.normal(0.1, 0.2, F)
    p["fc.weight"] = rng.normal(0, 3.0 / np.sqrt(F), (KWS_CLASSES, F))  # peakier softmax
    p["fc.bias"] = rng.normal(0, 0.05, KWS_CLASSES)

    # Realistic BN running statistics: measure each layer's pre-BN mean/var on
    # 256 random MFCC-like inputs (a seed used for nothing else), then jitter
    # them a little so they are not exactly the batch statistics.
    stats_x = mfcc_like(rng, 256)
    kws_forward(p, stats_x, eps, collect={})
    for name, _ in kws_layers():
        m = p[f"{name}_bn.running_mean"]
        v = p[f"{name}_bn.running_var"]
        p[f"{name}_bn.running_mean"] = m + rng.normal(0, 0.05, F) * np.sqrt(v)
        p[f"{name}_bn.running_var"] = v * rng.uniform(0.9, 1.1, F)

    p32 = {k: v.astype(np.float32) for k, v in p.items()}

    nodes, inits = [], []
    prev = "input"
    for name, kind in kws_layers():
        if kind == "conv":
            # ONNX pads = [x1_begin, x2_begin, x1_end, x2_end] = [top, left, bottom, right]
            attrs = dict(kernel_shape=[10, 4], strides=[2, 2], pads=list(KWS_CONV1_PADS))
        elif kind == "dw":
            attrs = dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], group=F)
        else:
            attrs = dict(kernel_shape=[1, 1], strides=[1, 1], pads=[0, 0, 0, 0])
        nodes.append(helper.make_node("Conv", [prev, f"{name}.weight", f"{name}.bias"], [f"{name}_out"],
                                      name=name, **attrs))
        nodes.append(helper.make_node(
            "BatchNormalization",
            [f"{name}_out", f"{name}_bn.scale", f"{name}_bn.bias", f"{name}_bn.running_mean",
             f"{name}_bn.running_var"],
            [f"{name}_bn_out"], name=f"{name}_bn", epsilon=eps))
        nodes.append(helper.make_node("Relu", [f"{name}_bn_out"], [f"{name}_relu_out"], name=f"{name}_relu"))
        prev = f"{name}_relu_out"
        for suffix in (".weight", ".bias", "_bn.scale", "_bn.bias", "_bn.running_mean", "_bn.running_var"):
            inits.append(init(name + suffix, p32[name + suffix]))
    nodes += [
        helper.make_node("AveragePool", [prev], ["avgpool_out"], name="avgpool",
                         kernel_shape=[25, 5], strides=[25, 5]),
        helper.make_node("Flatten", ["avgpool_out"], ["flatten_out"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flatten_out", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
    ]
    inits += [init("fc.weight", p32["fc.weight"]), init("fc.bias", p32["fc.bias"])]
    graph = helper.make_graph(
        nodes, "ds_cnn_kws",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 49, 10])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, KWS_CLASSES])],
        inits,
    )
    graph.doc_string = ("MLPerf Tiny KWS DS-CNN (small) topology, NCHW 1x1x49x10 MFCC input. "
                        "RANDOM WEIGHTS: for latency, size and device-vs-host checks only.")
    model = make_model(graph)

    data_rng = np.random.default_rng(301)
    test_x = mfcc_like(data_rng, 20)[:, None].astype(np.float32)
    calib_x = mfcc_like(data_rng, 32)[:, None].astype(np.float32)
    ours = kws_forward(p32, test_x[:, 0], eps)[:, None, :]
    ref = run_reference(model, "input", test_x)
    check_close(ref, ours, "ds-cnn-kws")

    # parameters / MACs
    params = n_params(model)
    trainable = params - 2 * F * (1 + 2 * KWS_BLOCKS)  # minus BN running mean/var
    oh = conv_out(49, 10, 2, 4, 5)
    ow = conv_out(10, 4, 2, 1, 1)
    assert (oh, ow) == (25, 5)
    macs_conv1 = oh * ow * F * 10 * 4
    macs_dw = oh * ow * F * 9
    macs_pw = oh * ow * F * F
    macs_fc = F * KWS_CLASSES
    macs = macs_conv1 + KWS_BLOCKS * (macs_dw + macs_pw) + macs_fc
    print(f"  params {params} initializer elements ({trainable} trainable + "
          f"{params - trainable} BN running stats)")
    print(f"  MACs {macs} (conv1 {macs_conv1}, per block dw {macs_dw} + pw {macs_pw}, fc {macs_fc})")
    top = ref[:, 0].argmax(1)
    print(f"  probs: max per sample mean {ref[:, 0].max(1).mean():.3f}, argmax histogram "
          f"{np.bincount(top, minlength=KWS_CLASSES).tolist()}")
    save("ds-cnn-kws", model, {"input": test_x}, {"input": calib_x})


MAKERS = {
    "digits-mlp": make_digits_mlp,
    "digits-cnn": make_digits_cnn,
    "ds-cnn-kws": make_ds_cnn_kws,
}

if __name__ == "__main__":
    which = sys.argv[1:] or list(MAKERS)
    for w in which:
        if w not in MAKERS:
            sys.exit(f"unknown model {w!r}; choose from {', '.join(MAKERS)}")
    print(f"numpy {np.__version__}, onnx {onnx.__version__}")
    for w in which:
        MAKERS[w]()
