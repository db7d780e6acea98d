"""The pure parts of WeChat's logins: scenes that name participants, the login state, return addresses, subjects."""

from __future__ import annotations

import pytest

from chalicelib.platforms.rules import login, scenes

SECRET = b"k" * 32
FIELDS = {"c": "cmp_1", "s": "snsapi_base", "to": "https://go.shop.cn/l/?campaign=cmp_1&ref=7k2m9qxa"}
BASES = frozenset({"http://localhost:8000", "https://go.shop.cn"})


def test_a_scene_names_an_invite_code_with_or_without_the_qr_prefix() -> None:
    assert scenes.scene_for("7k2m9qxa") == "fis_7k2m9qxa"
    assert scenes.code_from_scene("fis_7k2m9qxa") == "7k2m9qxa"
    assert scenes.code_from_scene("qrscene_fis_7k2m9qxa") == "7k2m9qxa"
    for other in ("7k2m9qxa", "fis_", "fis_7K2M9QXA", "fis_7k2m9qxau", "fis_ilou1234", "qrscene_7k2m9qxa"):
        assert scenes.code_from_scene(other) is None, other


def test_a_state_opens_only_for_its_own_fields_tenant_and_time() -> None:
    state = login.seal_state(SECRET, "t1", FIELDS, now=1_000)

    login.open_state(SECRET, "t1", FIELDS, state, now=1_000 + login.STATE_SECONDS)
    with pytest.raises(login.LoginStateExpired):
        login.open_state(SECRET, "t1", FIELDS, state, now=1_001 + login.STATE_SECONDS)
    for tid, fields, value in (
        ("t2", FIELDS, state),
        ("t1", FIELDS | {"to": "https://evil.example/"}, state),
        ("t1", FIELDS | {"s": "snsapi_userinfo"}, state),
        ("t1", FIELDS, state[:-1] + ("A" if state[-1] != "A" else "B")),
        ("t1", FIELDS, "zzzzzzzz." + state.split(".")[1]),  # a later expiry under the old MAC
        ("t1", FIELDS, "not-a-state"),
    ):
        with pytest.raises(login.LoginStateInvalid):
            login.open_state(SECRET, tid, fields, value, now=1_000)
    assert len(state.encode()) <= login.MAX_STATE_BYTES


@pytest.mark.parametrize(
    "url",
    ["http://localhost:8000/l/?campaign=c", "https://go.shop.cn/l/", "https://GO.shop.cn/x", "http://localhost:8000"],
)
def test_addresses_on_the_site_or_a_landing_domain_are_allowed(url: str) -> None:
    assert login.allowed_base(url, BASES) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/",
        "//go.shop.cn/l/",
        "/l/",
        "javascript:alert(1)",
        "https://go.shop.cn@evil.example/",
        "https://user:pw@go.shop.cn/",
        "http://go.shop.cn/l/",
        "https://go.shop.cn:8443/l/",
        "https://go.shop.cn.evil.example/",
        "https://go.shop.cn\\@evil.example/",
        "https://go.shop.cn/\nx",
        "https://go.shop.cn:99999/",
        "https://go.shop.cn/" + "x" * login.MAX_RETURN_CHARS,
    ],
)
def test_any_other_address_is_refused(url: str) -> None:
    with pytest.raises(login.ReturnNotAllowed):
        login.allowed_base(url, BASES)


def test_the_subject_is_the_unionid_else_the_kind_of_openid() -> None:
    assert login.subject_for("wechat", "o1", "u1") == "u1"
    assert login.subject_for("wechat", "o1", None) == "openid:o1"
    assert login.subject_for("miniprogram", "o1", None) == "mp-openid:o1"


def test_a_refused_code_is_the_callers_error_and_other_errcodes_the_platforms() -> None:
    used = login.code_error({"errcode": 40163, "errmsg": "code been used"})
    invalid = login.code_error({"errcode": 40029, "errmsg": "invalid code"})
    other = login.code_error({"errcode": 40013, "errmsg": "invalid appid"})

    assert isinstance(used, login.LoginCodeRefused) and used.code == "LOGIN_CODE_USED" and used.status == 400
    assert isinstance(invalid, login.LoginCodeRefused) and invalid.code == "LOGIN_CODE_INVALID"
    assert other is not None and not isinstance(other, login.LoginCodeRefused) and other.status == 503
    assert login.code_error({"openid": "o1"}) is None
