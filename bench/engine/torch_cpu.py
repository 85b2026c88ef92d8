"""PyTorch twin of bench/engine/cpu.ts: the same unet-vgg16 (torch_unet_vgg16.UNetVgg16), timed the same way
at the thread count torch is given (OMP_NUM_THREADS / torch.set_num_threads).

Usage (prints one JSON line):
  python3 torch_cpu.py THREADS infer SIZE REPEATS           inference of one image, median ms
  python3 torch_cpu.py THREADS train SIZE BATCH REPEATS     one Adam step with masked cross-entropy, median ms
  python3 torch_cpu.py THREADS folder SIZE IN_DIR OUT_DIR   decode, letterbox, forward, softmax, crop, resize
                                                            to the image, argmax, write a palette PNG: total ms"""
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


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def timed(f):
    t0 = time.perf_counter()
    f()
    return (time.perf_counter() - t0) * 1000


def infer(model, size, repeats):
    x = torch.randn(1, 3, size, size) * 50

    def run():
        with torch.no_grad():
            model(x).sum().item()

    run()
    return median([timed(run) for _ in range(repeats)])


def train(model, size, batch, repeats):
    x = torch.randn(batch, 3, size, size) * 50
    y = torch.randint(0, CLASSES, (batch, size, size))
    y[torch.rand(batch, size, size) < 0.05] = 255
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y, ignore_index=255)
        loss.backward()
        opt.step()
        loss.item()

    step()
    return median([timed(step) for _ in range(repeats)])


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


def folder(model, size, in_dir, out_dir):
    palette = voc_palette()
    files = sorted(f for f in os.listdir(in_dir) if f.lower().endswith(('.jpg', '.jpeg', '.png')))

    def one(name):
        img = Image.open(os.path.join(in_dir, name)).convert('RGB')
        w, h = img.size
        scale = size / max(w, h)
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        left, top = round((size - sw) / 2), round((size - sh) / 2)
        box = Image.new('RGB', (size, size), (128, 128, 128))
        box.paste(img.resize((sw, sh), Image.BILINEAR), (left, top))
        x = np.asarray(box, dtype=np.float32)[:, :, ::-1] - CAFFE_MEAN_BGR
        x = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
        with torch.no_grad():
            probs = torch.softmax(model(x), 1)[:, :, top:top + sh, left:left + sw]
            full = F.interpolate(probs, size=(h, w), mode='bilinear', align_corners=False)
            labels = full.argmax(1)[0].to(torch.uint8).numpy()
        out = Image.fromarray(labels, mode='P')
        out.putpalette(palette)
        out.save(os.path.join(out_dir, os.path.splitext(name)[0] + '.png'))

    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    for name in files:
        one(name)
    return (time.perf_counter() - t0) * 1000, len(files)


def main():
    threads, mode = int(sys.argv[1]), sys.argv[2]
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = UNetVgg16(CLASSES)
    out = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'mode': mode}
    if mode == 'infer':
        model.eval()
        out['ms'] = infer(model, int(sys.argv[3]), int(sys.argv[4]))
    elif mode == 'train':
        out['ms'] = train(model, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif mode == 'folder':
        model.eval()
        out['ms'], out['images'] = folder(model, int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        raise SystemExit(f'unknown mode {mode}')
    print(json.dumps(out))


if __name__ == '__main__':
    main()
