"""The whole loop with the team's own pieces: an HTTP agent (faked with `responses`, it knows only what its
own KB or the shadow drafts tell it) and their knowledge base (a Markdown folder, or Zendesk)."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import responses
from sqlalchemy import func, select

from bot.domain import GapState, Verdict
from bot.errors import PublishError
from bot.integrations.agents import HttpAgent
from bot.integrations.settings import IntegrationSettings
from bot.kb.markdown import parse_markdown
from bot.llm.offline import OfflineLLM
from bot.publishers import public_text
from bot.publishers.markdown import MarkdownPublisher
from bot.publishers.zendesk import ZendeskPublisher
from bot.services import build_services
from bot.services.authoring import shadow_test, suggest_outline, write_draft
from bot.services.conversations import resolve
from bot.services.gaps import flag
from bot.services.publishing import publish
from bot.services.replay import replay
from storage.models import Article, Gap
from tests.support.connectors import SECRET
from tests.support.factories import REFUND_FACT, conversation, load, seed_kb

AGENT_URL = "https://agent.acme.test/v1/reply"
DONT_KNOW = "I'm sorry, I don't have information about that."
ZD = "https://acme.zendesk.com"


def team_agent(known: Callable[[], list[str]]):
    """The team's agent: answers the refund question only when its KB or the shadow drafts state the fact."""

    def reply(request):
        assert request.headers["Authorization"] == f"Bearer {SECRET}"
        body = json.loads(request.body)
        question = [t["text"] for t in body["conversation"] if t["role"] == "user"][-1]
        if "refund" not in question.lower():
            return 200, {}, json.dumps({"answer": "Hello! How can I help?"})
        docs = [k["body"] for k in body["extra_knowledge"]] + known()
        return 200, {}, json.dumps({"answer": REFUND_FACT if any("5 business days" in d for d in docs) else DONT_KNOW})

    return reply


def sent() -> list[dict]:
    return [json.loads(c.request.body) for c in responses.calls if c.request.url == AGENT_URL]


def open_gap(svc) -> tuple[int, int]:
    cid = resolve(svc, "c1")
    gap_id = flag(svc, conversation_id=cid, user="U1").gap_id
    assert gap_id is not None
    return cid, gap_id


@pytest.fixture
def make_services(engine, settings, tmp_path):
    def make(publisher):
        svc = build_services(settings, engine=engine, llm=OfflineLLM(), publisher=publisher,
                             agent=HttpAgent(AGENT_URL, token=SECRET, concurrency=2, sleep=lambda s: None))
        load(svc, tmp_path, [conversation("c1", gap=True), conversation("c2")])
        seed_kb(svc)
        return svc

    return make


@responses.activate
def test_the_loop_passes_with_the_teams_agent_after_publishing_to_markdown(make_services, tmp_path: Path) -> None:
    kb_dir = tmp_path / "team-kb"
    svc = make_services(MarkdownPublisher(kb_dir))
    responses.add_callback(responses.POST, AGENT_URL, callback=team_agent(
        lambda: [p.read_text(encoding="utf-8") for p in kb_dir.glob("*.md")]))
    cid, gap_id = open_gap(svc)

    before = replay(svc, conversation_id=cid, flagged_position=3, required_facts=[REFUND_FACT])
    assert before.verdict == Verdict.FAIL and before.after == DONT_KNOW

    suggest_outline(svc, gap_id=gap_id, user="U1")
    draft = write_draft(svc, gap_id=gap_id, user="U1")
    assert REFUND_FACT in draft.body
    shadow = shadow_test(svc, gap_id=gap_id, user="U1")
    assert shadow.verdict == Verdict.PASS and shadow.after == REFUND_FACT
    assert not kb_dir.exists()  # the shadow test published nothing
    shadow_calls = sent()[-2:]
    # the draft as it would go live: without the offline label and the conversation list
    assert all(c["extra_knowledge"] == [{"title": draft.title, "body": public_text(draft.body)}] for c in shadow_calls)
    assert len({c["replay_id"] for c in shadow_calls}) == 1 and shadow_calls[0]["replay_id"]

    out = publish(svc, gap_id=gap_id, user="U1")
    assert out.outcome.verdict == Verdict.PASS and out.state == GapState.VERIFIED
    assert out.outcome.before == DONT_KNOW and out.outcome.after == REFUND_FACT
    assert all(c["extra_knowledge"] == [] for c in sent()[-2:])  # verified against the team's own KB
    files = list(kb_dir.glob("*.md"))
    assert len(files) == 1 and out.url == str(files[0].resolve())
    text = files[0].read_text(encoding="utf-8")
    assert text.startswith("---\n")
    meta, body = parse_markdown(text, fallback_title="")
    assert meta["title"] == out.article_title and meta["gap_id"] == gap_id and meta["version"] == 1
    assert meta["source_conversations"] == ["c1"] and REFUND_FACT in body
    with svc.session() as s:
        article = s.get(Article, out.article_id)
        assert article.external_id == files[0].name and article.external_url == out.url


@responses.activate
def test_a_failed_publish_to_zendesk_leaves_the_gap_publishable(make_services) -> None:
    published: list[str] = []

    def create(request):
        published.append(json.loads(request.body)["article"]["body"])
        return 201, {}, json.dumps({"article": {"id": 360001, "html_url": f"{ZD}/hc/en-us/articles/360001"}})

    conf = IntegrationSettings(  # type: ignore[call-arg]
        _env_file=None, zendesk_subdomain="acme", zendesk_email="ops@acme.test", zendesk_token=SECRET,
        zendesk_section_id=7, zendesk_permission_group_id=3)
    svc = make_services(ZendeskPublisher.from_settings(conf, sleep=lambda s: None))
    responses.add_callback(responses.POST, AGENT_URL, callback=team_agent(lambda: published))
    create_url = f"{ZD}/api/v2/help_center/en-us/sections/7/articles.json"
    responses.add(responses.POST, create_url, status=401)
    # before creating, the publisher looks the attempt's key up (a retry must not make a second article)
    responses.add(responses.GET, f"{ZD}/api/v2/help_center/articles.json", json={"articles": []})
    _, gap_id = open_gap(svc)
    write_draft(svc, gap_id=gap_id, user="U1")

    with pytest.raises(PublishError, match="credentials"):
        publish(svc, gap_id=gap_id, user="U1")
    with svc.session() as s:
        assert s.get(Gap, gap_id).state == GapState.DRAFTING and s.get(Gap, gap_id).article_id is None
        assert s.scalar(select(func.count()).select_from(Article)) == 2  # only the seeded ones

    responses.replace(responses.POST, create_url, status=503)
    responses.add_callback(responses.POST, create_url, callback=create)
    out = publish(svc, gap_id=gap_id, user="U1")  # the 503 is retried; then the article exists in Zendesk
    assert out.state == GapState.VERIFIED and out.url == f"{ZD}/hc/en-us/articles/360001"
    assert len(published) == 1 and "5 business days" in published[0]
    with svc.session() as s:
        assert s.get(Article, out.article_id).external_id == "360001"
