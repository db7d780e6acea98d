"""WeCom corp tags (企业客户标签): the documented requests and reading their answers (pure).

`get_corp_tag_list` answers `{"tag_group": [{"group_id", "group_name", "tag": [{"id", "name", "deleted"?}]}]}`;
`add_corp_tag` takes `group_id` (an existing group) or `group_name` (a new one) and `tag: [{"name"}]` and answers
the group with the tags it made; `mark_tag` takes `userid` (the staff member), `external_userid` and `add_tag`.
"""

from __future__ import annotations

from typing import Any

GET_CORP_TAG_LIST = "/cgi-bin/externalcontact/get_corp_tag_list"
ADD_CORP_TAG = "/cgi-bin/externalcontact/add_corp_tag"
MARK_TAG = "/cgi-bin/externalcontact/mark_tag"

GROUP = "Fission"  # the tag group Fission's campaign tags go in
NAME_LENGTH = 30  # WeCom's limit on a tag's name
TAG_EXISTS = 40071  # "the tag name already exists": another container made it first
INVALID_TAG = 40068  # "invalid tagid": the tag was deleted on WeCom's console


def found(answer: dict[str, Any], group: str, name: str) -> tuple[str | None, str | None]:
    """(group id, tag id) of `name` in `group` in a `get_corp_tag_list` answer; None where missing."""
    for entry in answer.get("tag_group") or []:
        if not isinstance(entry, dict) or entry.get("group_name") != group:
            continue
        group_id = str(entry.get("group_id") or "") or None
        for tag in entry.get("tag") or []:
            if isinstance(tag, dict) and tag.get("name") == name and not tag.get("deleted") and tag.get("id"):
                return group_id, str(tag["id"])
        return group_id, None
    return None, None


def add_request(group_id: str | None, group: str, name: str) -> dict[str, Any]:
    where = {"group_id": group_id} if group_id else {"group_name": group}
    return {**where, "tag": [{"name": name}]}


def added(answer: dict[str, Any], name: str) -> str | None:
    group = answer.get("tag_group")
    for tag in (group.get("tag") if isinstance(group, dict) else None) or []:
        if isinstance(tag, dict) and tag.get("name") == name and tag.get("id"):
            return str(tag["id"])
    return None


def mark_request(staff: str, external_userid: str, tag_id: str) -> dict[str, Any]:
    return {"userid": staff, "external_userid": external_userid, "add_tag": [tag_id]}
