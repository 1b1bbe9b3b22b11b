"""Scenario-test harness: the real Bolt app from `create_app`, signed requests through `app.dispatch`, the
mock Slack Web API (`mock_slack.py`; the fixtures are in each suite's conftest.py).

    harness.react("books", item, user=ANA)              # a signed reaction_added on a digest item
    msg = harness.thread_with(item, "Suggested article") # listeners run after the ack: poll the mock
    harness.click(REVIEW, msg["ts"], ActionId.WRITE_DRAFT)   # press a button the bot really posted
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot.blocks import build_digest_item
from bot.present import digest_item_view
from bot.services import Services
from bot.services.conversations import resolve
from bot.services.threads import ItemInfo, digest_item
from handlers.ids import ActionId
from storage.models import Digest, DigestItem
from tests.support.mock_slack import BOT_ID, BOT_USER_ID, MockSlack
from tests.support.signing import command_fields, command_request, event_request, interaction_request

SECRET = "test-signing-secret"
REVIEW = "CREVIEW01"
ANA, BEN = "UANA0001", "UBEN0002"
T = TypeVar("T")


def wait(predicate: Callable[[], T], timeout: float = 15.0, what: str = "condition") -> T:
    """Poll until `predicate()` is truthy (Bolt runs listeners after the ack, in its thread pool)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def texts(obj: Any) -> str:
    """Every `text` string in a message/view/blocks structure, joined (for `in` assertions)."""
    out: list[str] = []

    def walk(o: Any) -> None:
        if isinstance(o, dict):
            for k, v in o.items():
                (out.append(v) if k == "text" and isinstance(v, str) else walk(v))
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(obj)
    return "\n".join(out)


