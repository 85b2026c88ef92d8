"""The PyTorch engine's training loop over a Segscope run folder: the same epochs, shuffling, letterboxed
and augmented batches, objective, optimiser, schedule, frozen-encoder epochs, validation, checkpoints
(`last` each epoch as the commit point, `best` on a better mIoU), metrics.jsonl, steps.jsonl, eval.json and
state.json as src/main/engine/train.ts writes them. Data-parallel with DDP when WORLD_SIZE > 1 (gloo on
the CPU, NCCL on CUDA): every rank computes the same epoch order and takes its share through a
DistributedSampler; rank 0 alone writes the run folder. Runs in each PyTorch worker."""

import datetime
import json
import math
import os
import re
import socket
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data.distributed import DistributedSampler

from .checkpoint import load_model, save_model, write_atomic
from .data import Samples, letterbox_pair, normalize, rng, shuffled
from .layout import images_to_torch
from .losses import make_optimizer, masked_cross_entropy, scheduled_lr, soft_dice_loss
from .metrics import compute_metrics, confusion

HEARTBEAT_S = 10
# The pretrained encoders' layers (Keras VGG16 and ResNet names), frozen in the first freezeEpochs; as
# train.ts's isEncoderLayer.
ENCODER_LAYER = re.compile(r"^(block\d_|conv[1-5]_)")
KERNEL_CLASSES = ("Conv2D", "AtrousConv2D", "Conv2DTranspose")


class Cancelled:
    """Set by SIGINT/SIGTERM (installed by __main__ before torch loads); read between batches."""

    flag = False


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def objective(net, twin, x, y, class_weights, dice, weight_decay, frozen):
    """The loss train.ts's trainingLoss computes; `net` runs the forward (DDP or the twin itself), `twin` owns
    the kernels; `frozen(name)` says whether a layer is frozen (its kernels then carry no L2)."""
    logits = net(x)
    total = masked_cross_entropy(logits, y, class_weights)
    if dice:
        total = total + soft_dice_loss(logits, y)
    if weight_decay > 0:
        kernels = [
            m.kernel for name, m in twin.layers.items()
            if m.class_name in KERNEL_CLASSES and not (frozen and frozen(name))
        ]
        if kernels:
            total = total + sum((k.float() ** 2).sum() for k in kernels) * (weight_decay / 2)
    return total


class EpochSampler(DistributedSampler):
    """DistributedSampler over the epoch order Segscope's engine draws (its Fisher–Yates on its seeded
    stream), padded to a multiple of the world and strided by rank, as DistributedSampler does."""

    def __init__(self, count, world, rank):
        super().__init__(range(count), num_replicas=world, rank=rank, shuffle=False)
        self.order = list(range(count))

    def set_order(self, order):
        self.order = order

    def __iter__(self):
        order = list(self.order)
        order += order[: self.total_size - len(order)]
        return iter(order[self.rank : self.total_size : self.num_replicas])


