"""The background loop behind the pump and the scheduler: keeps going, reports health, stops."""

from __future__ import annotations

import time

from local.background import BackgroundLoop


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_loop_is_healthy_while_passes_complete_and_stops_on_request() -> None:
    calls: list[int] = []

    def step() -> bool:
        calls.append(1)
        return False

    loop = BackgroundLoop("test", step, idle_wait=0.01)
    assert not loop.healthy()
    loop.start()
    wait_for(lambda: len(calls) >= 3 and loop.healthy())
    loop.stop()
    stopped_at = len(calls)
    time.sleep(0.05)
    assert len(calls) == stopped_at


def test_a_failing_pass_does_not_end_the_loop() -> None:
    calls: list[int] = []

    def step() -> bool:
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError("transient")
        return False

    loop = BackgroundLoop("test", step, idle_wait=0.01, error_wait=0.01)
    loop.start()
    wait_for(lambda: len(calls) >= 4)
    loop.stop()
    assert loop.healthy()


def test_a_loop_whose_passes_keep_failing_is_unhealthy() -> None:
    def step() -> bool:
        raise RuntimeError("down")

    loop = BackgroundLoop("test", step, idle_wait=0.01, error_wait=0.01)
    loop.start()
    time.sleep(0.05)
    loop.stop()
    assert not loop.healthy()
