"""The console channel: nothing leaves. The message item itself, shown in the admin page, is the record."""

from __future__ import annotations

from chalicelib.messaging.channels.base import Outgoing


def send(message: Outgoing) -> None:
    return None
