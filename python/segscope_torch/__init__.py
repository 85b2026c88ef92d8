"""Segscope's PyTorch engine: trains a Segscope run folder with PyTorch (CPU, CUDA; DDP across processes).

The run folder is the contract with Segscope (TypeScript): config.json (the TrainJob), the initial
checkpoint Segscope's own engine wrote (tfjs layers model.json + weights.bin), and what this package
writes back: state.json, metrics.jsonl, steps.jsonl, eval.json and checkpoints/{last,best}.
"""

__version__ = "0.1.0"
