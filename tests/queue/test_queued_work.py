"""Slow work through the queue, driven through its real entry points with the embedded queue (a persist-queue file,
consumer threads as in `flywheel serve`): `/flywheel replay` and `/flywheel regress` ack, queue, and are answered
by the job through the response_url (a fix the run broke is told in its thread with the nightly notice); a
scheduled digest is queued once per tick and posted by the worker, under its claim; a draft job run twice (a rerun
after a crash) posts its continuation messages once and updates them in place."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.jobs import digest_job, fire
from bot.llm.base import DraftArticle
from bot.queue import Runtime
from bot.queue import tasks as registry
from bot.queue.local import LocalQueue
from bot.services import Services
from handlers import flows
from storage.models import Article, Gap
from tests.support.factories import conversation, load
from tests.support.fake_llm import FakeLLM
from tests.support.harness import ANA, BEN, REVIEW, Harness, find_element, texts, wait
from tests.support.mock_slack import MockSlack


@pytest.fixture
def jobs(harness: Harness, tmp_path: Path) -> Iterator[LocalQueue]:
    """A work queue for the harness's services, nothing consuming it until `consume`."""
    queue = LocalQueue(tmp_path / "jobs-queue", harness.services.settings)
    yield queue
    queue.stop()
    harness.services.queue = None


def attach(harness: Harness, queue: LocalQueue) -> None:
    harness.services.queue = queue


def consume(harness: Harness, queue: LocalQueue) -> None:
    """Consumer threads as serve starts them: the jobs' services have no queue (`bot/queue: start_jobs`)."""
    queue.start(Runtime(dataclasses.replace(harness.services, queue=None), harness.app.client), 2)


def test_slash_replay_is_queued_then_answered_by_the_job(harness: Harness, world: Any, jobs: LocalQueue) -> None:
    attach(harness, jobs)
    response = harness.command("replay c1", name="replay")
    assert response.status == 200 and "Replaying the conversation" in response.body  # acked at once
    wait(lambda: jobs.stats()[0] == 1, what="the queued replay")
    assert not harness.slack.calls_to("webhook")  # not answered in the listener
    consume(harness, jobs)
    answer = harness.slack.wait_for("webhook", 1, timeout=15)[-1].params
    assert answer["text"].startswith("Replay of conversation c1") and answer["response_type"] == "ephemeral"
    assert "don't have information" in texts(answer["blocks"])
    wait(lambda: jobs.stats()[0] == 0, what="the job acked")


def _verified(harness: Harness, item: Any) -> Gap:
    gap_msg = harness.flag(item)
    harness.reply(item, "note: Refunds reach your card within 5 business days.", user=BEN)
    from handlers.ids import ActionId

    draft = harness.write_draft(item, gap_msg)
    harness.click(REVIEW, draft["ts"], ActionId.PUBLISH)
    harness.thread_with(item, "replayed after publishing")
    with harness.services.session() as s:
        return s.scalars(select(Gap)).one()


def test_slash_regress_is_queued_and_tells_a_broken_fix_with_the_nightly_notice(
    harness: Harness, world: Any, jobs: LocalQueue
) -> None:
    from handlers.ids import ActionId

    item = world["c1"]
    gap = _verified(harness, item)  # inline: no queue yet
    services = harness.services
    with services.session() as s:  # a later edit loses the fact: the fix breaks
        article = s.get_one(Article, gap.article_id)
        services.kb.save(s, article_id=article.id, title=article.title, body="Contact us about refunds.",
                         author="UCAROL03")
    attach(harness, jobs)
    consume(harness, jobs)
    assert harness.command("regress share", name="regress").status == 200
    answer = harness.slack.wait_for("webhook", 1, timeout=30)[-1].params
    assert "0/1 passing, 1 broke" in answer["text"] and answer["response_type"] == "in_channel"
    notice = harness.thread_with(item, "regression replay of")  # the same notice as bot/jobs.py regression_job
    body = texts(notice)
    assert f"*gap #{gap.id}*" in body and "*When it passed*" in body and "5 business days" in body
    assert find_element(notice["blocks"], ActionId.EDIT_AND_RETRY)  # the buttons came with it


def test_scheduled_digest_is_queued_once_per_tick_and_posted_by_the_worker(
    harness: Harness, jobs: LocalQueue, tmp_path: Path
) -> None:
    services = harness.services
    load(services, tmp_path, [conversation("c1", gap=True), conversation("c2"), conversation("c3")])
    client = harness.app.client
    attach(harness, jobs)
    now = services.clock()
    fire(services, client, digest_job, now)
    fire(services, client, digest_job, now)  # two instances' schedulers at the same tick: one job
    assert jobs.stats()[0] == 1

    def posted() -> list[Any]:
        return [c for c in harness.slack.calls_to("chat.postMessage") if c.params["channel"] == REVIEW]

    assert posted() == []  # queued, not run by the scheduler
    consume(harness, jobs)
    wait(lambda: len(posted()) == 3 and jobs.stats()[0] == 0, 30, "the digest posted by the worker")
    fire(services, client, digest_job, now.replace(minute=(now.minute + 1) % 60))  # a later tick, the same day
    wait(lambda: jobs.stats()[0] == 0, 30, "the second job")
    assert len(posted()) == 3  # the digest's claim: posted once


def test_scheduled_job_runs_inline_without_a_queue(harness: Harness, tmp_path: Path) -> None:
    services = harness.services
    load(services, tmp_path, [conversation("c1", gap=True), conversation("c2")])
    fire(services, harness.app.client, digest_job, services.clock())
    assert len([c for c in harness.slack.calls_to("chat.postMessage") if c.params["channel"] == REVIEW]) == 3


def _long(tag: str) -> DraftArticle:
    para = f"{tag}: refunds reach the card within 5 business days after we receive the return. " * 34
    return DraftArticle(title="Refunds to a card", body="\n\n".join(f"{para} ({i})" for i in range(24)))


def test_a_draft_job_run_twice_posts_its_continuations_once(
    harness: Harness, world: Any, slack: MockSlack, fake_llm: FakeLLM
) -> None:
    services: Services = harness.services
    item = world["c1"]
    harness.flag(item)
    with services.session() as s:
        gap_id = s.scalars(select(Gap.id)).one()
    fake_llm.enqueue("draft", _long("first"), _long("second"))
    client = WebClient(base_url=slack.url, token="xoxb-test")
    where = flows.Where(item.channel, item.ts, None)
    ts = flows.placeholder(client, where, "Writing the draft…")
    payload = flows.job(where, ts, gap_id=gap_id, user=ANA)
    runtime = Runtime(services, client)

    def thread_posts() -> int:
        return len([c for c in slack.calls_to("chat.postMessage") if c.params.get("thread_ts") == item.ts])

    registry.run(runtime, "draft", payload)
    parts = [m for m in harness.thread(item) if "continued (part" in texts(m)]
    assert len(parts) == 2  # a long draft: three messages
    before = thread_posts()
    registry.run(runtime, "draft", payload)  # the rerun of a job a crash cut short (the model is asked again)
    assert thread_posts() == before  # nothing posted twice
    again = [m for m in harness.thread(item) if "continued (part" in texts(m)]
    assert [m["ts"] for m in again] == [m["ts"] for m in parts]
    assert all("second:" in texts(m) for m in again)  # updated in place with the rerun's draft
    assert "second:" in texts(harness.message(item.channel, ts))
