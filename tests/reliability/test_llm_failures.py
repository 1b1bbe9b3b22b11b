"""The model failing (timeout, 429, 5xx, refusal, empty or malformed structured output), through the real
OpenAI provider against a scripted API: the thread says what happened with a retry button, nothing is left
half-done, and retrying finishes the work once. A configured real model is never swapped for the offline
one. (Each SDK failure → LLMError mapping: tests/llm/test_openai_llm.py::test_failures_become_safe_llm_errors.)"""

from __future__ import annotations

import httpx2
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.errors import ConfigError
from bot.llm.offline import OfflineLLM
from bot.services import build_services
from handlers.ids import ActionId
from storage.models import Article, Draft, Gap, Outline, ReplayRun
from tests.support.harness import REVIEW, find_element, texts, wait
from tests.support.openai_api import FakeAPI, api_error, completion, make_llm
from tests.support.reliability import count

FAILURES = {  # name → (scripted reply, what the thread says)
    "timeout": (httpx2.ReadTimeout("read timed out"), "did not answer within"),
    "rate_limited": ((429, api_error("Rate limit reached", "requests", "rate_limit_exceeded"), {}), "HTTP 429"),
    "server_error": ((500, api_error("The server had an error", "server_error", None), {}), "HTTP 500"),
    "refusal": (completion(None, refusal="I can't help with that."), "declined"),
    "empty": (completion(None), "empty answer"),
    "malformed": (completion('{"title": "Refunds", "summ'), "expected format"),
}


def failing_llm(name: str):  # type: ignore[no-untyped-def]
    return make_llm(FakeAPI(FAILURES[name][0]), max_retries=0, timeout=0.5)


def gap_state(harness) -> str:  # type: ignore[no-untyped-def]
    with harness.services.session() as s:
        return s.scalar(select(Gap.state))


@pytest.mark.parametrize("failure", list(FAILURES))
def test_outline_failure_says_why_and_retry_recovers(harness, world, tally, failure) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    harness.services.llm = failing_llm(failure)
    tally.fault(f"llm {failure}")
    assert harness.react("books", item, user="UANA0001").status == 200
    error = harness.thread_with(item, FAILURES[failure][1])
    harness.thread_with(item, "No outline this time")
    assert count(harness.services, Outline) == 0 and gap_state(harness) == "open"
    assert "Traceback" not in texts(error) and "sk-test" not in texts(error)

    harness.services.llm = OfflineLLM()  # the model is back: the retry button finishes the job, once
    harness.click(REVIEW, error["ts"], ActionId.RETRY)
    harness.thread_with(item, "Suggested article")
    harness.drain()
    assert tally.expect("outlines", expected=1, got=count(harness.services, Outline)) == 1
    assert tally.expect("gaps", expected=1, got=count(harness.services, Gap)) == 1


@pytest.mark.parametrize("failure", ["timeout", "malformed", "refusal"])
def test_draft_failure_leaves_no_half_written_draft(harness, world, tally, failure) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    gap_msg = harness.flag(item)
    harness.services.llm = failing_llm(failure)
    tally.fault(f"llm {failure}")
    harness.click(REVIEW, gap_msg["ts"], ActionId.WRITE_DRAFT)
    error = harness.thread_with(item, FAILURES[failure][1])
    assert "Writing the draft" not in texts(error)  # the placeholder became the error
    retryable = failure != "refusal"
    assert (":arrows_counterclockwise: Retry" in texts(error)) is retryable
    assert count(harness.services, Draft) == 0 and gap_state(harness) == "open"
    assert count(harness.services, Outline) == 1
    if retryable:
        harness.services.llm = OfflineLLM()
        harness.click(REVIEW, error["ts"], ActionId.RETRY)
        harness.thread_with(item, "Draft for gap #")
        harness.drain()
        assert tally.expect("drafts", expected=1, got=count(harness.services, Draft)) == 1


def test_a_judge_failure_in_the_shadow_test_stores_nothing(harness, world, tally) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    draft_msg = harness.write_draft(item, harness.flag(item))
    harness.services.llm = failing_llm("server_error")
    tally.fault("llm server_error")
    harness.click(REVIEW, draft_msg["ts"], ActionId.TEST_DRAFT)
    harness.thread_with(item, "HTTP 500")
    harness.drain()
    assert count(harness.services, ReplayRun) == 0 and gap_state(harness) == "drafting"


def test_a_judge_failure_after_publishing_is_finished_by_retry(harness, world, tally) -> None:  # type: ignore[no-untyped-def]
    """Article and state were written in one transaction; only the verdict is missing. Retry verifies, and
    publishes nothing twice."""
    item = world["c1"]
    draft_msg = harness.write_draft(item, harness.flag(item))
    articles = count(harness.services, Article)
    harness.services.llm = failing_llm("timeout")
    tally.fault("llm timeout")
    harness.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH)
    error = harness.thread_with(item, "did not answer within")
    assert gap_state(harness) == "published" and count(harness.services, Article) == articles + 1
    find_element(error["blocks"], ActionId.RETRY)

    harness.services.llm = OfflineLLM()
    harness.click(REVIEW, error["ts"], ActionId.RETRY)
    wait(lambda: gap_state(harness) == "verified", what="the verdict")
    harness.thread_with(item, "replayed after publishing")
    harness.drain()
    assert tally.expect("articles", expected=articles + 1, got=count(harness.services, Article)) == articles + 1


def test_a_configured_model_without_key_stops_startup(settings, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    forced = settings.model_copy(update={"llm_provider": "openai", "openai_api_key": None})
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        build_services(forced)
    for name, value in {"FLYWHEEL_LLM_PROVIDER": "openai", "DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
                        "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s3cret"}.items():
        monkeypatch.setenv(name, value)
    started: list[object] = []
    monkeypatch.setattr("bot.server.make_server", lambda *a: started.append(a))
    result = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert result.exit_code == 1 and "OPENAI_API_KEY" in result.output and "offline" in result.output
    assert started == []  # nothing served with a silently swapped model
