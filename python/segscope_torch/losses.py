"""Segscope's training objective and optimisers in PyTorch: masked cross-entropy (void 255 left out, class
weights as PyTorch weighs them), soft Dice, the L2 penalty on kernels, and Adam and momentum SGD with
tfjs's update rules (Adam's ε 1e-7 and one step count for the whole optimiser), and the learning-rate
schedules. Mirrors src/main/engine/loss.ts and train.ts. Runs in the PyTorch worker."""

import math

import torch
import torch.nn.functional as F

VOID = 255


def masked_cross_entropy(logits, labels, class_weights=None):
    """logits `[b, c, h, w]`, labels `[b, h, w]` int64 (255 void): the weighted mean over labelled pixels."""
    classes = logits.shape[1]
    valid = labels != VOID
    safe = torch.where(valid, labels, torch.zeros_like(labels))
    log_probs = F.log_softmax(logits.float(), dim=1)
    nll = -log_probs.gather(1, safe.unsqueeze(1)).squeeze(1)
    weight = valid.float()
    if class_weights is not None:
        weight = weight * class_weights[safe]
    del classes
    return (nll * weight).sum() / weight.sum().clamp(min=1e-12)


def soft_dice_loss(logits, labels):
    """1 − mean over classes of (2·Σpg + 1) / (Σp + Σg + 1), over labelled pixels."""
    classes = logits.shape[1]
    valid = (labels != VOID).float().unsqueeze(1)
    safe = torch.where(labels != VOID, labels, torch.zeros_like(labels))
    probs = F.softmax(logits.float(), dim=1) * valid
    target = F.one_hot(safe, classes).permute(0, 3, 1, 2).float() * valid
    inter = (probs * target).sum(dim=(0, 2, 3))
    sizes = probs.sum(dim=(0, 2, 3)) + target.sum(dim=(0, 2, 3))
    return 1 - ((2 * inter + 1) / (sizes + 1)).mean()


def scheduled_lr(base, schedule, epoch, epochs):
    """The learning rate of 0-based `epoch`, as train.ts's scheduledLr."""
    if schedule == "cos":
        return base * 0.01 + base * 0.99 * 0.5 * (1 + math.cos(math.pi * epoch / max(1, epochs)))
    if schedule == "step":
        return base * 0.1 ** (epoch // max(1, math.ceil(epochs / 3)))
    return base


class TfjsAdam(torch.optim.Optimizer):
    """tfjs's Adam: m, v per weight, bias correction by one step count shared by the whole optimiser (so a
    weight unfrozen later is corrected as tfjs corrects it), ε added to √v̂, ε 1e-7 (tfjs's float32 ε)."""

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-7):
        super().__init__(params, {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps})
        self.steps = 0

    @torch.no_grad()
    def step(self, closure=None):
        self.steps += 1
        for group in self.param_groups:
            b1, b2, lr, eps = group["beta1"], group["beta2"], group["lr"], group["eps"]
            c1, c2 = 1 - b1 ** self.steps, 1 - b2 ** self.steps
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["m"] = torch.zeros_like(p)
                    state["v"] = torch.zeros_like(p)
                m, v = state["m"], state["v"]
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                p.sub_(lr * (m / c1) / ((v / c2).sqrt() + eps))


class TfjsMomentum(torch.optim.Optimizer):
    """tfjs's momentum optimiser: a ← μ·a + g, w ← w − lr·a (no dampening, no Nesterov)."""

    def __init__(self, params, lr, momentum):
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "a" not in state:
                    state["a"] = torch.zeros_like(p)
                state["a"].mul_(group["momentum"]).add_(p.grad)
                p.sub_(group["lr"] * state["a"])


def make_optimizer(settings, params):
    if settings["optimizer"] == "adam":
        return TfjsAdam(params, settings["lr"])
    return TfjsMomentum(params, settings["lr"], settings["momentum"])
