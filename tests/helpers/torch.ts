// Reference figures from PyTorch/torchvision, computed by the system Python (Debian's python3-torch and
// python3-torchvision): parameter counts of torchvision's DeepLabv3-ResNet50 and of d2l's FCN on ResNet-18,
// and the output of d2l's ×32 transposed conv on a probe. Tests skip what needs it when `import torch`
// fails, and say so.
import { execFile, type ExecFileException } from 'node:child_process';

/** The interpreter the references come from (that exact path: the one apt installs torch for). */
export const PYTHON = '/usr/bin/python3';

export interface TorchProbe {
  /** `[height, width, channels]` of the probe fed to the transposed conv, NHWC. */
  shape: [number, number, number];
  values: number[];
}

export interface TorchReference {
  torch: string;
  torchvision: string;
  /** `sum(p.numel() for p in deeplabv3_resnet50(weights=None, weights_backbone=None, num_classes=21, aux_loss=False).parameters())`. */
  deeplabv3Resnet50Params: number;
  /** The same for d2l's FCN: resnet18's children minus avgpool and fc, Conv2d(512, 21, 1), ConvTranspose2d(21, 21, 64, padding=16, stride=32). */
  fcnResnet18Params: number;
  /** d2l's FCN output shape, NCHW, for a `[1, 3, 320, 480]` input (the chapter's crop size). */
  fcnResnet18OutputShape: number[];
  /**
   * `ConvTranspose2d(c, c, 64, padding=16, stride=32)` with d2l's `bilinear_kernel` and a zero bias on the
   * probe: `[height·32, width·32, channels]`, NHWC, flattened.
   */
  transposeOfProbe: number[];
}

const SCRIPT = String.raw`
import json, sys
try:
    import torch, torchvision
    from torch import nn
except ImportError as e:
    print(json.dumps({"absent": str(e)}))
    sys.exit(0)

torch.manual_seed(0)
count = lambda m: sum(p.numel() for p in m.parameters())
deeplab = torchvision.models.segmentation.deeplabv3_resnet50(
    weights=None, weights_backbone=None, num_classes=21, aux_loss=False)

# d2l, "Fully Convolutional Networks": the FCN as the chapter builds it.
pretrained_net = torchvision.models.resnet18(weights=None)
net = nn.Sequential(*list(pretrained_net.children())[:-2])
num_classes = 21
net.add_module('final_conv', nn.Conv2d(512, num_classes, kernel_size=1))
net.add_module('transpose_conv', nn.ConvTranspose2d(num_classes, num_classes, kernel_size=64, padding=16, stride=32))
with torch.no_grad():
    fcn_shape = list(net(torch.zeros(1, 3, 320, 480)).shape)

def bilinear_kernel(in_channels, out_channels, kernel_size):
    factor = (kernel_size + 1) // 2
    if kernel_size % 2 == 1:
        center = factor - 1
    else:
        center = factor - 0.5
    og = (torch.arange(kernel_size).reshape(-1, 1), torch.arange(kernel_size).reshape(1, -1))
    filt = (1 - torch.abs(og[0] - center) / factor) * (1 - torch.abs(og[1] - center) / factor)
    weight = torch.zeros((in_channels, out_channels, kernel_size, kernel_size))
    weight[range(in_channels), range(out_channels), :, :] = filt
    return weight

probe = json.load(sys.stdin)
h, w, c = probe["shape"]
x = torch.tensor(probe["values"], dtype=torch.float32).reshape(1, h, w, c).permute(0, 3, 1, 2)
up = nn.ConvTranspose2d(c, c, kernel_size=64, padding=16, stride=32)
with torch.no_grad():
    up.weight.copy_(bilinear_kernel(c, c, 64))
    up.bias.zero_()
    y = up(x).permute(0, 2, 3, 1).reshape(-1).tolist()

print(json.dumps({
    "torch": torch.__version__,
    "torchvision": torchvision.__version__,
    "deeplabv3Resnet50Params": count(deeplab),
    "fcnResnet18Params": count(net),
    "fcnResnet18OutputShape": fcn_shape,
    "transposeOfProbe": y,
}))
`;

function run(stdin: string): Promise<{ stdout: string; stderr: string; error: ExecFileException | null }> {
  return new Promise((resolve) => {
    const child = execFile(
      PYTHON,
      ['-c', SCRIPT],
      { timeout: 180_000, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => resolve({ stdout, stderr, error }),
    );
    child.stdin?.end(stdin);
  });
}

/** Why the reference is unavailable, when it is. */
export let torchAbsentReason: string | null = null;

/**
 * The reference figures, or null when `/usr/bin/python3` is missing or cannot `import torch, torchvision`
 * (see `torchAbsentReason`).
 *
 * @throws when Python runs and has torch but the script fails: a broken reference must fail the tests
 */
export async function torchReference(probe: TorchProbe): Promise<TorchReference | null> {
  const { stdout, stderr, error } = await run(JSON.stringify(probe));
  if (error?.code === 'ENOENT') {
    torchAbsentReason = `${PYTHON} is absent`;
    return null;
  }
  if (error) throw new Error(`${PYTHON} failed: ${error.message}\n${stderr}`);
  const out = JSON.parse(stdout) as TorchReference | { absent: string };
  if ('absent' in out) {
    torchAbsentReason = `python3-torch is absent (${out.absent})`;
    return null;
  }
  return out;
}
