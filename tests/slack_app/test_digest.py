"""The digest service against the mock Slack Web API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.errors import FlywheelError
from bot.services import Services
from bot.services.claims import LEASE
from bot.slack.digest import PACE_SECONDS, DigestNotPosted, catch_up, post_digest, post_weekly_stats
from storage.models import Digest, DigestItem, JobClaim
from tests.slack_app.conftest import DIGEST_SIZE, REVIEW

DAY = dt.date(2026, 11, 20)


def no_sleep(_: float) -> None:
    pass


def posted(slack, method: str = "chat.postMessage") -> list:  # type: ignore[no-untyped-def]
    return [c for c in slack.calls_to(method) if c.ok]


def state(services: Services) -> tuple[Digest, list[DigestItem], JobClaim]:
    with services.session() as s:
        digest = s.scalar(select(Digest).where(Digest.day == DAY, Digest.channel == REVIEW))
        items = list(s.scalars(select(DigestItem).where(DigestItem.digest_id == digest.id)
                               .order_by(DigestItem.position)))
        claim = s.scalar(select(JobClaim).where(JobClaim.job_name == f"digest:{REVIEW}"))
        return digest, items, claim


def test_posts_header_and_items_once(loaded: Services, client, slack) -> None:  # type: ignore[no-untyped-def]
    sleeps: list[float] = []
    result = post_digest(loaded, client, day=DAY, channel=REVIEW, sleep=sleeps.append)

    assert (result.status, result.items, result.posted) == ("posted", DIGEST_SIZE, DIGEST_SIZE + 1)
    calls = posted(slack)
    assert len(calls) == DIGEST_SIZE + 1
    assert calls[0].params["text"].startswith(f"Flywheel digest for {DAY}")
    assert all(c.params["channel"] == REVIEW and c.params["unfurl_links"] is False for c in calls)
    assert len(sleeps) == DIGEST_SIZE and all(0 < s <= PACE_SECONDS for s in sleeps)

    digest, items, claim = state(loaded)
    assert digest.header_ts == calls[0].response["ts"] == result.header_ts
    assert [i.slack_ts for i in items] == [c.response["ts"] for c in calls[1:]]
    assert digest.posted_at is not None and claim.finished_at is not None
    # Conversation text reaches Slack escaped: an injected ping is inert.
    texts = " ".join(str(c.blocks) for c in calls)
    assert "&lt;!channel&gt;" in texts and "<!channel>" not in texts

    again = post_digest(loaded, client, day=DAY, channel=REVIEW, sleep=no_sleep)
    assert again.status == "already_posted" and again.posted == 0
    assert len(slack.calls_to("chat.postMessage")) == DIGEST_SIZE + 1


@pytest.mark.parametrize("failure", [{"error": "channel_not_found"}, {"status": 500, "times": 3}],
                         ids=["channel_not_found", "http_500"])
def test_failure_mid_way_then_rerun_posts_only_the_missing(  # type: ignore[no-untyped-def]
    loaded: Services, client, slack, failure, monkeypatch,
) -> None:
    # The pacer sleeps only when the last post was under PACE_SECONDS ago: a slow machine would skip a sleep
    # and shift which post fails. A pace no run can outlast makes every post but the first sleep (fake sleep).
    monkeypatch.setattr("bot.slack.digest.PACE_SECONDS", 3600.0)
    waits = []

    def fail_third_item(_: float) -> None:  # called before every post but the first (header, items 1, 2)
        waits.append(1)
        if len(waits) == 3:
            slack.fail_next("chat.postMessage", **failure)

    with pytest.raises(FlywheelError) as info:
        post_digest(loaded, client, day=DAY, channel=REVIEW, sleep=fail_third_item)
    assert isinstance(info.value, DigestNotPosted) == ("error" in failure)
    digest, items, claim = state(loaded)
    assert digest.header_ts is not None and digest.posted_at is None
    assert [i.slack_ts is not None for i in items] == [True, True] + [False] * (DIGEST_SIZE - 2)
    assert claim.finished_at is None and claim.owner is None  # released: the rerun may resume at once

    slack.clear()
    result = post_digest(loaded, client, day=DAY, channel=REVIEW, sleep=no_sleep)
    assert (result.status, result.posted) == ("posted", DIGEST_SIZE - 2)
    rerun = posted(slack)
    assert not any(c.params["text"].startswith("Flywheel digest") for c in rerun)  # no second header
    digest, items, claim = state(loaded)
    assert all(i.slack_ts for i in items) and len({i.slack_ts for i in items}) == DIGEST_SIZE
    assert [i.slack_ts for i in items[2:]] == [c.response["ts"] for c in rerun]
    assert digest.posted_at is not None and claim.finished_at is not None


@pytest.mark.parametrize(("channel", "flags", "code"), [
    ("review", {}, "channel_not_found"),  # a channel *name* where an ID is needed
    (REVIEW, {"is_member": False}, "not_in_channel"),
    (REVIEW, {"is_archived": True}, "is_archived"),
])
def test_channel_errors_are_clear_and_mark_nothing(  # type: ignore[no-untyped-def]
    loaded: Services, client, slack, caplog, channel, flags, code
) -> None:
    if flags:
        slack.add_channel(REVIEW, **flags)
    caplog.set_level(logging.INFO)
    with pytest.raises(DigestNotPosted) as info:
        post_digest(loaded, client, day=DAY, channel=channel, sleep=no_sleep)
    assert info.value.code == code and info.value.channel == channel
    assert f"not posted to channel {channel}" in info.value.message
    assert posted(slack) == []
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert code in logged and repr(channel) in logged and "Customer" not in logged
    with loaded.session() as s:
        digest = s.scalar(select(Digest).where(Digest.channel == channel))
        assert digest.header_ts is None and digest.posted_at is None
        assert s.scalar(select(JobClaim.finished_at)) is None

    if flags:  # the operator fixes the channel: the rerun posts everything
        slack.add_channel(REVIEW)
        assert post_digest(loaded, client, day=DAY, channel=REVIEW, sleep=no_sleep).posted == DIGEST_SIZE + 1


def test_two_threads_post_once(loaded: Services, client, slack) -> None:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run() -> None:
        barrier.wait()
        try:
            results.append(post_digest(loaded, client, day=DAY, channel=REVIEW, sleep=lambda s: None))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(r.status for r in results)[1] == "posted"
    assert sorted(r.status for r in results)[0] in ("already_posted", "in_progress")
    assert len(posted(slack)) == DIGEST_SIZE + 1
    with loaded.session() as s:
        assert len(s.scalars(select(JobClaim)).all()) == 1


def test_catch_up_posts_today_once_after_digest_time(loaded: Services, client, slack) -> None:  # type: ignore[no-untyped-def]
    early = dt.datetime(2026, 11, 20, 8, 59, tzinfo=dt.UTC)  # digest_time is 09:00 UTC
    assert catch_up(loaded, client, now=early, sleep=no_sleep) is None
    assert slack.calls_to("chat.postMessage") == []

    late = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
    result = catch_up(loaded, client, now=late, sleep=no_sleep)
    assert result is not None and (result.day, result.status) == (DAY, "posted")
    assert catch_up(loaded, client, now=late, sleep=no_sleep).status == "already_posted"
    assert len(slack.calls_to("chat.postMessage")) == DIGEST_SIZE + 1


def test_catch_up_without_review_channel_does_nothing(loaded: Services, client, slack) -> None:  # type: ignore[no-untyped-def]
    loaded.settings.review_channel = None
    assert catch_up(loaded, client, now=dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)) is None
    assert slack.calls == []


def test_weekly_stats_posts_message_and_chart_once(loaded: Services, client, slack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monday = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    assert post_weekly_stats(loaded, client, now=monday, channel="C0STATS") is True

    message = slack.last("chat.postMessage")
    assert message.params["channel"] == "C0STATS" and "Flywheel stats" in message.params["text"]
    assert "2026-W47" in str(message.blocks)  # the week that just ended
    url = slack.last("files.getUploadURLExternal")
    upload = slack.last("upload")
    assert upload.body.startswith(b"\x89PNG") and int(url.params["length"]) == len(upload.body)
    done = slack.last("files.completeUploadExternal")
    assert done.ok and done.params["channel_id"] == "C0STATS"
    assert done.json_param("files")[0]["title"] == "Flywheel loop 2026-W47"

    assert post_weekly_stats(loaded, client, now=monday + dt.timedelta(hours=3), channel="C0STATS") is False
    assert len(slack.calls_to("upload")) == 1 and len(slack.calls_to("chat.postMessage")) == 1


def _foreign_claim(services: Services, *, age: dt.timedelta) -> None:
    """A claim held by another process (alive when recent, crashed when older than the lease)."""
    with services.session() as s:
        s.add(JobClaim(job_name=f"digest:{REVIEW}", period_key=DAY.isoformat(), owner="other-host:42:abcd",
                       claimed_at=services.clock() - age))


def test_a_live_claim_blocks_and_a_crashed_one_is_resumed(loaded: Services, client, slack) -> None:  # type: ignore[no-untyped-def]
    _foreign_claim(loaded, age=dt.timedelta(seconds=10))
    assert post_digest(loaded, client, day=DAY, channel=REVIEW, sleep=no_sleep).status == "in_progress"
    assert slack.calls == []
    with loaded.session() as s:  # the other process stopped renewing its lease
        s.execute(update(JobClaim).values(claimed_at=loaded.clock() - LEASE - dt.timedelta(seconds=1)))
    result = post_digest(loaded, client, day=DAY, channel=REVIEW, sleep=no_sleep)
    assert (result.status, result.posted) == ("posted", DIGEST_SIZE + 1)


def test_catch_up_waits_out_a_crashed_runs_lease(loaded: Services, client, slack) -> None:  # type: ignore[no-untyped-def]
    _foreign_claim(loaded, age=dt.timedelta(seconds=10))
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        if seconds > PACE_SECONDS:  # the catch-up's wait for the lease: let it run out
            waited.append(seconds)
            with loaded.session() as s:
                s.execute(update(JobClaim).values(claimed_at=loaded.clock() - LEASE - dt.timedelta(seconds=1)))

    result = catch_up(loaded, client, now=dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC), sleep=sleep)
    assert waited == [LEASE.total_seconds() + 1]
    assert result is not None and (result.status, result.posted) == ("posted", DIGEST_SIZE + 1)
