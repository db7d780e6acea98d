"""`make run`'s launcher (python -m local.run) as a process: it brings DynamoDB Local back when it dies, and
never leaves it running once the launcher is gone, however the launcher was stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.dynamo import free_port
from local.wechat.demo import DEMO_CORP, DEMO_MINI_PROGRAM, DEMO_OFFICIAL_ACCOUNT

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Launcher:
    process: subprocess.Popen[bytes]
    port: int
    dynamo_port: int
    log: Path

    def health(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/health", timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 0

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.health() != 200:
            assert self.process.poll() is None, f"the launcher exited: {self.log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"never healthy: {self.log.read_text()[-3000:]}"
            time.sleep(0.5)

    def dynamo_pids(self) -> set[int]:
        """DynamoDB Local processes the launcher started (children of any of its threads) that still run."""
        pids: set[int] = set()
        for children in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            try:
                pids |= {int(pid) for pid in children.read_text().split()}
            except OSError:
                continue
        return {pid for pid in pids if running(pid)}


def running(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    port, dynamo_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FISSION_", "POWERTOOLS_"))}
    env.update(PORT=str(port), DYNAMODB_PORT=str(dynamo_port), DATA_DIR=str(tmp_path / "data"))
    env["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    log = tmp_path / "launcher.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    started = Launcher(process, port, dynamo_port, log)
    try:
        started.wait_healthy()
        yield started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_a_killed_dynamodb_local_is_restarted_on_the_same_data_and_health_comes_back(launcher: Launcher) -> None:
    # GIVEN a running stack and its DynamoDB Local
    (first,) = launcher.dynamo_pids()

    # WHEN DynamoDB Local dies
    os.kill(first, signal.SIGKILL)

    # THEN the launcher reaps it, says so, starts another on the same data, and health comes back
    wait_for(lambda: not Path(f"/proc/{first}").exists(), 10, "the dead process was not reaped")
    wait_for(lambda: len(launcher.dynamo_pids() - {first}) == 1, 60, "DynamoDB Local was not restarted")
    launcher.wait_healthy(60)
    wait_for(lambda: "DynamoDB Local is running again" in launcher.log.read_text(), 10, "the restart was not logged")
    assert "DynamoDB Local exited with status -9" in launcher.log.read_text()
    assert launcher.process.poll() is None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_stopping_the_launcher_stops_dynamodb_local_and_frees_both_ports(launcher: Launcher, signum: int) -> None:
    (dynamo,) = launcher.dynamo_pids()

    launcher.process.send_signal(signum)

    assert launcher.process.wait(timeout=60) == 0
    assert not running(dynamo)
    assert not listening(launcher.dynamo_port) and not listening(launcher.port)


def test_a_killed_launcher_leaves_no_dynamodb_local_holding_its_port(launcher: Launcher) -> None:
    (dynamo,) = launcher.dynamo_pids()

    launcher.process.kill()  # SIGKILL: no handler runs, no finally
    launcher.process.wait(timeout=10)

    wait_for(lambda: not running(dynamo), 30, "DynamoDB Local outlived its launcher")
    wait_for(lambda: not listening(launcher.dynamo_port), 10, "the DynamoDB Local port is still held")


def _get(url: str, token: str | None = None, body: dict[str, str] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def test_the_demo_tenant_is_connected_to_the_stand_ins_demo_corp_and_official_account(launcher: Launcher) -> None:
    # GIVEN `make run` has started and seeded the demo tenant
    api = f"http://127.0.0.1:{launcher.port}"
    login = {"email": "owner@demo.fission.local", "password": "fission-demo-2026"}
    token = str(_get(f"{api}/v1/admin/login", body=login)["token"])

    # WHEN the owner reads the platform screens
    wecom = _get(f"{api}/v1/admin/platforms/wecom", token)
    wechat = _get(f"{api}/v1/admin/platforms/wechat", token)
    mini = _get(f"{api}/v1/admin/platforms/miniprogram", token)

    # THEN they name the stand-in's demo corp, official account and mini program, secrets only as fingerprints
    assert wecom["connected"] and wecom["corp_id"] == DEMO_CORP["corp_id"]
    assert wecom["callback_url"].endswith("/v1/wecom/demo/callback")
    assert wechat["connected"] and wechat["app_id"] == DEMO_OFFICIAL_ACCOUNT["app_id"]
    assert wechat["callback_url"].endswith("/v1/wechat/demo/callback")
    assert mini["connected"] and mini["app_id"] == DEMO_MINI_PROGRAM["app_id"]
    assert wecom["secrets"]["contact_secret"]["set"] and DEMO_CORP["secret"] not in json.dumps(wecom)
    wait_for(lambda: "WeChat phone" in launcher.log.read_text(), 10, "the phone page's URL was not printed")
