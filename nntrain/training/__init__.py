"""Training: the step (``trainer``), the run around it with checkpoints and signals (``fit``),
callbacks, diagnostics, checkpoints and the gradient check of a config."""
