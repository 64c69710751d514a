"""What the benchmark scripts print alike: the machine's load, lists of timings, megabytes."""

import os


def load_average(digits=1):
    """The 1, 5 and 15 minute load averages, e.g. "0.6 0.8 1.1" (the machine is shared: say how busy)."""
    try:
        return " ".join(f"{v:.{digits}f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def numbers(values, digits=2):
    """Values as "1.23, 1.25, 1.31"."""
    return ", ".join(f"{v:.{digits}f}" for v in values)


def mb(n, digits=0):
    """Bytes as megabytes, e.g. "613 MB"."""
    return f"{n / 1e6:.{digits}f} MB"
