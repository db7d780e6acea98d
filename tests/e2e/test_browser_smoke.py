"""The browser harness itself: the start page loads in Chromium against the local stack without console errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveStack, NewPage

pytestmark = pytest.mark.browser


def test_start_page_loads_and_reports_a_healthy_stack(
    live_stack: LiveStack, new_page: NewPage, shoot: Callable[[Page, str], Path]
) -> None:
    page = new_page()
    page.goto(live_stack.url + "/")
    expect(page.locator("#status")).to_contain_text("ok", timeout=10_000)
    assert shoot(page, "start-page").stat().st_size > 0
