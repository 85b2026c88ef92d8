"""The data path of Segscope's engine, in numpy: its seeded generator (mulberry32), the letterbox onto a
grey square with labels padded as void, the augmentations (scale and shift, rotation, flip, HSV jitter),
VOC-layout reading (PIL reads palette PNGs as indices) and the input normalisations. Mirrors
src/shared/random.ts, src/shared/letterbox.ts and src/main/engine/data/augment.ts. Runs in the PyTorch
worker."""

import math
import os

import numpy as np
from PIL import Image

LETTERBOX_GREY = 128
VOID = 255
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)
_M32 = 0xFFFFFFFF


def _imul(a, b):
    return (a * b) & _M32


def rng(seed):
    """Segscope's mulberry32: uniform numbers in [0, 1) from `seed`, the same stream as src/shared/random.ts."""
    state = [seed & _M32]

    def next_value():
        state[0] = (state[0] + 0x6D2B79F5) & _M32
        t = state[0]
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & _M32
        return ((t ^ (t >> 14)) & _M32) / 4294967296

    return next_value


def js_round(x):
    """JavaScript's Math.round: halves go up."""
    return np.floor(np.asarray(x) + 0.5)


def shuffled(ids, random):
    """`ids` shuffled as the engine shuffles an epoch (Fisher–Yates from the end)."""
    order = list(ids)
    for i in range(len(order) - 1, 0, -1):
        j = math.floor(random() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


def letterbox(src_w, src_h, size, zoom=1.0, jitter=(0.0, 0.0)):
    scale = size / max(src_w, src_h) * zoom
    width = max(1, int(js_round(src_w * scale)))
    height = max(1, int(js_round(src_h * scale)))
    left = int(js_round((size - width) / 2 * (1 + jitter[0])))
    top = int(js_round((size - height) / 2 * (1 + jitter[1])))
    return width, height, left, top


NO_AUGMENT = {"scale": False, "rotate": False, "flip": False, "hsv": False}


def letterbox_pair(image, label, size, aug=NO_AUGMENT, random=None):
    """(image `[size, size, 3]` uint8, label `[size, size]` uint8 or None), as augment.ts's letterboxPair."""
    h, w = image.shape[:2]
    zoom = 0.75 + 0.5 * random() if aug["scale"] else 1.0
    jitter = (random() * 2 - 1, random() * 2 - 1) if aug["scale"] else (0.0, 0.0)
    bw, bh, left, top = letterbox(w, h, size, zoom, jitter)
    flip = aug["flip"] and random() < 0.5
    angle = (random() * 2 - 1) * 10 * math.pi / 180 if aug["rotate"] else 0.0
    cos, sin = math.cos(angle), math.sin(angle)
    cx, cy = left + bw / 2, top + bh / 2
    sx, sy = w / bw, h / bh
    v, u = np.mgrid[0:size, 0:size].astype(np.float64)
    du, dv = u + 0.5 - cx, v + 0.5 - cy
    px = cos * du + sin * dv + bw / 2
    py = -sin * du + cos * dv + bh / 2
    if flip:
        px = bw - px
    src_x, src_y = px * sx - 0.5, py * sy - 0.5
    outside = (src_x < -0.5) | (src_y < -0.5) | (src_x > w - 0.5) | (src_y > h - 0.5)
    x0 = np.clip(np.floor(src_x), 0, None).astype(np.int64)
    y0 = np.clip(np.floor(src_y), 0, None).astype(np.int64)
    x0c, y0c = np.minimum(x0, w - 1), np.minimum(y0, h - 1)
    x1, y1 = np.minimum(w - 1, x0c + 1), np.minimum(h - 1, y0c + 1)
    fx = np.clip(src_x - x0, 0, 1)[..., None]
    fy = np.clip(src_y - y0, 0, 1)[..., None]
    img = image.astype(np.float64)
    a, b, c, d = img[y0c, x0c], img[y0c, x1], img[y1, x0c], img[y1, x1]
    top_row = a + (b - a) * fx
    bottom_row = c + (d - c) * fx
    out = js_round(top_row + (bottom_row - top_row) * fy).clip(0, 255).astype(np.uint8)
    out[outside] = LETTERBOX_GREY
    out_label = None
    if label is not None:
        nx = np.clip(js_round(src_x), 0, w - 1).astype(np.int64)
        ny = np.clip(js_round(src_y), 0, h - 1).astype(np.int64)
        out_label = label[ny, nx].astype(np.uint8)
        out_label[outside] = VOID
    if aug["hsv"]:
        out = jitter_hsv(out, (random() - 0.5) * 0.1, 0.7 + 0.6 * random(), 0.7 + 0.6 * random())
    return out, out_label


def jitter_hsv(rgb, dh, s_mul, v_mul):
    """Hue shifted by `dh` turns, saturation and value scaled, as augment.ts's jitterHsv."""
    x = rgb.astype(np.float64) / 255
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    mx, mn = x.max(-1), x.min(-1)
    delta = mx - mn
    safe = np.where(delta > 0, delta, 1)
    hue = np.where(mx == r, ((g - b) / safe + 6) % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4))
    hue = np.where(delta > 0, hue / 6, 0)
    sat = np.where(mx == 0, 0, np.minimum(1, delta / np.where(mx == 0, 1, mx) * s_mul))
    val = np.minimum(1, mx * v_mul)
    hue = ((hue + dh) % 1 + 1) % 1
    h6 = hue * 6
    sector = np.floor(h6).astype(np.int64) % 6
    f = h6 - np.floor(h6)
    p, q, t = val * (1 - sat), val * (1 - sat * f), val * (1 - sat * (1 - f))
    table = np.stack([
        np.stack([val, t, p], -1), np.stack([q, val, p], -1), np.stack([p, val, t], -1),
        np.stack([p, q, val], -1), np.stack([t, p, val], -1), np.stack([val, p, q], -1),
    ])
    chosen = np.take_along_axis(table, sector[None, ..., None].repeat(3, -1), 0)[0]
    return js_round(chosen * 255).clip(0, 255).astype(np.uint8)


