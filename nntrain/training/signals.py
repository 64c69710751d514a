"""The signals that stop a run cleanly -- SIGINT (Ctrl-C), SIGTERM (``timeout``, schedulers,
``docker stop``) and SIGHUP (a closed terminal, a lost SSH session) -- caught while it trains."""

import signal
import threading

# SIGHUP where the platform has it.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class StopSignals:
    """Between ``catch()`` and ``release()`` (in the main thread; elsewhere Python delivers no
    signals) a stop signal only sets ``received``, which the step loop checks: the step finishes and
    a checkpoint is written. A second SIGINT then interrupts at once."""

    def __init__(self):
        self.received = None
        self.handlers = {}

    def catch(self):
        if threading.current_thread() is threading.main_thread():
            self.handlers = {sig: signal.signal(sig, self._request) for sig in STOP_SIGNALS}

    def _request(self, signum, frame):
        self.received = signum
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def release(self):
        for sig, handler in self.handlers.items():
            signal.signal(sig, handler)
        self.handlers = {}
