"""The API reference at /docs/: Redoc renders docs/openapi.yaml in Chromium, within the page's CSP, without errors."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveStack, NewPage

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
BUILT = (ROOT / "web" / "vendor" / "redoc.standalone.js", ROOT / "web" / "docs" / "openapi.yaml")


@pytest.fixture(autouse=True)
def _reference_built() -> None:
    missing = [str(path.relative_to(ROOT)) for path in BUILT if not path.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run `make web` (scripts/build-web)", pytrace=False)


def test_the_served_contract_is_the_document(live_stack: LiveStack) -> None:
    with urllib.request.urlopen(live_stack.url + "/docs/openapi.yaml", timeout=10) as answer:  # noqa: S310 - local
        served = answer.read()
    assert served == (ROOT / "docs" / "openapi.yaml").read_bytes(), "web/docs/openapi.yaml is stale: run `make web`"


def test_the_reference_renders_the_title_an_operation_and_an_event(
    live_stack: LiveStack, new_page: NewPage, shoot: Callable[[Page, str], Path]
) -> None:
    # The "API docs by Redocly" badge is an image on Redoc's CDN: the page's CSP blocks it and Redoc hides it.
    page = new_page(allow=("cdn.redoc.ly",))
    page.goto(live_stack.url + "/docs/")
    expect(page.locator("h1").first).to_contain_text("Fission API", timeout=20_000)
    page.get_by_role("link", name="Analytics", exact=True).click()  # the menu opens one tag at a time
    expect(page.get_by_text("Campaign statistics").first).to_be_visible()
    page.get_by_role("link", name="Events", exact=True).click()  # the `webhooks`: what Fission POSTs
    expect(page.get_by_text("reward.issued").first).to_be_visible()
    assert shoot(page, "api-reference").stat().st_size > 0


def test_the_console_links_to_the_reference(live_stack: LiveStack, new_page: NewPage) -> None:
    page = new_page()
    page.goto(live_stack.url + "/admin/")
    link = page.get_by_role("link", name="API")
    expect(link).to_have_attribute("href", "../docs/")
