"""Data: where examples come from (``sources``), how they become splits of rows in the loss's form
(``prepare``), and the batches of an epoch."""
