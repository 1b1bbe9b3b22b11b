"""PII never leaves with derived data: a whole loop through signed Slack requests, on a conversation whose
question starts with PII of every kind and whose handover answer holds more, then a scan of every model
request (a local OpenAI-compatible server), every mock-Slack call, every derived table and the logs.

Run twice: with the OpenAI provider pointed at the local fake (OPENAI_BASE_URL), and with the offline provider
(no key), whose titles and facts are copied from the customer's words.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import select
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli import app as cli_app
from bot.domain import GapState
from bot.services import Services, build_services
from bot.settings import Settings
from handlers.ids import ActionId
from storage.models import Base, Gap
from tests.support.factories import conversation, load, seed_kb
from tests.support.harness import REVIEW, SECRET, Harness, post_items, texts
from tests.support.mock_slack import MockSlack

FACT = "Refunds to a credit card are issued within 5 business days after the returned item arrives."
QUESTION = ("jürgen.müller@exämple.de here, call +44 20 7946 0958 or (415) 555-2671. Card 4111-1111-1111-1111, "
            "IBAN DE89 3704 0044 0532 0130 00, SSN 536-90-4399 and my password is Tr0ub4dor&3xyz. "
            "How long does a refund to my credit card take after I return an item?")
HANDOVER = (f"{FACT} The customer ana.lópez@tienda-ejemplo.es asked us to call her on 020 7946 0123 or "
            "+1 415-555-0134 about it. Her card 5500 0000 0000 0004 and IBAN GB82 WEST 1234 5698 7654 32 are on "
            "file with SSN 212-56-7788. Her password is Xylophone#2024 and she wants the refund status by phone.")
PLANTED = {  # what must never appear outside the stored conversation (each value and a telling fragment)
    "email": ["jürgen.müller@exämple.de", "müller", "exämple", "ana.lópez@tienda-ejemplo.es", "tienda-ejemplo"],
    "phone": ["+44 20 7946 0958", "7946 0958", "(415) 555-2671", "555-2671", "020 7946 0123", "7946 0123",
              "415-555-0134", "555-0134"],
    "card": ["4111-1111-1111-1111", "4111111111111111", "5500 0000 0000 0004", "5500000000000004"],
    "iban": ["DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "GB82 WEST 1234 5698 7654 32", "GB82WEST"],
    "ssn": ["536-90-4399", "536904399", "212-56-7788", "212567788"],
    "secret": ["Tr0ub4dor&3xyz", "Tr0ub4dor", "Xylophone#2024", "Xylophone"],
}
NEEDLES = [n for values in PLANTED.values() for n in values]
KEY = "sk-test-pii-0123456789abcdefghij"
SOURCE_TABLES = {"conversations", "messages"}  # the source data stays as imported


class FakeOpenAI:
    """A local OpenAI-compatible server (/v1/chat/completions, /v1/embeddings) that records request bodies.

    Its "model" copies what it is given, as a real one may: the outline's title is the question, the facts are
    the handover answer's sentences, the draft is the facts, the agent quotes the article that covers refunds."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.bodies.append({"path": self.path, **body})
                reply = fake.embeddings(body) if self.path.endswith("/embeddings") else fake.chat(body)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def schemas(self) -> list[str]:
        return [b["response_format"]["json_schema"]["name"] if "response_format" in b else "embeddings"
                for b in self.bodies]

    def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        rows = [{"object": "embedding", "index": i, "embedding": [1.0, float(len(t) % 7), 0.5]}
                for i, t in enumerate(body["input"])]
        usage = {"prompt_tokens": 1, "total_tokens": 1}
        return {"object": "list", "data": rows, "model": body["model"], "usage": usage}

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        schema = body["response_format"]["json_schema"]["name"]
        data = json.loads(re.sub(r"^<\w+>\n|\n</\w+>$", "", body["messages"][-1]["content"]))
        content: dict[str, Any]
        if schema == "Outline":
            facts = [s.strip() for s in re.split(r"(?<=\.)\s+", data["human_answer"] or "") if s.strip()]
            content = {"title": data["question"][:90], "summary": "The agent lacked the refund timing.",
                       "kind": "missing", "sections": [{"heading": "Answer", "points": facts}],
                       "required_facts": facts[:1], "questions_for_experts": facts[1:], "update_article_ids": []}
        elif schema == "DraftArticle":
            outline = data["outline"]
            body_text = "\n\n".join(p for s in outline["sections"] for p in s["points"])
            content = {"title": outline["title"], "body": body_text, "tags": ["refunds"],
                       "cited_conversations": [data["gap"]["conversation_ref"]]}
        elif schema == "AgentReply":
            hit = next((a for a in data["articles"] if "5 business days" in a["text"]), None)
            content = ({"answer": hit["text"], "used_article_ids": [hit["id"]], "knows": True} if hit else
                       {"answer": "I don't have information about that.", "used_article_ids": [], "knows": False})
        else:  # Judgement
            ok = "5 business days" in data["after_answer"]
            content = {"verdict": "pass" if ok else "fail", "reasons": [f"Asked: {data['question']}"],
                       "confidence": 0.9, "missing_facts": [] if ok else data["required_facts"],
                       "contradictions": []}
        message = {"role": "assistant", "content": json.dumps(content), "refusal": None}
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture(params=["openai", "offline"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(db_url_engine, provider: str, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Settings:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", db_url_engine[0])  # the CLI below reads the same database
    monkeypatch.setenv("FLYWHEEL_LLM_PROVIDER", provider)
    if provider == "openai":
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
        monkeypatch.setenv("FLYWHEEL_LLM_MAX_RETRIES", "0")
    return Settings(  # type: ignore[call-arg]
        _env_file=None, slack_signing_secret=SECRET, slack_bot_token="xoxb-test", review_channel=REVIEW,
        digest_size=2,
    )


@pytest.fixture
def services(engine, settings: Settings) -> Services:  # type: ignore[no-untyped-def]
    return build_services(settings, engine=engine)  # the configured provider and the built-in agent


@pytest.fixture
def harness(settings: Settings, services: Services) -> Iterator[Harness]:
    with MockSlack() as slack:
        h = Harness(create_app(settings, services, client=WebClient(base_url=slack.url, token="xoxb-test")),
                    slack, services)
        yield h
        h.drain()


def leaks(where: str, text: str) -> list[str]:
    return [f"{where}: {n!r}" for n in NEEDLES if n.lower() in text.lower()]


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def test_no_pii_in_models_slack_derived_data_or_logs(
    harness: Harness, services: Services, fake_openai: FakeOpenAI, provider: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    gap_conv = conversation("p1", gap=True, question=QUESTION)
    gap_conv["messages"][-1]["text"] = HANDOVER
    load(services, tmp_path, [gap_conv, conversation("p2")])
    seed_kb(services)
    item = post_items(services, harness.slack, ["p1", "p2"])["p1"]

    gap_msg = harness.flag(item)  # signed reaction -> outline in the thread
    draft_msg = harness.write_draft(item, gap_msg)
    harness.click(REVIEW, draft_msg["ts"], ActionId.TEST_DRAFT)
    assert "Pass" in texts(harness.thread_with(item, "shadow test of the draft"))
    harness.click(REVIEW, draft_msg["ts"], ActionId.PUBLISH)
    verdict = harness.thread_with(item, "replayed after publishing")
    assert "Pass" in texts(verdict) and "5 business days" in texts(verdict)
    harness.drain()
    with services.session() as s:
        gap = s.scalar(select(Gap))
        assert gap is not None and gap.state == GapState.VERIFIED
        if provider == "offline":  # the offline title names the topic, not the customer's words
            assert gap.title == "Refund to Credit Card"
        else:
            assert gap.title and "[email]" in gap.title  # the title still says what was there, not what it was
    topics = CliRunner().invoke(cli_app, ["topics", "--json"], catch_exceptions=False)
    assert topics.exit_code == 0, topics.output

    found = leaks("topics CLI", topics.output)
    if provider == "openai":
        assert {"Outline", "DraftArticle", "AgentReply", "Judgement", "embeddings"} <= set(fake_openai.schemas())
    else:
        assert fake_openai.bodies == []  # the offline provider never calls out
    for i, body in enumerate(fake_openai.bodies):
        found += leaks(f"model request #{i} {body['path']}", dump(body))
    for call in harness.slack.calls:
        found += leaks(f"Slack {call.method}", dump(call.params))
    with services.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name not in SOURCE_TABLES:
                found += leaks(f"table {table.name}", dump([list(r) for r in conn.execute(table.select())]))
    found += leaks("logs", caplog.text + dump([(r.getMessage(), r.args) for r in caplog.records]))
    assert not found, "\n".join(found)

    with services.engine.connect() as conn:  # the source conversation itself is kept as imported
        stored = dump([list(r) for r in conn.execute(Base.metadata.tables["messages"].select())])
    assert "jürgen.müller@exämple.de" in stored and "Xylophone#2024" in stored
