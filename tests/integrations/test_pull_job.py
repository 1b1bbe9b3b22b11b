"""Issue 14, item 4: conversation pulls on a schedule from settings (FLYWHEEL_PULL_SCHEDULE), no external cron;
the job is called as the scheduler calls it."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest
import responses
from pydantic import ValidationError

from bot import jobs
from bot.integrations.sources import load_cursor, scheduled_sources
from bot.services.claims import job_claim
from tests.integrations.test_sources import START, ZD, comments, incremental, stored, ticket
from tests.support.connectors import SECRET

NOW = dt.datetime(2027, 1, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def scheduled(services, conf):
    services.integrations = conf(zendesk_url=ZD, zendesk_email="ops@acme.test", zendesk_token=SECRET,
                                 zendesk_bot_author_ids="200", pull_schedule="15 * * * *", http_max_retries=0)
    return services


@responses.activate
def test_the_pull_job_pulls_each_configured_source_and_resumes_from_the_cursor(scheduled, monkeypatch) -> None:
    monkeypatch.setattr("time.time", lambda: START + 30 * 86400)  # the Zendesk source's clock (first start_time)
    incremental({"per_page": "100", "start_time": str(START)}, [ticket(1)], "c1")
    comments(1)
    reports = jobs.pull_job(scheduled, None, now=NOW)
    assert reports is not None and reports["zendesk"].added == 1 and list(stored(scheduled)) == ["1"]
    assert load_cursor(scheduled, "zendesk") == "c1"

    incremental({"per_page": "100", "cursor": "c1"}, [ticket(2)], "c2")  # the next hour, or after a restart
    comments(2)
    reports = jobs.pull_job(scheduled, None, now=NOW + dt.timedelta(hours=1))
    assert reports["zendesk"].added == 1 and load_cursor(scheduled, "zendesk") == "c2"


@responses.activate
def test_the_pull_job_skips_a_source_whose_manual_pull_is_running(scheduled, caplog, monkeypatch) -> None:
    caplog.set_level(logging.INFO)
    with job_claim(scheduled, job="pull:zendesk", period="running"):  # `flywheel pull zendesk` right now
        reports = jobs.pull_job(scheduled, None, now=NOW)
    assert reports == {"zendesk": None} and len(responses.calls) == 0
    assert "another pull is running" in caplog.text

    monkeypatch.setattr("time.time", lambda: START + 30 * 86400)
    incremental({"per_page": "100", "start_time": str(START)}, [ticket(1)], "c1")
    comments(1)
    assert jobs.pull_job(scheduled, None, now=NOW)["zendesk"].added == 1  # that one ended: the next runs


@responses.activate
def test_a_failing_source_is_logged_and_the_job_survives(scheduled, caplog) -> None:
    incremental({"per_page": "100", "start_time": str(START)}, [], "c1", status=401)
    scheduled.integrations = scheduled.integrations.model_copy(update={"source_backfill_days": 0})
    reports = jobs.pull_job(scheduled, None, now=NOW)
    assert reports == {"zendesk": None} and "scheduled pull failed source=zendesk" in caplog.text
    assert SECRET not in caplog.text


def test_the_schedule_is_registered_from_settings_and_off_when_empty(scheduled) -> None:
    scheduled.settings.timezone = "Europe/Paris"
    job = {j.id: j for j in jobs.build_scheduler(scheduled, None).get_jobs()}["pull_job"]  # type: ignore[arg-type]
    paris = ZoneInfo("Europe/Paris")
    assert job.trigger.get_next_fire_time(None, dt.datetime(2027, 1, 15, 12, 20, tzinfo=paris)) == \
        dt.datetime(2027, 1, 15, 13, 15, tzinfo=paris)
    assert job.max_instances == 1 and job.coalesce is True

    scheduled.integrations = scheduled.integrations.model_copy(update={"pull_schedule": ""})
    assert "pull_job" not in {j.id for j in jobs.build_scheduler(scheduled, None).get_jobs()}  # type: ignore[arg-type]


def test_a_bad_schedule_is_refused_when_the_settings_are_read(conf) -> None:
    with pytest.raises(ValidationError, match="cron expression of 5 fields"):
        conf(pull_schedule="every hour")
    assert conf(pull_schedule=" */15 * * * * ").pull_schedule == "*/15 * * * *"


def test_which_sources_the_schedule_pulls(conf) -> None:
    assert scheduled_sources(conf()) == []
    assert scheduled_sources(conf(zendesk_subdomain="acme", zendesk_token=SECRET, intercom_token=SECRET)) == [
        "zendesk", "intercom"]
    assert scheduled_sources(conf(intercom_token=SECRET, pull_sources="intercom, freshdesk,intercom")) == [
        "intercom", "freshdesk"]
