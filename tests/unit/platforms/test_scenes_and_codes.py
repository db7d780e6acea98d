"""The scene naming a participant in platform codes, and the platform-code requests (pure)."""

from __future__ import annotations

import pytest

from chalicelib.platforms.rules import codes, scenes
from chalicelib.referral.rules import participants


def test_the_scene_is_the_prefixed_invite_code_and_parses_back() -> None:
    assert scenes.scene_for("ab3def7h") == "fis_ab3def7h"
    assert scenes.code_from_scene("fis_ab3def7h") == "ab3def7h"
    assert scenes.code_from_scene("qrscene_fis_ab3def7h") == "ab3def7h"  # an official account's subscribe event
    for other in ("ab3def7h", "fis_", "fis_AB3DEF7H", "fis_ab3def7hx", "qrscene_ab3def7h", "x_fis_ab3def7h"):
        assert scenes.code_from_scene(other) is None
    assert scenes.CODE_PATTERN == participants.CODE_PATTERN
    # Every platform's field takes it: WeCom's state (30), mini-program scene (32), scene_str (64).
    assert len(scenes.scene_for("a" * 8)) <= 30


def test_a_contact_way_is_a_qr_code_for_one_or_several_staff() -> None:
    one = codes.contact_way_request("fis_ab3def7h", ["xiaomei"], "fission ab3def7h")
    assert one == {"type": 1, "scene": 2, "style": 1, "remark": "fission ab3def7h", "skip_verify": True,
                   "state": "fis_ab3def7h", "user": ["xiaomei"]}  # fmt: skip
    assert codes.contact_way_request("s", ["a", "b"], "r" * 40)["type"] == 2
    assert len(codes.contact_way_request("s", ["a"], "r" * 40)["remark"]) == 30
    with pytest.raises(codes.StaffMissing):
        codes.contact_way_request("s", [], "r")


def test_official_account_codes_are_permanent_and_mini_program_pages_optional() -> None:
    assert codes.qrcode_request("fis_x") == {
        "action_name": "QR_LIMIT_STR_SCENE",
        "action_info": {"scene": {"scene_str": "fis_x"}},
    }
    assert codes.wxacode_request("fis_x", None) == {"scene": "fis_x", "check_path": False}
    assert codes.wxacode_request("fis_x", "pages/a")["page"] == "pages/a"


def test_answers_without_their_fields_are_unreachable_platforms() -> None:
    from chalicelib.platforms.rules.tokens import PlatformUnreachable

    assert codes.read_contact_way({"errcode": 0, "config_id": "c", "qr_code": "https://q"}) == ("c", "https://q")
    assert codes.read_qrcode({"ticket": "t", "url": "http://weixin.qq.com/q/x"}) == ("t", "http://weixin.qq.com/q/x")
    with pytest.raises(PlatformUnreachable):
        codes.read_contact_way({"errcode": 0})
