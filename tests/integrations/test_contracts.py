"""Every HTTP connector against the same failure contract: success, 401, 404, 429 + Retry-After (bounded),
5xx with bounded backoff, timeouts; and neither tokens nor conversation text in errors or logs."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import responses

from bot.errors import AgentError, PublishError
from bot.integrations.agents import HttpAgent, OpenAICompatibleAgent
from bot.integrations.http import SourceError
from bot.integrations.sources import IntercomSource, ZendeskSource
from bot.publishers import ArticleToPublish
from bot.publishers.intercom import IntercomPublisher
from bot.publishers.webhook import WebhookPublisher
from bot.publishers.zendesk import ZendeskPublisher
from tests.support.connectors import CUSTOMER_TEXT, HISTORY, SECRET, FakeKB

ZD, IC = "https://acme.zendesk.com", "https://api.intercom.io"
ARTICLE = ArticleToPublish(slug="refund-times", title="Refund times", body="Refunds take 5 business days.", gap_id=7)
ZD_CONF = {"zendesk_subdomain": "acme", "zendesk_email": "ops@acme.test", "zendesk_token": SECRET,
           "zendesk_section_id": 7, "zendesk_permission_group_id": 3}
IC_CONF = {"intercom_token": SECRET, "intercom_author_id": 5}


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    url: str
    ok: dict[str, Any]
    make: Callable[[Any, Callable[[float], None]], Callable[[], Any]]  # (conf factory, sleep) -> call
    check: Callable[[Any], bool]
    error: type[Exception]
    idempotent: bool = True
    own_404: bool = False  # the connector handles 404 itself (update of an article deleted there)


CASES = [
    Case("http-agent", "POST", "https://agent.example/reply", {"answer": "Five business days.", "sources": [3, "x"]},
         lambda c, s: (lambda a=HttpAgent.from_settings(c(agent_url="https://agent.example/reply", agent_token=SECRET),
                                                         sleep=s): a.reply(HISTORY, FakeKB(), replay_id="r1")),
         lambda r: r.text == "Five business days." and r.sources == [3], AgentError),
    Case("openai-agent", "POST", "https://llm.example/v1/chat/completions",
         {"choices": [{"message": {"role": "assistant", "content": "Five business days."}}]},
         lambda c, s: (lambda a=OpenAICompatibleAgent.from_settings(
             c(agent_base_url="https://llm.example/v1", agent_api_key=SECRET), sleep=s): a.reply(HISTORY, FakeKB())),
         lambda r: r.text == "Five business days.", AgentError),
    Case("webhook", "POST", "https://hooks.example/flywheel", {"external_id": "kb-9", "url": "https://kb.example/9"},
         lambda c, s: (lambda p=WebhookPublisher.from_settings(
             c(webhook_url="https://hooks.example/flywheel", webhook_secret=SECRET), sleep=s): p.publish(ARTICLE)),
         lambda r: r.external_id == "kb-9" and r.url == "https://kb.example/9", PublishError),
    Case("zendesk-create", "POST", f"{ZD}/api/v2/help_center/en-us/sections/7/articles.json",
         {"article": {"id": 42, "html_url": f"{ZD}/hc/en-us/articles/42"}},
         lambda c, s: (lambda p=ZendeskPublisher.from_settings(c(**ZD_CONF), sleep=s): p.publish(ARTICLE)),
         lambda r: r.external_id == "42" and r.url == f"{ZD}/hc/en-us/articles/42", PublishError, idempotent=False),
    Case("zendesk-update", "PUT", f"{ZD}/api/v2/help_center/articles/42/translations/en-us.json",
         {"translation": {"id": 1, "html_url": f"{ZD}/hc/en-us/articles/42"}},
         lambda c, s: (lambda p=ZendeskPublisher.from_settings(c(**ZD_CONF), sleep=s): p.publish(
             ArticleToPublish(**{**ARTICLE.__dict__, "external_id": "42", "version": 2}))),
         lambda r: r.external_id == "42" and r.url.endswith("/articles/42"), PublishError, own_404=True),
    Case("intercom-create", "POST", f"{IC}/articles", {"id": "99", "url": "https://help.acme.test/articles/99"},
         lambda c, s: (lambda p=IntercomPublisher.from_settings(c(**IC_CONF), sleep=s): p.publish(ARTICLE)),
         lambda r: r.external_id == "99" and r.url.endswith("/99"), PublishError, idempotent=False),
    Case("intercom-update", "PUT", f"{IC}/articles/99", {"id": "99", "url": "https://help.acme.test/articles/99"},
         lambda c, s: (lambda p=IntercomPublisher.from_settings(c(**IC_CONF), sleep=s): p.publish(
             ArticleToPublish(**{**ARTICLE.__dict__, "external_id": "99", "version": 2}))),
         lambda r: r.external_id == "99", PublishError, own_404=True),
    Case("zendesk-source", "GET", f"{ZD}/api/v2/incremental/tickets/cursor.json",
         {"tickets": [], "after_cursor": "c1", "end_of_stream": True},
         lambda c, s: (lambda src=ZendeskSource.from_settings(c(**ZD_CONF), sleep=s): list(src.fetch(None))),
         lambda r: [b.cursor for b in r] == ["c1"], SourceError),
    Case("intercom-source", "POST", f"{IC}/conversations/search", {"conversations": [], "pages": {"next": None}},
         lambda c, s: (lambda src=IntercomSource.from_settings(c(**IC_CONF), sleep=s): list(src.fetch(None))),
         lambda r: len(r) == 1 and "since" in json.loads(r[0].cursor), SourceError),
]
IDS = [c.id for c in CASES]


@pytest.fixture(params=CASES, ids=IDS)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _run(case: Case, conf: Any, sleeps: list[float]) -> Any:
    return case.make(conf, sleeps.append)()


def test_success(case: Case, conf, sleeps, rsps) -> None:
    rsps.add(case.method, case.url, json=case.ok)
    assert case.check(_run(case, conf, sleeps))
    assert len(rsps.calls) == 1 and sleeps == []


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_not_retried(case: Case, conf, sleeps, rsps, status: int) -> None:
    rsps.add(case.method, case.url, status=status, json={"error": "Unauthorized"})
    with pytest.raises(case.error, match=f"credentials \\(HTTP {status}\\)") as exc:
        _run(case, conf, sleeps)
    assert exc.value.retryable is False and "Check FLYWHEEL_" in str(exc.value)  # type: ignore[attr-defined]
    assert len(rsps.calls) == 1 and sleeps == []


@pytest.mark.parametrize("case", [c for c in CASES if not c.own_404], ids=[c.id for c in CASES if not c.own_404])
def test_not_found_is_not_retried(case: Case, conf, sleeps, rsps) -> None:
    """(Updates handle 404 themselves: the article was deleted there; see test_publishers.py.)"""
    rsps.add(case.method, case.url, status=404, json={"error": "RecordNotFound"})
    with pytest.raises(case.error, match="404") as exc:
        _run(case, conf, sleeps)
    assert exc.value.retryable is False and len(rsps.calls) == 1  # type: ignore[attr-defined]


def test_redirects_are_not_followed(case: Case, conf, sleeps, rsps) -> None:
    rsps.add(case.method, case.url, status=302, headers={"Location": "https://elsewhere.example/steal"})
    with pytest.raises(case.error, match="redirect \\(HTTP 302\\)") as exc:
        _run(case, conf, sleeps)
    assert exc.value.retryable is False and len(rsps.calls) == 1  # type: ignore[attr-defined]


def test_429_waits_retry_after_then_succeeds(case: Case, conf, sleeps, rsps) -> None:
    rsps.add(case.method, case.url, status=429, headers={"Retry-After": "7"})
    rsps.add(case.method, case.url, json=case.ok)
    assert case.check(_run(case, conf, sleeps))
    assert sleeps == [7.0] and len(rsps.calls) == 2


def test_429_with_a_wait_beyond_the_bound_gives_up_at_once(case: Case, conf, sleeps, rsps) -> None:
    rsps.add(case.method, case.url, status=429, headers={"Retry-After": "3600"})
    with pytest.raises(case.error, match="3600 s") as exc:
        _run(case, conf, sleeps)
    assert exc.value.retryable is True and sleeps == [] and len(rsps.calls) == 1  # type: ignore[attr-defined]


def test_5xx_is_retried_with_backoff(case: Case, conf, sleeps, rsps) -> None:
    first = 502 if case.idempotent else 503  # a create is retried only when it surely was not applied
    rsps.add(case.method, case.url, status=first)
    rsps.add(case.method, case.url, status=503)
    rsps.add(case.method, case.url, json=case.ok)
    assert case.check(_run(case, conf, sleeps))
    assert sleeps == [0.5, 1.0] and len(rsps.calls) == 3


def test_5xx_retries_are_bounded(case: Case, conf, sleeps, rsps) -> None:
    rsps.add(case.method, case.url, status=503)
    with pytest.raises(case.error, match="HTTP 503") as exc:
        _run(case, conf, sleeps)
    assert exc.value.retryable is True  # type: ignore[attr-defined]
    assert sleeps == [0.5, 1.0, 2.0] and len(rsps.calls) == 4  # 1 + FLYWHEEL_HTTP_MAX_RETRIES (3)


def test_a_create_that_may_have_been_applied_is_not_repeated(case: Case, conf, sleeps, rsps) -> None:
    rsps.add(case.method, case.url, status=500)
    if case.idempotent:
        rsps.add(case.method, case.url, json=case.ok)
        assert case.check(_run(case, conf, sleeps)) and len(rsps.calls) == 2
        return
    with pytest.raises(case.error, match="may have been applied") as exc:
        _run(case, conf, sleeps)
    assert exc.value.retryable is True and len(rsps.calls) == 1  # type: ignore[attr-defined]


def test_read_timeout(case: Case, conf, sleeps, rsps) -> None:
    rsps.add(case.method, case.url, body=requests.ReadTimeout("read timed out"))
    rsps.add(case.method, case.url, json=case.ok)
    if case.idempotent:
        assert case.check(_run(case, conf, sleeps)) and sleeps == [0.5] and len(rsps.calls) == 2
        return
    with pytest.raises(case.error, match="did not answer within 30 s. The change may have been applied") as exc:
        _run(case, conf, sleeps)
    assert exc.value.retryable is True and len(rsps.calls) == 1  # type: ignore[attr-defined]


def test_connect_timeout_is_retried_by_everyone(case: Case, conf, sleeps, rsps) -> None:
    rsps.add(case.method, case.url, body=requests.ConnectTimeout("no route"))  # nothing was sent
    rsps.add(case.method, case.url, json=case.ok)
    assert case.check(_run(case, conf, sleeps)) and sleeps == [0.5] and len(rsps.calls) == 2


def test_timeouts_give_up_with_a_retryable_error(case: Case, conf, sleeps, rsps) -> None:
    rsps.add(case.method, case.url, body=requests.ConnectTimeout("no route"))
    with pytest.raises(case.error, match="could not be reached within") as exc:
        _run(case, conf, sleeps)
    assert exc.value.retryable is True and len(rsps.calls) == 4 and sum(sleeps) == 3.5  # type: ignore[attr-defined]


def test_explicit_timeout_is_sent(case: Case, conf, sleeps, rsps) -> None:
    rsps.add(case.method, case.url, json=case.ok)
    _run(case, conf, sleeps)
    timeout = rsps.calls[0].request.req_kwargs["timeout"]
    assert isinstance(timeout, float) and 0 < timeout <= 30


def test_no_token_or_conversation_text_in_errors_or_logs(case: Case, conf, sleeps, rsps, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    rsps.add(case.method, case.url, status=503)
    rsps.add(case.method, case.url, status=422, json={"error": "RecordInvalid", "description": CUSTOMER_TEXT})
    with pytest.raises(case.error) as exc:
        _run(case, conf, sleeps)
    assert "HTTP 422: RecordInvalid" in str(exc.value)  # the vendor's code, not its description
    for text in (str(exc.value), caplog.text):
        assert SECRET not in text and CUSTOMER_TEXT not in text
    assert any(case.url.split("://")[1].split("/", 1)[1].split("?")[0] in r.getMessage() for r in caplog.records)
