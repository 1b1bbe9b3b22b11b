"""The Slack Web API methods the mock answers (see `mock_slack.py`): each takes the mock and the request's
parameters, changes the mock's state under its lock, and returns the response body without `ok`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from tests.support.block_rules import MESSAGE_TEXT_MAX, message_problems, view_problems
from tests.support.mock_slack import (
    _CHANNEL,
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    Channel,
    MockSlack,
    Rejection,
    SlackError,
    _ts_key,
    _user,
)


def _require(params: dict[str, Any], *names: str) -> None:
    for name in names:
        if params.get(name) in (None, ""):
            raise SlackError(f"missing_{name}" if name not in ("channel", "ts") else "invalid_arguments")


def _json(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise SlackError("invalid_blocks_format" if name == "blocks" else "invalid_arguments") from exc
    return value


def _channel(mock: MockSlack, channel_id: Any, *, posting: bool = False) -> Channel:
    if not isinstance(channel_id, str) or not _CHANNEL.match(channel_id):
        raise SlackError("channel_not_found")  # e.g. a channel *name*: new APIs need ids
    ch = mock.channels.get(channel_id)
    if ch is None:
        if mock.strict and not channel_id.startswith("U"):
            raise SlackError("channel_not_found")
        ch = mock.add_channel(channel_id)
    if posting and ch.is_archived:
        raise SlackError("is_archived")
    if posting and not ch.is_member:
        raise SlackError("not_in_channel")
    return ch


def _check_message(mock: MockSlack, method: str, params: dict[str, Any]) -> list[dict[str, Any]] | None:
    blocks = _json(params, "blocks")
    text = params.get("text") or ""
    if not text and not blocks:
        raise SlackError("no_text")
    if len(text) > MESSAGE_TEXT_MAX:
        raise SlackError("msg_too_long")
    if blocks is not None:
        reasons = message_problems(blocks)
        if reasons:
            mock.rejections.append(Rejection(method, reasons, params))
            raise SlackError("invalid_blocks")
    return blocks


def _check_view(mock: MockSlack, method: str, params: dict[str, Any]) -> dict[str, Any]:
    view = _json(params, "view")
    reasons = view_problems(view)
    if reasons:
        mock.rejections.append(Rejection(method, reasons, params))
        raise SlackError("invalid_blocks")
    return view


def _bot_message(text: str, blocks: Any, ts: str, thread_ts: str | None) -> dict[str, Any]:
    msg = {
        "type": "message", "text": text, "user": BOT_USER_ID, "bot_id": BOT_ID,
        "app_id": "AFLYWHEEL", "team": TEAM_ID, "ts": ts, "blocks": blocks or [],
    }
    if thread_ts:
        msg["thread_ts"] = thread_ts
    return msg


def chat_post_message(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _require(p, "channel")
    ch = _channel(mock, p["channel"], posting=True)
    blocks = _check_message(mock, "chat.postMessage", p)
    if mock.rate_limit:
        now = time.monotonic()
        last = mock._last_post.get(ch.id)
        if last is not None and now - last < mock.per_channel_interval:
            raise SlackError("ratelimited", 429, {"Retry-After": "1"})
        mock._last_post[ch.id] = now
    thread_ts = p.get("thread_ts") or None
    if thread_ts and (ch.id, thread_ts) not in mock.messages:
        raise SlackError("thread_not_found")
    ts = mock._next_ts()
    msg = _bot_message(p.get("text") or "", blocks, ts, thread_ts)
    mock.messages[(ch.id, ts)] = msg
    if thread_ts:
        parent = mock.messages[(ch.id, thread_ts)]
        parent["reply_count"] = parent.get("reply_count", 0) + 1
        parent.setdefault("thread_ts", thread_ts)
    return {"channel": ch.id, "ts": ts, "message": msg}


def chat_update(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _require(p, "channel", "ts")
    ch = _channel(mock, p["channel"], posting=True)
    blocks = _check_message(mock, "chat.update", p)
    msg = mock.messages.get((ch.id, p["ts"]))
    if msg is None:
        raise SlackError("message_not_found")
    if msg.get("user") != BOT_USER_ID:
        raise SlackError("cant_update_message")
    msg["text"] = p.get("text") or msg["text"]
    if blocks is not None:
        msg["blocks"] = blocks
    msg["edited"] = {"user": BOT_USER_ID, "ts": mock._next_ts()}
    return {"channel": ch.id, "ts": p["ts"], "text": msg["text"], "message": msg}


def chat_post_ephemeral(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _require(p, "channel", "user")
    _channel(mock, p["channel"], posting=True)
    _check_message(mock, "chat.postEphemeral", p)
    return {"message_ts": mock._next_ts()}


def chat_delete(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _require(p, "channel", "ts")
    if mock.messages.pop((p["channel"], p["ts"]), None) is None:
        raise SlackError("message_not_found")
    return {"channel": p["channel"], "ts": p["ts"]}


def chat_get_permalink(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _require(p, "channel", "message_ts")
    if (p["channel"], p["message_ts"]) not in mock.messages:
        raise SlackError("message_not_found")
    return {
        "channel": p["channel"],
        "permalink": f"https://flywheel-test.slack.com/archives/{p['channel']}/p{p['message_ts'].replace('.', '')}",
    }


def _reaction_target(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _require(p, "channel", "timestamp", "name")
    msg = mock.messages.get((p["channel"], p["timestamp"]))
    if msg is None:
        raise SlackError("message_not_found")
    return msg


def reactions_add(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    msg = _reaction_target(mock, p)
    reactions = msg.setdefault("reactions", [])
    entry = next((r for r in reactions if r["name"] == p["name"]), None)
    if entry is None:
        entry = {"name": p["name"], "users": [], "count": 0}
        reactions.append(entry)
    if BOT_USER_ID in entry["users"]:
        raise SlackError("already_reacted")
    entry["users"].append(BOT_USER_ID)
    entry["count"] += 1
    return {}


def reactions_remove(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    msg = _reaction_target(mock, p)
    entry = next((r for r in msg.get("reactions", []) if r["name"] == p["name"]), None)
    if entry is None or BOT_USER_ID not in entry["users"]:
        raise SlackError("no_reaction")
    entry["users"].remove(BOT_USER_ID)
    entry["count"] -= 1
    if not entry["count"]:
        msg["reactions"].remove(entry)
    return {}


def _store_view(mock: MockSlack, view: dict[str, Any], *, view_id: str | None = None) -> dict[str, Any]:
    view_id = view_id or f"V{mock._seq + 1:08d}"
    mock._seq += 1
    stored = {
        **view, "id": view_id, "team_id": TEAM_ID, "app_id": "AFLYWHEEL", "bot_id": BOT_ID,
        "hash": f"{mock._seq}.hash", "state": {"values": {}}, "root_view_id": view_id,
        "previous_view_id": None, "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""), "external_id": view.get("external_id", ""),
    }
    mock.views[view_id] = stored
    return stored


def _use_trigger(mock: MockSlack, p: dict[str, Any]) -> None:
    _require(p, "trigger_id")
    if p["trigger_id"] in mock._used_triggers:
        raise SlackError("exchanged_trigger_id")
    mock._used_triggers.add(p["trigger_id"])


def views_open(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _use_trigger(mock, p)
    return {"view": _store_view(mock, _check_view(mock, "views.open", p))}


def views_push(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _use_trigger(mock, p)
    return {"view": _store_view(mock, _check_view(mock, "views.push", p))}


def views_update(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    view = _check_view(mock, "views.update", p)
    view_id = p.get("view_id") or next(
        (v["id"] for v in mock.views.values() if p.get("external_id") and v.get("external_id") == p["external_id"]),
        None,
    )
    if not view_id or view_id not in mock.views:
        raise SlackError("not_found")
    if p.get("hash") and p["hash"] != mock.views[view_id]["hash"]:
        raise SlackError("hash_conflict")
    return {"view": _store_view(mock, view, view_id=view_id)}


def views_publish(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _require(p, "user_id")
    view = _check_view(mock, "views.publish", p)
    if view.get("type") != "home":
        raise SlackError("invalid_arguments")
    stored = _store_view(mock, view)
    mock.home_views[p["user_id"]] = stored
    return {"view": stored}


def conversations_replies(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _require(p, "channel", "ts")
    _channel(mock, p["channel"])
    msgs = mock.thread(p["channel"], p["ts"])
    if not msgs:
        raise SlackError("thread_not_found")
    return {"messages": msgs, "has_more": False, "response_metadata": {"next_cursor": ""}}


def conversations_history(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _require(p, "channel")
    _channel(mock, p["channel"])
    top = [m for (c, _), m in mock.messages.items() if c == p["channel"] and m.get("thread_ts", m["ts"]) == m["ts"]]
    top.sort(key=lambda m: _ts_key(m["ts"]), reverse=True)
    return {"messages": top, "has_more": False, "response_metadata": {"next_cursor": ""}}


def conversations_info(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _require(p, "channel")
    ch = _channel(mock, p["channel"])
    return {
        "channel": {
            "id": ch.id, "name": ch.name, "is_channel": not ch.is_private, "is_group": False,
            "is_im": False, "is_private": ch.is_private, "is_archived": ch.is_archived,
            "is_member": ch.is_member, "created": mock._t0, "context_team_id": TEAM_ID,
        }
    }


def users_info(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _require(p, "user")
    user = mock.users.get(p["user"])
    if user is None:
        if mock.strict:
            raise SlackError("user_not_found")
        user = _user(p["user"], p["user"].lower(), f"User {p['user']}", False)
    return {"user": user}


def usergroups_users_list(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _require(p, "usergroup")
    if p["usergroup"] not in mock.usergroups:
        raise SlackError("no_such_subteam")
    return {"users": list(mock.usergroups[p["usergroup"]])}


def auth_test(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": "https://flywheel-test.slack.com/", "team": "Flywheel Test", "user": "flywheel",
        "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False,
    }


def files_get_upload_url(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    _require(p, "filename", "length")
    mock._seq += 1
    file_id = f"F{mock._seq:09d}"
    mock.files[file_id] = {"id": file_id, "name": p["filename"], "size": int(p["length"]), "uploaded": False}
    return {"upload_url": f"{mock.root}/upload/{file_id}", "file_id": file_id}


def files_complete_upload(mock: MockSlack, p: dict[str, Any]) -> dict[str, Any]:
    files = _json(p, "files")
    if not isinstance(files, list) or not files:
        raise SlackError("invalid_arguments")
    channel = p.get("channel_id")
    if channel:
        _channel(mock, channel, posting=True)
    out = []
    for f in files:
        meta = mock.files.get(f.get("id", ""))
        if meta is None or f["id"] not in mock.uploads:
            raise SlackError("file_not_found")
        meta.update(title=f.get("title") or meta["name"], channels=[channel] if channel else [])
        if channel:
            ts = mock._next_ts()
            text = p.get("initial_comment") or ""
            mock.messages[(channel, ts)] = {**_bot_message(text, [], ts, p.get("thread_ts")), "files": [meta]}
            meta["shares"] = {"public": {channel: [{"ts": ts}]}}
        out.append({"id": meta["id"], "title": meta["title"], "name": meta["name"], "size": meta["size"]})
    return {"files": out}


METHODS: dict[str, Callable[[MockSlack, dict[str, Any]], dict[str, Any]]] = {
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.delete": chat_delete,
    "chat.getPermalink": chat_get_permalink,
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
    "conversations.replies": conversations_replies,
    "conversations.history": conversations_history,
    "conversations.info": conversations_info,
    "users.info": users_info,
    "usergroups.users.list": usergroups_users_list,
    "auth.test": auth_test,
    "files.getUploadURLExternal": files_get_upload_url,
    "files.completeUploadExternal": files_complete_upload,
}
