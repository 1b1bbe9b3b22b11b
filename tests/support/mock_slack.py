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
* The methods themselves are in `slack_methods.py`.
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
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

TEAM_ID = "T111"  # the workspace of the signed test requests (signing.py); auth.test answers it
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
        self, method: str, *, status: int = 200, error: str | None = None, retry_after: int | None = None,
        times: int = 1,
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
        from tests.support.slack_methods import METHODS  # imports this module: resolved at first call

        fn = METHODS.get(method)
        if fn is None:
            raise SlackError("unknown_method")
        with self._lock:
            return {"ok": True, **fn(self, params)}


# --- helpers shared with slack_methods.py ---------------------------------------------------------------
def _ts_key(ts: str) -> tuple[int, int]:
    a, _, b = ts.partition(".")
    return int(a), int(b or 0)

def _user(user_id: str, name: str, real_name: str, is_bot: bool) -> dict[str, Any]:
    return {
        "id": user_id, "team_id": TEAM_ID, "name": name, "real_name": real_name, "deleted": False,
        "is_bot": is_bot, "is_app_user": False, "tz": "Europe/Paris",
        "profile": {"display_name": name, "real_name": real_name, "image_48": "https://example.com/a.png"},
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
