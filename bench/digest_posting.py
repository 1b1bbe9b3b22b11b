"""Digest posting: `post_digest` (sample, header, one message a conversation) to the local mock Slack with its
rate limit on (~1 chat.postMessage a second per channel, 429 beyond). Ideal wall time = (messages - 1) x 1 s;
the pacing itself is PACE_SECONDS. Target: <= 1.15x ideal and no 429. Machine time = wall - time slept."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from bench.common import Result, ms, services

NAME = "digest_posting"
CONVERSATIONS, DIGEST_SIZE, SLACK_INTERVAL = 2_000, 8, 1.0
CHANNEL = "C0REVIEW"


def _conversations():  # type: ignore[no-untyped-def]
    for i in range(CONVERSATIONS):
        risky = i % 3 == 0
        messages = [{"role": "user", "text": f"Where is my parcel number {i}?"},
                    {"role": "agent", "text": "I'm sorry, I don't have information about that." if risky
                     else "It ships within two days."}]
        yield i + 1, {"id": f"conv-{i}", "metadata": {"resolved": not risky}, "messages": messages}


def run(result: Result) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        os.environ.pop(name, None)  # the mock Slack is on localhost
    from bot.services.importer import import_records
    from bot.slack.client import make_web_client
    from bot.slack.digest import PACE_SECONDS, post_digest
    from tests.support.mock_slack import MockSlack

    with tempfile.TemporaryDirectory() as tmp, MockSlack(rate_limit=True, per_channel_interval=SLACK_INTERVAL) as slack:
        svc = services(f"sqlite:///{Path(tmp) / 'digest.db'}", settings={
            "slack_api_url": slack.url, "slack_bot_token": "xoxb-bench", "review_channel": CHANNEL,
            "digest_size": DIGEST_SIZE})
        try:
            import_records(svc, _conversations(), source="bench")
            slept: list[float] = []

            def sleep(seconds: float) -> None:
                slept.append(seconds)
                time.sleep(seconds)

            start = time.perf_counter()
            outcome = post_digest(svc, make_web_client(svc.settings), day=dt.date(2026, 11, 20), channel=CHANNEL,
                                  sleep=sleep)
            wall = time.perf_counter() - start
        finally:
            svc.engine.dispose()
        calls = slack.calls_to("chat.postMessage")
    messages = sum(c.ok for c in calls)
    limited = sum(c.status == 429 for c in calls)
    ideal = (messages - 1) * SLACK_INTERVAL
    result.add(f"digest of {DIGEST_SIZE} conversations ({messages} messages, {CONVERSATIONS:,} stored; status "
               f"{outcome.status}) to a rate-limited mock Slack", ms(wall), f"ideal {ms(ideal)} at 1 msg/s",
               wall / ideal if ideal else None, "<= 1.15x", bool(ideal) and wall / ideal <= 1.15, bench=NAME)
    result.add("HTTP 429 answers while posting the digest", str(limited), f"{len(calls)} calls", None, "0",
               limited == 0, bench=NAME)
    machine = (wall - sum(slept)) / max(messages, 1)
    result.add(f"machine time per digest message (wall - {ms(sum(slept))} paced sleep)", ms(machine),
               f"pace {ms(PACE_SECONDS)}", machine / PACE_SECONDS, "info", None, bench=NAME)
