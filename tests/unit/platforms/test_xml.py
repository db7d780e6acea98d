"""Callback XML: the known fields as a flat dict; DTDs, entities and oversized bodies refused."""

from __future__ import annotations

import pytest

from chalicelib.platforms.rules import xml

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xml><Content>&lol3;</Content></xml>"""

EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><Content>&secret;</Content></xml>"""


def test_known_fields_are_read_and_unknown_ones_ignored() -> None:
    body = (
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName>"
        "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"
        "<EventKey><![CDATA[qrscene_inv_7Hq2]]></EventKey><Ticket><![CDATA[T]]></Ticket><Other>x</Other></xml>"
    )
    assert xml.parse(body) == {
        "ToUserName": "gh_1",
        "FromUserName": "oUser",
        "CreateTime": "1700000000",
        "MsgType": "event",
        "Event": "subscribe",
        "EventKey": "qrscene_inv_7Hq2",
        "Ticket": "T",
    }


@pytest.mark.parametrize("body", [BOMB, EXTERNAL])
def test_a_dtd_with_entities_is_refused(body: str) -> None:
    with pytest.raises(xml.XmlRefused) as refused:
        xml.parse(body)
    assert refused.value.code == "INVALID_XML"


@pytest.mark.parametrize("body", ["<xml><Event>subscribe</xml>", "not xml", "<root><Event>x</Event></root>", ""])
def test_malformed_or_foreign_documents_are_refused(body: str) -> None:
    with pytest.raises(xml.XmlRefused):
        xml.parse(body)


def test_nested_known_fields_are_refused() -> None:
    with pytest.raises(xml.XmlRefused):
        xml.parse("<xml><Event><a>1</a></Event></xml>")


def test_a_body_over_the_limit_is_refused_before_parsing() -> None:
    with pytest.raises(xml.BodyTooLarge):
        xml.parse("<xml><Content>" + "a" * xml.MAX_BODY_BYTES + "</Content></xml>")


def test_the_envelope_round_trips_through_the_parser() -> None:
    envelope = xml.encrypted_envelope("c]]>d", "sig", "1700000000", "n")
    assert xml.parse(envelope) == {"Encrypt": "c]]>d", "MsgSignature": "sig", "TimeStamp": "1700000000", "Nonce": "n"}
