"""`python -m segscope_torch train --run DIR --normalization N [--device cpu|cuda] [--amp] [--resume]`:
one worker of a run. It reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT as torchrun sets
them (absent: one process), so the same command runs under torchrun on a cluster and under Segscope, which
starts the workers itself on one machine. `python -m segscope_torch info` prints torch's version and
devices as JSON (segscope doctor). Runs in each PyTorch worker."""

import time

# When this worker started, for the start-up phases it reports (Segscope prints where the time went).
STARTED = time.time()

import argparse  # noqa: E402 - after the clock, which the phases are measured from
import datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402


def _install_cancel():
    # Before torch loads (seconds): a Ctrl+C during the import must cancel, not kill with a traceback.
    from types import SimpleNamespace

    box = SimpleNamespace(flag=False)

    def handler(_sig, _frame):
        box.flag = True
        try:
            from .train import Cancelled

            Cancelled.flag = True
        except Exception:  # noqa: BLE001 - torch still importing; the flag is copied once it has
            pass

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return box


def info():
    import torch

    devices = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            devices.append({"index": i, "name": p.name, "memoryBytes": p.total_memory})
    print(json.dumps({
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudaAvailable": torch.cuda.is_available(),
        "gpus": devices,
        "distributed": torch.distributed.is_available(),
        "gloo": torch.distributed.is_available() and torch.distributed.is_gloo_available(),
        "nccl": torch.distributed.is_available() and torch.distributed.is_nccl_available(),
    }))
    return 0


def _fail(run, message):
    """state.json says failed with `message` (rank 0), and the worker's last line says it too."""
    sys.stderr.write(f"segscope_torch: {message}\n")
    if run and int(os.environ.get("RANK", "0")) == 0:
        try:
            from .checkpoint import write_atomic
            from .train import now_iso

            path = os.path.join(run, "state.json")
            with open(path) as f:
                state = json.load(f)
            state.update({"status": "failed", "endedAt": now_iso(), "error": message, "pid": None,
                          "host": None, "heartbeatAt": None})
            write_atomic(path, json.dumps(state, indent=2) + "\n")
        except Exception:  # noqa: BLE001 - the message on stderr is what Segscope reports then
            pass
    return 1


def train_command(argv, box):
    parser = argparse.ArgumentParser(prog="segscope_torch train")
    parser.add_argument("--run", required=True)
    parser.add_argument("--normalization", required=True, choices=["zero-one", "imagenet-caffe"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--rdzv-timeout", type=float, default=float(os.environ.get("SEGSCOPE_RDZV_TIMEOUT", "120")))
    parser.add_argument("--threads", type=int, default=0)
    # An exported job's dataset lives where the cluster keeps it, not where config.json's datasetRoot says.
    parser.add_argument("--dataset", default=None)
    args = parser.parse_args(argv)
    args.run = os.path.abspath(args.run)
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    try:
        import torch
        import torch.distributed as dist
    except ImportError as err:
        return _fail(args.run, f"{sys.executable} cannot import torch ({err})")
    from . import train as engine

    args.started = STARTED
    engine.phase(args, rank, "torch-imported")
    engine.Cancelled.flag = box.flag
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        return _fail(args.run, f"--device cuda was asked, but this torch ({torch.__version__}, {sys.executable}) "
                     "has no CUDA device (a CPU build, or no GPU or driver visible)")
    if world > 1:
        backend = "nccl" if args.device == "cuda" else "gloo"
        where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
        try:
            dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world,
                                    timeout=datetime.timedelta(seconds=args.rdzv_timeout))
        except Exception as err:  # noqa: BLE001 - torch raises RuntimeError or its own timeout types
            return _fail(args.run, f"the rendezvous at {where} did not form within {args.rdzv_timeout:g} s "
                         f"(rank {rank} of {world}, {backend}): {str(err).splitlines()[0] if str(err) else type(err).__name__}")
        engine.phase(args, rank, "rendezvous")
    try:
        outcome, _state = engine.train(args, rank, world, local_rank)
    except Exception as err:  # noqa: BLE001 - every failure ends the run as failed with its message
        import traceback

        traceback.print_exc()
        return _fail(args.run, f"rank {rank}: {err}")
    finally:
        if world > 1 and dist.is_initialized():
            try:
                dist.destroy_process_group()
            except Exception:  # noqa: BLE001
                pass
    sys.stderr.write(f"segscope_torch: rank {rank} ended {outcome}\n")
    return 0


def main(argv):
    box = _install_cancel()
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] == "info":
        return info()
    if argv[0] == "train":
        return train_command(argv[1:], box)
    sys.stderr.write(f"segscope_torch: unknown command {argv[0]!r} (train, info)\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
