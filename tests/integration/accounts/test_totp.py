"""TOTP: enrolment, codes at login (once each), and the step-up exports and unmasking need."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlparse

import zxingcpp
from PIL import Image, ImageDraw

from tests.conftest import OWNER_PASSWORD, Api, Clock, Tenant, join, live_campaign

ENROL = "/v1/admin/operators/me/totp"
CONFIRM = "/v1/admin/operators/me/totp/confirm"


def error(answer: tuple[int, Any]) -> tuple[int, str]:
    return answer[0], answer[1]["error"]["code"]


def code_at(secret: str, seconds: int = 0) -> str:
    from datetime import timedelta

    from chalicelib.http import request as http
    from chalicelib.security import totp

    return totp.code_at(secret, http.now() + timedelta(seconds=seconds))


def login(api: Api, email: str, password: str, totp: str | None = None) -> tuple[int, Any]:
    body = {"email": email, "password": password, **({"totp": totp} if totp is not None else {})}
    return api.call("POST", "/v1/admin/login", body)


def test_enrolment_stores_the_secret_encrypted_and_activates_on_a_valid_code(api: Api, tenant: Tenant) -> None:
    from chalicelib.table import keys
    from chalicelib.table.models import Item

    token = tenant.owner_token
    assert error(api.call("POST", CONFIRM, {"code": "123456"}, token)) == (409, "TOTP_NOT_ENROLLED")
    status, first = api.call("POST", ENROL, token=token)
    assert status == 201 and first["status"] == "pending"
    status, body = api.call("POST", ENROL, token=token)  # restarting a pending enrolment replaces the secret
    assert status == 201 and body["secret"] != first["secret"]
    secret = body["secret"]
    uri = urlparse(body["otpauth_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [secret] and parse_qs(uri.query)["issuer"] == ["Fission"]

    stored = Item.get(keys.tenant_pk(tenant.tid), keys.operator_totp_sk(tenant.owner_email)).attribute_values
    assert secret not in str(stored) and stored["status"] == "pending"

    assert error(api.call("POST", CONFIRM, {"code": code_at(first["secret"])}, token)) == (400, "TOTP_INVALID")
    assert api.call("POST", CONFIRM, {"code": "12345"}, token)[0] == 422
    status, body = api.call("POST", CONFIRM, {"code": code_at(secret)}, token)
    assert status == 200 and body["status"] == "active"
    assert error(api.call("POST", CONFIRM, {"code": code_at(secret, 30)}, token)) == (409, "TOTP_ALREADY_ACTIVE")
    assert error(api.call("POST", ENROL, token=token)) == (409, "TOTP_ALREADY_ACTIVE")
    status, trail = api.call("GET", "/v1/admin/audit?limit=1", token=token)
    assert trail["items"][0]["action"] == "operator.totp_enable"


def rasterise(svg: str, scale: int = 8) -> Image.Image:
    """An SVG of filled rectangles and straight-edged paths (absolute or relative M, H, V, L, Z) drawn with
    Pillow: enough for a QR code, and no part of the code that wrote it."""
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    image = Image.new("L", (int(width * scale), int(height * scale)), 255)
    draw = ImageDraw.Draw(image)
    shade = {"#fff": 255, "#ffffff": 255, "white": 255, "#000": 0, "#000000": 0, "black": 0}
    for element in root:
        fill = shade[element.attrib.get("fill", "#000").lower()]
        if element.tag.endswith("rect"):
            x, y = float(element.attrib.get("x", 0)), float(element.attrib.get("y", 0))
            w, h = float(element.attrib["width"]), float(element.attrib["height"])
            draw.rectangle((x * scale, y * scale, (x + w) * scale - 1, (y + h) * scale - 1), fill=fill)
        elif element.tag.endswith("path"):
            x = y = 0.0
            shape: list[tuple[float, float]] = []
            for op, args in re.findall(r"([MmHhVvLlZz])([^MmHhVvLlZz]*)", element.attrib["d"]):
                n = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", args)]
                if op in "Zz":
                    draw.polygon([(px * scale, py * scale) for px, py in shape], fill=fill)
                    shape = []
                    continue
                if op in "Mm":
                    x, y = (n[0], n[1]) if op == "M" else (x + n[0], y + n[1])
                    shape = [(x, y)]
                    continue
                if op in "Ll":
                    x, y = (n[0], n[1]) if op == "L" else (x + n[0], y + n[1])
                elif op in "Hh":
                    x = n[0] if op == "H" else x + n[0]
                else:
                    y = n[0] if op == "V" else y + n[0]
                shape.append((x, y))
    return image


def test_the_enrolment_shows_the_uri_as_a_qr_code_that_scans_to_exactly_that_uri(api: Api, tenant: Tenant) -> None:
    status, body = api.call("POST", ENROL, token=tenant.owner_token)
    assert status == 201, body
    assert body["qr_svg"].startswith("<svg") and body["otpauth_uri"] not in body["qr_svg"]
    found = [r.text for r in zxingcpp.read_barcodes(rasterise(body["qr_svg"]))]
    assert found == [body["otpauth_uri"]]


def test_login_requires_a_code_once_enrolled_and_a_code_works_once(api: Api, tenant: Tenant) -> None:
    secret = tenant.enrol_totp(tenant.owner_token, tenant.owner_email)
    email = tenant.owner_email
    # A missing or wrong code answers like a wrong password: a refusal never confirms the password.
    assert error(login(api, email, OWNER_PASSWORD)) == (401, "INVALID_CREDENTIALS")
    wrong = "000000" if code_at(secret) != "000000" else "111111"
    assert error(login(api, email, OWNER_PASSWORD, wrong)) == (401, "INVALID_CREDENTIALS")
    # The wrong password is refused without the code being accepted (the code is not spent).
    assert error(login(api, email, "not-the-password", "123456")) == (401, "INVALID_CREDENTIALS")
    # Codes taken together, so a step boundary passing mid-test changes nothing.
    now, next_step, far = code_at(secret), code_at(secret, 30), code_at(secret, 90)
    status, body = login(api, email, OWNER_PASSWORD, now)
    assert status == 200, body
    assert error(login(api, email, OWNER_PASSWORD, now)) == (401, "INVALID_CREDENTIALS")  # a replay
    assert login(api, email, OWNER_PASSWORD, next_step)[0] == 200  # the next step, within drift
    assert error(login(api, email, OWNER_PASSWORD, far)) == (401, "INVALID_CREDENTIALS")  # too far ahead

    status, trail = api.call("GET", "/v1/admin/audit?limit=8", token=body["token"])
    reasons = [(e["action"], e["details"].get("reason", e["details"].get("totp"))) for e in reversed(trail["items"])]
    assert reasons[-7:] == [
        ("login.totp_failed", "missing"),
        ("login.totp_failed", "invalid_code"),
        ("login.failure", "INVALID_CREDENTIALS"),
        ("login.success", True),
        ("login.totp_failed", "invalid_code"),
        ("login.success", True),
        ("login.totp_failed", "invalid_code"),
    ]


def test_exports_need_an_enrolled_operator_and_a_fresh_step_up(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid = live_campaign(api, tenant)
    post = "/v1/admin/exports"
    body = {"campaign_id": cid, "kind": "participants"}

    analyst_email = f"analyst@{tenant.tid}.example.cn"
    new = {"email": analyst_email, "password": "operator-pass-1", "role": "analyst"}
    assert api.call("POST", "/v1/admin/operators", new, token=tenant.owner_token)[0] == 201
    password_only = api.login(analyst_email, "operator-pass-1")
    status, refused = api.call("POST", post, body, password_only)
    assert (status, refused["error"]["code"]) == (403, "STEP_UP_REQUIRED")
    assert refused["error"]["details"]["reason"] == "not_enrolled" and ENROL in refused["error"]["details"]["enrol"]

    secret = tenant.enrol_totp(password_only, analyst_email)
    # Enrolled, but this token came from a password alone: a code on the request is needed.
    answer = api.call("POST", post, body, password_only)
    assert error(answer) == (403, "STEP_UP_REQUIRED") and answer[1]["error"]["details"]["reason"] == "stale"
    header, next_step = {"X-Fission-TOTP": code_at(secret)}, code_at(secret, 30)
    assert api.call("POST", post, body, password_only, headers=header)[0] == 202
    replayed = api.call("POST", post, body, password_only, headers=header)
    assert error(replayed) == (403, "STEP_UP_REQUIRED") and replayed[1]["error"]["details"]["reason"] == "invalid_code"

    # A TOTP login is a step-up for 15 minutes of the service clock.
    status, session = login(api, analyst_email, "operator-pass-1", next_step)
    assert status == 200, session
    stepped = session["token"]
    assert api.call("POST", post, body, stepped)[0] == 202
    clock.advance(minutes=14)
    assert api.call("POST", post, body, stepped)[0] == 202
    clock.advance(minutes=2)
    assert error(api.call("POST", post, body, stepped)) == (403, "STEP_UP_REQUIRED")
    assert api.call("POST", post, body, stepped, headers={"X-Fission-TOTP": code_at(secret)})[0] == 202

    status, trail = api.call("GET", "/v1/admin/audit?limit=50", token=tenant.owner_token)
    exports = [e for e in trail["items"] if e["action"] == "export.create"]
    assert len(exports) == 4 and {e["actor"] for e in exports} == {analyst_email}


def test_unmasking_a_participant_needs_the_permission_and_a_step_up(api: Api, tenant: Tenant, new_tenant: Any) -> None:
    cid = live_campaign(api, tenant)
    status, joined = join(api, cid, phone="+86 138 1234 5678", nickname="张三")
    assert status == 201, joined
    code = joined["invite_code"]
    path = f"/v1/admin/participants/{code}/pii"

    assert error(api.call("GET", path, token=tenant.operator("analyst"))) == (403, "FORBIDDEN")
    assert error(api.call("GET", path, token=tenant.owner_token)) == (403, "STEP_UP_REQUIRED")
    token = tenant.totp_token()
    status, body = api.call("GET", path, token=token)
    assert status == 200, body
    assert body == {"code": code, "campaign_id": cid, "nickname": "张三", "phone": "13812345678"}
    assert error(api.call("GET", "/v1/admin/participants/nosuchcode/pii", token=token)) == (
        404,
        "PARTICIPANT_NOT_FOUND",
    )
    other = new_tenant()
    assert error(api.call("GET", path, token=other.totp_token())) == (404, "PARTICIPANT_NOT_FOUND")

    status, trail = api.call("GET", "/v1/admin/audit?limit=1", token=token)
    entry = trail["items"][0]
    assert entry["action"] == "pii.unmask" and entry["target"] == code
    assert entry["details"] == {"campaign_id": cid, "fields": ["phone"]} and "13812345678" not in str(entry)


def test_removing_an_operator_forgets_their_authenticator(api: Api, tenant: Tenant) -> None:
    email = f"finance@{tenant.tid}.example.cn"
    new = {"email": email, "password": "operator-pass-1", "role": "finance"}
    assert api.call("POST", "/v1/admin/operators", new, token=tenant.owner_token)[0] == 201
    tenant.enrol_totp(api.login(email, "operator-pass-1"), email)
    assert error(login(api, email, "operator-pass-1")) == (401, "INVALID_CREDENTIALS")  # the code is missing
    # Removing an enrolled operator resets their authenticator: the owner's step-up first.
    assert api.call("DELETE", f"/v1/admin/operators/{email}", token=tenant.stepped_token())[0] == 204
    assert api.call("POST", "/v1/admin/operators", new, token=tenant.owner_token)[0] == 201
    assert login(api, email, "operator-pass-1")[0] == 200
