"""`flywheel regress` through the CLI against an HTTP agent (faked with `responses`): exit codes that tell
the truth (0 pass, 4 broke or still failing, 5 could not run), what changed since a broken case last passed
(KB revision, agent version), the agent identity on every run, and a JUnit XML report for CI."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import responses
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.cli_common import services as cli_services
from bot.services.conversations import resolve
from storage.models import AuditEvent, Gap, RegressionCase, ReplayRun
from tests.support.factories import REFUND_FACT, conversation, load

AGENT_URL = "https://agent.acme.test/v1/reply"
DONT_KNOW = "I'm sorry, I don't have information about that."
runner = CliRunner()


class TeamAgent:
    """The team's HTTP agent: reports its version (header or JSON) and model; `knows` decides the answer."""

    def __init__(self) -> None:
        self.knows, self.version, self.status = True, "2.0", 200

    def __call__(self, request):
        if self.status != 200:
            return self.status, {}, json.dumps({"error": "down"})
        question = [t["text"] for t in json.loads(request.body)["conversation"] if t["role"] == "user"][-1]
        answer = "Hello! How can I help?" if "refund" not in question.lower() else (
            REFUND_FACT if self.knows else DONT_KNOW)
        return 200, {"X-Agent-Version": self.version}, json.dumps({"answer": answer, "model": "acme-llm-3"})


@pytest.fixture
def agent(tmp_path, monkeypatch, db_url_engine):
    url, _engine = db_url_engine
    for name, value in {"DATABASE_URL": url, "FLYWHEEL_LLM_PROVIDER": "offline", "COLUMNS": "200",
                        "FLYWHEEL_AGENT": "http", "FLYWHEEL_AGENT_URL": AGENT_URL,
                        "FLYWHEEL_HTTP_MAX_RETRIES": "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    fake = TeamAgent()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, AGENT_URL, callback=fake)
        yield fake


def a_verified_case(tmp_path: Path) -> int:
    """A verified gap whose fix passed when the agent was v1.0: its case and that passing run."""
    svc = cli_services()
    load(svc, tmp_path, [conversation("c1", gap=True)])
    with svc.session() as s:
        article, _ = svc.kb.save(s, title="Refunds to credit cards", body=REFUND_FACT, author="U1")
        cid = resolve(svc, "c1")
        gap = Gap(state="verified", conversation_id=cid, flagged_position=3, flagged_by="U1", owner="U1",
                  article_id=article.id)
        s.add(gap)
        s.flush()
        s.add(RegressionCase(gap_id=gap.id, conversation_id=cid, flagged_position=3, required_facts=[REFUND_FACT],
                             article_id=article.id, last_verdict="pass"))
        s.add(ReplayRun(kind="publish", conversation_id=cid, gap_id=gap.id, kb_revision=svc.kb.revision(s),
                        verdict="pass", agent_name="http", agent_version="1.0", model="acme-llm-3"))
        return article.id


def regress(*args: str, code: int) -> str:
    result = runner.invoke(app, ["regress", *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def junit(path: Path) -> tuple[ET.Element, dict[str, str], list[ET.Element]]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    props = {p.get("name", ""): p.get("value", "") for p in suite.findall("properties/property")}
    return suite, props, suite.findall("testcase")


def test_passing_suite_exits_0_records_who_answered_and_writes_junit(agent: TeamAgent, tmp_path: Path) -> None:
    a_verified_case(tmp_path)
    out = regress("--junit", str(tmp_path / "reports" / "junit.xml"), code=0)
    assert "1/1 passing, 0 broke." in out and "agent http 2.0, model acme-llm-3" in out
    assert "since the previous run" not in out  # the previous run was a verification, not a regression run
    svc = cli_services()
    with svc.session() as s:
        run = s.scalars(select(ReplayRun).where(ReplayRun.kind == "regression")).one()
        assert (run.agent_name, run.agent_version, run.model) == ("http", "2.0", "acme-llm-3")
        assert run.kb_revision == svc.kb.revision(s) > 0
    suite, props, cases = junit(tmp_path / "reports" / "junit.xml")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "0")
    assert (props["agent"], props["model"]) == ("http 2.0", "acme-llm-3")
    assert props["kb_revision"] == str(run.kb_revision)
    assert [c.get("name") for c in cases] == ["case 1 (gap #1)"] and list(cases[0]) == []


def test_broken_case_exits_4_and_names_the_kb_and_agent_change(agent: TeamAgent, tmp_path: Path) -> None:
    article_id = a_verified_case(tmp_path)
    svc = cli_services()
    with svc.session() as s:
        before = svc.kb.revision(s)
        svc.kb.save(s, article_id=article_id, title="Refunds", body="Contact us about refunds.", author="U9")
        after = svc.kb.revision(s)
    agent.knows, agent.version = False, "2.1"
    out = regress("--junit", str(tmp_path / "junit.xml"), code=4)
    assert "0/1 passing, 1 broke." in out and "case 1 (gap #1) broke" in out and "fixed by U1" in out
    assert f"KB changed since last pass (rev {before} -> {after}: articles #{article_id})" in out
    assert "agent changed (http 1.0 -> http 2.1)" in out and "model changed" not in out
    suite, _props, (case,) = junit(tmp_path / "junit.xml")
    assert (suite.get("failures"), suite.get("errors")) == ("1", "0")
    (failure,) = case.findall("failure")
    assert failure.get("type") == "broke" and "agent changed (http 1.0 -> http 2.1)" in (failure.text or "")
    report = (tmp_path / "junit.xml").read_text()
    assert REFUND_FACT not in report and DONT_KNOW not in report  # no conversation text in a CI artifact

    # The next run is not green: the case is still failing (before, "broke" was only the first time).
    out = regress(code=4)
    assert "0/1 passing, 0 broke, 1 still failing." in out and "case 1 (gap #1) still failing" in out
    assert "agent changed (http 1.0 -> http 2.1)" in out  # still compared with the last pass, not the last run


def test_agent_down_exits_5_with_errors_not_0(agent: TeamAgent, tmp_path: Path) -> None:
    a_verified_case(tmp_path)
    agent.status = 503
    out = regress("--junit", str(tmp_path / "junit.xml"), code=5)
    assert "0/1 passing, 0 broke, 1 could not run." in out and "case 1 (gap #1) could not run" in out
    assert "Check the agent" in out
    suite, _props, (case,) = junit(tmp_path / "junit.xml")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "1")
    assert [e.tag for e in case] == ["error"] and case[0].get("type") == "could-not-run"
    svc = cli_services()
    with svc.session() as s:  # no verdict was made up: the case still passed last, the gap stays verified
        assert s.scalars(select(RegressionCase.last_verdict)).one() == "pass"
        assert s.scalars(select(Gap.state)).one() == "verified"
        assert not s.scalars(select(AuditEvent).where(AuditEvent.action == "regression-broke")).all()

    agent.status = 200  # the agent is back
    out = regress(code=0)
    assert "1/1 passing" in out


def test_empty_suite_exits_0(agent: TeamAgent) -> None:
    assert "0/0 passing" in regress(code=0)