def balanced_weights(samples, ids, classes):
    counts = np.zeros(classes, np.float64)
    for i in ids:
        _, label = samples.get(i)
        counts += np.bincount(label[label < classes], minlength=classes)[:classes]
    freqs = counts / (counts.sum() or 1)
    seen = sorted(f for f in freqs if f > 0)
    median = seen[len(seen) // 2] if seen else 1
    return np.array([median / f if f > 0 else 0 for f in freqs], np.float32)


class Run:
    """The run folder, written by rank 0 only."""

    def __init__(self, folder, rank, info):
        self.dir = folder
        self.rank = rank
        self.info = info

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write_state(self, state):
        if self.rank != 0:
            return
        running = state["status"] == "running"
        owner = {
            "pid": os.getpid() if running else None,
            "host": socket.gethostname() if running else None,
            "heartbeatAt": now_iso() if running else None,
        }
        write_atomic(self.path("state.json"), json.dumps({**state, **owner, **self.info}, indent=2) + "\n")

    def append(self, name, line):
        if self.rank == 0:
            with open(self.path(name), "a") as f:
                f.write(json.dumps(line) + "\n")


def read_records(path):
    records = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    pass  # a line cut short by a kill
    except OSError:
        pass
    return records


def restore_resume_point(run, meta, state):
    """As train.ts's restoreResumePoint: metrics.jsonl back to the epoch `last` holds, best as `last` says."""
    epoch = meta.get("epoch", state.get("epoch", 0))
    if run.rank == 0:
        for folder in (run.dir, run.path("checkpoints", "last"), run.path("checkpoints", "best")):
            for name in os.listdir(folder) if os.path.isdir(folder) else []:
                if re.search(r"\.\d+\.tmp$", name):
                    os.remove(os.path.join(folder, name))
        by_epoch = {r["epoch"]: r for r in read_records(run.path("metrics.jsonl")) if r.get("epoch", 0) <= epoch}
        if isinstance(meta.get("record"), dict) and meta["record"].get("epoch") == epoch:
            by_epoch[epoch] = meta["record"]
        text = "".join(json.dumps(by_epoch[e]) + "\n" for e in sorted(by_epoch))
        write_atomic(run.path("metrics.jsonl"), text)
    for key in ("bestMiou", "bestEpoch"):
        if key in meta:
            state[key] = meta[key]
    state["epoch"] = epoch
    return state


def emit(rank, event):
    """A progress event on stdout, one JSON line (rank 0), for Segscope's live curves."""
    if rank == 0:
        sys.stdout.write("@segscope " + json.dumps(event) + "\n")
        sys.stdout.flush()


def phase(args, rank, name):
    """A start-up phase reached (rank 0): seconds since the worker started, for Segscope's account of where
    the time before the first step goes."""
    started = getattr(args, "started", None)
    if started is not None:
        emit(rank, {"kind": "phase", "runId": os.path.basename(os.path.normpath(args.run)), "phase": name,
                    "seconds": round(time.time() - started, 3)})


def train(args, rank, world, local_rank):
    device = torch.device(f"cuda:{local_rank}" if args.device == "cuda" else "cpu")
    if args.device == "cuda":
        torch.cuda.set_device(device)
    with open(os.path.join(args.run, "config.json")) as f:
        job = json.load(f)
    if getattr(args, "dataset", None):
        job["datasetRoot"] = os.path.abspath(args.dataset)
    s = job["settings"]
    classes = len(job["classNames"])
    size = s["inputSize"]
    run = Run(args.run, rank, {"engine": "torch", "device": str(device.type), "world": world,
                               "torch": torch.__version__,
                               "normalization": args.normalization})
    with open(run.path("state.json")) as f:
        state = json.load(f)
    model, template = load_model(run.path("checkpoints", "last"))
    meta = template.get("userDefinedMetadata") or {}
    state = {k: state.get(k) for k in ("status", "epoch", "bestMiou", "bestEpoch", "backend", "startedAt",
                                        "endedAt", "error")}
    if args.resume:
        state = restore_resume_point(run, meta, state)
        if meta.get("evaluation") and rank == 0:
            best_json = run.path("checkpoints", "best", "model.json")
            try:
                with open(best_json) as f:
                    best_at = (json.load(f).get("userDefinedMetadata") or {}).get("epoch")
            except (OSError, ValueError):
                best_at = None
            if best_at != state["epoch"]:
                save_model(model, template, run.path("checkpoints", "best"),
                           {"epoch": state["epoch"], "miou": state["bestMiou"]})
                write_atomic(run.path("eval.json"), json.dumps(meta["evaluation"]) + "\n")
    start_epoch = state["epoch"] if args.resume else int(meta.get("epoch", 0))
    state.update({"status": "running", "endedAt": None, "error": None, "backend": None})
    run.write_state(state)

    model.to(device)
    twin = model
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if device.type == "cuda" else None)
    samples = Samples(job)
    train_ids, val_ids = job["trainIds"], job["valIds"]
    class_weights = None
    if s["classWeights"] == "balanced":
        class_weights = torch.from_numpy(balanced_weights(samples, train_ids, classes)).to(device)
    optimizer = make_optimizer(s, twin.parameters())
    amp = args.amp and device.type == "cuda"
    scaler = torch.cuda.amp.GradScaler() if amp else None
    # One order stream, the same on every rank; augmentation draws per rank.
    order_random = rng(s["seed"] + start_epoch * 7919)
    aug_random = rng(s["seed"] + start_epoch * 7919 + 1 + rank)
    sampler = EpochSampler(len(train_ids), world, rank)
    batch = s["batchSize"]
    steps = math.ceil(sampler.num_samples / batch)
    since_best = 0
    outcome = "done"
    started = time.time()
    last_beat = time.time()
    last_progress = 0.0
    images_done = 0
    run_id = os.path.basename(os.path.normpath(args.run))

    phase(args, rank, "ready")
    for epoch in range(start_epoch, s["epochs"]):
        lr = scheduled_lr(s["lr"], s["schedule"], epoch, s["epochs"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        frozen = (lambda name: ENCODER_LAYER.match(name) is not None) if epoch < s["freezeEpochs"] else None
        frozen_params = set()
        if frozen:
            for name, layer in twin.layers.items():
                if frozen(name):
                    frozen_params.update(id(p) for p in layer.parameters(recurse=False))
        sampler.set_order(shuffled(range(len(train_ids)), order_random))
        mine = list(sampler)
        net.train()
        epoch_start = time.time()
        losses = []
        for step in range(steps):
            stop = torch.tensor([1.0 if Cancelled.flag else 0.0], device=device)
            if world > 1:
                dist.all_reduce(stop, op=dist.ReduceOp.MAX)
            if stop.item() > 0:
                outcome = "cancelled"
                break
            ids = [train_ids[i] for i in mine[step * batch:(step + 1) * batch]]
            pairs = [letterbox_pair(*samples.get(i), size, s["augment"], aug_random) for i in ids]
            x = images_to_torch(torch.from_numpy(normalize(np.stack([p[0] for p in pairs]), args.normalization)))
            y = torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.int64))
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                loss = objective(net, twin, x, y, class_weights, s["dice"], s["weightDecay"], frozen)
            if scaler:
                scaler.scale(loss).backward()
            else:
                loss.backward()
            for p in twin.parameters():
                if id(p) in frozen_params:
                    p.grad = None
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            # The loss of the whole global batch, as one process training on all of it would report it.
            value = loss.detach().float().reshape(1)
            if world > 1:
                dist.all_reduce(value)
                value /= world
            value = value.item()
            if not math.isfinite(value):
                raise RuntimeError(f"the loss became {value} at epoch {epoch + 1}, step {step + 1}; try a lower learning rate")
            losses.append(value)
            images_done += len(ids) * world
            t = time.time()
            if t - last_progress > 0.1 or step == steps - 1:
                last_progress = t
                per_sec = images_done / max(t - started, 1e-9)
                remaining = (s["epochs"] - epoch) * len(train_ids) - (step + 1) * batch * world
                emit(rank, {"kind": "step", "runId": run_id, "epoch": epoch + 1, "epochs": s["epochs"],
                            "step": step + 1, "steps": steps, "loss": value, "lr": lr,
                            "imagesPerSec": per_sec, "etaSec": max(0.0, remaining / max(per_sec, 1e-9))})
            if t - last_beat > HEARTBEAT_S:
                last_beat = t
                run.write_state(state)
        if outcome == "cancelled":
            break

        record = None
        if rank == 0:
            val = validate(twin, samples, val_ids, size, batch, classes, job["classNames"], args.normalization, device) if val_ids else None
            best = val is not None and val["miou"] is not None and (state["bestMiou"] is None or val["miou"] > state["bestMiou"])
            record = {"epoch": epoch + 1, "trainLoss": sum(losses) / len(losses),
                      "valLoss": val["loss"] if val else None, "miou": val["miou"] if val else None,
                      "pixelAccuracy": val["pixelAccuracy"] if val else None, "lr": lr,
                      "seconds": time.time() - epoch_start, "best": best}
            evaluation = None
            if best:
                evaluation = {"epoch": epoch + 1, "split": s.get("valSplit") or "", "inputSize": size,
                              "resolution": "input", "checkpoint": "best", "metrics": val["metrics"]}
                state["bestMiou"], state["bestEpoch"] = val["miou"], epoch + 1
                since_best = 0
            else:
                since_best += 1
            last_meta = {"epoch": epoch + 1, "record": record, "bestMiou": state["bestMiou"],
                         "bestEpoch": state["bestEpoch"], **({"evaluation": evaluation} if evaluation else {})}
            save_model(twin, template, run.path("checkpoints", "last"), last_meta)
            if evaluation:
                save_model(twin, template, run.path("checkpoints", "best"), {"epoch": epoch + 1, "miou": val["miou"]})
                write_atomic(run.path("eval.json"), json.dumps(evaluation) + "\n")
            run.append("metrics.jsonl", record)
            run.append("steps.jsonl", {"epoch": epoch + 1, "steps": steps,
                                       "losses": [float(np.float32(v)) for v in losses]})
            state["epoch"] = epoch + 1
            run.write_state(state)
            last_beat = time.time()
            emit(rank, {"kind": "epoch", "runId": run_id, "record": record})
        # Every rank takes rank 0's early-stop decision.
        decision = torch.tensor([1.0 if rank == 0 and s.get("patience") is not None and record and
                                 record["miou"] is not None and since_best >= s["patience"] else 0.0], device=device)
        if world > 1:
            dist.broadcast(decision, 0)
        if decision.item() > 0:
            outcome = "stopped-early"
            break
    state.update({"status": outcome, "endedAt": now_iso()})
    run.write_state(state)
    return outcome, state


@torch.no_grad()
def validate(model, samples, ids, size, batch, classes, names, normalization, device):
    model.eval()
    cm = np.zeros((classes, classes), np.int64)
    loss_sum, batches = 0.0, 0
    for i in range(0, len(ids), batch):
        pairs = [letterbox_pair(*samples.get(j), size) for j in ids[i:i + batch]]
        x = images_to_torch(torch.from_numpy(normalize(np.stack([p[0] for p in pairs]), normalization))).to(device)
        y = torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.int64)).to(device)
        logits = model(x).float()
        loss_sum += masked_cross_entropy(logits, y).item()
        pred = logits.argmax(1).cpu().numpy()
        cm += confusion(y.cpu().numpy(), pred, classes)
        batches += 1
    model.train()
    m = compute_metrics(cm, names)
    return {"loss": loss_sum / max(1, batches), "miou": m["miou"], "pixelAccuracy": m["pixel_accuracy"], "metrics": m}
