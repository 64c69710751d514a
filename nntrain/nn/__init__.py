"""The network maths: activations, initializers, layers, losses, metrics, optimizers, schedules and the
model. Imports nothing but NumPy and itself, so it is usable on its own (tests/test_layout.py checks)."""
