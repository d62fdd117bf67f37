"""LeNet-5 in PyTorch, trained briefly on scikit-learn's 8x8 digits and exported to ONNX by
torch.onnx.export's TorchScript exporter (dynamo=False, opset 13), with seeded test and
calibration sets. Versions are pinned in requirements.txt.

The model is written the way PyTorch users write it: nn.Conv2d / nn.MaxPool2d / nn.Linear and
`x.view(x.size(0), -1)` before the classifier, so the exporter writes its own patterns: a shape
subgraph (Shape, Gather, Unsqueeze, Concat) feeding Reshape, and Gemm with transB=1.

The digits (8x8, pixels 0..16) are divided by 16, scaled up 3x (nearest) to 24x24 and centred
in LeNet-5's 32x32 input with a 4-pixel zero border, as MNIST's 20x20 digits sit in its field.
The split is the one of models/digits-cnn (models/make_models.py): the 1,797 digits permuted
with numpy.random.default_rng(0), first 359 test, the other 1,438 training.

    python -m venv /tmp/tov && /tmp/tov/bin/pip install -r requirements.txt
    /tmp/tov/bin/python make_model.py
"""

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

SEED = 20261205
HERE = os.path.dirname(os.path.abspath(__file__))
N_TEST = 20
N_CALIB = 32


class LeNet5(nn.Module):
    """LeCun et al. 1998: C1 conv5x5 6, S2 pool, C3 conv5x5 16, S4 pool, C5 120, F6 84, 10.

    C3 is fully connected (no partial connection table) and the pools are max pools with ReLU,
    as in most PyTorch versions of the network.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def digits():
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    x = np.kron(x, np.ones((1, 1, 3, 3), np.float32))
    x = np.pad(x, ((0, 0), (0, 0), (4, 4), (4, 4)))
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(x))
    n_test = int(round(0.2 * len(x)))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    return x[train], y[train], x[test], y[test]


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    xtr, ytr, xte, yte = digits()
    model = LeNet5()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for epoch in range(15):
        model.train()
        order = torch.from_numpy(rng.permutation(len(xt)))
        for i in range(0, len(xt), 32):
            b = order[i : i + 32]
            opt.zero_grad()
            loss = F.cross_entropy(model(xt[b]), yt[b])
            loss.backward()
            opt.step()
        print(f"epoch {epoch}: loss {loss.item():.4f}")
    model.eval()

    path = os.path.join(HERE, "model.onnx")
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, 32, 32),),
        path,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        opset_version=13,
        dynamo=False,
    )
    onnx.checker.check_model(onnx.load(path), full_check=True)

    test_idx = np.sort(rng.choice(len(xte), N_TEST, replace=False))
    calib_idx = np.sort(rng.choice(len(xtr), N_CALIB, replace=False))
    test = xte[test_idx][:, None]
    calib = xtr[calib_idx][:, None]
    np.savez(os.path.join(HERE, "test.npz"), input=test, labels=yte[test_idx])
    np.savez(os.path.join(HERE, "calib.npz"), input=calib)

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = np.concatenate([sess.run(None, {"input": s})[0] for s in xte[:, None]])
    with torch.no_grad():
        want = model(torch.from_numpy(xte)).numpy()
    print("onnxruntime vs torch max abs diff:", float(np.abs(got - want).max()))
    print("float test accuracy (359):", float((got.argmax(1) == yte).mean()))
    print("float accuracy on test.npz (20):", float((got[test_idx].argmax(1) == yte[test_idx]).mean()))
    print("ops:", [n.op_type for n in onnx.load(path).graph.node])
    print("torch", torch.__version__, "onnx", onnx.__version__)


if __name__ == "__main__":
    main()
