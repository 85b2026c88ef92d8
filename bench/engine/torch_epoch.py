"""PyTorch twin of bench/engine/epoch.ts: trains torch_models' twin of a Segscope model for an epoch over
the same images of a VOC-layout folder, with the same letterbox (scale the long side to the input size,
centre on grey 128, labels padded with void 255), the same normalisation, Adam and cross-entropy ignoring
255, at the thread count it is given, and times each phase: data (letterbox and batch), forward, backward,
update. Decoded images are cached between epochs, as Segscope's SampleCache keeps them.

It serves requests so that the Node side can alternate its runs with these: one JSON request per line on
stdin, one JSON answer per line on stdout.
  python3 torch_epoch.py THREADS [--plain]
  --plain: the bench as it was before issue 24 (NCHW tensors), to show what the tuning gains.
  {"op": "setup", "images": [PATH…], "labels": [PATH…]}       decodes and caches the folder's samples
  {"op": "epoch", "model": ID, "size": S, "batch": B, "classes": C}
      → {"ms", "phases": {"data", "forward", "backward", "update"}}
  {"op": "infer", "model": ID, "size": S, "classes": C}  → {"ms"}: one image, inference mode"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import MODELS  # noqa: E402

CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def letterbox(img, label, size):
    w, h = img.size
    scale = size / max(w, h)
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    left, top = round((size - sw) / 2), round((size - sh) / 2)
    box = Image.new('RGB', (size, size), (128, 128, 128))
    box.paste(img.resize((sw, sh), Image.BILINEAR), (left, top))
    lab = np.full((size, size), 255, dtype=np.uint8)
    lab[top:top + sh, left:left + sw] = np.asarray(label.resize((sw, sh), Image.NEAREST))
    return np.asarray(box), lab


class Bench:
    def __init__(self, plain):
        self.plain = plain
        self.samples = []
        self.models = {}

    def setup(self, images, labels):
        self.samples = []
        for ip, lp in zip(images, labels):
            img = Image.open(ip).convert('RGB')
            img.load()
            lab = Image.open(lp)
            lab = lab if lab.mode in ('P', 'L') else lab.convert('L')
            lab.load()
            self.samples.append((img, lab))

    def model(self, mid, classes):
        key = (mid, classes)
        if key not in self.models:
            torch.manual_seed(1)
            build, norm = MODELS[mid]
            m = build(classes)
            if not self.plain:
                m = m.to(memory_format=torch.channels_last)
            self.models[key] = (m, norm, torch.optim.Adam(m.parameters(), lr=1e-3))
        return self.models[key]

    def to_input(self, rgb, norm):
        x = torch.from_numpy(rgb).float()
        if norm == 'zero-one':
            x = x / 255
        else:
            x = x.flip(-1) - torch.from_numpy(CAFFE_MEAN_BGR)
        x = x.permute(0, 3, 1, 2)  # NHWC storage seen as NCHW: channels_last already
        return x.contiguous() if self.plain else x.contiguous(memory_format=torch.channels_last)

    def epoch(self, mid, size, batch, classes):
        model, norm, opt = self.model(mid, classes)
        model.train()
        phases = dict(data=0.0, forward=0.0, backward=0.0, update=0.0)
        for i in range(0, len(self.samples), batch):
            t0 = time.perf_counter()
            pairs = [letterbox(img, lab, size) for img, lab in self.samples[i:i + batch]]
            x = self.to_input(np.stack([p[0] for p in pairs]), norm)
            y = torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.int64))
            t1 = time.perf_counter()
            loss = F.cross_entropy(model(x), y, ignore_index=255)
            t2 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            t3 = time.perf_counter()
            opt.step()
            loss.item()
            t4 = time.perf_counter()
            for k, a, b in (('data', t0, t1), ('forward', t1, t2), ('backward', t2, t3), ('update', t3, t4)):
                phases[k] += (b - a) * 1000
        return {'phases': phases}

    def infer(self, mid, size, classes):
        model, norm, _ = self.model(mid, classes)
        model.eval()
        x = self.to_input(np.full((1, size, size, 3), 100, dtype=np.uint8), norm)
        if self.plain:
            with torch.no_grad():
                model(x).sum().item()
        else:
            with torch.inference_mode():
                model(x).sum().item()
        return {}


def blas_library():
    """The BLAS this process loaded, from its maps (Debian's torch links libblas.so.3: whichever provides it)."""
    with open('/proc/self/maps') as f:
        paths = {line.split()[-1] for line in f if 'blas' in line.lower() and '/' in line}
    return sorted(paths)


def main():
    threads = int(sys.argv[1])
    torch.set_num_threads(threads)
    bench = Bench('--plain' in sys.argv)
    torch.ones(64, 64) @ torch.ones(64, 64)  # loads the BLAS, for blas_library
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'blas': blas_library(),
                      'plain': bench.plain}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        t0 = time.perf_counter()
        if req['op'] == 'setup':
            out = bench.setup(req['images'], req['labels']) or {}
        elif req['op'] == 'epoch':
            out = bench.epoch(req['model'], req['size'], req['batch'], req['classes'])
        elif req['op'] == 'infer':
            out = bench.infer(req['model'], req['size'], req['classes'])
        else:
            raise SystemExit(f"unknown op {req['op']}")
        print(json.dumps({'ms': (time.perf_counter() - t0) * 1000, **out}), flush=True)


if __name__ == '__main__':
    main()
