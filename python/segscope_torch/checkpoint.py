"""Reads and writes Segscope checkpoints (tfjs layers `model.json` + `weights.bin`). The topology is kept as
Segscope's engine wrote it; only the weights are rewritten, in the manifest's order, so Segscope's engine
loads the result unchanged. Writes go through a temporary file and a rename, weights before model.json,
as the engine's do. Runs in the PyTorch worker."""

import json
import os

import numpy as np
import torch

from . import __version__
from .layout import weight_to_tfjs, weight_to_torch
from .model import WEIGHT_KINDS, TfjsModel

_DTYPES = {"float32": np.float32, "int32": np.int32}


class CheckpointError(Exception):
    """A checkpoint that cannot be read, naming the file and the problem."""


def write_atomic(path, data):
    """Writes `data` (bytes or str) to `path` through `path.<pid>.tmp` and a rename."""
    temp = f"{path}.{os.getpid()}.tmp"
    mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
    try:
        with open(temp, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except OSError as err:
        try:
            os.remove(temp)
        except OSError:
            pass
        raise OSError(f"{path}: cannot be written ({err.strerror or err})") from err


def read_checkpoint(folder):
    """(model.json as a dict, {weight name: numpy array in tfjs layout}) of checkpoint `folder`."""
    json_path = os.path.join(folder, "model.json")
    bin_path = os.path.join(folder, "weights.bin")
    try:
        with open(json_path) as f:
            doc = json.load(f)
        specs = [w for group in doc["weightsManifest"] for w in group["weights"]]
        doc["modelTopology"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{json_path}: cannot be read as a tfjs layers model ({err})") from err
    try:
        with open(bin_path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise CheckpointError(f"{bin_path}: cannot be read ({err.strerror})") from err
    weights, offset = {}, 0
    for spec in specs:
        dtype = _DTYPES.get(spec["dtype"])
        if dtype is None or spec.get("quantization"):
            raise CheckpointError(f"{json_path}: weight {spec['name']} has a dtype Segscope never writes")
        count = int(np.prod(spec["shape"])) if spec["shape"] else 1
        nbytes = count * 4
        if offset + nbytes > len(data):
            raise CheckpointError(f"{bin_path}: is cut short (the manifest in {json_path} needs more bytes)")
        weights[spec["name"]] = np.frombuffer(data, dtype, count, offset).reshape(spec["shape"])
        offset += nbytes
    if offset != len(data):
        raise CheckpointError(f"{bin_path}: holds {len(data)} bytes but {json_path} describes {offset}")
    return doc, weights


def _kind(class_name, weight):
    return WEIGHT_KINDS[class_name][weight]


def _layer_classes(topology):
    cfg = topology["config"] if "config" in topology else topology["model_config"]["config"]
    return {layer["name"]: layer["class_name"] for layer in cfg["layers"]}


def load_model(folder):
    """The twin of the checkpoint in `folder` with its weights, and the checkpoint's model.json."""
    doc, weights = read_checkpoint(folder)
    classes = _layer_classes(doc["modelTopology"])
    torch_weights, shapes = {}, {}
    for name, array in weights.items():
        layer, weight = name.split("/", 1)
        if layer not in classes or weight not in WEIGHT_KINDS.get(classes[layer], {}):
            raise CheckpointError(f"{folder}/model.json: weight {name} belongs to no layer the twin knows")
        value = weight_to_torch(_kind(classes[layer], weight), array)
        torch_weights[name] = value
        shapes.setdefault(layer, {})[weight] = value.shape
    model = TfjsModel(doc["modelTopology"], shapes)
    with torch.no_grad():
        for name, _cls, tensor in model.named_tfjs_weights():
            tensor.copy_(torch.from_numpy(torch_weights[name].copy()))
    return model, doc


def save_model(model, template, folder, metadata):
    """Writes `model`'s weights into `folder` with `template`'s topology and manifest order (a model.json
    read from the run's initial checkpoint), and `metadata` as its userDefinedMetadata."""
    os.makedirs(folder, exist_ok=True)
    classes = _layer_classes(template["modelTopology"])
    current = {name: tensor for name, _cls, tensor in model.named_tfjs_weights()}
    specs = [w for group in template["weightsManifest"] for w in group["weights"]]
    chunks = []
    for spec in specs:
        layer, weight = spec["name"].split("/", 1)
        array = current[spec["name"]].detach().float().cpu().numpy()
        array = weight_to_tfjs(_kind(classes[layer], weight), array)
        if list(array.shape) != list(spec["shape"]):
            raise ValueError(f"weight {spec['name']}: shape {list(array.shape)} is not the manifest's {spec['shape']}")
        chunks.append(array.astype(np.float32).tobytes())
    write_atomic(os.path.join(folder, "weights.bin"), b"".join(chunks))
    doc = {
        "format": "layers-model",
        "generatedBy": f"Segscope PyTorch engine {__version__} (torch {torch.__version__})",
        "convertedBy": None,
        "modelTopology": template["modelTopology"],
        "weightsManifest": [{"paths": ["weights.bin"], "weights": specs}],
        "userDefinedMetadata": metadata,
    }
    write_atomic(os.path.join(folder, "model.json"), json.dumps(doc))
