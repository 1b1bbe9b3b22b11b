"""Every replay records who answered: the agent's name and version (settings, or what the agent reports)
and the model; an OpenAI-compatible agent reports the model that answered."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import dataclasses

import pytest
import responses

from bot.agents import observe_identity, report_identity
from bot.integrations.agents import OpenAICompatibleAgent
from bot.services.conversations import resolve
from bot.services.replay import replay
from storage.models import ReplayRun
from tests.support.factories import conversation, load, seed_kb


@pytest.fixture
def loaded(services, tmp_path):
    load(services, tmp_path, [conversation("c1", gap=True)])
    seed_kb(services)
    return services


def stored(services, run_id: int) -> tuple[str | None, str | None, str | None, int]:
    with services.session() as s:
        run = s.get(ReplayRun, run_id)
        assert run is not None
        return run.agent_name, run.agent_version, run.model, run.kb_revision


def test_builtin_agent_defaults_to_its_kind_unknown_version_and_the_llm(loaded) -> None:
    out = replay(loaded, conversation_id=resolve(loaded, "c1"), with_judge=False)
    name, version, model, rev = stored(loaded, out.run_id)
    assert (name, version, model) == ("builtin-rag", "unknown", loaded.llm.name) and rev > 0


def test_settings_name_the_agent_and_its_version(loaded) -> None:
    loaded.settings = loaded.settings.model_copy(update={"agent_name": "acme-bot", "agent_version": "git-1a2b3c"})
    out = replay(loaded, conversation_id=resolve(loaded, "c1"), with_judge=False)
    assert stored(loaded, out.run_id)[:2] == ("acme-bot", "git-1a2b3c")


@responses.activate
def test_openai_compatible_agent_reports_the_model_that_answered(loaded) -> None:
    base = "https://llm.acme.test/v1"
    responses.add(responses.POST, f"{base}/chat/completions", headers={"X-Agent-Version": "7"},
                  json={"model": "acme-llm-3-2026-11", "choices": [{"message": {"content": "Hello."}}]})
    svc = dataclasses.replace(loaded, agent=OpenAICompatibleAgent(base, "acme-llm-3"))
    out = replay(svc, conversation_id=resolve(svc, "c1"), with_judge=False)
    assert stored(svc, out.run_id)[:3] == ("openai-compatible", "7", "acme-llm-3-2026-11")


def test_reports_outside_a_replay_are_ignored_and_blank_values_do_not_count() -> None:
    report_identity(version="9")  # no replay observing: nothing to record, no error

    class Agent:
        name, model = "x" * 300, "configured"

    with observe_identity(Agent(), version="from-settings") as who:  # type: ignore[arg-type]
        report_identity(version="  ", model=42)
    assert (len(who.name), who.version, who.model) == (100, "from-settings", "configured")
