"""The ids of the poster layouts, stdlib only, so campaign validation can check a `layout_id` without Pillow.

`chalicelib.posters.layouts` asserts on import that this list matches its JSON files.
"""

from __future__ import annotations

KNOWN_LAYOUTS: tuple[str, ...] = ("classic", "dark", "festive", "minimal", "photo", "sale")
DEFAULT_LAYOUT = "classic"
