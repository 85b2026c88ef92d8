"""PyTorch twins of Segscope's registry models, built from the tfjs layers topology (model.json) that
Segscope's engine writes: the same layers under the same names, the same weights (so the same parameter
count and, since the initial weights come from Segscope's checkpoint, the same initialisation), and the
same arithmetic as tfjs (TensorFlow's 'same' padding, resize without half-pixel centres, batch norm with
the biased variance in its moving average). Runs in the PyTorch worker."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# Layer classes and what their weights are, for layout.py.
WEIGHT_KINDS = {
    "Conv2D": {"kernel": "conv", "bias": "plain"},
    "AtrousConv2D": {"kernel": "conv", "bias": "plain"},
    "Conv2DTranspose": {"kernel": "deconv", "bias": "plain"},
    "BatchNormalization": {"gamma": "plain", "beta": "plain", "moving_mean": "plain", "moving_variance": "plain"},
}
# Batch norm's moving statistics are state, not trained weights.
BUFFERS = {"moving_mean", "moving_variance"}
PARAMETERLESS = {
    "InputLayer", "MaxPooling2D", "UpSampling2D", "Concatenate", "Dropout", "Add", "ZeroPadding2D",
    "Activation", "MaxPoolingWithSwitches2D", "MaxUnpooling2D", "GlobalAveragePooling2D", "Reshape",
}


def _pair(v):
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _same_pads(size, kernel, stride, dilation):
    """TensorFlow's 'same' padding of one axis: (before, after), the odd pixel after."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _activate(x, name):
    if name in (None, "linear"):
        return x
    if name == "relu":
        return F.relu(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "softmax":
        return F.softmax(x, dim=1)
    raise ValueError(f"activation {name!r} has no twin in segscope_torch")


def _resize_bilinear(x, scale_h, scale_w):
    """tfjs resizeBilinear with alignCorners and halfPixelCenters false: output row r samples r / scale."""

    def axis(n_in, scale, device):
        n_out = n_in * scale
        src = torch.arange(n_out, device=device, dtype=torch.float64) * (n_in / n_out)
        i0 = src.floor().long().clamp(max=n_in - 1)
        i1 = (i0 + 1).clamp(max=n_in - 1)
        frac = (src - src.floor()).to(x.dtype)
        return i0, i1, frac

    _, _, h, w = x.shape
    i0, i1, fy = axis(h, scale_h, x.device)
    top, bottom = x[:, :, i0, :], x[:, :, i1, :]
    x = top + (bottom - top) * fy.view(1, 1, -1, 1)
    j0, j1, fx = axis(w, scale_w, x.device)
    left, right = x[:, :, :, j0], x[:, :, :, j1]
    return left + (right - left) * fx.view(1, 1, 1, -1)


class Switches:
    """A 2×2 max pool's switches: the argmax indices and the pooled input's size, for max-unpooling."""

    def __init__(self, indices, size):
        self.indices = indices
        self.size = size


class TfjsLayer(nn.Module):
    """One tfjs layer: its config, its weights (PyTorch layout) under tfjs's weight names."""

    def __init__(self, class_name, config):
        super().__init__()
        self.class_name = class_name
        self.config = config

    def forward(self, inputs):  # noqa: C901 - one branch per layer class, as the topology names them
        c = self.config
        k = self.class_name
        x = inputs[0]
        if k in ("Conv2D", "AtrousConv2D"):
            kh, kw = self.kernel.shape[2], self.kernel.shape[3]
            if k == "AtrousConv2D":
                stride, dilation, padding = (1, 1), _pair(c["dilation_rate"]), "same"
            else:
                stride, dilation, padding = _pair(c["strides"]), _pair(c["dilation_rate"]), c["padding"]
            if padding == "same":
                ph = _same_pads(x.shape[2], kh, stride[0], dilation[0])
                pw = _same_pads(x.shape[3], kw, stride[1], dilation[1])
                if ph[0] == ph[1] and pw[0] == pw[1]:
                    y = F.conv2d(x, self.kernel, self.bias, stride, (ph[0], pw[0]), dilation)
                else:
                    y = F.conv2d(F.pad(x, (pw[0], pw[1], ph[0], ph[1])), self.kernel, self.bias, stride, 0, dilation)
            else:
                y = F.conv2d(x, self.kernel, self.bias, stride, 0, dilation)
            return _activate(y, c.get("activation", "linear"))
        if k == "Conv2DTranspose":
            stride = _pair(c["strides"])
            kh, kw = self.kernel.shape[2], self.kernel.shape[3]
            y = F.conv_transpose2d(x, self.kernel, self.bias, stride)
            if c["padding"] == "same":
                # tfjs's transposed conv is the gradient of a 'same' conv from size·stride: crop the full
                # output by that conv's leading padding (and pad where the kernel is shorter than the stride).
                out_h, out_w = x.shape[2] * stride[0], x.shape[3] * stride[1]
                top = max(kh - stride[0], 0) // 2
                left = max(kw - stride[1], 0) // 2
                y = y[:, :, top:top + out_h, left:left + out_w]
                if y.shape[2] < out_h or y.shape[3] < out_w:
                    y = F.pad(y, (0, out_w - y.shape[3], 0, out_h - y.shape[2]))
            return _activate(y, c.get("activation", "linear"))
        if k == "BatchNormalization":
            if self.training:
                mean = x.float().mean(dim=(0, 2, 3))
                var = x.float().var(dim=(0, 2, 3), unbiased=False)
                momentum = c["momentum"]
                with torch.no_grad():
                    # tfjs: moving -= (moving − batch)·(1 − momentum), with the biased variance.
                    self.moving_mean.sub_((self.moving_mean - mean.detach()) * (1 - momentum))
                    self.moving_variance.sub_((self.moving_variance - var.detach()) * (1 - momentum))
            else:
                mean, var = self.moving_mean, self.moving_variance
            scale = self.gamma * torch.rsqrt(var + c["epsilon"])
            y = (x - mean.view(1, -1, 1, 1)) * scale.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)
            return y.to(x.dtype)
        if k == "Activation":
            return _activate(x, c["activation"])
        if k == "MaxPooling2D":
            if c["padding"] != "valid":
                raise ValueError(f"{self.name}: MaxPooling2D padding {c['padding']!r} has no twin")
            return F.max_pool2d(x, _pair(c["pool_size"]), _pair(c["strides"]))
        if k == "MaxPoolingWithSwitches2D":
            pooled, indices = F.max_pool2d(x, 2, 2, return_indices=True)
            return [pooled, Switches(indices, x.shape[2:])]
        if k == "MaxUnpooling2D":
            switches = inputs[1]
            return F.max_unpool2d(x, switches.indices, 2, 2, output_size=switches.size)
        if k == "UpSampling2D":
            sh, sw = _pair(c["size"])
            if c.get("interpolation", "nearest") == "bilinear":
                return _resize_bilinear(x, sh, sw)
            return x.repeat_interleave(sh, dim=2).repeat_interleave(sw, dim=3)
        if k == "Concatenate":
            if c["axis"] not in (-1, 3):
                raise ValueError(f"{self.name}: Concatenate on axis {c['axis']} has no twin")
            return torch.cat(inputs, dim=1)
        if k == "Add":
            y = inputs[0]
            for other in inputs[1:]:
                y = y + other
            return y
        if k == "Dropout":
            return F.dropout(x, c["rate"], self.training)
        if k == "ZeroPadding2D":
            (t, b), (left, right) = c["padding"]
            return F.pad(x, (left, right, t, b))
        if k == "GlobalAveragePooling2D":
            return x.mean(dim=(2, 3))
        if k == "Reshape":
            target = c["target_shape"]
            if x.dim() == 2 and list(target[:2]) == [1, 1]:
                return x.view(x.shape[0], x.shape[1], 1, 1)
            raise ValueError(f"{self.name}: Reshape to {target} has no twin")
        raise ValueError(f"layer class {k} has no twin in segscope_torch")


