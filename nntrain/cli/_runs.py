"""What the commands that run many runs (sweep, cv) show alike: where the runs go, and a progress bar."""


def backend_text(backend):
    """sweep.json's ``backend`` as a phrase: "2 local workers", "Dask scheduler tcp://...:8786"."""
    from ._tables import plural

    return f"Dask scheduler {backend['scheduler']}" if backend["kind"] == "dask" else plural(backend["workers"], "local worker")


class RunsProgress:
    """A rich progress bar on stderr counting finished runs (and failures)."""

    def __init__(self, quiet):
        self.quiet = quiet
        self.progress = None
        self.failed = 0

    def __enter__(self):
        return self

    def start(self, total):
        if self.quiet:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("runs"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[failed]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self.progress.__enter__()
        self.task = self.progress.add_task("sweep", total=total, failed="")

    def advance(self, entry):
        self.failed += entry["status"] in ("failed", "diverged")
        if self.progress is not None:
            self.progress.update(self.task, advance=1, failed=f"{self.failed} failed" if self.failed else "")

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)
