"""Snapshot storage and backprop's agreement with finite differences.

    python benchmarks/snapshots.py     # a few seconds

1. ``snapshots.npz`` bytes per 100 snapshots (``training.snapshots``) of the XOR net (configs/xor.yaml:
   2-4-1) and the digits net (configs/digits.yaml: 64-256-10), float32 as they train, written as the
   Snapshots callback writes them (``stack`` + ``write_arrays``), against the raw bytes of the weights;
2. ``nntrain backprop``'s largest relative error against central differences (float64, eps 1e-6)
   on the lecture's hand-set XOR network (all four inputs) and on a random deeper net (8 layers of
   mixed activations, batch norm, a residual block, softmax + categorical cross-entropy), 20 inputs.
"""

import tempfile
from pathlib import Path

import numpy as np

from nntrain.config import load_config
from nntrain.nn.backprop import trace
from nntrain.nn.losses import make_loss
from nntrain.nn.model import build_model
from nntrain.runs.store import write_arrays
from nntrain.training.backprop import backprop
from nntrain.training.snapshots import stack

CONFIGS = Path(__file__).parent.parent / "configs"


def storage(config_name, inputs, n=100):
    config = load_config(CONFIGS / config_name)
    model = build_model(config, inputs, np.random.default_rng(0))
    kept = {e: {k: v + e * 1e-3 for k, v in model.state_dict().items()} for e in range(1, n + 1)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snapshots.npz"
        write_arrays(path, stack(kept))
        size = path.stat().st_size
    raw = sum(a.nbytes for a in model.state_dict().values()) * n
    params = sum(a.size for a in model.state_dict().values())
    return params, size, raw


def deep_net_error(seed):
    from nntrain.config import ExperimentConfig

    layers = [{"units": 8, "activation": a} for a in ("relu", "tanh", "silu", "sigmoid", "leaky_relu", "gelu")]
    layers[2]["batchnorm"] = True
    layers.insert(4, {"type": "residual", "units": 8, "hidden": 6, "activation": "tanh"})
    config = ExperimentConfig.model_validate(
        {"dtype": "float64", "model": {"inputs": 5, "layers": [*layers, {"units": 3, "activation": "softmax"}]},
         "loss": "categorical_crossentropy", "data": {"source": "xor"}, "metrics": []}  # fmt: skip
    )
    rng = np.random.default_rng(seed)
    model = build_model(config, 5, rng)
    for name, array in model.state_dict().items():
        if name.endswith(("running_var", "gamma")):
            array[...] = rng.uniform(0.5, 2.0, array.shape)
        elif name.endswith(("running_mean", "beta", "b")):
            array[...] = rng.normal(0, 0.5, array.shape)
    t = trace(model, make_loss(config.loss, model.output_activation), rng.normal(size=(1, 5)), np.array([seed % 3]))
    return t.max_error, len(t.gradients), sum(g.analytic.size for g in t.gradients)


def main():
    print("snapshots.npz per 100 snapshots (float32)")
    for name, label, inputs in (("xor.yaml", "XOR 2-4-1", 2), ("digits.yaml", "digits 64-256-10", 64)):
        params, size, raw = storage(name, inputs)
        print(f"  {label:18} {params:6d} parameters: {size / 1e3:9.1f} kB ({raw / 1e3:.1f} kB of weights, {size / raw - 1:+.1%} overhead)")
    print("backprop: largest relative error against central differences (float64, eps 1e-6)")
    lecture = [backprop(CONFIGS / "xor_reference.yaml", [x], t).max_error for x, t in (("0,0", "0"), ("0,1", "1"), ("1,0", "1"), ("1,1", "0"))]
    print(f"  lecture's XOR net, 4 inputs:            {max(lecture):.1e}")
    deep = [deep_net_error(seed) for seed in range(20)]
    print(f"  random deeper net (9 layers), 20 inputs: {max(e for e, _, _ in deep):.1e} "
          f"({deep[0][1]} gradients, {deep[0][2]} entries each trace)")  # fmt: skip


if __name__ == "__main__":
    main()
