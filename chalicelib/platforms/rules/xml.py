"""The XML of WeChat and WeCom callbacks: parsed safely into a flat dict of the fields we know (pure).

defusedxml refuses a DTD outright, so neither an entity expansion bomb nor an external entity gets as far as being
expanded or fetched; bodies above `MAX_BODY_BYTES` are refused before parsing.
"""

from __future__ import annotations

from xml.etree.ElementTree import ParseError  # noqa: S405 - only the exception type; parsing is defusedxml's

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, PayloadTooLarge

# A callback is at most a few KB (the encrypted envelope of one event); the platforms' own limit is far below this.
MAX_BODY_BYTES = 64 * 1024
MAX_FIELD_CHARS = 8 * 1024

# The top-level fields of the envelope and of the events and messages Fission reads (docs/wechat.md).
KNOWN_FIELDS = frozenset(
    {
        # the encrypted envelope
        "ToUserName", "Encrypt", "AgentID", "MsgSignature", "TimeStamp", "Nonce",
        # every message and event
        "FromUserName", "CreateTime", "MsgType", "Event", "MsgId", "Content",
        # official account: subscribe / SCAN / unsubscribe, parametric QR codes
        "EventKey", "Ticket",
        # WeCom customer contact: add_external_contact / del_external_contact / del_follow_user / edit...
        "ChangeType", "UserID", "ExternalUserID", "State", "WelcomeCode", "Source", "FailReason",
        # WeCom suite / auth events, kept for the envelope's sake
        "SuiteId", "InfoType", "AuthCorpId",
    }
)  # fmt: skip


class XmlRefused(BadRequest):
    """Not a callback body we read: malformed, with a DTD or entities, or not a flat document."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=Code.INVALID_XML)


class BodyTooLarge(PayloadTooLarge):
    def __init__(self) -> None:
        super().__init__(f"the body is larger than {MAX_BODY_BYTES} bytes")


def parse(body: bytes | str, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, str]:
    """The known top-level fields of the `<xml>` document in `body`, as text (CDATA unwrapped, whitespace kept)."""
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > max_bytes:
        raise BodyTooLarge()
    try:
        root = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise XmlRefused(f"the XML is refused: {type(exc).__name__}") from None
    except ParseError:
        raise XmlRefused("the body is not well-formed XML") from None
    if root.tag != "xml":
        raise XmlRefused("the document's root is not <xml>")
    fields: dict[str, str] = {}
    for child in root:
        if child.tag not in KNOWN_FIELDS:
            continue
        if len(child):
            raise XmlRefused(f"the field {child.tag} is not flat")
        text = child.text or ""
        if len(text) > MAX_FIELD_CHARS:
            raise XmlRefused(f"the field {child.tag} is too long")
        fields[child.tag] = text
    return fields


# The official account's subscription-message events carry a list: `<SubscribeMsgPopupEvent><List>...</List>`.
LIST_CONTAINERS = frozenset({"SubscribeMsgPopupEvent", "SubscribeMsgChangeEvent", "SubscribeMsgSentEvent"})
LIST_FIELDS = frozenset({"TemplateId", "SubscribeStatusString", "PopupScene", "MsgID", "ErrorCode", "ErrorStatus"})
MAX_LIST_ENTRIES = 20


def entries(body: bytes | str, container: str) -> list[dict[str, str]]:
    """The `<List>` entries of `container` (one of `LIST_CONTAINERS`) in an already accepted body, each a flat dict of
    the known fields; at most `MAX_LIST_ENTRIES` (a popup offers at most a few templates)."""
    raw = body.encode() if isinstance(body, str) else body
    if container not in LIST_CONTAINERS or len(raw) > MAX_BODY_BYTES:
        return []
    try:
        root = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError):
        raise XmlRefused("the body is not well-formed XML") from None
    found: list[dict[str, str]] = []
    for holder in root.findall(container):
        for entry in holder.findall("List"):
            if len(found) >= MAX_LIST_ENTRIES:
                raise XmlRefused(f"{container} holds more than {MAX_LIST_ENTRIES} entries")
            fields = {}
            for child in entry:
                text = child.text or ""
                if child.tag in LIST_FIELDS and not len(child) and len(text) <= MAX_FIELD_CHARS:
                    fields[child.tag] = text.strip()
            found.append(fields)
    return found


def _cdata(text: str) -> str:
    # A `]]>` inside would end the section: split it across two sections, the standard way.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def encrypted_envelope(ciphertext: str, signature: str, timestamp: str, nonce: str) -> str:
    """The reply a safe-mode callback answers with (its fields are what the platforms parse)."""
    return (
        f"<xml><Encrypt>{_cdata(ciphertext)}</Encrypt><MsgSignature>{_cdata(signature)}</MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp><Nonce>{_cdata(nonce)}</Nonce></xml>"
    )
