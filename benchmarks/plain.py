"""The plain NumPy loops nntrain is measured against: what a student writes after the lecture.

Weights (inputs, units), ``x @ W + b``, softmax cross-entropy by the max-shift, masks ``h > 0``,
textbook Adam that updates ``m``, ``v`` and the weights in place; the loss and training accuracy every
step. It allocates its intermediate results, as such code does. Besides them, the MLP's matrix
products alone: what any NumPy implementation spends at least.

This module imports NumPy and nothing of nntrain, so that ``python benchmarks/plain.py`` measures the
memory of a process that trains the plain loop alone: the baseline of ``mlp.py``'s memory figure.
"""

import json

import numpy as np

N_ROWS, N_FEATURES, N_CLASSES, HIDDEN = 60_000, 784, 10, 256
BATCH, LR = 128, 0.001
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_Y = np.array([[0], [1], [1], [0]], np.float32)


def mnist_like(seed=0):
    """60,000 x 784 float32 pixels in [0, 1) and labels 0..9, drawn without a float64 temporary."""
    rng = np.random.default_rng(seed)
    return rng.random((N_ROWS, N_FEATURES), dtype=np.float32), rng.integers(0, N_CLASSES, N_ROWS)


class PlainAdam:
    """Textbook Adam with bias correction, updating m, v and the weights in place."""

    def __init__(self, params, lr):
        self.params, self.lr, self.t = params, lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        self.t += 1
        c1, c2 = 1 - BETA1**self.t, 1 - BETA2**self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= BETA1
            m += (1 - BETA1) * g
            v *= BETA2
            v += (1 - BETA2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + EPS)


def plain_mlp_steps(weights, x, y, rng, losses):
    """784-256-256-10 ReLU MLP, softmax cross-entropy on integer labels, Adam; loss and accuracy per
    epoch, as nntrain logs them. A generator: one training step per ``next``, epoch after epoch; each
    epoch's loss goes to ``losses``. ``weights``: nntrain's [W1, b1, W2, b2, W3, b3], W (units, inputs)."""
    params = [np.ascontiguousarray(w.T) if w.ndim == 2 else w.copy() for w in weights]
    W1, b1, W2, b2, W3, b3 = params
    adam = PlainAdam(params, LR)
    n = len(x)
    while True:
        order = rng.permutation(n)
        total_loss = total_correct = 0.0
        for i in range(0, n, BATCH):
            idx = order[i : i + BATCH]
            xb, yb = x[idx], y[idx]
            m = len(yb)
            rows = np.arange(m)
            h1 = np.maximum(xb @ W1 + b1, 0)
            h2 = np.maximum(h1 @ W2 + b2, 0)
            z = h2 @ W3 + b3
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            loss = -np.log(p[rows, yb]).mean()
            if not np.isfinite(loss):
                raise FloatingPointError("the loss diverged")
            total_loss += float(loss) * m
            total_correct += float((p.argmax(axis=1) == yb).sum())
            dz = p
            dz[rows, yb] -= 1
            dz /= m
            dh2 = dz @ W3.T
            dh2 *= h2 > 0
            dh1 = dh2 @ W2.T
            dh1 *= h1 > 0
            adam.step([xb.T @ dh1, dh1.sum(axis=0), h1.T @ dh2, dh2.sum(axis=0), h2.T @ dz, dz.sum(axis=0)])
            if i + BATCH >= n:
                losses.append(total_loss / n)
            yield


def plain_xor_steps(weights, x, y, rng, losses, lr):
    """2-4-1 tanh/sigmoid net, binary cross-entropy, Adam at ``lr``, batches of 4; as ``plain_mlp_steps``."""
    params = [np.ascontiguousarray(w.T) if w.ndim == 2 else w.copy() for w in weights]
    W1, b1, W2, b2 = params
    adam = PlainAdam(params, lr)
    n = len(x)
    while True:
        order = rng.permutation(n)
        total_loss = total_correct = 0.0
        for i in range(0, n, 4):
            idx = order[i : i + 4]
            xb, yb = x[idx], y[idx]
            m = len(yb)
            h = np.tanh(xb @ W1 + b1)
            z = h @ W2 + b2
            p = 1 / (1 + np.exp(-z))
            # -(y log p + (1 - y) log(1 - p)) written with the logit z: no log(0) once p rounds to 1.
            loss = np.mean(np.logaddexp(0, z) - yb * z)
            if not np.isfinite(loss):
                raise FloatingPointError("the loss diverged")
            total_loss += float(loss) * m
            total_correct += float(np.mean((p > 0.5) == (yb > 0.5))) * m
            dz = (p - yb) / m
            dz1 = (dz @ W2.T) * (1 - h * h)
            adam.step([xb.T @ dz1, dz1.sum(axis=0), h.T @ dz, dz.sum(axis=0)])
            if i + 4 >= n:
                losses.append(total_loss / n)
            yield


def matmul_steps(x):
    """The MLP's eight matrix products of a step alone (3 forward, 5 backward), into reused buffers:
    what any NumPy implementation of this network spends at least. A generator, as the loops."""
    rng = np.random.default_rng(1)
    W1, W2, W3 = (rng.uniform(-0.05, 0.05, s).astype(np.float32) for s in [(784, 256), (256, 256), (256, 10)])
    xb = np.ascontiguousarray(x[:BATCH])
    h1, h2, d1, d2 = (np.empty((BATCH, HIDDEN), np.float32) for _ in range(4))
    z = np.empty((BATCH, N_CLASSES), np.float32)
    dW1, dW2, dW3 = np.empty_like(W1), np.empty_like(W2), np.empty_like(W3)
    while True:
        np.matmul(xb, W1, out=h1)
        np.matmul(h1, W2, out=h2)
        np.matmul(h2, W3, out=z)
        np.matmul(h2.T, z, out=dW3)
        np.matmul(z, W3.T, out=d2)
        np.matmul(h1.T, d2, out=dW2)
        np.matmul(d2, W2.T, out=d1)
        np.matmul(xb.T, d1, out=dW1)
        yield


def peak_rss():
    """Peak resident bytes of this process: Linux's VmHWM. (getrusage's ru_maxrss is no good here:
    Linux carries the parent's peak over into a child across fork and exec.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def he_uniform(rng, units, inputs):
    """Weights (units, inputs) as nntrain stores them, and zero biases."""
    limit = np.sqrt(6.0 / inputs)
    return [rng.uniform(-limit, limit, (units, inputs)).astype(np.float32), np.zeros(units, np.float32)]


def child_memory(epochs=2):
    """Train the MLP with the plain loop alone for ``epochs`` epochs; print sizes and peak resident
    memory as JSON (the same fields as ``mlp.child_memory``)."""
    at_start = peak_rss()
    x, y = mnist_like()
    rng = np.random.default_rng(0)
    weights = [*he_uniform(rng, HIDDEN, N_FEATURES), *he_uniform(rng, HIDDEN, HIDDEN), *he_uniform(rng, N_CLASSES, HIDDEN)]
    steps = plain_mlp_steps(weights, x, y, rng, [])
    del weights  # the loop trains copies, transposed
    for _ in range(epochs * -(-N_ROWS // BATCH)):
        next(steps)
    params = sum(N * M + N for N, M in [(HIDDEN, N_FEATURES), (HIDDEN, HIDDEN), (N_CLASSES, HIDDEN)]) * 4
    print(json.dumps({"data": x.nbytes + y.nbytes, "params": params, "optimizer": 2 * params, "at_start": at_start, "peak": peak_rss()}))


if __name__ == "__main__":
    child_memory()
