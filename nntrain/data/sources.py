"""Where examples come from: the built-in generated sets, table files (CSV, TSV, Parquet:
``nntrain.data.files``), NumPy files and scikit-learn's sets.

Every source gives a ``Table`` (``nntrain.data.table``: the examples as they are, before targets are
fitted to the loss, before splitting and scaling, which is ``nntrain.data.prepare``).

Errors name the file, and where it helps the line, column, array or row, and what was expected.
"""

import math
import struct
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..nn.losses import BINARY, LABELS, loss_class
from .files import table_file
from .table import BLOCK_BYTES, DEFAULT_TARGETS, Table, check_file, default_features, shown

# --------------------------------------------------------------------------------------------------
# Built-in generated sets. Each draws from the run's generator, always in the same order.

DEFAULT_SAMPLES = 500
DEFAULT_NOISE = {"xor": 0.1, "moons": 0.1, "circles": 0.05, "spirals": 0.05, "blobs": 1.0, "sine": 0.1}
DEFAULT_CLASSES = 3  # spirals and blobs


def xor_table():
    """The lecture's table, rows in its order: 00 -> 0, 01 -> 1, 10 -> 1, 11 -> 0."""
    return np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float), np.array([0, 1, 1, 0])


def xor(n, noise, classes, rng):
    """Corners of the unit square labelled x1 XOR x2, with Gaussian noise; classes alternate row by row,
    each row's corner is one of its class's two, drawn at random."""
    y = np.arange(n) % 2
    first = rng.integers(0, 2, n)
    corners = np.c_[first, first ^ y]
    return corners + noise * rng.standard_normal((n, 2)), y


