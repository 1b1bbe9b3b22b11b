"""Helpers of the fault-injection tests: counting rows, a second bot instance on the same database, Slack
events and their redeliveries, and calls released at the same moment."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select

from bot.llm.offline import OfflineLLM
from bot.services import Services, build_services
from bot.settings import Settings
from storage.db import make_engine
from tests.support.harness import SECRET, texts
from tests.support.mock_slack import BOT_USER_ID
from tests.support.signing import SignedRequest, event_envelope, sign

BOT_TOKEN = "xoxb-reliability-0123456789-abcdefghij"  # the fault suite's bot token (log scans look for it)


def count(services: Services, model: Any, *where: Any) -> int:
    with services.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


@contextmanager
def instance(url: str, settings: Settings) -> Iterator[Services]:
    """A second bot instance: its own engine and connection pool on the same database."""
    engine = make_engine(url)
    try:
        yield build_services(settings, engine=engine, llm=OfflineLLM())
    finally:
        engine.dispose()


def reaction(item: Any, *, user: str, emoji: str = "books") -> dict[str, Any]:
    return {"type": "reaction_added", "user": user, "reaction": emoji, "item_user": BOT_USER_ID,
            "event_ts": f"{time.time():.6f}", "item": {"type": "message", "channel": item.channel, "ts": item.ts}}


def reply(item: Any, text: str, *, user: str, ts: str) -> dict[str, Any]:
    return {"type": "message", "channel": item.channel, "user": user, "text": text, "ts": ts,
            "thread_ts": item.ts, "channel_type": "channel", "event_ts": ts}


def deliveries(event: dict[str, Any], retries: int = 3) -> list[SignedRequest]:
    """The first delivery of one envelope and Slack's `retries` redeliveries (same event_id)."""
    body = json.dumps(event_envelope(event))
    out = []
    for n in range(retries + 1):
        signed = sign(body, secret=SECRET, content_type="application/json")
        if n:
            signed.headers.update({"x-slack-retry-num": str(n), "x-slack-retry-reason": "http_timeout"})
        out.append(signed)
    return out


def at_once(*calls: Callable[[], Any], timeout: float = 60) -> list[Any]:
    """Run the calls in threads released together; re-raise the first error."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if errors:
        raise errors[0]
    return results


def thread_texts(harness: Any, item: Any) -> list[str]:
    return [texts(m) for m in harness.thread(item)]
