"""Runs kept on disk: the run directory (``store``), reading many back (``compare``), using a trained
network (``inference``), the layer table (``summary``) and plots."""
