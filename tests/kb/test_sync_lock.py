"""One help-centre sync of a source at a time, across instances: `flywheel kb sync` while another one runs
says so and does nothing (exit 75), the scheduled sync skips its tick, and a lock left by a killed process
(its lease not renewed) does not block the next sync."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.services.claims import job_claim
from storage.models import Article, JobClaim
from tests.support.cli import cli_env, run


@pytest.fixture
def env(tmp_path, monkeypatch, db_url_engine) -> Path:
    folder = cli_env(tmp_path, monkeypatch, db_url_engine) / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"a{i}.md").write_text(f"# Article {i}\n\nText {i}.\n", encoding="utf-8")
    monkeypatch.setenv("FLYWHEEL_KB_SYNC_SOURCE", "markdown")
    monkeypatch.setenv("FLYWHEEL_KB_SYNC_DIR", str(folder))
    return folder


def _other_instance(db_url_engine):
    from bot.services import build_services
    from bot.settings import Settings

    return build_services(Settings(_env_file=None, database_url=db_url_engine[0]))  # type: ignore[call-arg]


def _articles(services) -> int:
    with services.session() as s:
        return int(s.scalar(select(func.count()).select_from(Article)) or 0)


def test_a_second_sync_while_one_runs_says_so_and_does_nothing(env: Path, db_url_engine) -> None:
    other = _other_instance(db_url_engine)
    with job_claim(other, job="kb-sync:markdown", period="running"):  # another `flywheel kb sync markdown`
        out = run("kb", "sync", "markdown", str(env), code=75)
        assert "A help-centre sync from markdown is already running" in out and "did nothing" in out
        assert _articles(other) == 0
    out = run("kb", "sync", "markdown", str(env))  # the lock was given back
    assert "created 3" in out and _articles(other) == 3
    with other.session() as s:  # and the sync gave its own lock back
        assert s.scalar(select(func.count()).select_from(JobClaim).where(JobClaim.job_name == "kb-sync:markdown")) == 0


def test_the_scheduled_sync_skips_its_tick_while_the_cli_syncs(env: Path, db_url_engine) -> None:
    from bot.jobs import kb_sync_job

    other = _other_instance(db_url_engine)
    with job_claim(other, job="kb-sync:markdown", period="running"):
        assert kb_sync_job(other, None, now=dt.datetime.now(dt.UTC)) == 0  # type: ignore[arg-type]
        assert _articles(other) == 0
    assert kb_sync_job(other, None, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)) == 3  # type: ignore[arg-type]


def test_a_lock_left_by_a_killed_sync_expires(env: Path, db_url_engine) -> None:
    other = _other_instance(db_url_engine)
    with other.session() as s:  # kill -9 in the middle of a sync: the row stays, nobody renews its lease
        s.add(JobClaim(job_name="kb-sync:markdown", period_key="running", owner="host-gone:4242",
                       claimed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6)))
    out = run("kb", "sync", "markdown", str(env))
    assert "created 3" in out and _articles(other) == 3
