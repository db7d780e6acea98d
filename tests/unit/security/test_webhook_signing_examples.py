"""The signing examples in docs/webhooks.md, recomputed from the page itself so the page cannot drift, and the
inbound hint for an HMAC keyed with the secret's text."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.core.errors import Unauthorized
from chalicelib.security import signing
from tests.conftest import library_clock

DOC = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"


def block(marker: str) -> str:
    """The fenced block right after `<!-- marker -->` in docs/webhooks.md."""
    found = re.search(rf"<!-- {marker} -->\n```\w+\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert found, f"no {marker} block in {DOC}"
    return found.group(1)


def fields(marker: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in block(marker).splitlines())


def example() -> dict[str, str]:
    return {k: v.strip() for k, v in fields("inbound-example").items()}


def headers(stamp: int | str, signature: str) -> dict[str, str]:
    return {"x-fission-timestamp": str(stamp), "x-fission-signature": signature}


def test_the_inbound_example_is_the_hmac_keyed_with_the_bytes_the_hex_secret_decodes_to() -> None:
    given = example()
    body, stamp = given["body"].encode(), int(given["timestamp"])
    content = f"{stamp}.".encode() + body
    assert given["signature"] == "v1=" + hmac.new(bytes.fromhex(given["secret"]), content, hashlib.sha256).hexdigest()
    assert given["text-keyed"] == "v1=" + hmac.new(given["secret"].encode(), content, hashlib.sha256).hexdigest()
    # ... and what the inbound hooks accept.
    signing.verify(bytes.fromhex(given["secret"]), headers(stamp, given["signature"]), body, stamp)


def test_the_documented_python_snippet_prints_the_example_signature() -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(block("inbound-python"), {})  # noqa: S102 - the page's own example, run as a reader would
    assert printed.getvalue().strip() == example()["signature"]
    assert example()["secret"] in block("inbound-python") and example()["body"] in block("inbound-python")


def test_the_documented_node_snippet_prints_the_example_signature() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    ran = subprocess.run(
        [node, "-e", block("inbound-node") + "\n"], capture_output=True, text=True, timeout=30, check=True
    )
    assert ran.stdout.strip() == example()["signature"]
    assert example()["secret"] in block("inbound-node") and example()["body"] in block("inbound-node")


def test_a_fresh_request_keyed_with_the_secrets_text_is_refused_with_a_hint() -> None:
    given = example()
    body, stamp = given["body"].encode(), int(given["timestamp"])
    with pytest.raises(Unauthorized) as refused:
        signing.verify(
            bytes.fromhex(given["secret"]),
            headers(stamp, given["text-keyed"]),
            body,
            stamp,
            secret_text=given["secret"],
        )
    assert refused.value.code == "INVALID_SIGNATURE"
    assert str(refused.value) == signing.TEXT_KEYED_HINT
    assert "key the HMAC with the bytes the hex secret decodes to" in str(refused.value)


@pytest.mark.parametrize("case", ["stale", "other key", "no text given", "tampered body"])
def test_the_hint_is_given_only_when_the_keying_is_all_that_is_wrong(case: str) -> None:
    given = example()
    body, stamp = given["body"].encode(), int(given["timestamp"])
    now, key, signature = stamp, bytes.fromhex(given["secret"]), given["text-keyed"]
    text: str | None = given["secret"]
    if case == "stale":
        now = stamp + signing.REPLAY_WINDOW_SECONDS + 1
    elif case == "other key":
        signature = signing.sign(b"f" * 64, stamp, body)
    elif case == "no text given":
        text = None
    else:
        body = body.replace(b"follow", b"unfollow")
    with pytest.raises(Unauthorized) as refused:
        signing.verify(key, headers(stamp, signature), body, now, secret_text=text)
    assert "secret's text" not in str(refused.value)
    assert refused.value.code == ("STALE_TIMESTAMP" if case == "stale" else "INVALID_SIGNATURE")


def test_the_outbound_example_verifies_with_the_reference_library_and_is_what_we_sign() -> None:
    given = {k: v.strip() for k, v in fields("outbound-example").items()}
    stamp = int(given["timestamp"])
    sent = {"webhook-id": given["id"], "webhook-timestamp": str(stamp), "webhook-signature": given["signature"]}
    with library_clock(datetime.fromtimestamp(stamp, UTC)):
        assert Webhook(given["secret"]).verify(given["body"].encode(), sent)["id"] == given["id"]
    key = base64.b64decode(given["secret"].removeprefix("whsec_"))
    assert signing.standard_secret(key) == given["secret"]
    assert (
        signing.standard_signature(signing.SigningKeys(key), given["id"], stamp, given["body"].encode())
        == (given["signature"])
    )
    # The same key bytes are the inbound example's hex secret: one key, two spellings.
    assert key.hex() == example()["secret"]


def test_during_an_overlap_either_key_verifies_and_a_stranger_does_not() -> None:
    new, old, stranger = b"n" * 32, b"o" * 32, b"s" * 32
    body, stamp = b'{"id": "evt_1"}', 1767225600
    signature = signing.standard_signature(signing.SigningKeys(new, (old,)), "evt_1", stamp, body)
    sent = {"webhook-id": "evt_1", "webhook-timestamp": str(stamp), "webhook-signature": signature}
    with library_clock(datetime.fromtimestamp(stamp, UTC)):
        for key in (new, old):
            Webhook(signing.standard_secret(key)).verify(body, sent)
        with pytest.raises(WebhookVerificationError):
            Webhook(signing.standard_secret(stranger)).verify(body, sent)


def test_a_webhook_id_with_a_full_stop_is_not_signed() -> None:
    with pytest.raises(ValueError, match="may not contain"):
        signing.standard_signature(signing.SigningKeys(b"k" * 32), "evt.1", 1, b"{}")
