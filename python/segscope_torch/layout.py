"""The one place where tensor layouts change between Segscope (tfjs, NHWC, HWIO kernels) and PyTorch
(NCHW, OIHW kernels). Every other module of the package works in PyTorch's layout only."""

import numpy as np

# How each kind of weight is stored by tfjs and by PyTorch:
# - conv:   tfjs [kh, kw, in, out]   -> torch [out, in, kh, kw]
# - deconv: tfjs [kh, kw, out, in]   -> torch [in, out, kh, kw] (ConvTranspose2d's own layout)
# - plain:  vectors (bias, batch-norm gamma/beta/moving stats), the same in both.
_TO_TORCH = {"conv": (3, 2, 0, 1), "deconv": (3, 2, 0, 1), "plain": None}
_TO_TFJS = {"conv": (2, 3, 1, 0), "deconv": (2, 3, 1, 0), "plain": None}


def weight_to_torch(kind: str, array: np.ndarray) -> np.ndarray:
    """A weight as tfjs stores it, in PyTorch's layout."""
    perm = _TO_TORCH[kind]
    return np.ascontiguousarray(array if perm is None else array.transpose(perm))


def weight_to_tfjs(kind: str, array: np.ndarray) -> np.ndarray:
    """A weight in PyTorch's layout, as tfjs stores it."""
    perm = _TO_TFJS[kind]
    return np.ascontiguousarray(array if perm is None else array.transpose(perm))


def images_to_torch(nhwc):
    """A batch of images `[batch, height, width, channels]` (numpy or torch) as `[batch, channels, height, width]`."""
    return nhwc.permute(0, 3, 1, 2).contiguous() if hasattr(nhwc, "permute") else np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))


def maps_to_tfjs(nchw):
    """A torch feature map `[batch, channels, height, width]` as `[batch, height, width, channels]`."""
    return nchw.permute(0, 2, 3, 1).contiguous()
