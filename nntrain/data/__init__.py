"""Data: where examples come from (``sources``: built-in sets, NumPy files, scikit-learn; ``csv``; each
a ``table.Table``), how they become splits of rows with targets in the loss's form (``prepare``,
``targets``), and the batches of an epoch."""
