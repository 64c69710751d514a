"""Training diagnostics: what makes vanishing and exploding gradients visible.

In the first and last epoch and about 100 epochs between (on the epoch's last batch) the trainer
records for every layer i:

- ``grad_norm.layer<i>``: L2 norm of dLoss/dW before clipping;
- ``weight_norm.layer<i>``: L2 norm of W after the update;
- ``update_ratio.layer<i>``: ||W_after - W_before|| / ||W_before|| of that step;
- ``dead.layer<i>`` (relu): share of units that output 0 for every example of the batch;
- ``saturated.layer<i>`` (sigmoid, tanh): share of outputs within 0.01 of the function's limits.

The rows go to the run's ``diagnostics.csv``. ``advice`` turns them into a sentence when the first
layer's gradients are orders of magnitude below (vanishing) or above (exploding) the last layer's in
the first epoch.
"""

import math

import numpy as np

from ..nn.layers import Activation, Dense

# First-to-last gradient-norm ratios beyond these are called vanishing / exploding (3 orders of magnitude).
VANISHING, EXPLODING = 1e-3, 1e3


class Diagnostics:
    def __init__(self, model):
        self.dense = [next(op for op in layer if isinstance(op, Dense)) for layer in model.layers]
        self.activations = [next(op for op in layer if isinstance(op, Activation)) for layer in model.layers]

    def before_update(self):
        """Gradient norms and activation statistics of the step just back-propagated."""
        row = {}
        self._before = [d.params["W"].copy() for d in self.dense]
        for i, (dense, act) in enumerate(zip(self.dense, self.activations)):
            row[f"grad_norm.layer{i}"] = float(np.linalg.norm(dense.grads["W"]))
            a = getattr(act, "_a", None)  # None for an output activation fused into the loss
            if a is None:
                continue
            if act.name == "relu":
                row[f"dead.layer{i}"] = float(np.mean(~a.any(axis=0)))
            elif act.name == "sigmoid":
                row[f"saturated.layer{i}"] = float(np.mean((a < 0.01) | (a > 0.99)))
            elif act.name == "tanh":
                row[f"saturated.layer{i}"] = float(np.mean(np.abs(a) > 0.99))
        return row

    def after_update(self):
        """Weight norms and update/weight ratios of the step just taken."""
        row = {}
        for i, (dense, before) in enumerate(zip(self.dense, self._before)):
            W = dense.params["W"]
            before_norm = float(np.linalg.norm(before))
            row[f"weight_norm.layer{i}"] = float(np.linalg.norm(W))
            row[f"update_ratio.layer{i}"] = float(np.linalg.norm(W - before)) / before_norm if before_norm else math.inf
        self._before = None
        return row


def gradient_ratio(row):
    """First layer's gradient norm / last layer's in one diagnostics row, or None (one layer, zero norm)."""
    norms = [v for k, v in row.items() if k.startswith("grad_norm.layer")]
    if len(norms) >= 2 and norms[-1] > 0 and math.isfinite(norms[0]):
        return norms[0] / norms[-1]
    return None


def advice(rows):
    """A plain sentence if gradients vanished or exploded across the layers in the first epoch, else None.

    The first epoch shows what the initialisation does to the gradients; later, a converged net's
    gradients shrink everywhere and would make any ratio look like vanishing.
    """
    ratio = gradient_ratio(rows[0]) if rows else None
    if ratio is None:
        return None
    if ratio < VANISHING:
        return (
            f"Gradients vanished: in the first epoch the first layer's gradient norm was {ratio:.1e} times "
            "the last layer's (see diagnostics.csv). Try relu with he_normal init, batchnorm: true, "
            "standardised inputs, or fewer layers."
        )
    if ratio > EXPLODING:
        return (
            f"Gradients exploded: in the first epoch the first layer's gradient norm was {ratio:.1e} times "
            "the last layer's (see diagnostics.csv). Try training.clip_norm, a smaller init scale "
            "(e.g. xavier or he), or a lower learning rate."
        )
    return None
