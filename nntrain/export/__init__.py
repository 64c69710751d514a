"""Taking runs out of nntrain: ``onnx`` (the whole prediction as one ONNX model), ``tensorboard`` (event
files of a run's logs) and ``mlflow`` (runs into an MLflow tracking store). Each needs its optional extra
(``pip install 'nntrain[onnx]'``, ...), imported only when it is used, and has
``export(runs, output=None, *, force=False, tracking_uri=None, experiment=None)`` -> the lines to print.
"""
