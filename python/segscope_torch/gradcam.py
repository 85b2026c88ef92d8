"""Grad-CAM, Grad-CAM++ and HiResCAM of a Segscope checkpoint's PyTorch twin, as pytorch-grad-cam defines
them for segmentation: the target for class c is the sum of the class-c logits over the pixels predicted
as c (the mask taken without gradients), and each map is ReLU of the weighted sum of a layer's activations.
For cross-checks against Segscope's engine: `python -m segscope_torch.gradcam SPEC.json`. The spec names
the checkpoint, the input (raw float32 NHWC `[1, h, w, 3]`, already normalised), the layers, the classes
and the methods; one JSON line gives every map at its layer's resolution before normalisation (`raw`), and
as the user sees it (`cam`): upsampled bilinearly (half-pixel centres) to the input and scaled to 0..1, as
pytorch-grad-cam's scale_cam_image does (dividing by the range plus 1e-7, whose effect `dimmed` gives). Runs in a PyTorch process started by a test."""

import json
import sys

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import load_model
from .layout import images_to_torch

# pytorch-grad-cam's guard against a zero denominator in Grad-CAM++.
_EPS = 1e-7


def _weights(method, activations, grads):
    """Per-channel weights `[1, C, 1, 1]`, or per position `[1, C, h, w]` for HiResCAM."""
    if method == "gradcam":
        return grads.mean(dim=(2, 3), keepdim=True)
    if method == "hirescam":
        return grads
    if method == "gradcampp":
        g2 = grads ** 2
        g3 = g2 * grads
        sum_a = activations.sum(dim=(2, 3), keepdim=True)
        alpha = g2 / (2 * g2 + sum_a * g3 + _EPS)
        alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
        return (alpha * torch.relu(grads)).sum(dim=(2, 3), keepdim=True)
    raise ValueError(f"unknown CAM method {method!r}")


def cams(spec):
    model, _doc = load_model(spec["checkpoint"])
    model.eval()
    _, h, w, c = spec["shape"]
    x = images_to_torch(torch.from_numpy(np.fromfile(spec["x"], np.float32).reshape(1, h, w, c)))
    layers = spec["layers"]
    model.taps = set(layers)
    out = []
    for cls in spec["classes"]:
        logits = model(x)
        for name in layers:
            model.tapped[name].retain_grad()
        mask = (logits.detach().argmax(dim=1) == cls).float()
        target = (logits[:, cls] * mask).sum()
        model.zero_grad()
        target.backward()
        for name in layers:
            activations = model.tapped[name].detach()
            grads = model.tapped[name].grad
            for method in spec["methods"]:
                raw = torch.relu((_weights(method, activations, grads) * activations).sum(dim=1))[0]
                shown = F.interpolate(raw[None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
                shown = shown - shown.min()
                spread = shown.max().item()
                shown = shown / (_EPS + spread)
                # `dimmed`: how much the guard scaled the map down, spread / (spread + 1e-7).
                out.append({"class": cls, "layer": name, "method": method, "pixels": int(mask.sum().item()),
                            "raw": raw.reshape(-1).tolist(), "cam": shown.reshape(-1).tolist(),
                            "dimmed": spread / (spread + _EPS)})
    print(json.dumps({"cams": out}), flush=True)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        cams(json.load(f))
