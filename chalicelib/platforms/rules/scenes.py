"""The value that names a participant to WeChat and WeCom: a channel code's `state`, a QR code's `scene_str`, a
mini program code's `scene` (pure)."""

from __future__ import annotations

import re

PREFIX = "fis_"
# The official account prefixes a parametric QR code's scene with this in a first follow's EventKey.
QR_SCENE_PREFIX = "qrscene_"
# The participant invite code pattern (chalicelib/referral/rules/participants.py CODE_PATTERN).
CODE_PATTERN = r"^[0-9a-hjkmnp-tv-z]{8}$"


def scene_for(code: str) -> str:
    """The scene naming the participant with invite code `code`."""
    return PREFIX + code


def code_from_scene(value: str) -> str | None:
    """The invite code a scene names, or None if it names none."""
    value = value.removeprefix(QR_SCENE_PREFIX)
    if not value.startswith(PREFIX):
        return None
    code = value[len(PREFIX) :]
    return code if re.fullmatch(CODE_PATTERN, code) else None
