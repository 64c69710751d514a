"""Progress on stderr: epochs of a run (``fit``), runs of a sweep or cv.

On a terminal, one line redrawn in place -- ``epoch 12/100 ━━━━━━ 0:00:03 eta 0:00:25  val_loss 0.31
loss 0.29`` -- laid out to the terminal's width: the count, the bar, the elapsed time and the ETA are
always there; the metrics fill what is left, most important first, each whole or not at all. The line
is drawn from the first step on (nothing for a run that fails before it, or has nothing to do) and
leaves no frame behind. Elsewhere (a CI log, ``2>&1 | tee``) a plain line every
``NNTRAIN_PROGRESS_SECONDS`` seconds (default 10; 0: every epoch) and one at the last, no control
characters.

A sweep's line has, on a terminal, a line under it per running run (``running_lines``).
"""

import os
import sys
import time

BAR_MIN, BAR_MAX = 8, 40  # the bar's width, before and after the metrics have taken their room
RUNNING_LINES = 8  # lines for the running runs under a sweep's line, at most
NAME_MIN = 8  # columns a run's name keeps before its metric gives way
INTERVAL_VARIABLE = "NNTRAIN_PROGRESS_SECONDS"
DEFAULT_INTERVAL = 10.0


def clock(seconds):
    """Seconds as ``H:MM:SS``; ``-:--:--`` for none."""
    if seconds is None:
        return "-:--:--"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def eta(elapsed, done, total):
    """Seconds left at the pace so far (``done`` of ``total`` in ``elapsed``), None before the first is done."""
    if done <= 0:
        return None
    return elapsed / done * max(total - done, 0)


def layout(width, count, times, items):
    """(bar width, the items shown) for a line ``count BAR times  items...`` of at most ``width``
    columns: the bar gets ``BAR_MIN`` columns first, the items (in order) whatever they leave,
    whole items only, the bar then the rest up to ``BAR_MAX``. A line too narrow even for the fixed
    parts keeps them and narrows the bar (to nothing)."""
    fixed = len(count) + 1 + 1 + len(times)  # count, space, bar, space, times
    room = width - fixed - BAR_MIN
    shown, used = [], 0
    for item in items:
        need = len(item) + 2
        if used + need > room:
            break
        shown.append(item)
        used += need
    bar = max(0, min(BAR_MAX, width - fixed - used))
    return bar, shown


def line_text(width, count, done, total, times, items):
    """The progress line as a rich Text of at most ``width`` columns (see ``layout``)."""
    from rich.text import Text

    bar, shown = layout(width, count, times, items)
    filled = round(bar * min(done, total) / total) if total else bar
    text = Text(count + " ", no_wrap=True, overflow="crop")
    text.append("━" * filled, style="bar.finished" if done >= total else "bar.complete")
    text.append("━" * (bar - filled), style="bar.back")
    text.append(" " + times, style="progress.elapsed")
    for item in shown:
        text.append("  " + item)
    return text


def running_lines(width, running, limit=RUNNING_LINES):
    """The lines under a sweep's progress line, each of at most ``width`` columns, one per running run
    of ``running`` ([(name, epoch, epochs, metric, value)], in the order shown) --
    ``  trial=07  epoch  23/100  val_loss 0.412`` -- the columns aligned; a name too long is cut in the
    middle, to ``NAME_MIN`` columns before the metric gives way. Past ``limit`` runs the last line
    says how many more run."""
    from ._tables import elide, number_text

    shown = running if len(running) <= limit else running[: limit - 1]
    if not shown:
        return []
    epochs = [f"epoch {epoch:>{len(str(total))}}/{total}" for _, epoch, total, _, _ in shown]
    metrics = [f"{metric} {number_text(value)}" for _, _, _, metric, value in shown]
    epoch_width, metric_width = max(map(len, epochs)), max(map(len, metrics))
    names = [name for name, *_ in shown]
    longest = max(map(len, names))
    room = width - 4 - epoch_width  # for the name, around which two spaces either side
    with_metric = min(longest, NAME_MIN) <= room - 2 - metric_width
    name_width = max(0, min(longest, room - (2 + metric_width if with_metric else 0)))
    lines = []
    for name, epoch, metric in zip(names, epochs, metrics):
        line = f"  {elide(name, name_width):<{name_width}}  {epoch:<{epoch_width}}" + (f"  {metric}" if with_metric else "")
        lines.append(line.rstrip()[:width])
    if len(running) > len(shown):
        lines.append(f"  … {len(running) - len(shown)} more running"[:width])
    return lines


def plain_line(count, times, items):
    """The progress line for a log: every item, no bar."""
    return "  ".join([count, times, *items])


def interval():
    """Seconds between plain progress lines: ``NNTRAIN_PROGRESS_SECONDS``, else 10."""
    try:
        return max(0.0, float(os.environ.get(INTERVAL_VARIABLE, DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


class Progress:
    """Progress of ``total`` units (epochs, runs) named ``label``, begun with ``begin()`` and advanced
    with ``update(done, items)``; a context manager that leaves no frame on the terminal. ``quiet``:
    nothing at all. ``begin`` may come late (the first step of a resumed run): the ETA counts from
    the units done by then. ``below``: a function of the width -> the lines drawn under the line on
    a terminal, redrawn with it (4 times a second; called from rich's refresh thread)."""

    def __init__(self, label, total, quiet=False, console=None):
        self.label, self.total, self.quiet = label, total, quiet
        self.console = console
        self.live = None
        self.started = None
        self.first = self.done = 0
        self.items = []
        self.last_line = None
        self.below = None

    def __enter__(self):
        return self

    def begin(self, done=0):
        """Start the clock (and, on a terminal, the line) with ``done`` units already done before."""
        if self.quiet or self.started is not None:
            return
        self.started = time.monotonic()
        self.first = self.done = done
        self.last_line = self.started
        if self.console is None:
            self.console = stderr_console()
        if self.console.is_terminal and not self.console.is_dumb_terminal:
            from rich.live import Live

            self.live = Live(self, console=self.console, transient=True, refresh_per_second=4)
            self.live.start()

    def update(self, done, items=()):
        """``done`` units so far; ``items``: the texts after the times, most important first."""
        if self.quiet:
            return
        if self.started is None:
            self.begin(done - 1)
        self.done, self.items = done, list(items)
        if self.live is None and (done >= self.total or time.monotonic() - self.last_line >= interval()):
            self.last_line = time.monotonic()
            print(plain_line(*self._parts(), self.items), file=sys.stderr, flush=True)

    def _parts(self):
        width = len(str(self.total))
        count = f"{self.label} {self.done:>{width}}/{self.total}"
        elapsed = time.monotonic() - self.started
        return count, f"{clock(elapsed)} eta {clock(eta(elapsed, self.done - self.first, self.total - self.first))}"

    def __rich_console__(self, console, options):
        from rich.text import Text

        count, times = self._parts()
        yield line_text(options.max_width, count, self.done, self.total, times, self.items)
        for line in self.below(options.max_width) if self.below is not None else ():
            yield Text(line, no_wrap=True, overflow="crop")

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.stop()
            self.live = None


def metric_items(logs, monitor=None):
    """``name value`` texts of an epoch's logs, most important first: the monitored metric (``monitor``;
    else val_loss with validation, else loss), then loss, then the rest as logged; no epoch time."""
    from ._tables import number_text

    first = monitor or ("val_loss" if "val_loss" in logs else "loss")
    names = [n for n in dict.fromkeys([first, "loss", *logs]) if n in logs and n != "epoch_time_s"]
    return [f"{n} {number_text(logs[n])}" for n in names]
