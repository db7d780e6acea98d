"""A daemon thread that repeats one step until stopped: the shape of the pump and the scheduler."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class BackgroundLoop:
    """Runs `step` over and over; `step` returns True when it did work (then it runs again at once).

    A failing step is logged and retried after `error_wait`, so one bad pass never ends the loop.
    """

    def __init__(self, name: str, step: Callable[[], bool], idle_wait: float, error_wait: float = 1.0) -> None:
        self.name = name
        self._step = step
        self._idle_wait = idle_wait
        self._error_wait = error_wait
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_pass = 0.0  # monotonic time of the last pass that completed

    def _run(self) -> None:
        log = logging.getLogger(f"fission.{self.name}")
        while not self._stop.is_set():
            try:
                busy = self._step()
            except Exception:
                log.exception("%s pass failed; retrying", self.name)
                self._stop.wait(self._error_wait)
                continue
            self.last_pass = time.monotonic()
            if not busy:
                self._stop.wait(self._idle_wait)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def healthy(self, max_age: float = 10.0) -> bool:
        """True while passes keep completing (a stuck or crashing loop turns unhealthy)."""
        return self.last_pass > 0 and time.monotonic() - self.last_pass < max_age
