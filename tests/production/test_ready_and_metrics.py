"""GET /readyz names what is not ready; GET /metrics counts acks, model calls and errors, and shows the
job claims, with no conversation text or user ids. Through the real server (`make_server`)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import create_engine, text

from bot.readiness import Readiness, head_revision
from storage.models import JobClaim
from tests.production.conftest import SECRET, Served
from tests.support.http_client import http
from tests.support.mock_slack import MockSlack
from tests.support.openai_api import FakeAPI, api_error, completion
from tests.support.signing import FORM, command_fields, event_request, sign


def ready(served: Served) -> tuple[int, dict[str, Any]]:
    status, body = http(f"{served.url}/readyz")
    return status, json.loads(body)


def metric(body: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text exposition (0 when absent)."""
    for line in body.splitlines():
        if line.startswith("#"):
            continue
        found = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if found and found.group(1) == name:
            have = dict(re.findall(r'(\w+)="([^"]*)"', found.group(2) or ""))
            if all(have.get(k) == v for k, v in labels.items()):
                return float(found.group(3))
    return 0.0


def test_ready_when_database_migrated_and_slack_fine(served: Served) -> None:
    assert ready(served) == (200, {"ok": True, "failed": [],
                                   "checks": {"database": "ok", "migrations": "ok", "slack": "ok"}})
    status, body = http(f"{served.url}/healthz")
    assert status == 200 and json.loads(body) == {"ok": True, "db": True}  # /healthz is unchanged


def test_not_ready_on_an_unmigrated_database(served: Served) -> None:
    with served.services.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    status, body = ready(served)
    assert status == 503 and body["failed"] == ["migrations"]
    assert body["checks"]["migrations"] == f"at 0005, expected {head_revision()}: run `flywheel init`"


def test_not_ready_when_slack_refuses_the_token_and_the_answer_is_cached(served: Served, slack: MockSlack) -> None:
    slack.fail_next("auth.test", error="invalid_auth")
    before = len(slack.calls_to("auth.test"))
    status, body = ready(served)
    assert status == 503 and body["failed"] == ["slack"]
    assert body["checks"]["slack"] == "auth.test failed: invalid_auth (check SLACK_BOT_TOKEN)"
    assert ready(served)[0] == 503  # cached: Slack is not asked again within the TTL
    assert len(slack.calls_to("auth.test")) == before + 1


def test_readiness_names_an_unreachable_database() -> None:
    class Dead:
        engine = create_engine("postgresql+psycopg://flywheel:pw@127.0.0.1:1/nothing?connect_timeout=2")

    ok, report = Readiness(Dead(), client=None).report()  # type: ignore[arg-type]
    assert not ok and report["failed"][:2] == ["database", "migrations"]
    assert report["checks"]["database"].startswith("unreachable: check DATABASE_URL")
    assert "127.0.0.1" not in json.dumps(report) and "pw" not in json.dumps(report)  # no URL in the answer


def test_metrics_count_acks_by_kind_without_user_ids_or_text(served: Served, slack: MockSlack) -> None:
    command = sign(urlencode(command_fields("help me with SECRET-TOPIC", user_id="U0SECRETUSER")),
                   secret=SECRET, content_type=FORM)
    assert http(f"{served.url}/slack/events", body=command.body, headers=command.headers)[0] == 200
    event = event_request({"type": "app_home_opened", "user": "U0SECRETUSER", "channel": "D1", "tab": "home"},
                          secret=SECRET)
    assert http(f"{served.url}/slack/events", body=event.body, headers=event.headers)[0] == 200
    slack.wait_for("views.publish")  # the listener runs after the ack: let it finish before teardown
    status, body = http(f"{served.url}/metrics")
    assert status == 200
    assert metric(body, "flywheel_acks_total", kind="command", status="200") == 1
    assert metric(body, "flywheel_acks_total", kind="event", status="200") == 1
    assert metric(body, "flywheel_ack_seconds_count", kind="command") == 1
    assert 0 < metric(body, "flywheel_ack_seconds_sum", kind="command") < 3
    assert "U0SECRETUSER" not in body and "SECRET-TOPIC" not in body


def test_metrics_count_model_calls_tokens_and_errors(served: Served) -> None:
    import httpx2
    from openai import OpenAI

    from bot.llm.base import Judgement
    from bot.llm.remote import RemoteModel
    from tests.support.openai_api import KEY

    verdict = json.dumps({"verdict": "pass", "reasons": ["ok"], "confidence": 0.9})
    api = FakeAPI(completion(verdict), (500, api_error("boom", "server_error", None), {}))
    client = OpenAI(api_key=KEY, base_url="https://api.test/v1", max_retries=0,
                    http_client=httpx2.Client(transport=httpx2.MockTransport(api)))
    remote = RemoteModel(client)
    remote.parse(model="gpt-4o-mini", system="s", data={"q": "x"}, schema=Judgement)
    try:
        remote.parse(model="gpt-4o-mini", system="s", data={"q": "x"}, schema=Judgement)
    except Exception:  # noqa: BLE001 - the 500 is what is being counted
        pass
    body = http(f"{served.url}/metrics")[1]
    assert metric(body, "flywheel_model_calls_total", task="judge", model="gpt-4o-mini", outcome="ok") == 1
    assert metric(body, "flywheel_model_calls_total", task="judge", outcome="error") == 1
    assert metric(body, "flywheel_model_tokens_total", task="judge", direction="input") == 412
    assert metric(body, "flywheel_model_tokens_total", task="judge", direction="output") == 88
    assert metric(body, "flywheel_errors_total", source="model") == 1
    assert metric(body, "flywheel_model_call_seconds_count", task="judge") == 2


def test_metrics_show_open_job_claims_and_the_oldest_age(served: Served) -> None:
    services = served.services
    now = services.clock()
    with services.session() as s:
        s.add(JobClaim(job_name="digest", period_key="a", owner=None, claimed_at=now - dt.timedelta(minutes=10)))
        s.add(JobClaim(job_name="digest", period_key="b", owner="h:1:x", claimed_at=now - dt.timedelta(minutes=1)))
        s.add(JobClaim(job_name="digest", period_key="c", owner=None, claimed_at=now - dt.timedelta(days=3),
                       finished_at=now))
    body = http(f"{served.url}/metrics")[1]
    assert metric(body, "flywheel_job_claims_open") == 2
    assert 600 <= metric(body, "flywheel_job_claim_oldest_age_seconds") < 700
