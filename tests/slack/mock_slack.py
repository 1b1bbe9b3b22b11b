"""A local mock of the Slack Web API for offline tests (stdlib only).

    with MockSlack() as slack:                       # or the `mock_slack` fixture
        client = WebClient(token="xoxb-test", base_url=slack.url)
        client.chat_postMessage(channel="C111", text="hi")
        assert slack.last("chat.postMessage").params["text"] == "hi"

* Runs `ThreadingHTTPServer` on 127.0.0.1:<free port> in a daemon thread.
* Records every request as a `Call` (method, parsed JSON *or* form params, headers, status, response).
* Answers the methods the bot uses with realistic JSON and keeps state (messages and threads,
  reactions, views, uploaded files); `ts` values are unique and increasing.
* Rejects Block Kit that breaks Slack's limits with `{"ok": false, "error": "invalid_blocks"}` and
  records why in `rejections` (rules in `block_rules.py`).
* `fail_next(method, status=429, retry_after=1)`, `fail_next(method, error="channel_not_found")`,
  `fail_next(method, status=500)` inject failures; `rate_limit=True` enforces ~1 message/s per
  channel for chat.postMessage with 429s.
* Auth: `Authorization: Bearer xoxb-…`/`xoxp-…` is valid; missing → `not_authed`, else `invalid_auth`.
* `upload_url`s and `webhook_url()` (for `response_url`) point back at this server.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

try:  # tests/slack on sys.path (its conftest puts it there)
    from block_rules import MESSAGE_TEXT_MAX, message_problems, view_problems
except ModuleNotFoundError:  # imported as tests.slack.mock_slack
    from tests.slack.block_rules import MESSAGE_TEXT_MAX, message_problems, view_problems

TEAM_ID = "T0FLYWHEEL"
BOT_USER_ID = "UFLYBOT01"
BOT_ID = "BFLYBOT01"
SCOPES = "chat:write,reactions:read,reactions:write,channels:history,commands,files:write,users:read"
_CHANNEL = re.compile(r"^[CDGU][A-Z0-9]+$")


class SlackError(Exception):
    def __init__(self, error: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.error, self.status, self.headers = error, status, headers or {}


@dataclass
class Call:
    method: str  # "chat.postMessage"…, or "upload" / "webhook" for the non-API paths
    params: dict[str, Any]
    headers: dict[str, str]
    body: bytes
    status: int = 200
    response: Any = None
    at: float = field(default_factory=time.monotonic)

    def json_param(self, name: str) -> Any:
        """A param that may arrive as a JSON string (form bodies) or as JSON (JSON bodies)."""
        value = self.params.get(name)
        return json.loads(value) if isinstance(value, str) else value

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return self.json_param("blocks") or []

    @property
    def ok(self) -> bool:
        return isinstance(self.response, dict) and bool(self.response.get("ok"))


@dataclass
class Rejection:
    method: str
    reasons: list[str]
    params: dict[str, Any]


@dataclass
class _Failure:
    status: int
    error: str
    retry_after: int | None
    times: int


@dataclass
class Channel:
    id: str
    name: str
    is_member: bool = True
    is_archived: bool = False
    is_private: bool = False


class MockSlack:
    def __init__(self, *, rate_limit: bool = False, per_channel_interval: float = 1.0, strict: bool = False):
        """`strict`: unknown channels and users are errors (default: created on first use)."""
        self.rate_limit = rate_limit
        self.per_channel_interval = per_channel_interval
        self.strict = strict
        self._lock = threading.RLock()
        self._calls: list[Call] = []
        self.rejections: list[Rejection] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._seq = 0
        self._t0 = int(time.time())
        self._last_post: dict[str, float] = {}
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> message
        self.views: dict[str, dict[str, Any]] = {}  # view id -> view
        self.home_views: dict[str, dict[str, Any]] = {}  # user id -> published home view
        self.uploads: dict[str, bytes] = {}  # file id -> uploaded bytes
        self.files: dict[str, dict[str, Any]] = {}  # completed files
        self.usergroups: dict[str, list[str]] = {}  # user group id -> member ids (usergroups.users.list)
        self._used_triggers: set[str] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> MockSlack:
        handler = type("Handler", (_Handler,), {"mock": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="mock-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> MockSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        assert self._server is not None, "MockSlack is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The `base_url` for WebClient / `SLACK_API_URL`."""
        return f"{self.root}/api/"

    def webhook_url(self, name: str = "respond") -> str:
        """A `response_url` for test payloads; posts to it are recorded as method "webhook"."""
        return f"{self.root}/webhook/{name}"

    # --- assertions ----------------------------------------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def last(self, method: str) -> Call:
        calls = self.calls_to(method)
        assert calls, f"no call to {method}; got {[c.method for c in self.calls]}"
        return calls[-1]

    def wait_for(self, method: str, count: int = 1, timeout: float = 3.0) -> list[Call]:
        """Poll until `count` calls to `method` arrived (bolt runs listeners in threads)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls_to(method)
            if len(calls) >= count:
                return calls
            time.sleep(0.01)
        raise AssertionError(f"expected {count} call(s) to {method}, got {len(self.calls_to(method))}")

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self.rejections.clear()

    # --- setup ---------------------------------------------------------------------------------------
    def fail_next(
        self, method: str, *, status: int = 200, error: str | None = None, retry_after: int | None = None, times: int = 1
    ) -> None:
        """Make the next `times` calls to `method` fail: HTTP 429 (with Retry-After), 5xx, or a
        200 `{"ok": false, "error": error}`."""
        if status == 200 and not error:
            raise ValueError("give an error code, or a non-200 status")
        default = "ratelimited" if status == 429 else "internal_error"
        with self._lock:
            self._failures.setdefault(method, []).append(
                _Failure(status, error or default, retry_after if status == 429 else None, times)
            )

    def add_channel(self, channel_id: str, name: str | None = None, **flags: bool) -> Channel:
        with self._lock:
            ch = self.channels[channel_id] = Channel(channel_id, name or channel_id.lower(), **flags)
            return ch

    def add_user(self, user_id: str, name: str, real_name: str | None = None, *, is_bot: bool = False) -> None:
        with self._lock:
            self.users[user_id] = _user(user_id, name, real_name or name.title(), is_bot)

    def add_message(self, channel: str, text: str, *, user: str = "U0CUSTOMER", thread_ts: str | None = None) -> str:
        """Seed a message (e.g. a teammate's thread reply); returns its ts."""
        with self._lock:
            ts = self._next_ts()
            msg = {"type": "message", "user": user, "text": text, "ts": ts, "team": TEAM_ID}
            if thread_ts:
                msg["thread_ts"] = thread_ts
            self.messages[(channel, ts)] = msg
            return ts

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The parent and its replies, oldest first."""
        with self._lock:
            msgs = [
                m for (c, t), m in self.messages.items()
                if c == channel and (t == ts or m.get("thread_ts") == ts)
            ]
        return sorted(msgs, key=lambda m: _ts_key(m["ts"]))

    # --- internals -----------------------------------------------------------------------------------
    def _next_ts(self) -> str:
        self._seq += 1
        return f"{self._t0 + self._seq // 1_000_000}.{self._seq % 1_000_000:06d}"

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            queue = self._failures.get(method) or []
            if not queue:
                return None
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            return failure

    def _dispatch(self, method: str, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        failure = self._take_failure(method)
        if failure is not None:
            extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            raise SlackError(failure.error, failure.status, extra)
        auth = headers.get("authorization", "")
        if not auth:
            raise SlackError("not_authed")
        if not re.match(r"^Bearer xox[bp]-\S+$", auth):
            raise SlackError("invalid_auth")
        fn = _METHODS.get(method)
        if fn is None:
            raise SlackError("unknown_method")
        with self._lock:
            return {"ok": True, **fn(self, params)}


# --- method implementations ----------------------------------------------------------------------------
def _ts_key(ts: str) -> tuple[int, int]:
    a, _, b = ts.partition(".")
    return int(a), int(b or 0)


def _user(user_id: str, name: str, real_name: str, is_bot: bool) -> dict[str, Any]:
    return {
        "id": user_id, "team_id": TEAM_ID, "name": name, "real_name": real_name, "deleted": False,
        "is_bot": is_bot, "is_app_user": False, "tz": "Europe/Paris",
        "profile": {"display_name": name, "real_name": real_name, "image_48": "https://example.com/a.png"},
    }


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


_METHODS: dict[str, Callable[[MockSlack, dict[str, Any]], dict[str, Any]]] = {
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


# --- HTTP ------------------------------------------------------------------------------------------------
def _parse(body: bytes, content_type: str) -> dict[str, Any]:
    if not body:
        return {}
    if "json" in content_type:
        return json.loads(body.decode("utf-8"))
    if "x-www-form-urlencoded" in content_type:
        pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        return {k: v[0] if len(v) == 1 else v for k, v in pairs.items()}
    return {}


class _Handler(BaseHTTPRequestHandler):
    mock: MockSlack

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        kind = "text/plain" if isinstance(payload, bytes) else "application/json; charset=utf-8"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._reply(405, {"ok": False, "error": "method_not_allowed"})

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = self.path.split("?", 1)[0]
        if path.startswith("/upload/"):
            file_id = path.rsplit("/", 1)[-1]
            self.mock.uploads[file_id] = body
            self.mock._record(Call("upload", {"file_id": file_id}, headers, body, 200, None))
            return self._reply(200, f"OK - {len(body)}".encode())
        if path.startswith("/webhook/"):
            params = _parse(body, headers.get("content-type", ""))
            self.mock._record(Call("webhook", params, headers, body, 200, None))
            return self._reply(200, b"ok")
        method = path.removeprefix("/api/")
        try:
            params = _parse(body, headers.get("content-type", ""))
        except ValueError:
            params = {}
        status, extra = 200, {}
        try:
            response = self.mock._dispatch(method, params, headers)
        except SlackError as err:
            status, extra = err.status, err.headers
            response = {"ok": False, "error": err.error}
        if method == "auth.test" and status == 200:
            extra = {"x-oauth-scopes": SCOPES}
        self.mock._record(Call(method, params, headers, body, status, response))
        self._reply(status, response, extra)
