"""PyTorch twins of Segscope's small registry models, layer for layer, for bench/engine/epoch.ts:
unet-small (src/main/engine/models/unet.ts, 8 base filters), fcn-resnet18 (fcnResnet.ts) and
deeplabv3-resnet18 (deeplabv3.ts on resnet.ts's ResNet-18, output stride 16, with conv biases in the
backbone as Keras's ResNet has them). unet-vgg16 is torch_unet_vgg16.py's. Weights are PyTorch's default
initialisation: the bench times them, it does not compare their numbers."""
import torch
from torch import nn
import torch.nn.functional as F

from torch_unet_vgg16 import UNetVgg16


def double_conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """Four levels of two 3×3 convs and a 2×2 max pool, a bottom level, then per level a 2×2 stride-2
    transposed conv halving the filters, concatenation with the skip, two 3×3 convs; a 1×1 conv."""

    def __init__(self, classes, base=8, depth=4):
        super().__init__()
        widths = [base * 2 ** i for i in range(depth)]
        self.down = nn.ModuleList()
        cin = 3
        for w in widths:
            self.down.append(double_conv(cin, w))
            cin = w
        self.bottom = double_conv(cin, base * 2 ** depth)
        cin = base * 2 ** depth
        self.ups = nn.ModuleList()
        self.convs = nn.ModuleList()
        for w in reversed(widths):
            self.ups.append(nn.ConvTranspose2d(cin, w, 2, stride=2))
            self.convs.append(double_conv(2 * w, w))
            cin = w
        self.head = nn.Conv2d(cin, classes, 1)

    def forward(self, x):
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, conv, skip in zip(self.ups, self.convs, reversed(skips)):
            x = conv(torch.cat([skip, up(x)], 1))
        return self.head(x)


class Basic(nn.Module):
    def __init__(self, cin, cout, stride, dilations):
        super().__init__()
        d1, d2 = dilations
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, padding=d1, dilation=d1)
        self.bn1 = nn.BatchNorm2d(cout, eps=1.001e-5, momentum=0.1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, padding=d2, dilation=d2)
        self.bn2 = nn.BatchNorm2d(cout, eps=1.001e-5, momentum=0.1)
        self.short = None
        if stride > 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride), nn.BatchNorm2d(cout, eps=1.001e-5))

    def forward(self, x):
        s = x if self.short is None else self.short(x)
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(s + self.bn2(self.conv2(y)))


class ResNet18(nn.Module):
    def __init__(self, output_stride):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3), nn.BatchNorm2d(64, eps=1.001e-5), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], 64
        for s, w in enumerate([64, 128, 256, 512]):
            dilated = s == 3 and output_stride == 16
            stride = 1 if s == 0 or dilated else 2
            for b in range(2):
                first = b == 0
                dil = ((1 if first else 2), 2) if dilated else (1, 1)
                blocks.append(Basic(cin, w, stride if first else 1, dil))
                cin = w
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        return self.blocks(self.stem(x))


class FcnResNet18(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.backbone = ResNet18(32)
        self.score = nn.Conv2d(512, classes, 1)
        self.up = nn.ConvTranspose2d(classes, classes, 64, stride=32, padding=16)

    def forward(self, x):
        return self.up(self.score(self.backbone(x)))


def conv_bn_relu(cin, cout, k, dilation=1):
    pad = dilation * (k // 2)
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=pad, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout, eps=1.001e-5), nn.ReLU(inplace=True))


class DeepLabV3ResNet18(nn.Module):
    def __init__(self, classes, filters=256, rates=(6, 12, 18)):
        super().__init__()
        self.backbone = ResNet18(16)
        self.branches = nn.ModuleList([conv_bn_relu(512, filters, 1)] +
                                      [conv_bn_relu(512, filters, 3, r) for r in rates])
        self.pool = conv_bn_relu(512, filters, 1)
        self.project = conv_bn_relu(filters * (len(rates) + 2), filters, 1)
        self.drop = nn.Dropout(0.5)
        self.head = conv_bn_relu(filters, filters, 3)
        self.classifier = nn.Conv2d(filters, classes, 1)

    def forward(self, x):
        f = self.backbone(x)
        outs = [b(f) for b in self.branches]
        p = self.pool(F.adaptive_avg_pool2d(f, 1))
        outs.append(p.expand(-1, -1, f.shape[2], f.shape[3]))
        y = self.classifier(self.head(self.drop(self.project(torch.cat(outs, 1)))))
        return F.interpolate(y, scale_factor=16, mode='bilinear', align_corners=False)


# Each model with its input normalisation (registry.ts): 'zero-one' or Caffe's BGR mean.
MODELS = {
    'unet-small': (lambda c: UNet(c, base=8), 'zero-one'),
    'fcn-resnet18': (FcnResNet18, 'imagenet-caffe'),
    'deeplabv3-resnet18': (DeepLabV3ResNet18, 'imagenet-caffe'),
    'unet-vgg16': (UNetVgg16, 'imagenet-caffe'),
}
