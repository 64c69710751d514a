"""``nntrain export RUN --format onnx``: a run's whole prediction -- imputation, one-hot encoding,
standardisation, the network, its output activation, a classifier's label -- as one ONNX model
(IR 8, opset 17 + ai.onnx.ml 3) that onnxruntime runs on raw columns. The graph is built in
``onnx_graph``; here: the checks, the file, and ``feeds`` (a CSV's rows as the model's inputs).

Needs the ``onnx`` package (``pip install 'nntrain[onnx]'``), imported only here.
"""

import time
from pathlib import Path

import numpy as np

from ..data.columns import CategoryEncoding
from ..data.csvfile import read_rows
from ..errors import DataError, RunError, UsageError
from ..runs.store import WEIGHTS, check_output, write_bytes
from . import onnx_graph

DEFAULT_NAME = "model.onnx"


def export(runs, output=None, *, force=False, tracking_uri=None, experiment=None):
    """Write the ONNX model of one run (``runs``: a list of one run directory) to ``output`` (default
    RUN/model.onnx; an existing file only with ``force``). The lines to print."""
    for option, value in (("--tracking-uri", tracking_uri), ("--experiment", experiment)):
        if value is not None:
            raise UsageError(f"{option} is an mlflow option; --format onnx writes a file (-o)")
    if len(runs) != 1:
        raise UsageError(f"--format onnx exports one run at a time; got {len(runs)}: {', '.join(map(str, runs))}")
    run = Path(runs[0])
    output = Path(output) if output is not None else run / DEFAULT_NAME
    predictor = _predictor(run)
    check_output(output, force)
    onnx = _import_onnx()
    started = time.perf_counter()
    model = onnx_graph.build(onnx, predictor, run.resolve().name, _version(), missing_values(predictor))
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString()
    write_bytes(output, data)
    seconds = time.perf_counter() - started
    inputs = [i.name for i in model.graph.input]
    shown = ", ".join(inputs[:6]) + (f" and {len(inputs) - 6} more" if len(inputs) > 6 else "")
    outs = ", ".join(o.name for o in model.graph.output)
    return [
        f"wrote {output} ({len(data) / 1000:.1f} kB, opset {onnx_graph.OPSET}, IR {onnx_graph.IR_VERSION}, "
        f"{predictor.model.dtype}, {seconds:.2f} s): inputs {shown}; outputs {outs}"
    ]


def _predictor(run):
    """The run's Predictor; RunError for a directory that is not a run or has no weights yet."""
    from ..runs.inference import load_predictor
    from ..runs.store import load_run_config

    load_run_config(run)  # no such directory, not a run: its own message
    if not (run / WEIGHTS).is_file():
        raise RunError(f"{run}: no {WEIGHTS}: the run stopped before it saved its first weights; there is nothing to export")
    return load_predictor(run)


def _import_onnx():
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError:
        raise UsageError("--format onnx needs the onnx package: pip install 'nntrain[onnx]'") from None
    return onnx


def _version():
    from .. import __version__

    return __version__


def missing_values(predictor):
    """The spellings of a missing cell: the reader's and the run's ``data.na_values``."""
    from ..data.reader import NA_VALUES

    return list(dict.fromkeys([*NA_VALUES, *predictor.config.data.na_values]))


def feeds(run, path):
    """The inputs of a run's exported model for the rows of a CSV (or TSV) of raw inputs, as onnxruntime
    takes them: name -> array (rows, 1) -- a category's or boolean's cells as text (trimmed, as the
    reader trims them), a number's as floats of the run's dtype (NaN where missing) -- or, for a
    run without a table, ``input``: (rows, features)."""
    from ..runs.inference import load_predictor

    predictor = load_predictor(run)
    na = set(missing_values(predictor))
    delimiter = "\t" if Path(path).suffix.lower() == ".tsv" else predictor.config.data.delimiter
    header, rows = read_rows(path, delimiter)
    dtype = predictor.model.dtype

    def cells(name):
        if name not in header:
            raise UsageError(f"{path}: no column {name!r}; the run's inputs are: {', '.join(predictor.inputs)}")
        j = header.index(name)
        return [row[j].strip() for row in rows]

    decimal = predictor.config.data.decimal

    def number(cell):
        try:
            return np.nan if cell in na else float(cell.replace(decimal, ".") if decimal != "." else cell)
        except ValueError:
            raise DataError(f"{path}: {cell!r} in a column of numbers") from None

    if not predictor.table:
        values = [[number(c) for c in cells(name)] for name in predictor.inputs]
        return {onnx_graph.PLAIN_INPUT: np.array(values, dtype=dtype).T.copy()}
    out = {}
    for spec in predictor.encoding.columns:
        column = cells(spec.name)
        if isinstance(spec, CategoryEncoding) or spec.boolean:
            out[spec.name] = np.array(column, dtype=object).reshape(-1, 1)
        else:
            out[spec.name] = np.array([number(c) for c in column], dtype=dtype).reshape(-1, 1)
    return out
