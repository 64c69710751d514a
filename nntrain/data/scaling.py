"""Standardisation -- mean 0 and standard deviation 1 per feature, fitted on the training split only --
and the rows it applies to.

- ``standardization``: the statistics of in-memory or memory-mapped rows; ``standardize``: rows as
  training takes them, standardised in float64 and then cast to the config's dtype;
- ``Rows``: memory-mapped rows, read, converted and standardised only when a batch asks for them;
- ``ColumnScaler``: a table's columns standardised one by one as they are encoded.
"""

import numpy as np

from ..errors import DataError
from .table import BLOCK_BYTES, parallel_map


class Rows:
    """Rows ``index`` of a 2-D array (all rows if None), read only when indexed, as ``dtype``, standardised.

    Indexing with an int array, a slice or an int gathers those rows from ``base`` (a memory-mapped
    file: only their pages are read), applies ``(x - mean) / std`` if set and returns them as
    ``dtype``: always a new array, never the file's own pages. Stands in for the (n, features)
    array as far as the loader, the trainer's evaluation and ``np.asarray`` are concerned.
    """

    ndim = 2

    def __init__(self, base, index=None, dtype=np.float32, mean=None, std=None):
        self.base, self.index, self.dtype = base, index, np.dtype(dtype)
        self.mean, self.std = mean, std
        if mean is not None:
            # Standardise in the wider of the file's and the result's dtype: a float32 file stays
            # float32 (fast), a float64 file keeps its precision until the final cast.
            work = np.promote_types(base.dtype, self.dtype)
            self._mean, self._scale = np.asarray(mean, work), np.asarray(1 / np.asarray(std), work)

    def __len__(self):
        return len(self.base) if self.index is None else len(self.index)

    @property
    def shape(self):
        return (len(self), self.base.shape[1])

    def read(self, key):
        """The rows ``key`` as stored in ``base``: not converted, not standardised."""
        return self.base[key] if self.index is None else self.base[self.index[key]]

    def __getitem__(self, key):
        if isinstance(key, tuple):  # rows first, then the rest of the index within them
            rows = self[key[0]]
            return rows[key[1:]] if rows.ndim == 1 else rows[(slice(None), *key[1:])]
        rows = self.read(key)
        if self.mean is None:
            return np.array(rows, dtype=self.dtype)
        if rows.dtype != self._mean.dtype or np.may_share_memory(rows, self.base):
            rows = np.array(rows, dtype=self._mean.dtype)  # a slice is the file's own pages: copy it
        # In place on the freshly gathered rows; multiplying by 1/std is cheaper than dividing.
        rows -= self._mean
        rows *= self._scale
        return rows.astype(self.dtype, copy=False)

    def __array__(self, dtype=None, copy=None):
        rows = self[:]
        return rows if dtype is None else rows.astype(dtype, copy=False)

    def take(self, index):
        """The rows ``index`` of these rows, still unread."""
        return Rows(self.base, index if self.index is None else self.index[index], self.dtype, self.mean, self.std)

    def scaled(self, mean, std):
        return Rows(self.base, self.index, self.dtype, mean, std)


class ColumnScaler:
    """Standardisation column by column, as a table's columns are encoded: fitted on the training
    split's (``fitting``: each column's mean and std are taken as it comes), then applied. The same
    bits as ``standardization`` and ``standardize`` on the whole float64 encoding, without it."""

    def __init__(self, mean, std, fitting):
        self.mean, self.std, self.fitting = mean, std, fitting

    @classmethod
    def of(cls, stats, width, origin):
        """A run's statistics (data.json's ``standardize``) to apply, or none yet: to fit."""
        if not stats:
            return cls(np.zeros(width), np.ones(width), fitting=True)
        return cls(*stored_statistics(stats, width, origin), fitting=False)

    def __call__(self, j, values):
        if self.fitting:
            self.mean[j], self.std[j] = column_statistics(values)
        return (values - self.mean[j]) / self.std[j]

    def to_json(self):
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}



def standardization(x):
    """(mean, std) per column of x: (n, features), in float64; constant columns get std 1, not 0.

    A column counts as constant when its std is within rounding error of its mean (dividing by it
    would blow rounding noise up to unit size). Memory-mapped rows are read block by block.
    """
    if isinstance(x, Rows):
        # One pass, block by block, merging each block's mean and sum of squared deviations
        # (Chan et al.'s pairwise update): as exact as the two-pass formula, without reading twice.
        block = max(1, BLOCK_BYTES // max(1, 8 * x.shape[1]))
        n, mean, m2 = 0, np.zeros(x.shape[1]), np.zeros(x.shape[1])
        for start in range(0, len(x), block):
            rows = np.asarray(x.read(slice(start, start + block)), dtype=np.float64)
            k, block_mean = len(rows), rows.mean(axis=0)
            delta = block_mean - mean
            m2 += np.square(rows - block_mean).sum(axis=0) + np.square(delta) * (n * k / (n + k))
            mean += delta * (k / (n + k))
            n += k
        std = np.sqrt(m2 / n)
    else:
        x64 = np.asarray(x, dtype=np.float64)
        mean, std = x64.mean(axis=0), x64.std(axis=0)
    std[_constant(mean, std)] = 1.0
    return mean, std


def stored_statistics(stats, width, origin):
    """(mean, std) of a run's data.json ``standardize``, checked to fit ``width`` features."""
    mean, std = (np.asarray(stats[k], dtype=np.float64) for k in ("mean", "std"))
    if mean.shape != (width,) or std.shape != (width,):
        raise DataError(f"{origin}: the run standardised {mean.size} features, but the data now has {width}")
    return mean, std


def column_statistics(values):
    """(mean, std) of one column's float64 values, as ``standardization`` gives them for a column-major
    array (a contiguous column sums the same way on its own): a table's, as it is encoded."""
    # values.mean() and values.std(), step by step as NumPy takes them (the same bits, tested), without
    # their wrappers' overhead, which is most of the cost on a wide table's short columns.
    n = len(values)
    mean = np.add.reduce(values) / n
    deviations = values - mean
    np.multiply(deviations, deviations, out=deviations)
    std = np.sqrt(np.add.reduce(deviations) / n)
    return float(mean), 1.0 if _constant(mean, std) else float(std)


def _constant(mean, std):
    """Whether a std is within rounding error of its mean: dividing by it would blow rounding noise up
    to unit size."""
    return std <= 10 * np.finfo(np.float64).eps * np.abs(mean)


def standardize(x, scale, dtype):
    """x as training takes it: rows of ``dtype`` (C-ordered: batches are rows), standardised with
    ``scale`` = (mean, std) if given -- (x - mean) / std in float64 before the cast, which would lose a
    large offset's digits. In-memory x is converted in blocks of rows that fit in the cache (several
    times faster for a table's column-major encoding, and never a float64 copy of the whole);
    memory-mapped ``Rows`` are standardised per batch."""
    if isinstance(x, Rows):
        return x if scale is None else x.scaled(*scale)
    if scale is None and (x.flags.c_contiguous or x.ndim != 2):
        return np.ascontiguousarray(x, dtype=dtype)
    out = np.empty(x.shape, dtype=dtype)
    block = max(1, (1 << 20) // (8 * max(1, x.shape[1])))

    def convert(start):
        rows = x[start : start + block]
        if scale is not None:
            rows = np.asarray(rows, dtype=np.float64) - scale[0]
            rows /= scale[1]
        out[start : start + block] = rows

    parallel_map(convert, range(0, len(x), block), len(x))
    return out
