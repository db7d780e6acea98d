"""The WeCom contact-way `state`, the official account's `scene_str` and the mini program's `scene` that name a
participant: "fis_" + the participant's invite code (pure)."""

from __future__ import annotations

import re

PREFIX = "fis_"
# The official account prefixes a subscribe event's EventKey with this.
QRSCENE = "qrscene_"
# An invite code (referral/rules/participants.py CODE_PATTERN; referral sits above this slice, so it is repeated).
CODE_PATTERN = r"^[0-9a-hjkmnp-tv-z]{8}$"


def scene_for(code: str) -> str:
    return PREFIX + code


def code_from_scene(value: str) -> str | None:
    """The invite code a state or scene names, or None when it names none."""
    if value.startswith(QRSCENE):
        value = value[len(QRSCENE) :]
    if not value.startswith(PREFIX):
        return None
    code = value[len(PREFIX) :]
    return code if re.match(CODE_PATTERN, code) else None
