"""A MobileNetV3-style block in PaddlePaddle, exported to ONNX by paddle2onnx (pinned in
requirements.txt), with seeded test and calibration inputs.

The patterns are Paddle's own: Conv2D (no bias) + BatchNorm2D, Hardswish, a depthwise Conv2D,
a squeeze-excite gate (adaptive average pooling, 1x1 convs, Hardsigmoid, multiply), a 1x1
projection, global pooling, flatten and Linear. Weights are Paddle's seeded initialisation with
random batch-norm statistics: this model tests conversion, not accuracy.

    python -m venv /tmp/pd && /tmp/pd/bin/pip install -r requirements.txt
    /tmp/pd/bin/python make_model.py
"""

import os

import numpy as np
import paddle
import paddle.nn as nn

SEED = 20261204


class Block(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 16, 3, stride=2, padding=1, bias_attr=False)
        self.bn1 = nn.BatchNorm2D(16)
        self.act = nn.Hardswish()
        self.dw = nn.Conv2D(16, 16, 3, padding=1, groups=16, bias_attr=False)
        self.bn2 = nn.BatchNorm2D(16)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.se1 = nn.Conv2D(16, 8, 1)
        self.se2 = nn.Conv2D(8, 16, 1)
        self.gate = nn.Hardsigmoid()
        self.pw = nn.Conv2D(16, 24, 1, bias_attr=False)
        self.bn3 = nn.BatchNorm2D(24)
        self.fc = nn.Linear(24, 10)

    def forward(self, x):
        x = self.act(self.bn1(self.conv(x)))
        x = self.act(self.bn2(self.dw(x)))
        s = self.gate(self.se2(nn.functional.relu(self.se1(self.pool(x)))))
        x = self.bn3(self.pw(x * s))
        x = paddle.flatten(self.pool(x), 1)
        return self.fc(x)


def main():
    paddle.seed(SEED)
    rng = np.random.default_rng(SEED)
    model = Block()
    state = model.state_dict()
    for k, v in state.items():
        if k.endswith("_mean"):
            state[k] = paddle.to_tensor(rng.uniform(-0.2, 0.2, v.shape).astype("float32"))
        elif k.endswith("_variance"):
            state[k] = paddle.to_tensor(rng.uniform(0.5, 1.5, v.shape).astype("float32"))
    model.set_state_dict(state)
    model.eval()
    here = os.path.dirname(os.path.abspath(__file__))
    spec = [paddle.static.InputSpec([1, 3, 32, 32], "float32", "image")]
    paddle.onnx.export(model, os.path.join(here, "model"), input_spec=spec, opset_version=13)
    test = rng.uniform(0.0, 1.0, (20, 1, 3, 32, 32)).astype(np.float32)
    calib = rng.uniform(0.0, 1.0, (32, 1, 3, 32, 32)).astype(np.float32)
    np.savez(os.path.join(here, "test.npz"), image=test)
    np.savez(os.path.join(here, "calib.npz"), image=calib)
    print(paddle.__version__)


if __name__ == "__main__":
    main()
