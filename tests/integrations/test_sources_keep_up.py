"""Issue 14, item 6: pulls keep up with reality: reopened tickets and late ratings update what is stored, one
refused ticket does not stop a pull, Intercom's rate-limit reset is honoured, filters, two pulls never overlap."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import datetime as dt

import pytest
import responses
from sqlalchemy import select

from bot.integrations.http import SourceError
from bot.integrations.sources import Batch, PullBusy, PullFilter, load_cursor, pull
from bot.services.claims import job_claim
from storage.models import Conversation, JobClaim
from tests.integrations.test_sources import (
    CUSTOMER,
    HUMAN,
    IC,
    START,
    ZD,
    comments,
    conversation,
    incremental,
    intercom,
    search,
    stored,
    ticket,
    zendesk,
)

FIRST_PAGE = {"per_page": "100", "start_time": str(START)}


def conv(services, cid: str) -> Conversation:
    with services.session() as s:
        return s.scalars(select(Conversation).where(Conversation.external_id == cid)).one()


@responses.activate
def test_a_reopened_ticket_and_a_late_rating_update_the_stored_conversation(services, conf) -> None:
    incremental(FIRST_PAGE, [ticket(1)], "c1")
    comments(1)
    assert pull(services, zendesk(conf)).added == 1
    before = conv(services, "1")

    # reopened: the customer wrote again, a teammate answered, it was solved again and rated bad
    incremental({"per_page": "100", "cursor": "c1"}, [ticket(1, satisfaction_rating={"score": "bad"})], "c2")
    comments(1, {"id": 3, "author_id": CUSTOMER, "public": True, "plain_body": "Still nothing?"},
             {"id": 4, "author_id": HUMAN, "public": True, "plain_body": "Refunds take 5 days."})
    report = pull(services, zendesk(conf))

    assert (report.added, report.updated, report.skipped) == (0, 1, 0)
    after = conv(services, "1")
    assert after.id == before.id and after.csat == 1 and after.message_count == 4
    assert stored(services)["1"][2:] == [("user", "Still nothing?"), ("human", "Refunds take 5 days.")]
    assert {"low CSAT", "human answered after handover"} <= set(after.risk_reasons)
    assert after.risk_score > before.risk_score

    incremental({"per_page": "100", "cursor": "c2"}, [ticket(1, satisfaction_rating={"score": "bad"})], "c3")
    comments(1, {"id": 3, "author_id": CUSTOMER, "public": True, "plain_body": "Still nothing?"},
             {"id": 4, "author_id": HUMAN, "public": True, "plain_body": "Refunds take 5 days."})
    assert (pull(services, zendesk(conf)).skipped, load_cursor(services, "zendesk")) == (1, "c3")  # unchanged


@responses.activate
def test_one_refused_ticket_is_skipped_and_named_and_the_pull_goes_on(services, conf) -> None:
    incremental(FIRST_PAGE, [ticket(1), ticket(2), ticket(3)], "c1")
    comments(1)
    responses.add(responses.GET, f"{ZD}/api/v2/tickets/2/comments.json", status=403,
                  json={"error": "Forbidden", "description": "You do not have access to this page."})
    comments(3)
    report = pull(services, zendesk(conf))
    assert report.added == 2 and list(stored(services)) == ["1", "3"] and load_cursor(services, "zendesk") == "c1"
    assert len(report.refused) == 1
    assert report.refused[0].startswith("ticket 2: Zendesk refused its comments (HTTP 403)")
    assert "credentials" not in report.refused[0]


@responses.activate
@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_listing_is_a_credentials_error(services, conf, status) -> None:
    incremental(FIRST_PAGE, [], "c1", status=status)
    with pytest.raises(SourceError, match=f"refused Flywheel's credentials \\(HTTP {status}\\)"):
        pull(services, zendesk(conf))
    assert load_cursor(services, "zendesk") is None


@responses.activate
def test_intercom_refused_conversation_is_skipped(services, conf) -> None:
    search([conversation("201", START + 1), conversation("202", START + 2)])
    responses.replace(responses.GET, f"{IC}/conversations/201", status=403, json={"type": "error.list"})
    report = pull(services, intercom(conf))
    assert report.added == 1 and report.refused[0].startswith("conversation 201: Intercom refused it (HTTP 403)")


@responses.activate
def test_intercom_rate_limit_reset_is_honoured_like_retry_after(services, conf) -> None:
    from bot.integrations.sources import IntercomSource

    slept: list[float] = []
    source = IntercomSource.from_settings(conf(intercom_token="tok-secret-0123456789"), clock=lambda: START + 1000,
                                          sleep=slept.append)
    responses.add(responses.POST, f"{IC}/conversations/search", status=429,
                  headers={"X-RateLimit-Reset": str(START + 1007)}, json={"type": "error.list"})
    search([conversation("301", START + 5)])
    assert pull(services, source).added == 1
    assert slept == [7.0]  # until the window resets, not the 0.5 s backoff

    far = IntercomSource.from_settings(conf(intercom_token="tok-secret-0123456789", http_max_wait=30),
                                       clock=lambda: START + 1000, sleep=slept.append)
    responses.add(responses.POST, f"{IC}/conversations/search", status=429,
                  headers={"X-RateLimit-Reset": str(START + 1000 + 600)})
    responses.calls.reset()
    with pytest.raises(SourceError, match="asks to wait 600 s"):  # over the bound: give up at once, retryable
        pull(services, far)
    assert len(responses.calls) == 1 and slept == [7.0]


@responses.activate
def test_zendesk_filters_by_tag_and_brand_before_fetching_comments_and_by_ai_after(services, conf) -> None:
    incremental(FIRST_PAGE, [ticket(1, tags=["billing"], brand_id=7), ticket(2, tags=["refund"], brand_id=7),
                             ticket(3, tags=["billing"], brand_id=8), ticket(4, tags=["billing"], brand_id=7)], "c1")
    comments(1)
    responses.add(responses.GET, f"{ZD}/api/v2/tickets/4/comments.json", json={"comments": [
        {"author_id": CUSTOMER, "public": True, "plain_body": "Hi"},
        {"author_id": HUMAN, "public": True, "plain_body": "Hello"}], "users": []})  # no AI in this one
    source = zendesk(conf, pull_tags="Billing", pull_brand="7", pull_ai_only=True)
    report = pull(services, source)
    assert (report.added, report.filtered) == (1, 3) and list(stored(services)) == ["1"]
    fetched = {c.request.url.split("/tickets/")[1].split("/")[0] for c in responses.calls
               if "/comments.json" in c.request.url}
    assert fetched == {"1", "4"}  # 2 and 3 were left out before their comments were fetched


@responses.activate
def test_zendesk_via_channel_marks_the_ai_agent(services, conf) -> None:
    incremental(FIRST_PAGE, [ticket(5)], "c1")
    responses.add(responses.GET, f"{ZD}/api/v2/tickets/5/comments.json", json={"comments": [
        {"author_id": CUSTOMER, "public": True, "plain_body": "Hi"},
        {"author_id": 999, "public": True, "plain_body": "I'm the bot", "via": {"channel": "answer_bot"}}],
        "users": []})
    assert pull(services, zendesk(conf, zendesk_bot_via="answer_bot", pull_ai_only=True)).added == 1
    assert stored(services)["5"] == [("user", "Hi"), ("agent", "I'm the bot")]


def test_filters_apply_to_plug_in_sources_too(services, conf) -> None:
    class Plugin:
        name = "plug"

        def fetch(self, cursor):
            yield Batch([{"id": "p1", "metadata": {"tags": ["VIP"]}, "messages": [{"role": "bot", "text": "Hi"}]},
                         {"id": "p2", "metadata": {"tags": ["vip"]}, "messages": [{"role": "user", "text": "Hi"}]},
                         {"id": "p3", "messages": [{"role": "assistant", "text": "Hi"}]}], "x")

    report = pull(services, Plugin(), filters=PullFilter(tags=frozenset({"vip"}), ai_only=True))
    assert (report.added, report.filtered) == (1, 2) and list(stored(services)) == ["p1"]


def test_two_pulls_never_overlap_and_the_lock_is_free_after(services) -> None:
    inner: list[object] = []

    class Slow:
        name = "slow"

        def fetch(self, cursor):
            with pytest.raises(PullBusy, match="A pull from slow is already running") as busy:
                pull(services, Slow())  # a second pull while this one runs: refused, nothing done
            inner.append(busy.value)
            yield Batch([{"id": "s1", "messages": [{"role": "user", "text": "Hi"}]}], "after")

    assert pull(services, Slow()).added == 1 and len(inner) == 1
    with services.session() as s:
        assert s.scalars(select(JobClaim).where(JobClaim.job_name == "pull:slow")).all() == []
    assert pull(services, Slow()).skipped == 1  # the next pull runs


def test_a_failed_pull_frees_the_lock_and_a_crashed_one_expires(services) -> None:
    class Broken:
        name = "broken"

        def fetch(self, cursor):
            raise SourceError("Zendesk is failing (HTTP 500); try again later.")
            yield  # pragma: no cover

    with pytest.raises(SourceError):
        pull(services, Broken())
    with services.session() as s:
        assert s.scalars(select(JobClaim).where(JobClaim.job_name == "pull:broken")).all() == []

    held = job_claim(services, job="pull:broken", period="running")  # a pull that was killed -9
    held.__enter__()
    with pytest.raises(PullBusy):
        pull(services, Broken())
    later = services.clock() + dt.timedelta(minutes=6)  # the lease (5 minutes) ran out
    services.clock = lambda: later
    with pytest.raises(SourceError):  # it runs (and fails on its own)
        pull(services, Broken())
    held.__exit__(None, None, None)  # the "crashed" holder: its lease was taken over, it changes nothing
