"""One training step of a Segscope checkpoint on a given batch, for cross-checks against Segscope's engine:
`python -m segscope_torch.step SPEC.json...`. The spec names the checkpoint, the batch (raw float32 NHWC
input, already normalised, and raw int32 labels), the loss terms and the optimiser; the checkpoint after
the step is written to `out` and the loss printed as JSON. Runs in a PyTorch process started by a test."""

import json
import sys

import numpy as np
import torch

from .checkpoint import load_model, save_model
from .layout import images_to_torch
from .losses import make_optimizer
from .train import objective


def main(argv):
    """Runs every spec file named, in one process (torch loads once); one JSON line per spec."""
    for path in argv:
        with open(path) as f:
            step(json.load(f))


def step(spec):
    torch.manual_seed(0)
    model, doc = load_model(spec["checkpoint"])
    b, h, w, c = spec["shape"]
    x = np.fromfile(spec["x"], np.float32).reshape(b, h, w, c)
    y = np.fromfile(spec["y"], np.int32).reshape(b, h, w)
    x = images_to_torch(torch.from_numpy(x))
    y = torch.from_numpy(y.astype(np.int64))
    weights = torch.tensor(spec["classWeights"], dtype=torch.float32) if spec.get("classWeights") else None
    for layer in model.layers.values():
        if layer.class_name == "Dropout":
            layer.config = {**layer.config, "rate": 0.0}
    model.train()
    optimizer = make_optimizer(spec, [p for p in model.parameters()])
    losses = []
    for _ in range(spec.get("steps", 1)):
        optimizer.zero_grad()
        loss = objective(model, model, x, y, weights, spec["dice"], spec["weightDecay"], None)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    save_model(model, doc, spec["out"], {})
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    print(json.dumps({"losses": losses, "params": params, "weights": params + buffers}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
