"""Training diagnostics: what makes vanishing and exploding gradients visible.

In the first and last epoch and about 100 epochs between (on the epoch's last batch) the trainer
records for every layer i (``nntrain.nn.layers``: each layer says what its kernels and its
activation are; a residual block's norms are over both its kernels):

- ``grad_norm.layer<i>``: L2 norm of dLoss/dW before clipping;
- ``weight_norm.layer<i>``: L2 norm of W after the update;
- ``update_ratio.layer<i>``: ||W_after - W_before|| / ||W_before|| of that step;
- what the layer's activation reports on its outputs (``nntrain.nn.activations``):
  ``dead.layer<i>`` (relu): share of units that output 0 for every example of the batch;
  ``saturated.layer<i>`` (sigmoid, tanh): share of outputs within 0.01 of the function's limits.

The rows go to the run's ``diagnostics.csv``. ``advice`` turns them into a sentence when the first
layer's gradients are orders of magnitude below (vanishing) or above (exploding) the last layer's in
the first epoch.
"""

import math

import numpy as np

# First-to-last gradient-norm ratios beyond these are called vanishing / exploding (3 orders of magnitude).
VANISHING, EXPLODING = 1e-3, 1e3


class Diagnostics:
    def __init__(self, model):
        self.layers = model.layers

    def before_update(self):
        """Gradient norms and activation statistics of the step just back-propagated."""
        row = {}
        self._before = [[W.copy() for W, _ in layer.kernels()] for layer in self.layers]
        for i, layer in enumerate(self.layers):
            row[f"grad_norm.layer{i}"] = _norm(dW for _, dW in layer.kernels())
            # Nothing for an output activation fused into the loss: it did not run.
            for name, value in layer.activity().items():
                row[f"{name}.layer{i}"] = value
        return row

    def after_update(self):
        """Weight norms and update/weight ratios of the step just taken."""
        row = {}
        for i, (layer, before) in enumerate(zip(self.layers, self._before)):
            kernels = [W for W, _ in layer.kernels()]
            before_norm = _norm(before)
            row[f"weight_norm.layer{i}"] = _norm(kernels)
            update = _norm(W - old for W, old in zip(kernels, before))
            row[f"update_ratio.layer{i}"] = update / before_norm if before_norm else math.inf
        self._before = None
        return row


def _norm(arrays):
    """The L2 norm of several arrays together (of one: exactly its np.linalg.norm)."""
    return math.hypot(*(float(np.linalg.norm(a)) for a in arrays))


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
