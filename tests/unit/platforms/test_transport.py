"""A platform call that fails on the network is one typed error, whatever part of the exchange broke."""

from __future__ import annotations

import http.client
import urllib.request
from typing import Any

import pytest

from chalicelib.platforms import transport
from chalicelib.platforms.rules.tokens import PlatformUnreachable


@pytest.mark.parametrize(
    "failure",
    [
        TimeoutError("timed out"),
        ConnectionResetError(104, "Connection reset by peer"),
        http.client.RemoteDisconnected("Remote end closed connection without response"),
        http.client.BadStatusLine("garbage"),
        http.client.IncompleteRead(b"{", 10),
    ],
    ids=lambda failure: type(failure).__name__,
)
def test_a_network_failure_is_platform_unreachable_naming_only_the_path(
    monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    def urlopen(*args: Any, **kwargs: Any) -> Any:
        raise failure

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)

    with pytest.raises(PlatformUnreachable) as caught:
        transport.request_json("POST", "https://qyapi.example/cgi-bin/x", {"access_token": "secret-token"}, {}, 1.0)

    assert "/cgi-bin/x" in str(caught.value) and "secret-token" not in str(caught.value)
