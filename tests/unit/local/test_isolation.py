"""Per-thread attributes: what the local server's workers rely on to run one app object in parallel."""

from __future__ import annotations

import threading
from typing import Any

from local.isolation import per_thread


class Invocation:
    def __init__(self) -> None:
        self.current_request: Any = None
        self.keys: dict[str, str] = {"service": "fission"}
        self.name = "shared"


def test_each_thread_sees_only_the_values_it_set() -> None:
    # GIVEN an object whose current_request is per-thread
    obj = Invocation()
    per_thread(obj, ("current_request",))
    barrier = threading.Barrier(8)
    seen: dict[int, Any] = {}

    def worker(n: int) -> None:
        obj.current_request = f"request-{n}"
        barrier.wait()  # every thread has set its own before any reads
        seen[n] = obj.current_request

    # WHEN eight threads set and read it at once
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN each read back its own
    assert seen == {n: f"request-{n}" for n in range(8)}


def test_a_new_thread_starts_from_its_own_copy_of_the_value_at_installation() -> None:
    obj = Invocation()
    per_thread(obj, ("keys",))
    obj.keys["correlation_id"] = "main-thread"

    fresh: list[dict[str, str]] = []
    thread = threading.Thread(target=lambda: fresh.append(dict(obj.keys)))
    thread.start()
    thread.join()

    assert fresh == [{"service": "fission"}]
    assert obj.keys == {"service": "fission", "correlation_id": "main-thread"}


def test_other_attributes_stay_shared_and_installing_twice_changes_nothing() -> None:
    obj = Invocation()
    per_thread(obj, ("current_request",))
    cls = type(obj)
    per_thread(obj, ("current_request", "name"))

    obj.name = "changed"
    thread = threading.Thread(target=lambda: setattr(obj, "current_request", "elsewhere"))
    thread.start()
    thread.join()

    assert type(obj) is cls and isinstance(obj, Invocation)
    assert obj.name == "changed" and obj.current_request is None
