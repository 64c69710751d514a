"""nntrain: train neural networks described in YAML files, on NumPy, and keep every run.

The package imports nothing heavy at start-up so that ``nntrain --help`` stays instant; the Python API
lives in its modules: ``nntrain.config.load_config``, ``nntrain.fit.fit``, ``nntrain.model``,
``nntrain.optimizers`` and so on.
"""

__version__ = "0.1.0"
