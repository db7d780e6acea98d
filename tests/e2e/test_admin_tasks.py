"""The console's task screen (web/admin/screens/tasks.js) in Chromium against the local stack: an operator creates,
edits, pauses, resumes and deletes a task, in English and in Chinese."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Dialog, expect

from tests.e2e.conftest import LiveStack, NewPage
from tests.e2e.test_admin_console import sign_in

pytestmark = pytest.mark.browser


def _task(live: LiveStack, name: str) -> list[dict[str, object]]:
    status, body = live.call("GET", "/v1/admin/loyalty/tasks", token=live.owner_token)
    assert status == 200, body
    return [t for t in body["tasks"] if t["name"] == name]


def test_an_operator_creates_edits_pauses_and_deletes_a_task(live_stack: LiveStack, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, live_stack)
    page.get_by_role("link", name="Tasks").click()
    expect(page.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()
    name = f"Invite friends {uuid.uuid4().hex[:6]}"

    # A target out of range is said under its field, and nothing is sent.
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Target", exact=True).fill("0")
    page.get_by_role("button", name="Create the task").click()
    expect(page.locator(".field-error").filter(has_text="whole number from 1 to 100")).to_be_visible()
    assert _task(live_stack, name) == []

    page.get_by_label("What counts").select_option("invited")
    page.get_by_label("Target", exact=True).fill("3")
    page.get_by_label("Period").select_option("weekly")
    page.get_by_label("Reward points").fill("50")
    page.get_by_role("button", name="Create the task").click()
    row = page.locator("tr", has_text=name)
    expect(row).to_contain_text("Invite 3 friends")
    expect(row).to_contain_text("Weekly")
    expect(row).to_contain_text("All campaigns")
    expect(row).to_contain_text("Active")
    [made] = _task(live_stack, name)
    assert (made["fact"], made["target"], made["period"], made["reward"]) == ("invited", 3, "weekly", {"points": 50})

    row.get_by_role("button", name=f"Edit task {name}").click()
    expect(page.get_by_label("Target", exact=True)).to_have_value("3")
    page.get_by_label("Target", exact=True).fill("5")
    page.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("Invite 5 friends")

    row.get_by_role("button", name=f"Pause task {name}").click()
    expect(row).to_contain_text("Paused")
    assert [t["active"] for t in _task(live_stack, name)] == [False]
    row.get_by_role("button", name=f"Resume task {name}").click()
    expect(row).to_contain_text("Active")

    # The same screen in Chinese.
    page.locator("#lang").click()
    expect(page.get_by_role("heading", name="游戏化任务")).to_be_visible()
    expect(page.locator("tr", has_text=name)).to_contain_text("邀请 5 位好友")
    expect(page.locator("tr", has_text=name)).to_contain_text("每周")
    page.locator("#lang").click()

    def accept(dialog: Dialog) -> None:
        dialog.accept()

    page.once("dialog", accept)
    page.locator("tr", has_text=name).get_by_role("button", name=f"Delete task {name}").click()
    expect(page.locator("tr", has_text=name)).to_have_count(0)
    assert _task(live_stack, name) == []


def test_tasks_are_for_owners_and_operators(live_stack: LiveStack, new_page: NewPage) -> None:
    email, password = f"analyst-{uuid.uuid4().hex[:6]}@{live_stack.tid}.example.cn", "analyst-pass-1"
    made = {"email": email, "password": password, "role": "analyst"}
    status, body = live_stack.call("POST", "/v1/admin/operators", made, token=live_stack.owner_token)
    assert status == 201, body
    page = new_page(allow=("status of 403",))
    sign_in(page, live_stack, operator=(email, password, "Analyst"))
    expect(page.get_by_role("link", name="Tasks")).to_have_count(0)
    page.goto(f"{live_stack.url}/admin/#/tasks")
    expect(page.locator(".screen-tasks .error-box")).to_contain_text("FORBIDDEN")
    expect(page.get_by_role("button", name="Create the task")).to_have_count(0)
