"""nntrain: train neural networks described in YAML files, on NumPy, and keep every run.

The public surface, loaded on first use so that ``nntrain --help`` stays instant::

    import nntrain
    config = nntrain.load_config("configs/xor.yaml")
    result = nntrain.fit(config, runs_root="runs")
    nntrain.evaluate(result.run_dir, split="train")   # loss and the config's metrics
    nntrain.judge(result.run_dir, split="test")       # nntrain eval's report
    nntrain.predict(result.run_dir, ["0,1"])

The sub-packages: ``nntrain.nn`` (the network maths, NumPy only), ``nntrain.config``,
``nntrain.data``, ``nntrain.training``, ``nntrain.runs``, ``nntrain.sweep`` and ``nntrain.cli``.
"""

__version__ = "0.1.0"

# name -> (module, attribute)
_PUBLIC = {
    "load_config": ("nntrain.config", "load_config"),
    "ExperimentConfig": ("nntrain.config", "ExperimentConfig"),
    "fit": ("nntrain.training.fit", "fit"),
    "resume": ("nntrain.training.fit", "resume"),
    "evaluate": ("nntrain.runs.inference", "evaluate_run"),
    "judge": ("nntrain.runs.judging", "judge_run"),
    "predict": ("nntrain.runs.inference", "predict"),
    "predict_table": ("nntrain.runs.inference", "predict_table"),
    "model_summary": ("nntrain.runs.summary", "model_summary"),
    "describe_data": ("nntrain.data.describe", "describe_data"),
    "compare": ("nntrain.runs.compare", "compare"),
    "check_config": ("nntrain.training.gradcheck", "check_config"),
    "plan_sweep": ("nntrain.sweep.plan", "plan_sweep"),
    "run_sweep": ("nntrain.sweep.execute", "run_sweep"),
    "resume_sweep": ("nntrain.sweep.execute", "resume_sweep"),
    "plan_cv": ("nntrain.sweep.cv", "plan_cv"),
    "run_cv": ("nntrain.sweep.cv", "run_cv"),
    "resume_cv": ("nntrain.sweep.cv", "resume_cv"),
    "SGD": ("nntrain.nn.optimizers", "SGD"),
    "Adam": ("nntrain.nn.optimizers", "Adam"),
    "AdamW": ("nntrain.nn.optimizers", "AdamW"),
    "RMSprop": ("nntrain.nn.optimizers", "RMSprop"),
    "Adagrad": ("nntrain.nn.optimizers", "Adagrad"),
    "NNTrainError": ("nntrain.errors", "NNTrainError"),
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'nntrain' has no attribute {name!r}")
    import importlib

    module, attribute = _PUBLIC[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
