"""Checks that DDP is data-parallel: `python -m segscope_torch.ddpcheck CHECKPOINT STEPS` trains the
checkpoint's twin for STEPS Adam steps on one process with a batch of 4, then on 2 gloo processes with a
batch of 2 each (rank r takes samples 2r, 2r+1 of the same batch), and prints the largest difference
between the two sets of weights over the largest weight, as JSON. Without batch norm the two are the same
computation; with it each rank normalises by its own half-batch's statistics. Runs in a test."""

import json
import os
import sys
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from .checkpoint import load_model
from .losses import TfjsAdam, masked_cross_entropy


def batch(model_input):
    g = torch.Generator().manual_seed(7)
    _, _, h, w = model_input
    x = torch.randn(4, 3, h, w, generator=g)
    y = torch.randint(0, 3, (4, h, w), generator=g)
    return x, y


def train(checkpoint, steps, rank, world, out):
    torch.set_num_threads(1)
    model, doc = load_model(checkpoint)
    shape = doc["modelTopology"]["config"]["layers"][0]["config"]["batch_input_shape"]
    x, y = batch((4, 3, shape[1], shape[2]))
    per = 4 // world
    x, y = x[rank * per:(rank + 1) * per], y[rank * per:(rank + 1) * per]
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = TfjsAdam(model.parameters(), 1e-3)
    for _ in range(steps):
        opt.zero_grad()
        masked_cross_entropy(net(x), y).backward()
        opt.step()
    if rank == 0:
        torch.save([p.detach().clone() for p in model.parameters()], out)


def worker(rank, checkpoint, steps, port, out):
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        train(checkpoint, steps, rank, 2, out)
    finally:
        dist.destroy_process_group()


def main(argv):
    checkpoint, steps = argv[0], int(argv[1])
    port = 29500 + os.getpid() % 10000
    with tempfile.TemporaryDirectory() as tmp:
        one, two = os.path.join(tmp, "one.pt"), os.path.join(tmp, "two.pt")
        train(checkpoint, steps, 0, 1, one)
        mp.spawn(worker, args=(checkpoint, steps, port, two), nprocs=2, join=True)
        a, b = torch.load(one), torch.load(two)
    diff = max((p - q).abs().max().item() for p, q in zip(a, b))
    scale = max(p.abs().max().item() for p in a)
    moved = max((p - q).abs().max().item() for p, q in zip(a, [t for t in load_model(checkpoint)[0].parameters()]))
    print(json.dumps({"maxRelDiff": diff / scale, "maxUpdate": moved / scale}))


if __name__ == "__main__":
    main(sys.argv[1:])