def moons(n, noise, classes, rng):
    """Two interleaved half circles (as scikit-learn's make_moons), classes alternating row by row."""
    y = np.arange(n) % 2
    t = rng.uniform(0, np.pi, n)
    x = np.where(y[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    return x + noise * rng.standard_normal((n, 2)), y


def circles(n, noise, classes, rng):
    """A circle of radius 1 (class 0) around one of radius 0.5 (class 1)."""
    y = np.arange(n) % 2
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.where(y == 0, 1.0, 0.5)[:, None]
    return r * np.c_[np.cos(t), np.sin(t)] + noise * rng.standard_normal((n, 2)), y


def spirals(n, noise, classes, rng):
    """``classes`` spiral arms from the centre outwards (as in CS231n), each turning by 4 radians."""
    y = np.arange(n) % classes
    r = rng.uniform(0, 1, n)
    t = 2 * np.pi * y / classes + 4 * r
    return r[:, None] * np.c_[np.sin(t), np.cos(t)] + noise * rng.standard_normal((n, 2)), y


def blobs(n, noise, classes, rng):
    """``classes`` Gaussian clusters of standard deviation ``noise`` around centres drawn in [-5, 5]^2."""
    centres = rng.uniform(-5, 5, size=(classes, 2))
    y = np.arange(n) % classes
    return centres[y] + noise * rng.standard_normal((n, 2)), y


def sine(n, noise, classes, rng):
    """Regression: y = sin(x) + noise for x drawn uniformly in [-pi, pi]."""
    x = rng.uniform(-np.pi, np.pi, (n, 1))
    return x, np.sin(x) + noise * rng.standard_normal((n, 1))


GENERATORS = {"xor": xor, "moons": moons, "circles": circles, "spirals": spirals, "blobs": blobs, "sine": sine}


def generate(config, rng):
    """The built-in set ``config.data.source`` with its n_samples, noise and classes (defaults above)."""
    d = config.data
    name = d.source
    if d.classes is not None and name not in ("spirals", "blobs"):
        raise config.error(("data", "classes"), f"{name!r} has a fixed number of classes; only spirals and blobs take classes")
    if name == "xor" and d.n_samples is None:
        if d.noise is not None:
            raise config.error(
                ("data", "noise"), "xor without n_samples is the lecture's four exact rows; set n_samples to sample a noisy version"
            )
        x, y = xor_table()
    else:
        n = d.n_samples or DEFAULT_SAMPLES
        k = d.classes or DEFAULT_CLASSES
        noise = DEFAULT_NOISE[name] if d.noise is None else d.noise
        x, y = GENERATORS[name](n, noise, k, rng)
    features = default_features(x.shape[1])
    if name == "sine":
        return Table(x, y, features, DEFAULT_TARGETS, origin="sine")
    return Table(x, y, features, DEFAULT_TARGETS, labels=True, origin=name)


# --------------------------------------------------------------------------------------------------
# NumPy files: x, y and optionally x_val, y_val, x_test, y_test


ARRAYS = ("x", "y", "x_val", "y_val", "x_test", "y_test")


def array_table(config):
    """The arrays of an .npz file, or of a folder of .npy files (x.npy, y.npy, ...), memory-mapped.

    x may have more than two axes (e.g. images (n, 28, 28)); each example is then flattened.
    x_val/y_val and x_test/y_test, where present, are the validation and test splits. y holds class
    labels for a loss that takes them, and for a binary one when y has one axis.
    """
    path = Path(config.data.path)
    arrays = _npz_arrays(path) if config.data.source == "npz" else _npy_arrays(path)
    name = shown(path)
    for key in ("x", "y"):
        if key not in arrays:
            raise DataError(f"{name}: no array {key!r}; it has: {', '.join(arrays) or 'nothing'}")
    parts = {}
    for part, suffix in (("train", ""), ("val", "_val"), ("test", "_test")):
        xk, yk = "x" + suffix, "y" + suffix
        if (xk in arrays) != (yk in arrays):
            have, missing = (xk, yk) if xk in arrays else (yk, xk)
            raise DataError(f"{name}: has {have!r} but no {missing!r}")
        if xk in arrays:
            parts[part] = _array_part(name, (xk, arrays[xk]), (yk, arrays[yk]), parts.get("train"))
    x, y = parts.pop("train")
    targets_kind = loss_class(config.loss).targets
    labels = targets_kind == LABELS or (y.ndim == 1 and targets_kind == BINARY)
    targets = ["y"] if y.ndim == 1 or y.shape[1] == 1 else [f"y{j + 1}" for j in range(y.shape[1])]
    features = default_features(x.shape[1])
    return Table(x, y, features, targets, labels=labels, parts=parts, origin=name)


def _array_part(name, x_array, y_array, train):
    """One split's (x, y) of file ``name``: x flattened to (n, features) (still mapped), y in memory;
    each checked (numbers, one row per example, as many rows, finite, as many features as ``train``'s)."""
    (xk, x), (yk, y) = x_array, y_array
    for key, a in (x_array, y_array):
        if a.dtype.kind not in "biuf":
            raise DataError(f"{name}: array {key!r} has dtype {a.dtype}; expected numbers")
        if a.ndim == 0:
            raise DataError(f"{name}: array {key!r} is a single number; expected one row per example")
    if len(x) != len(y):
        raise DataError(f"{name}: {xk!r} has {len(x)} rows but {yk!r} has {len(y)}")
    if len(x) == 0:
        raise DataError(f"{name}: {xk!r} has no rows")
    x = x.reshape(len(x), -1)  # a view for C-ordered arrays, memory-mapped ones included
    if train is not None and x.shape[1] != train[0].shape[1]:
        raise DataError(f"{name}: {xk!r} has {x.shape[1]} features per row but 'x' has {train[0].shape[1]}")
    check_finite(name, xk, x)
    y = np.array(y)  # targets are small next to x: read them into memory
    check_finite(name, yk, y)
    return x, y


def _npy_arrays(folder):
    name = shown(folder)
    if not folder.exists():
        raise DataError(f"{name}: no such folder; source 'npy' expects a folder of x.npy, y.npy, ...")
    if not folder.is_dir():
        raise DataError(f"{name}: not a folder; source 'npy' expects a folder of x.npy, y.npy, ... (a single file: use npz)")
    arrays = {}
    for key in ARRAYS:
        file = folder / f"{key}.npy"
        if file.is_file():
            try:
                arrays[key] = np.load(file, mmap_mode="r", allow_pickle=False)
            except ValueError as e:
                raise DataError(f"{shown(file)}: cannot read as .npy: {e}") from None
            except OSError as e:
                raise DataError(f"{shown(file)}: cannot read: {e}") from None
    return arrays


def _npz_arrays(path):
    """The arrays of an .npz file: members stored uncompressed (np.savez) are memory-mapped in place,
    compressed ones (np.savez_compressed) are read into memory."""
    import zipfile  # with the compression modules it loads: only for .npz data

    name = shown(path)
    if not path.exists():
        raise DataError(f"{name}: no such file")
    if not path.is_dir():
        check_file(path, "an .npz file")
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive, open(path, "rb") as f:
            for info in archive.infolist():
                key = info.filename.removesuffix(".npy")
                if key not in ARRAYS:
                    continue
                if info.compress_type == zipfile.ZIP_STORED:
                    arrays[key] = _map_member(path, f, info)
                else:
                    with archive.open(info) as member:
                        _check_decompressed(name, info.filename, member)
                    with archive.open(info) as member:
                        arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
    except zipfile.BadZipFile:
        raise DataError(f"{name}: not an .npz file (not a zip archive)") from None
    except MemoryError:
        raise DataError(f"{name}: not enough memory to decompress its arrays (np.savez keeps them uncompressed, and memory-mapped)") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a directory; source 'npz' expects an .npz file (a folder of .npy files: use npy)") from None
    except ValueError as e:
        raise DataError(f"{name}: cannot read an array: {e}") from None
    except OSError as e:
        raise DataError(f"{name}: cannot read: {e}") from None
    return arrays


def _check_decompressed(name, member_name, member):
    """DataError if a compressed .npy member would not fit in the memory available once decompressed
    (a 3 MB file may hold gigabytes of zeros): its header says its shape and dtype."""
    version = np.lib.format.read_magic(member)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:  # a newer header: read_array checks it itself
        return
    shape, _, dtype = readers[version](member)
    size = math.prod(shape) * dtype.itemsize
    available = _available_memory()
    if available is not None and size > available:
        raise DataError(
            f"{name}: {member_name} takes {_bytes_text(size)} decompressed, more than the {_bytes_text(available)} of "
            "memory available; save it uncompressed (np.savez), which is memory-mapped instead"
        )


def _bytes_text(n):
    """1.2 GB, 340 MB, 16 kB."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def _available_memory():
    """Bytes of memory the system can give (Linux's MemAvailable), or None where it cannot tell."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _map_member(path, f, info):
    """Memory-map one uncompressed .npy member of a zip: its bytes lie contiguously in the file,
    after the member's local header (30 bytes + file name + extra field) and the .npy header."""
    f.seek(info.header_offset)
    local = f.read(30)
    if local[:4] != b"PK\x03\x04":
        raise ValueError(f"damaged zip entry {info.filename!r}")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    f.seek(info.header_offset + 30 + name_len + extra_len)
    version = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(f)
    if dtype.hasobject:
        raise ValueError(f"{info.filename!r} holds Python objects")
    if math.prod(shape) == 0:
        return np.empty(shape, dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=f.tell(), shape=shape, order="F" if fortran else "C")


def check_finite(name, key, a):
    """DataError naming array ``key`` of file ``name`` and its first row holding a NaN or infinity.

    Scans memory-mapped arrays block by block."""
    if a.dtype.kind != "f":
        return
    rows = len(a)
    block = max(1, BLOCK_BYTES // max(1, a[:1].nbytes))
    for start in range(0, rows, block):
        chunk = np.asarray(a[start : start + block])
        if np.isfinite(chunk).all():
            continue
        bad = np.argwhere(~np.isfinite(chunk))[0]
        row = start + int(bad[0])
        where = f"{key}[{row}]" if chunk.ndim == 1 else f"{key}[{row}, {int(bad[1])}]"
        raise DataError(f"{name}: array {key!r} has a non-finite value ({chunk[tuple(bad)]}) in row {row} ({where})")


# --------------------------------------------------------------------------------------------------
# scikit-learn's bundled sets (the optional extra nntrain[sklearn])

SKLEARN_CLASSIFICATION = ("iris", "digits", "wine", "breast_cancer")


def sklearn_table(config):
    name = config.data.source.removeprefix("sklearn:")
    try:
        from sklearn import datasets
    except ImportError:
        raise DataError(
            f"source 'sklearn:{name}' needs scikit-learn; install it with: pip install 'nntrain[sklearn]'"
        ) from None
    bunch = getattr(datasets, f"load_{name}")()
    x = np.asarray(bunch.data, dtype=np.float64)
    features = [str(f) for f in bunch.get("feature_names", [])] or default_features(x.shape[1])
    if name in SKLEARN_CLASSIFICATION:
        classes = [str(c) for c in bunch.target_names]
        return Table(x, np.asarray(bunch.target), features, ["class"], classes, labels=True, origin=f"sklearn:{name}")
    return Table(x, np.asarray(bunch.target, dtype=np.float64)[:, None], features, ["target"], origin=f"sklearn:{name}")


def load_table(config, rng, classes=None):
    """The Table of ``config.data.source``; ``classes``: a run's class names, to label a CSV the same way."""
    source = config.data.source
    if source in ("csv", "tsv", "parquet"):
        return table_file(config, classes)
    if source in ("npz", "npy"):
        return array_table(config)
    if source.startswith("sklearn:"):
        return sklearn_table(config)
    return generate(config, rng)
