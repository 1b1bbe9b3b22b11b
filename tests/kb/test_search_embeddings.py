"""Semantic re-ranking through a local fake of the OpenAI embeddings endpoint (a real HTTP server on
127.0.0.1): `start_search` reads the settings, the BM25 top results are re-ranked, article embeddings are
cached by version, the text leaves redacted, and a failing endpoint leaves the BM25 order."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from bot.kb.startup import start_search

# The fake model's two "meanings": a text is about refunds or about transfers, by its words.
REFUND, TRANSFER = ("refund", "money back"), ("transfer", "send money")


def _vector(text: str) -> list[float]:
    low = text.lower()
    return [float(sum(low.count(w) for w in REFUND)), float(sum(low.count(w) for w in TRANSFER)), 0.01]


class FakeEmbeddings:
    """POST /v1/embeddings → one vector per input (OpenAI's response shape); records each request's inputs."""

    def __init__(self) -> None:
        self.inputs: list[list[str]] = []
        self.status = 200
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                fake.inputs.append(texts)
                if fake.status != 200:
                    reply: dict[str, Any] = {"error": {"message": "down", "type": "server_error"}}
                else:
                    reply = {"object": "list", "model": body["model"],
                             "data": [{"object": "embedding", "index": i, "embedding": _vector(t)}
                                      for i, t in enumerate(texts)],
                             "usage": {"prompt_tokens": 7, "total_tokens": 7}}
                data = json.dumps(reply).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"


@pytest.fixture
def fake() -> Iterator[FakeEmbeddings]:
    api = FakeEmbeddings()
    thread = threading.Thread(target=api.server.serve_forever, daemon=True)
    thread.start()
    yield api
    api.server.shutdown()
    api.server.server_close()


def _configure(services, fake: FakeEmbeddings, **extra: object) -> None:  # type: ignore[no-untyped-def]
    settings = services.settings.model_copy(update={
        "search_embeddings": "openai", "openai_base_url": fake.url, "llm_max_retries": 0,
        "search_embeddings_weight": 0.6, "openai_api_key": SecretStr("sk-test-0123456789"), **extra})
    start_search(services.kb, settings)
    assert services.kb.backend.live.wait(30)


def _seed(services) -> dict[str, int]:  # type: ignore[no-untyped-def]
    ids = {}
    with services.session() as s:
        for title, body in [("Refund policy", "A refund reaches your card within 5 business days."),
                            ("Money transfers", "Send money by card: money arrives in 2 days, money fees apply."),
                            ("Password reset", "Reset your password from the login page.")]:
            ids[title] = services.kb.save(s, title=title, body=body)[0].id
    return ids


QUESTION = "I want my money back on my card, write to jane.doe@example.com"


def test_the_endpoint_reranks_the_bm25_results(services, fake: FakeEmbeddings) -> None:
    ids = _seed(services)
    assert services.kb.search(QUESTION, 2)[0].article_id == ids["Money transfers"]  # BM25: "money" three times
    _configure(services, fake)
    hits = services.kb.search(QUESTION, 2)
    assert [h.article_id for h in hits] == [ids["Refund policy"], ids["Money transfers"]]
    assert hits[0].score > hits[1].score
    sent = fake.inputs[-1]
    assert len(sent) == 3 and "jane.doe@example.com" not in json.dumps(sent)  # query + 2 articles, redacted
    assert not any("Password reset" in t for t in sent)  # only the BM25 results are embedded


def test_article_embeddings_are_cached_by_version(services, fake: FakeEmbeddings) -> None:
    ids = _seed(services)
    _configure(services, fake)
    services.kb.search(QUESTION, 2)
    services.kb.search(QUESTION, 2)
    assert len(fake.inputs[-1]) == 1  # the query alone: both articles' versions are cached
    with services.session() as s:  # a new version is embedded again
        services.kb.save(s, article_id=ids["Refund policy"], title="Refund policy",
                         body="A refund reaches your card within 3 business days.")
    services.kb.search(QUESTION, 2)
    assert len(fake.inputs[-1]) == 2 and "3 business days" in fake.inputs[-1][1]


def test_shadow_drafts_are_reranked_too(services, fake: FakeEmbeddings) -> None:
    from bot.kb import ExtraDoc

    _seed(services)
    _configure(services, fake, search_embeddings_weight=0.9)
    with services.kb.shadow([ExtraDoc(title="Card money", body="Card money: your refund, money, money.")]) as sh:
        hit = sh.search(QUESTION, 1)[0]
    assert hit.article_id < 0 and hit.title == "Card money"


def test_a_failing_endpoint_keeps_the_bm25_order(services, fake: FakeEmbeddings, caplog) -> None:
    ids = _seed(services)
    _configure(services, fake)
    fake.status = 500
    hits = services.kb.search(QUESTION, 2)
    assert [h.article_id for h in hits] == [ids["Money transfers"], ids["Refund policy"]]
    assert "search embeddings failed" in caplog.text and "jane" not in caplog.text


def test_off_by_default(services) -> None:
    start_search(services.kb, services.settings)
    assert services.kb.backend.reranker is None and services.kb.backend.live.wait(30)


class Broken:
    """An endpoint whose answers cannot be used, one way per case."""

    name = "broken"

    def __init__(self, answer) -> None:  # type: ignore[no-untyped-def]
        self.answer = answer

    def embed(self, texts):  # type: ignore[no-untyped-def]
        return self.answer(texts)


BROKEN = {
    "a vector missing": lambda texts: [[1.0, 0.0]] * (len(texts) - 1),
    "a vector too many": lambda texts: [[1.0, 0.0]] * (len(texts) + 1),
    "NaN": lambda texts: [[float("nan"), 1.0]] * len(texts),
    "infinite": lambda texts: [[float("inf"), 1.0]] * len(texts),
    "ragged": lambda texts: [[1.0, 0.0]] + [[1.0]] * (len(texts) - 1),
    "empty vectors": lambda texts: [[] for _ in texts],
    "not numbers": lambda texts: [["a", "b"] for _ in texts],
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_an_unusable_answer_keeps_the_bm25_order(case: str, caplog) -> None:  # type: ignore[no-untyped-def]
    from bot.kb.embeddings import Reranker
    from bot.kb.search import Hit

    hits = [Hit(1, "Money transfers", "money money", 3.0), Hit(2, "Refund policy", "refund", 2.0)]
    got = Reranker(Broken(BROKEN[case]), weight=0.9).rerank("I want my money back", hits, 2)
    assert [h.article_id for h in got] == [1, 2] and [h.score for h in got] == [3.0, 2.0]
    assert "BM25 order kept" in caplog.text


def test_a_model_change_behind_the_endpoint_empties_the_cache(caplog) -> None:  # type: ignore[no-untyped-def]
    from bot.kb.embeddings import Reranker
    from bot.kb.search import Hit

    size = [2]
    reranker = Reranker(Broken(lambda texts: [[1.0] + [0.0] * (size[0] - 1) for _ in texts]), weight=0.9)
    hits = [Hit(1, "Money transfers", "money money", 3.0), Hit(2, "Refund policy", "refund", 2.0)]
    reranker.rerank("money back", hits, 2)
    size[0] = 3  # the endpoint now serves a model with other dimensions
    assert [h.score for h in reranker.rerank("money back", hits, 2)] == [3.0, 2.0]  # BM25 order this time
    assert "BM25 order kept" in caplog.text
    again = reranker.rerank("money back", hits, 2)  # the cache was emptied: everything embedded anew
    assert again[0].score != 3.0 and reranker.embedded == 4
