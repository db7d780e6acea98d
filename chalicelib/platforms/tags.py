"""Tags on WeCom contacts: a campaign's tag, found or made in the corp's "Fission" group on first use and cached,
marked on each contact its channel codes bring (docs/wechat.md, "Callbacks and counting")."""

from __future__ import annotations

import threading

from chalicelib.platforms import client
from chalicelib.platforms.rules import tags as rules
from chalicelib.platforms.rules.tokens import PlatformError, PlatformUnreachable

# (tenant, tag name) -> tag id. Tags are few and stable, so each container asks WeCom once per tag; a tag deleted
# on WeCom's console (40068) is forgotten and found or made again on the next contact.
_ids: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def mark_contact(tid: str, staff: str, external_userid: str, name: str) -> None:
    """Mark the tag `name` on the contact `external_userid` of the staff member `staff`. Raises `PlatformError`."""
    name = name[: rules.NAME_LENGTH]
    app = client.App(tid, "wecom")
    tag_id = _tag_id(app, name)
    try:
        client.call(app, "POST", rules.MARK_TAG, json=rules.mark_request(staff, external_userid, tag_id))
    except PlatformError as exc:
        if exc.errcode == rules.INVALID_TAG:
            with _lock:
                _ids.pop((tid, name), None)
        raise


def _tag_id(app: client.App, name: str) -> str:
    with _lock:
        known = _ids.get((app.tid, name))
    if known is not None:
        return known
    group_id, tag_id = rules.found(client.call(app, "POST", rules.GET_CORP_TAG_LIST, json={}), rules.GROUP, name)
    if tag_id is None:
        try:
            answer = client.call(app, "POST", rules.ADD_CORP_TAG, json=rules.add_request(group_id, rules.GROUP, name))
            tag_id = rules.added(answer, name)
        except PlatformError as exc:
            if exc.errcode != rules.TAG_EXISTS:
                raise
            # Made meanwhile by another container: read it back.
            answer = client.call(app, "POST", rules.GET_CORP_TAG_LIST, json={})
            tag_id = rules.found(answer, rules.GROUP, name)[1]
    if tag_id is None:
        raise PlatformUnreachable(f"WeCom answered no id for the tag {name!r}")
    with _lock:
        _ids[(app.tid, name)] = tag_id
    return tag_id
