"""The same network as Segscope's unet-vgg16, in PyTorch, timed the same way: one Adam training step
with cross-entropy ignoring 255, and one inference, on the same batch and size. A reference peer for
bench/engine/trainStep.ts, which runs it in the same session and prints the ratios.

Usage: python3 torch_unet_vgg16.py SIZE BATCH STEPS CLASSES  (prints one JSON line)"""
import json
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F


def double_conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True))


class UNetVgg16(nn.Module):
    """VGG16's 13 convs as the encoder (features after block1..5), bilinear ×2 upsampling, concatenation
    and two 3×3 convs of 512/256/128/64 filters per decoder step, then a 1×1 conv to the classes."""

    def __init__(self, classes):
        super().__init__()
        cfg = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
        blocks, cin = [], 3
        for widths in cfg:
            layers = []
            for w in widths:
                layers += [nn.Conv2d(cin, w, 3, padding=1), nn.ReLU(inplace=True)]
                cin = w
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)
        self.up4 = double_conv(512 + 512, 512)
        self.up3 = double_conv(512 + 256, 256)
        self.up2 = double_conv(256 + 128, 128)
        self.up1 = double_conv(128 + 64, 64)
        self.head = nn.Conv2d(64, classes, 1)

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.blocks):
            if i > 0:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        x = skips[4]
        for up, skip in zip([self.up4, self.up3, self.up2, self.up1], reversed(skips[:4])):
            x = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
            x = up(torch.cat([skip, x], 1))
        return self.head(x)


def main():
    size, batch, steps, classes = (int(a) for a in sys.argv[1:5])
    torch.manual_seed(1)
    model = UNetVgg16(classes)
    params = sum(p.numel() for p in model.parameters())
    x = torch.randn(batch, 3, size, size) * 50
    y = torch.randint(0, classes, (batch, size, size))
    y[torch.rand(batch, size, size) < 0.05] = 255
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y, ignore_index=255)
        loss.backward()
        opt.step()
        return loss.item()

    def infer():
        with torch.no_grad():
            return model(x).sum().item()

    def timed(f):
        t0 = time.perf_counter()
        f()
        return (time.perf_counter() - t0) * 1000

    timed(step)
    timed(infer)
    train = sorted(timed(step) for _ in range(steps))
    inference = sorted(timed(infer) for _ in range(steps))
    median = lambda v: v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'params': params,
                      'train_ms': median(train), 'infer_ms': median(inference)}))


if __name__ == '__main__':
    main()