class TfjsModel(nn.Module):
    """A functional tfjs layers model as a PyTorch module: input `[batch, 3, h, w]`, logits `[batch, classes, h, w]`.

    `layers` is a ModuleDict keyed by tfjs layer name; each weight is the attribute of its tfjs weight
    name (`kernel`, `bias`, `gamma`, `beta`; the moving statistics are buffers). `taps` names layers whose
    outputs the last forward keeps in `tapped` (Grad-CAM)."""

    def __init__(self, topology, weight_shapes):
        super().__init__()
        cfg = topology["config"] if "config" in topology else topology["model_config"]["config"]
        self.name = cfg.get("name", "model")
        self.order = []
        self.inbound = {}
        self.layers = nn.ModuleDict()
        for layer in cfg["layers"]:
            name, cls = layer["name"], layer["class_name"]
            if cls not in WEIGHT_KINDS and cls not in PARAMETERLESS:
                raise ValueError(f"layer {name}: class {cls} has no twin in segscope_torch")
            module = TfjsLayer(cls, layer["config"])
            module.name = name
            for weight, shape in weight_shapes.get(name, {}).items():
                value = torch.zeros(shape)
                if weight in BUFFERS:
                    module.register_buffer(weight, value)
                else:
                    setattr(module, weight, nn.Parameter(value))
            if cls in ("Conv2D", "AtrousConv2D", "Conv2DTranspose") and "bias" not in weight_shapes.get(name, {}):
                module.bias = None
            self.layers[name] = module
            self.order.append(name)
            nodes = layer.get("inbound_nodes") or []
            if len(nodes) > 1:
                raise ValueError(f"layer {name} is applied more than once, which Segscope's models never do")
            self.inbound[name] = [(src, tensor) for src, _node, tensor, *_ in (nodes[0] if nodes else [])]
        self.inputs = [n for n, *_ in cfg["input_layers"]]
        self.outputs = [(n, t) for n, _node, t in cfg["output_layers"]]
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            raise ValueError("Segscope's models have one input and one output")
        self.taps = set()
        self.tapped = {}

    def forward(self, x):
        values = {}
        self.tapped = {}
        for name in self.order:
            if name == self.inputs[0]:
                values[name] = [x]
                continue
            ins = [values[src][t] for src, t in self.inbound[name]]
            out = self.layers[name](ins)
            values[name] = out if isinstance(out, list) else [out]
            if name in self.taps:
                self.tapped[name] = values[name][0]
        name, t = self.outputs[0]
        return values[name][t]

    def named_tfjs_weights(self):
        """(tfjs weight name, layer class, tensor) for every weight and moving statistic."""
        for layer_name, module in self.layers.items():
            for weight in list(WEIGHT_KINDS.get(module.class_name, {})):
                value = getattr(module, weight, None)
                if value is not None:
                    yield f"{layer_name}/{weight}", module.class_name, value
