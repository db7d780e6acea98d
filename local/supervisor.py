"""Keeps DynamoDB Local running under `make run`: a process that dies is reaped, logged and started again
on the same data, with backoff, while the API, pump and scheduler carry on (they retry their calls)."""

from __future__ import annotations

import logging
import threading
import time

from local.dynamo import DynamoDBLocal

# Not under "fission": that is the app's Powertools logger (JSON on stdout, at POWERTOOLS_LOG_LEVEL); the
# launcher's own messages go to stderr at WARNING and above, whatever the app logs.
log = logging.getLogger("local.dynamodb")


class DynamoSupervisor:
    """Starts `dynamo` and watches it from a thread; restarts wait `backoff_base` seconds, doubling after
    each restart that fails or dies within `stable_after` seconds, up to `backoff_cap`."""

    def __init__(
        self,
        dynamo: DynamoDBLocal,
        *,
        poll: float = 0.5,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        stable_after: float = 60.0,
    ) -> None:
        self.dynamo = dynamo
        self.poll = poll
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.stable_after = stable_after
        self.restarts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.dynamo.start()
        self._thread = threading.Thread(target=self._watch, name="dynamodb-supervisor", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        failures = 0
        started = time.monotonic()
        while not self._stop.wait(self.poll):
            exited = self.dynamo.reap()
            if exited is None:
                continue
            code, err = exited
            if time.monotonic() - started >= self.stable_after:
                failures = 0  # it ran fine for a while: this death is not part of a crash loop
            delay = min(self.backoff_cap, self.backoff_base * 2**failures)
            detail = f": {err.strip().splitlines()[-1]}" if err.strip() else ""
            log.error(
                "DynamoDB Local exited with status %s%s; restarting it in %.0f s on %s",
                code,
                detail,
                delay,
                self.dynamo.db_path or "a new in-memory database",
            )
            while not self._stop.wait(delay):
                try:
                    self.dynamo.start()
                except Exception as exc:  # this thread must outlive any failure: its child dies with it
                    failures += 1
                    delay = min(self.backoff_cap, self.backoff_base * 2**failures)
                    log.error("DynamoDB Local did not start again (%s); next try in %.0f s", exc, delay)
                    continue
                failures += 1
                self.restarts += 1
                started = time.monotonic()
                log.warning("DynamoDB Local is running again on port %d (pid %s)", self.dynamo.port, self.dynamo.pid)
                break

    def stop(self) -> None:
        """Stop watching, then stop DynamoDB Local."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.dynamo.stop()
