"""kill -9 of a writing `flywheel` command in the middle, then the same command again: nothing lost, nothing
doubled, and the rerun is not turned away by the dead run's lock. Each command is held at a chosen call
(tests/reliability/held_cli.py) and killed there with SIGKILL, on SQLite and PostgreSQL."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from storage.models import Article, ArticleVersion, Conversation, Gap, JobClaim, Message, PublishAttempt
from tests.reliability.held_cli import HeldCli
from tests.support.cli import cli_env, run
from tests.support.factories import conversation
from tests.support.mock_slack import MockSlack

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def env(tmp_path, monkeypatch, db_url_engine) -> Path:
    cli_env(tmp_path, monkeypatch, db_url_engine)
    run("init")
    return tmp_path


def killed(env: Path, *args: str, hold: str, nth: int = 1, when: str = "before", **extra: str) -> None:
    """`flywheel ARGS` held at the nth call of `hold`, then killed there with SIGKILL."""
    proc = HeldCli(list(args), {**os.environ, **extra}, env, name="killed", hold=hold, nth=nth, when=when)
    assert proc.wait_held_or_exit(), proc.output
    proc.kill9()
    assert proc.popen.returncode == -9


def again(env: Path, *args: str, **extra: str) -> tuple[int, str]:
    """The same command in a new process (the CLI as an operator reruns it)."""
    return HeldCli(list(args), {**os.environ, **extra}, env, name="again").finish()


def count(engine, model, *where) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return int(c.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_kb_import_killed_halfway_then_run_again(env: Path, db_url_engine) -> None:
    """One transaction: the killed import saved nothing. Its `kb-import` lock row stays behind, but its beacon's
    flock died with it, so the rerun takes the lock over at once (before: exit 75 until the 5-minute lease ran out)."""
    folder = env / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"a{i}.md").write_text(f"# Article {i}\n\nText {i}.\n", encoding="utf-8")
    killed(env, "kb", "import", str(folder), hold="bot.kb:KnowledgeBase.save", nth=2)  # a0 saved, not committed
    engine = db_url_engine[1]
    assert count(engine, Article) == 0 and count(engine, JobClaim, JobClaim.job_name == "kb-import") == 1
    code, output = again(env, "kb", "import", str(folder))
    assert code == 0 and "created 3" in output, output
    assert count(engine, Article) == 3 and count(engine, ArticleVersion) == 3
    assert count(engine, JobClaim, JobClaim.job_name == "kb-import") == 0


def test_import_killed_after_a_batch_then_run_again(env: Path, db_url_engine) -> None:
    """Batches of 500 commit one by one: killed before the second, the first is kept; the rerun adds the rest and
    skips what is stored. Held before this round too."""
    data = env / "convs.jsonl"
    data.write_text("".join(json.dumps(conversation(f"c{i:04d}", gap=True)) + "\n" for i in range(1200)),
                    encoding="utf-8")
    killed(env, "import", str(data), hold="bot.services.importer:_Importer._write", nth=2)
    engine = db_url_engine[1]
    assert count(engine, Conversation) == 500
    code, output = again(env, "import", str(data))
    assert code == 0 and "Imported 700 conversations" in output and "500 already present" in output, output
    assert count(engine, Conversation) == 1200 and count(engine, Message) == 1200 * 5


def test_publish_killed_after_its_claim_then_run_again(env: Path, db_url_engine) -> None:
    """Killed after it claimed its publish attempt (the gap `publishing`): before, the rerun said "started it a moment
    ago; its verdict follows" for 5 minutes while nothing ran it. Now the rerun takes the dead run's `publish:<gap>`
    lock over and resumes its attempt (same idempotency key): one article, one version, the gap verified."""
    data = env / "c.jsonl"
    data.write_text(json.dumps(conversation("c1", gap=True)) + "\n", encoding="utf-8")
    run("import", str(data))
    run("gaps", "flag", "c1", "--user", "U1")
    run("draft", "1", "--user", "U1")
    killed(env, "publish", "1", hold="bot.services.publishing:complete")
    engine = db_url_engine[1]
    assert count(engine, Gap, Gap.state == "publishing") == 1 and count(engine, Article) == 0
    code, output = again(env, "publish", "1")
    assert code == 0 and "Published article #1 v1" in output and "verified" in output, output
    assert count(engine, Article) == 1 and count(engine, ArticleVersion) == 1
    assert count(engine, PublishAttempt) == 1  # resumed, not a second attempt


def test_digest_killed_after_the_header_then_run_again(env: Path, db_url_engine) -> None:
    """Held (the `digest:<channel>` claim and the recorded ts of each post): within the dead run's lease the rerun
    says another process is posting and sends nothing; once the lease is over (aged here) it posts only the two
    missing items."""
    data = env / "s.jsonl"
    data.write_text("".join(json.dumps(conversation(f"s{i}", gap=True)) + "\n" for i in range(4)), encoding="utf-8")
    run("import", str(data))
    with MockSlack() as slack:
        extra = {"SLACK_API_URL": slack.url, "SLACK_BOT_TOKEN": "xoxb-test", "FLYWHEEL_REVIEW_CHANNEL": "C0REVIEW",
                 "FLYWHEEL_DIGEST_SIZE": "2"}
        killed(env, "digest", hold="bot.slack.digest:_post", nth=2, **extra)  # the header is posted and recorded
        assert len(slack.calls_to("chat.postMessage")) == 1
        code, output = again(env, "digest", **extra)
        assert code == 0 and "Another Flywheel process is posting" in output
        with db_url_engine[1].begin() as c:  # five minutes later: the dead run's lease is over
            c.execute(update(JobClaim).where(JobClaim.job_name == "digest:C0REVIEW").values(
                claimed_at=JobClaim.claimed_at - dt.timedelta(minutes=6)))
        code, output = again(env, "digest", **extra)
        assert code == 0 and "2 messages sent now" in output, output
        assert len(slack.calls_to("chat.postMessage")) == 3


def test_forced_weekly_killed_then_run_again(env: Path) -> None:
    """The `weekly:<channel>` lock of a killed forced post does not hold the next one off: it posts (again, as
    --force asks: the killed run had posted the report, not yet the chart)."""
    with MockSlack() as slack:
        extra = {"SLACK_API_URL": slack.url, "SLACK_BOT_TOKEN": "xoxb-test", "FLYWHEEL_STATS_CHANNEL": "C0STATS"}
        killed(env, "weekly", "--force", hold="bot.slack.weekly:upload_chart", **extra)
        code, output = again(env, "weekly", "--force", **extra)
        assert code == 0 and "Posted the weekly report" in output, output
        assert len(slack.calls_to("files.completeUploadExternal")) == 1