def find_element(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in blocks:
        for el in block.get("elements", []) + ([block["accessory"]] if "accessory" in block else []):
            if isinstance(el, dict) and el.get("action_id") == action_id:
                return el
    raise AssertionError(f"no element {action_id!r} in the message")


class Harness:
    def __init__(self, app: App, slack: MockSlack, services: Services) -> None:
        self.app, self.slack, self.services = app, slack, services

    # --- requests -------------------------------------------------------------------------------
    def dispatch(self, signed: Any) -> BoltResponse:
        return self.app.dispatch(signed.to_bolt())

    def event(self, event: dict[str, Any]) -> BoltResponse:
        return self.dispatch(event_request({"event_ts": f"{time.time():.6f}", **event}, secret=SECRET))

    def react(self, emoji: str, item: ItemInfo, *, user: str, removed: bool = False) -> BoltResponse:
        kind = "reaction_removed" if removed else "reaction_added"
        return self.event({"type": kind, "user": user, "reaction": emoji, "item_user": BOT_USER_ID,
                           "item": {"type": "message", "channel": item.channel, "ts": item.ts}})

    def reply(self, item: ItemInfo, text: str, *, user: str) -> tuple[BoltResponse, str]:
        ts = self.slack.add_message(item.channel, text, user=user, thread_ts=item.ts)
        event = {"type": "message", "channel": item.channel, "user": user, "text": text, "ts": ts,
                 "thread_ts": item.ts, "channel_type": "channel"}
        return self.event(event), ts

    def click(
        self, channel: str, ts: str, action_id: str, *, user: str = ANA, option: int | None = None
    ) -> BoltResponse:
        """Press a button (or pick option `option` of a select) in a message the bot posted."""
        msg = self.slack.messages[(channel, ts)]
        el = find_element(msg["blocks"], action_id)
        action: dict[str, Any] = {"action_id": action_id, "block_id": "b", "type": el["type"],
                                  "action_ts": f"{time.time():.6f}"}
        if option is not None:
            action["selected_option"] = el["options"][option]
        else:
            action["value"] = el.get("value")
        payload = {
            "type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": "T111"},
            "api_app_id": "A111", "token": "verification_token", "trigger_id": f"trig.{uuid.uuid4().hex}",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
            "team": {"id": "T111", "domain": "flywheel-test"}, "channel": {"id": channel, "name": "review"},
            "message": msg, "state": {"values": {}}, "response_url": self.slack.webhook_url("action"),
            "actions": [action],
        }
        return self.dispatch(interaction_request(payload, secret=SECRET))

    def submit(self, view: dict[str, Any], values: dict[str, str], *, user: str = ANA) -> BoltResponse:
        """Submit a modal the bot opened: inputs keep their initial value unless `values` overrides it."""
        values = {str(k): v for k, v in values.items()}
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            if block["type"] == "input":
                el = block["element"]
                if el["type"] == "radio_buttons":  # `values` names the option's value
                    chosen = values.get(block["block_id"])
                    option = next((o for o in el["options"] if o["value"] == chosen), el.get("initial_option"))
                    state[block["block_id"]] = {el["action_id"]: {"type": el["type"], "selected_option": option}}
                    continue
                value = values.get(block["block_id"], el.get("initial_value"))
                state[block["block_id"]] = {el["action_id"]: {"type": el["type"], "value": value}}
        payload = {"type": "view_submission", "team": {"id": "T111"}, "user": {"id": user, "team_id": "T111"},
                   "api_app_id": "A111", "token": "verification_token", "trigger_id": f"trig.{uuid.uuid4().hex}",
                   "view": {**view, "state": {"values": state}}, "response_urls": []}
        return self.dispatch(interaction_request(payload, secret=SECRET))

    def command(self, text: str, *, user: str = ANA, name: str = "cmd") -> BoltResponse:
        fields = command_fields(text, user_id=user, channel_id=REVIEW, response_url=self.slack.webhook_url(name))
        return self.dispatch(command_request(fields, secret=SECRET))

    def flag(self, item: ItemInfo, *, user: str = ANA) -> dict[str, Any]:
        """React with the flag emoji and wait for the outline; returns the gap message in the thread."""
        assert self.react("books", item, user=user).status == 200
        return self.thread_with(item, "Suggested article")

    def write_draft(self, item: ItemInfo, gap_msg: dict[str, Any]) -> dict[str, Any]:
        self.click(item.channel, gap_msg["ts"], ActionId.WRITE_DRAFT)
        return self.thread_with(item, "Draft for gap #")

    # --- the mock's state -----------------------------------------------------------------------
    def thread(self, item: ItemInfo) -> list[dict[str, Any]]:
        """The bot's replies in the item's thread, oldest first (as they look now)."""
        return [m for m in self.slack.thread(item.channel, item.ts) if m["ts"] != item.ts and m.get("bot_id") == BOT_ID]

    def thread_with(self, item: ItemInfo, needle: str, timeout: float = 15.0) -> dict[str, Any]:
        """Wait for a bot reply in the thread whose text contains `needle`; return it."""
        return wait(lambda: next((m for m in self.thread(item) if needle in texts(m)), None), timeout,
                    f"a thread reply containing {needle!r}")

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        return self.slack.messages[(channel, ts)]

    def drain(self) -> None:
        """Wait for every listener started so far to finish (no more requests afterwards)."""
        self.app.listener_runner.listener_executor.shutdown(wait=True)


def post_items(services: Services, slack: MockSlack, refs: list[str]) -> dict[str, ItemInfo]:
    """A digest (rows like `post_digest` writes) whose items are posted with the real builder."""
    client = WebClient(base_url=slack.url, token="xoxb-test")
    conv_ids = {ref: resolve(services, ref) for ref in refs}
    with services.session() as s:
        digest = Digest(day=services.clock().date(), channel=REVIEW)
        s.add(digest)
        s.flush()
        rows = [DigestItem(digest_id=digest.id, conversation_id=conv_ids[ref], position=pos, pick="risk",
                           reasons=["escalated"], channel=REVIEW) for pos, ref in enumerate(refs)]
        s.add_all(rows)
        s.flush()
        item_ids = {ref: row.id for ref, row in zip(refs, rows, strict=True)}
    out = {}
    for ref, item_id in item_ids.items():
        msg = build_digest_item(digest_item_view(digest_item(services, item_id), settings=services.settings))
        ts = client.chat_postMessage(channel=REVIEW, **msg.as_kwargs())["ts"]
        with services.session() as s:
            s.get(DigestItem, item_id).slack_ts = ts
        out[ref] = ItemInfo(item_id, conv_ids[ref], REVIEW, ts)
    return out
