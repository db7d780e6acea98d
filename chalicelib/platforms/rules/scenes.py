"""The value that names a participant inside a platform code: a WeCom contact way's `state`, an official account
QR code's `scene_str`, a mini-program code's `scene`.

All three are "fis_" + the participant's invite code (invite codes are unique across campaigns). The official
account prefixes the scene of a subscribe event with "qrscene_"; `code_from_scene` accepts it.
"""

from __future__ import annotations

import re

# The invite code's pattern (referral/rules/participants.py CODE_PATTERN; platforms sit below referral, so it is
# repeated here and a test keeps the two equal).
CODE_PATTERN = r"^[0-9a-hjkmnp-tv-z]{8}$"

PREFIX = "fis_"
_OFFICIAL_ACCOUNT_PREFIX = "qrscene_"


def scene_for(code: str) -> str:
    return PREFIX + code


def code_from_scene(value: str) -> str | None:
    """The invite code a scene names, or None when it names none of ours."""
    rest = value.removeprefix(_OFFICIAL_ACCOUNT_PREFIX)
    if not rest.startswith(PREFIX):
        return None
    code = rest[len(PREFIX) :]
    return code if re.fullmatch(CODE_PATTERN, code) else None
