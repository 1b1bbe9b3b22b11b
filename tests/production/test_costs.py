"""Cost accounting: every call through `bot/llm/remote.py` is a `model_calls` row (task, model, tokens), and
`flywheel stats` prints calls, tokens and the estimated cost at FLYWHEEL_MODEL_PRICES."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.llm.base import ArticleSnippet, GapContext, Turn
from bot.services import Services, build_services
from bot.services.costs import cost_report, price
from bot.settings import Settings
from storage.models import ModelCall
from tests.support.openai_api import FakeAPI, api_error, completion, make_llm

OUTLINE = {"title": "Refunds", "summary": "s", "kind": "missing", "sections": [{"heading": "A", "points": []}],
           "required_facts": ["Annual plans: 60 days."], "questions_for_experts": [], "update_article_ids": []}


def gap() -> GapContext:
    return GapContext(gap_id=7, conversation_ref="conv-42", transcript=[Turn(role="user", text="refund?")],
                      question="Can I get a refund?", agent_answer="I don't know.", human_answer="60 days.",
                      related_articles=[ArticleSnippet(id=3, title="Refunds", text="30 days.")])


def test_every_remote_call_is_recorded_by_task_and_priced_in_flywheel_stats(
        services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeAPI(completion(json.dumps(OUTLINE)), completion(json.dumps(OUTLINE)),
                  (500, api_error("boom", "server_error", None), {}))
    llm = make_llm(api)
    svc = build_services(services.settings, engine=services.engine, llm=llm, run_migrations=False)
    llm.outline(gap())
    llm.outline(gap())
    with pytest.raises(Exception):  # noqa: B017 - the failed call is counted too
        llm.outline(gap())
    with svc.session() as s:
        rows = s.execute(select(ModelCall.task, ModelCall.model, ModelCall.input_tokens, ModelCall.output_tokens,
                                ModelCall.ok)).all()
    assert sorted(rows) == [("outline", "gpt-4o-mini", 0, 0, False)] + [("outline", "gpt-4o-mini", 412, 88, True)] * 2

    if svc.engine.dialect.name != "sqlite":
        return  # the CLI half reads the database from DATABASE_URL: the SQLite file is enough
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", services.settings.database_url)
    monkeypatch.setenv("FLYWHEEL_LLM_PROVIDER", "offline")
    monkeypatch.setenv("FLYWHEEL_MODEL_PRICES", json.dumps({"gpt-4o-mini": [1000, 2000]}))
    result = CliRunner().invoke(app, ["stats", "--weeks", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    # 2 × (412 × 1000 + 88 × 2000) / 1M = 1.176 USD
    assert "3 calls, 824 input + 176 output tokens, estimated cost $1.1760" in text
    assert "outline gpt-4o-mini 3 calls (1 failed)" in text


def test_a_model_without_a_price_is_named_not_costed_at_zero(services: Services) -> None:
    now = services.clock()
    with services.session() as s:
        s.add(ModelCall(at=now, task="embeddings", model="text-embedding-3-small", input_tokens=1000,
                        output_tokens=0, latency_ms=5, ok=True))
        s.add(ModelCall(at=now - dt.timedelta(days=60), task="judge", model="gpt-4o-mini", input_tokens=7,
                        output_tokens=1, latency_ms=5, ok=True))  # outside the period
    report = cost_report(services, start=now - dt.timedelta(days=7), end=now + dt.timedelta(seconds=1))
    assert report.calls == 1 and report.cost_usd == 0 and report.unpriced_models == ["text-embedding-3-small"]
    assert "No price for text-embedding-3-small: set FLYWHEEL_MODEL_PRICES" in report.to_text()
    assert price({"m": (0.15, 0.60)}, "m", 1_000_000, 1_000_000) == pytest.approx(0.75)


def test_model_prices_setting_is_validated() -> None:
    with pytest.raises(ValueError):
        Settings(_env_file=None, model_prices={"gpt-4o-mini": ["cheap"]})  # type: ignore[call-arg,dict-item]
