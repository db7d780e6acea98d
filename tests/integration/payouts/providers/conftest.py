"""The payment fakes (local/payments/) on a free port for the provider tests, with fresh keys."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from local.payments.server import PaymentsStandIn


@pytest.fixture(scope="module")
def fake() -> Iterator[PaymentsStandIn]:
    standin = PaymentsStandIn(hang_seconds=1.0)
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
def other_key() -> rsa.RSAPrivateKey:
    """A key nobody configured: what an impostor signs with."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def wait_for[T](probe: Callable[[], T | None], seconds: float = 5.0) -> T:
    """Poll until `probe` answers something, or fail after the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("nothing arrived before the deadline")
        time.sleep(0.02)
