"""The confusion matrix and the figures Segscope reports (mIoU, per-class IoU, precision, recall, F1, pixel
accuracy), with the JSON keys and null rules of src/shared/metrics.ts. Runs in the PyTorch worker."""

import numpy as np


def confusion(gt, pred, classes):
    """`confusion[g][p]` pixel counts, void (255) ground truth left out."""
    keep = gt != 255
    idx = gt[keep].astype(np.int64) * classes + pred[keep].astype(np.int64)
    return np.bincount(idx, minlength=classes * classes).reshape(classes, classes)


def _mean(values):
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def compute_metrics(cm, class_names):
    n = len(class_names)
    per_class = []
    for c in range(n):
        tp = float(cm[c, c])
        gt = float(cm[c, :].sum())
        pred = float(cm[:, c].sum())
        present = gt + pred > 0
        per_class.append({
            "index": c,
            "name": class_names[c],
            "iou": tp / (gt + pred - tp) if present else None,
            "precision": tp / pred if pred > 0 else None,
            "recall": tp / gt if gt > 0 else None,
            "f1": 2 * tp / (gt + pred) if present else None,
            "gt_pixels": int(gt),
            "pred_pixels": int(pred),
        })
    total = float(cm.sum())
    mrecall = _mean([m["recall"] for m in per_class])
    return {
        "miou": _mean([m["iou"] for m in per_class]),
        "mpa": mrecall,
        "mprecision": _mean([m["precision"] for m in per_class]),
        "mrecall": mrecall,
        "f1": _mean([m["f1"] for m in per_class]),
        "pixel_accuracy": float(np.trace(cm)) / total if total > 0 else None,
        "per_class": per_class,
        "confusion": cm.astype(int).tolist(),
    }
