"""Roles and the model-call budget, through signed Slack requests to `create_app` (and the CLI, which runs as
the trusted operator). Each action has its own setting; the default is the admins (everyone when no admin
is configured)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import select
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli import app as cli
from bot.errors import NotAllowed
from bot.services import Services
from bot.services.permissions import Action, RateLimited, TokenBucket, is_allowed, operator, require, spend
from bot.settings import Settings
from handlers.ids import ActionId
from storage.db import make_engine, make_session_factory, session_scope
from storage.models import Gap
from tests.support.factories import conversation
from tests.support.harness import ANA, BEN, REVIEW, Harness, texts, wait
from tests.support.mock_slack import MockSlack

ADMIN = "UADMIN001"


@pytest.fixture
def make(settings: Settings, services: Services, slack: MockSlack) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def build(**update: Any) -> Harness:
        services.settings = settings.model_copy(update=update)
        client = WebClient(base_url=slack.url, token="xoxb-test")
        made.append(Harness(create_app(services.settings, services, client=client), slack, services))
        return made[-1]

    yield build
    for h in made:
        h.drain()


def _answer(h: Harness, text: str, *, user: str) -> str:
    """What the person sees after `/flywheel <text>`: the response_url answer or an ephemeral error."""
    seen = len(h.slack.calls_to("webhook")), len(h.slack.calls_to("chat.postEphemeral"))
    assert h.command(text, user=user).status == 200

    def new() -> list[Any]:
        return h.slack.calls_to("webhook")[seen[0]:] + h.slack.calls_to("chat.postEphemeral")[seen[1]:]

    call = wait(new, what="an answer")[-1]
    return call.params.get("text", "") + "\n" + texts(call.params.get("blocks") or call.blocks or [])


def test_each_action_has_its_own_role_setting() -> None:
    base = Settings(_env_file=None, admins=ADMIN)  # type: ignore[call-arg]
    assert is_allowed(base, ADMIN, action=Action.REGRESS) and not is_allowed(base, ANA, action=Action.REGRESS)
    assert not is_allowed(base, None, action=Action.PUBLISH)
    everyone = base.model_copy(update={"role_dismiss": "everyone"})
    assert is_allowed(everyone, ANA, action=Action.DISMISS) and not is_allowed(everyone, ANA, action=Action.PUBLISH)
    named = base.model_copy(update={"role_publish": f"{BEN}, S0EDITORS"})
    groups = {"S0EDITORS": frozenset({"UEDITOR01"})}.__getitem__
    assert is_allowed(named, BEN, action=Action.PUBLISH, resolve_group=groups)
    assert is_allowed(named, "UEDITOR01", action=Action.PUBLISH, resolve_group=groups)
    assert not is_allowed(named, ADMIN, action=Action.PUBLISH, resolve_group=groups)  # "admins" not listed
    assert is_allowed(base.model_copy(update={"role_publish": "admins,U9"}), "U9", action=Action.PUBLISH)
    assert is_allowed(Settings(_env_file=None), ANA, action=Action.SHARE_REPLAY)  # type: ignore[call-arg]
    assert is_allowed(base, operator("alice"), action=Action.PUBLISH)  # the local shell is trusted
    assert not is_allowed(base, "alice", action=Action.PUBLISH)  # a plain name is not


def test_slack_users_need_the_role_for_digest_regress_and_sharing(make: Callable[..., Harness], world) -> None:  # type: ignore[no-untyped-def]
    h = make(admins=ADMIN, role_regress=BEN)
    posts = len(h.slack.calls_to("chat.postMessage"))
    assert "Only Flywheel admins may post the digest now" in _answer(h, "digest now", user=ANA)
    assert "permission to run the regression suite" in _answer(h, "regress", user=ANA)
    shared = _answer(h, "replay c1 share", user=ANA)
    assert "Only Flywheel admins may share a replay" in shared and "FLYWHEEL_ROLE_SHARE_REPLAY" in shared
    assert len(h.slack.calls_to("chat.postMessage")) == posts  # nothing was posted
    assert not [c for c in h.slack.calls_to("webhook") if c.params.get("response_type") == "in_channel"]

    assert "Replay of" in _answer(h, "replay c1", user=ANA)  # replaying for oneself stays open
    assert "Regression" in _answer(h, "regress", user=BEN)  # the named user may
    assert "Posted the digest" in _answer(h, "digest now", user=ADMIN)
    assert "Replay of" in _answer(h, "replay c1 share", user=ADMIN)


def test_model_calls_are_rate_limited_per_user_with_an_ephemeral_message(make: Callable[..., Harness], world) -> None:  # type: ignore[no-untyped-def]
    h = make(model_calls_burst=2, model_calls_per_hour=6)
    item = world["c1"]
    gap_msg = h.flag(item)  # the outline spends ANA's first call
    assert "Replay of" in _answer(h, "replay c1", user=ANA)  # the second
    refused = _answer(h, "replay c1", user=ANA)
    assert "You've used your model calls for now" in refused and "Try again in 10 minutes" in refused
    assert "Replay of" in _answer(h, "replay c1", user=BEN)  # a budget is per person

    posts = len(h.slack.calls_to("chat.postMessage"))
    h.click(REVIEW, gap_msg["ts"], ActionId.WRITE_DRAFT, user=ANA)
    shown = h.slack.wait_for("chat.postEphemeral", 2)[-1]
    assert shown.params["user"] == ANA and "didn't write the draft" in texts(shown.blocks) + shown.params["text"]
    assert len(h.slack.calls_to("chat.postMessage")) == posts  # no "Writing the draft…" placeholder


def test_token_bucket_refills_and_services_refuse_before_the_model_is_called(services: Services) -> None:
    now = [0.0]
    bucket = TokenBucket(clock=lambda: now[0])
    assert [bucket.take("U1", burst=2, per_hour=60) for _ in range(3)] == [0.0, 0.0, 60.0]
    now[0] = 30.0
    assert bucket.take("U1", burst=2, per_hour=60, peek=True) == 30.0
    now[0] = 60.0
    assert bucket.take("U1", burst=2, per_hour=60) == 0.0
    services.settings = services.settings.model_copy(update={"model_calls_burst": 1, "model_calls_per_hour": 1})
    spend(services, "U1", "x")
    with pytest.raises(RateLimited, match="Try again in 60 minutes"):
        spend(services, "U1", "x")
    spend(services, operator("cli"), "x")  # the operator and internal calls are never limited
    spend(services, None, "x")
    services.settings = services.settings.model_copy(update={"admins": ADMIN, "model_calls_per_hour": 0})
    with pytest.raises(NotAllowed, match="FLYWHEEL_ROLE_REGRESS"):
        require(services, "U1", Action.REGRESS)


def test_the_cli_is_the_trusted_operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url_engine) -> None:  # type: ignore[no-untyped-def]
    url, _ = db_url_engine
    for name, value in {"DATABASE_URL": url, "FLYWHEEL_LLM_PROVIDER": "offline", "FLYWHEEL_ADMINS": ADMIN,
                        "FLYWHEEL_MODEL_CALLS_BURST": "1", "COLUMNS": "200"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "c.jsonl"
    data.write_text(json.dumps(conversation("c1", gap=True)) + "\n")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("import", str(data))
    run("gaps", "flag", "c1", "--user", "someone")
    run("draft", "1")  # outline + draft: more than the budget of 1, but the CLI is not limited
    assert "verified" in run("publish", "1", "--user", "not-an-admin").lower()
    run("regress")
    with session_scope(make_session_factory(make_engine(url))) as s:
        assert s.scalar(select(Gap.state)) == "verified"