def normalize(images, normalization):
    """`[batch, h, w, 3]` RGB 0..255 as model input (float32, same layout): 'zero-one' or 'imagenet-caffe'."""
    x = images.astype(np.float32)
    if normalization == "zero-one":
        return x / 255
    if normalization == "imagenet-caffe":
        return x[..., ::-1] - CAFFE_MEAN_BGR
    raise ValueError(f"unknown normalization {normalization!r}")


class Samples:
    """Decoded samples of a run's dataset (config.json's datasetRoot, labelDir, imageFiles, colormap), cached."""

    def __init__(self, job):
        self.root = job["datasetRoot"]
        self.label_dir = job["labelDir"]
        self.files = job.get("imageFiles", {})
        colormap = np.array(job["colormap"], np.int64).reshape(-1, 3)
        self.rgb_to_index = {tuple(c): i for i, c in reversed(list(enumerate(colormap.tolist())))}
        self.cache = {}

    def get(self, sample_id):
        if sample_id in self.cache:
            return self.cache[sample_id]
        image_path = os.path.join(self.root, "JPEGImages", self.files.get(sample_id, f"{sample_id}.jpg"))
        label_path = os.path.join(self.root, self.label_dir, f"{sample_id}.png")
        try:
            with Image.open(image_path) as im:
                image = np.asarray(im.convert("RGB"))
        except OSError as err:
            raise ValueError(f"{image_path}: is not a readable image ({err})") from err
        try:
            with Image.open(label_path) as lm:
                label = self._indices(lm, label_path)
        except OSError as err:
            raise ValueError(f"{label_path}: cannot be read ({err})") from err
        if label.shape != image.shape[:2]:
            raise ValueError(
                f"{label_path}: the label is {label.shape[1]}×{label.shape[0]} but its image is "
                f"{image.shape[1]}×{image.shape[0]}"
            )
        self.cache[sample_id] = (image, label)
        return image, label

    def _indices(self, im, path):
        if im.mode in ("P", "L"):
            return np.asarray(im).astype(np.uint8)
        rgb = np.asarray(im.convert("RGB")).astype(np.int64)
        keys = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        out = np.full(keys.shape, VOID, np.uint8)
        for (r, g, b), i in self.rgb_to_index.items():
            out[keys == ((r << 16) | (g << 8) | b)] = i
        return out
