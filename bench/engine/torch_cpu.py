"""PyTorch twin of bench/engine/cpu.ts: the same unet-vgg16 (torch_unet_vgg16.UNetVgg16), timed the same way
at the thread count it is given. It serves requests so that the Node side can alternate its own runs with
these (a busy machine then slows both alike): one JSON request per line on stdin, one JSON answer per line
on stdout, each with the milliseconds of the work asked for.

It runs as fast as this PyTorch gets on the CPU (issue 24): the model and its inputs channels_last (oneDNN's
blocked convolutions without a layout change around each), inference under inference_mode, and the Node side
drops the machine's OPENBLAS_* pins from this process's environment. --plain runs it as the bench did before
(NCHW, no_grad, the inherited environment), to show what that gains.

Usage: python3 torch_cpu.py THREADS [--plain]
  {"op": "infer", "size": S}                          inference of one image
  {"op": "train", "size": S, "batch": B}              one Adam step with cross-entropy ignoring 255
  {"op": "folder", "size": S, "in": DIR, "out": DIR}  decode, letterbox, forward, softmax, crop, resize to
                                                       the image, argmax, write a palette PNG: every image"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_unet_vgg16 import UNetVgg16  # noqa: E402

CLASSES = 21
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def voc_palette():
    pal = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal += [r, g, b]
    return pal


class Bench:
    def __init__(self, plain):
        torch.manual_seed(1)
        self.plain = plain
        self.model = UNetVgg16(CLASSES)
        if not plain:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.inputs = {}
        self.batches = {}
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-4)
        self.palette = voc_palette()

    def layout(self, x):
        return x.contiguous() if self.plain else x.contiguous(memory_format=torch.channels_last)

    def no_grad(self):
        return torch.no_grad() if self.plain else torch.inference_mode()

    def infer(self, size):
        if size not in self.inputs:
            self.inputs[size] = self.layout(torch.randn(1, 3, size, size) * 50)
        x = self.inputs[size]
        self.model.eval()
        with self.no_grad():
            self.model(x).sum().item()

    def train(self, size, batch):
        if (size, batch) not in self.batches:
            y = torch.randint(0, CLASSES, (batch, size, size))
            y[torch.rand(batch, size, size) < 0.05] = 255
            self.batches[(size, batch)] = (self.layout(torch.randn(batch, 3, size, size) * 50), y)
        x, y = self.batches[(size, batch)]
        self.model.train()
        self.opt.zero_grad()
        loss = F.cross_entropy(self.model(x), y, ignore_index=255)
        loss.backward()
        self.opt.step()
        loss.item()

    def folder(self, size, in_dir, out_dir):
        self.model.eval()
        os.makedirs(out_dir, exist_ok=True)
        for name in sorted(f for f in os.listdir(in_dir) if f.lower().endswith(('.jpg', '.jpeg', '.png'))):
            img = Image.open(os.path.join(in_dir, name)).convert('RGB')
            w, h = img.size
            scale = size / max(w, h)
            sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
            left, top = round((size - sw) / 2), round((size - sh) / 2)
            box = Image.new('RGB', (size, size), (128, 128, 128))
            box.paste(img.resize((sw, sh), Image.BILINEAR), (left, top))
            x = np.asarray(box, dtype=np.float32)[:, :, ::-1] - CAFFE_MEAN_BGR
            x = self.layout(torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None])
            with self.no_grad():
                probs = torch.softmax(self.model(x), 1)[:, :, top:top + sh, left:left + sw]
                full = F.interpolate(probs, size=(h, w), mode='bilinear', align_corners=False)
                labels = full.argmax(1)[0].to(torch.uint8).numpy()
            out = Image.fromarray(labels, mode='P')
            out.putpalette(self.palette)
            out.save(os.path.join(out_dir, os.path.splitext(name)[0] + '.png'))


def main():
    torch.set_num_threads(int(sys.argv[1]))
    bench = Bench('--plain' in sys.argv)
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'plain': bench.plain}),
          flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        t0 = time.perf_counter()
        if req['op'] == 'infer':
            bench.infer(req['size'])
        elif req['op'] == 'train':
            bench.train(req['size'], req['batch'])
        elif req['op'] == 'folder':
            bench.folder(req['size'], req['in'], req['out'])
        else:
            raise SystemExit(f"unknown op {req['op']}")
        print(json.dumps({'ms': (time.perf_counter() - t0) * 1000}), flush=True)


if __name__ == '__main__':
    main()
