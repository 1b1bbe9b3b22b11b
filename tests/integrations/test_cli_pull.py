"""`flywheel pull SOURCE` through the real CLI."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import pytest
import responses
from typer.testing import CliRunner

from bot.cli import app
from tests.support.connectors import SECRET

ZD = "https://support.acme.test"
runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch, db_url_engine):
    url, _engine = db_url_engine
    for name, value in {"DATABASE_URL": url, "FLYWHEEL_LLM_PROVIDER": "offline", "COLUMNS": "200",
                        "FLYWHEEL_ZENDESK_URL": ZD, "FLYWHEEL_ZENDESK_EMAIL": "ops@acme.test",
                        "FLYWHEEL_ZENDESK_TOKEN": SECRET, "FLYWHEEL_ZENDESK_BOT_AUTHOR_IDS": "200"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def page(tickets: list[dict], after: str) -> None:
    responses.add(responses.GET, f"{ZD}/api/v2/incremental/tickets/cursor.json",
                  json={"tickets": tickets, "after_cursor": after, "end_of_stream": True})


def comments(tid: int, messages: list[dict]) -> None:
    responses.add(responses.GET, f"{ZD}/api/v2/tickets/{tid}/comments.json", json={"comments": messages})


@responses.activate
def test_pull_zendesk_imports_then_resumes(env) -> None:
    page([{"id": 1, "status": "solved", "requester_id": 100}, {"id": 2, "status": "closed", "requester_id": 100}], "c1")
    comments(1, [{"author_id": 100, "plain_body": "Hi", "public": True},
                 {"author_id": 200, "plain_body": "Hello!", "public": True}])
    comments(2, [{"author_id": 300, "plain_body": "", "public": True}])  # nothing public to review: not imported
    result = runner.invoke(app, ["pull", "zendesk"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert ("Pulled from zendesk: 1 new conversations, 0 updated, 0 already stored, 0 filtered out, 0 not imported "
            "(1 batches).") in result.output
    page([], "c2")
    result = runner.invoke(app, ["pull", "zendesk"], catch_exceptions=False)
    assert "0 new conversations" in result.output and "cursor=c1" in responses.calls[-1].request.url
    assert SECRET not in result.output


def test_pull_errors_are_user_safe(env, monkeypatch) -> None:
    monkeypatch.delenv("FLYWHEEL_ZENDESK_TOKEN")
    result = runner.invoke(app, ["pull", "zendesk"], catch_exceptions=False)
    assert result.exit_code == 1 and "FLYWHEEL_ZENDESK_TOKEN" in result.output
    result = runner.invoke(app, ["pull", "freshdesk"], catch_exceptions=False)
    assert result.exit_code == 1 and "Unknown connector 'freshdesk'" in result.output


@responses.activate
def test_pull_names_a_refused_ticket_filters_by_option_and_exits_3(env) -> None:
    page([{"id": 1, "status": "solved", "requester_id": 100, "tags": ["vip"]},
          {"id": 2, "status": "solved", "requester_id": 100, "tags": ["vip"]},
          {"id": 3, "status": "solved", "requester_id": 100, "tags": ["other"]}], "c1")
    comments(1, [{"author_id": 100, "plain_body": "Hi", "public": True},
                 {"author_id": 200, "plain_body": "Hello!", "public": True}])
    responses.add(responses.GET, f"{ZD}/api/v2/tickets/2/comments.json", status=403)
    result = runner.invoke(app, ["pull", "zendesk", "--tag", "VIP", "--ai-only"], catch_exceptions=False)
    assert result.exit_code == 3, result.output
    assert "1 new conversations, 0 updated, 0 already stored, 1 filtered out, 0 not imported" in result.output
    assert "1 skipped because zendesk refused them" in result.output
    assert "ticket 2: Zendesk refused its comments (HTTP 403)" in result.output
    assert "credentials" not in result.output


def test_a_second_pull_while_one_runs_says_so_and_does_nothing(env, db_url_engine) -> None:
    from bot.services import build_services
    from bot.services.claims import job_claim
    from bot.settings import Settings

    services = build_services(Settings(_env_file=None, database_url=db_url_engine[0]))  # type: ignore[call-arg]
    with job_claim(services, job="pull:zendesk", period="running"):  # another `flywheel pull zendesk`
        result = runner.invoke(app, ["pull", "zendesk"], catch_exceptions=False)
    assert result.exit_code == 75, result.output
    assert "A pull from zendesk is already running" in result.output and "did nothing" in result.output
