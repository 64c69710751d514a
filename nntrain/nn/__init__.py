"""The network maths: activations, initializers, ops and the layer types made of them, losses, metrics,
optimizers, schedules and the model. Imports nothing but NumPy and itself, so it is usable on its own
(tests/test_layout.py checks)."""
