"""Weights pinned bit for bit: the same config and seed give the same weights.npz, whatever the code's
layout. The digests were taken before the package was split into sub-packages; a change that alters
any of them changes what users' configs train to.

Bits are the same on machines of one class only: NumPy picks its transcendental functions (tanh, exp)
by the CPU's SIMD level, and OpenBLAS its kernels (their order of summation) by the CPU. Where a
config's bits differ between classes, each class has its own digest; on a class not recorded yet the
test says which digest to add.
"""

import hashlib
import platform

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from nntrain.config import load_config
from nntrain.runs.store import read_weights
from nntrain.training.fit import fit

# config, --set overrides, sha256 over the weights' names, dtypes, shapes and bytes (sorted by name)
PINNED = [
    ("configs/xor.yaml", (), "XOR"),
    ("configs/lecture/09_batchnorm.yaml", ("training.epochs=3",), "BATCHNORM"),
    ("configs/moons.yaml", ("training.epochs=2", "model.layers.0.keep_prob=0.8", "model.layers.0.l1=0.001",
                            "training.clip_norm=0.5"), "MOONS"),
    ("configs/iris.yaml", ("training.epochs=5", "optimizer={name: sgd, lr: 0.1, momentum: 0.9, nesterov: true}",
                           "training.schedule={name: cosine, warmup_epochs: 1}"), "IRIS"),
    ("configs/sine.yaml", ("training.epochs=3", "dtype=float64"), "SINE"),
]


def weights_digest(run_dir):
    h = hashlib.sha256()
    for name, array in sorted(read_weights(run_dir).items()):
        h.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def machine_class():
    """NumPy's widest SIMD level and OpenBLAS's kernel architecture, e.g. "X86_V3/Haswell"."""
    from numpy._core._multiarray_umath import __cpu_features__ as features

    simd = next((level for level in ("X86_V4", "X86_V3", "X86_V2") if features.get(level)), platform.machine())
    blas = next((i.get("architecture") for i in threadpool_info() if i.get("user_api") == "blas"), None)
    return f"{simd}/{blas}"


@pytest.mark.parametrize("path, overrides, digest", PINNED, ids=[p[2] for p in PINNED])
def test_weights_are_pinned(path, overrides, digest, tmp_path):
    result = fit(load_config(path, overrides), run_dir=tmp_path / "run")
    got, pinned, machine = weights_digest(result.run_dir), DIGESTS[digest], machine_class()
    if isinstance(pinned, str):  # the same bits on every class recorded
        assert got == pinned
    elif machine in pinned:
        assert got == pinned[machine]
    elif got not in pinned.values():
        pytest.skip(f"no {digest} digest for machine class {machine}: add {got!r} (if the code did not change)")


DIGESTS = {
    # tanh and the sigmoid's exp: NumPy's SIMD versions differ in their last bits between classes.
    "XOR": {
        "X86_V3/Haswell": "309c01c45c80df9ef718748a8d7cc5606b7c562d56512ae28b14374a0888f987",
        "earlier machine (AVX-512)": "34e4d802224fd68747054d490483fef5463b228264181a5c9d85be06ac5f6cb4",
    },
    "BATCHNORM": "8fbac916bc24751b7fe9645f708c9c8e6ff7232cb5160ad95c3ddd1a8022e6c3",
    "MOONS": {
        "X86_V3/Haswell": "6cbf4ead8e6a7766a63bb87fc2ea174bffbada958c46d7a99386a203ffdff83e",
        "earlier machine (AVX-512)": "4b70ac5300e4ad38dabba70d92720fa3697a07f693e66c033e6ffa7a683f5d01",
    },
    "IRIS": "e073ece8612f895e77f37cd10001ad080eeef48d060d799b81c8be6d3e792417",
    "SINE": "38dcbbf567da3fa252621b4ea0515cefcfe761f9c9c3fcc9d809351890c1a71d",
}
