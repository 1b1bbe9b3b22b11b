"""Two of every writing command at once, as operators run them beside each other and beside the bot: real
`flywheel` processes (tests/reliability/held_cli.py) held at a chosen call while the second one runs, on SQLite and
PostgreSQL. Each test says what broke before (a traceback, a row twice) or that it held, and how it is checked.
Kill -9 in the middle of the same commands: tests/reliability/test_cli_kill9.py."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.services.authoring import latest_outline
from bot.services.threads import ItemInfo
from handlers.ids import ActionId, TargetRef
from storage.models import Article, ArticleVersion, AuditEvent, Conversation, Draft, Gap, Message
from tests.handlers import conftest as scenario
from tests.reliability.held_cli import HeldCli
from tests.support.cli import cli_env, run
from tests.support.factories import conversation
from tests.support.harness import ANA, REVIEW, SECRET, Harness, wait
from tests.support.mock_slack import MockSlack
from tests.support.signing import interaction_request

harness, settings, slack, world = scenario.harness, scenario.settings, scenario.slack, scenario.world  # fixtures


@pytest.fixture
def env(tmp_path, monkeypatch, db_url_engine) -> Path:
    cli_env(tmp_path, monkeypatch, db_url_engine)
    run("init")
    return tmp_path


def cli(env: Path, name: str, *args: str, hold: str | None = None, nth: int = 1, when: str = "before",
        **extra: str) -> HeldCli:
    return HeldCli(list(args), {**os.environ, **extra}, env, name=name, hold=hold, nth=nth, when=when)


def both(first: HeldCli, second: HeldCli) -> tuple[tuple[int, str], tuple[int, str]]:
    first.release()
    second.release()
    done = first.finish(), second.finish()
    for _, output in done:
        assert "Traceback" not in output, output
    return done


def count(engine, model, *where) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return int(c.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def docs(folder: Path, n: int = 3) -> Path:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        (folder / f"a{i}.md").write_text(f"# Article {i}\n\nText {i}.\n", encoding="utf-8")
    return folder


def jsonl(path: Path, ids: list[str]) -> Path:
    path.write_text("".join(json.dumps(conversation(cid, gap=True)) + "\n" for cid in ids), encoding="utf-8")
    return path


# --- flywheel kb import DIR ---------------------------------------------------------------------------------------
def test_two_kb_imports_at_once_make_each_article_once(env: Path, db_url_engine) -> None:
    """Before: both looked each slug up, found none and created it: the second crashed with an IntegrityError
    traceback, or (when the first had committed in between) made `a0-2`, a second copy of the article.
    Now the second exits 75 while the first holds the `kb-import` lock, and the first imports everything."""
    folder = docs(env / "docs")
    first = cli(env, "a", "kb", "import", str(folder), hold="bot.kb:KnowledgeBase.free_slug")
    assert first.wait_held_or_exit()  # it is about to create a0
    second = cli(env, "b", "kb", "import", str(folder), hold="bot.kb:KnowledgeBase.free_slug")
    second.wait_held_or_exit()  # before: it reached the same point; now it exits at once
    (code_a, out_a), (code_b, out_b) = both(first, second)
    assert (code_a, code_b) == (0, 75), out_a + out_b
    assert "created 3" in out_a and "A KB import is already running" in out_b and "did nothing" in out_b
    engine = db_url_engine[1]
    assert count(engine, Article) == 3 and count(engine, ArticleVersion) == 3
    assert "unchanged 3" in run("kb", "import", str(folder))  # the lock was given back


def test_a_kb_import_meeting_another_writer_of_its_slug_says_so(env: Path, db_url_engine) -> None:
    """A `kb add` (or a sync, a publish) creates the slug between the import's look-up and its insert. Before: an
    IntegrityError traceback. Now a message, exit 75, nothing of the import saved; the rerun finishes it."""
    folder = docs(env / "docs")
    importer = cli(env, "a", "kb", "import", str(folder), hold="bot.kb:KnowledgeBase.free_slug", when="after")
    assert importer.wait_held_or_exit()  # a0 is free: it will insert it
    (env / "body.md").write_text("Written by hand at the same moment.\n", encoding="utf-8")
    run("kb", "add", "a0", str(env / "body.md"))  # slug a0, committed first
    code, output = importer.finish()
    assert code == 75 and "created an article with one of these slugs" in output and "Run it again" in output
    assert "Traceback" not in output and "IntegrityError" not in output
    engine = db_url_engine[1]
    assert count(engine, Article) == 1  # the import's transaction was rolled back whole
    assert "created 2, updated 1" in run("kb", "import", str(folder))
    assert count(engine, Article) == 3 and count(engine, Article, Article.slug.like("a0-%")) == 0


# --- flywheel import FILE -----------------------------------------------------------------------------------------
def test_two_imports_of_the_same_conversations_in_other_orders(env: Path, db_url_engine) -> None:
    """Before, on PostgreSQL: each INSERT held the rows it had written while it waited for a row the other had
    written (k1 then k3, against k3 then k1): a deadlock, and an OperationalError traceback. Now a batch is written in
    key order. To make the interleaving certain, a trigger stops each INSERT at its `gate-*` row until both are
    there. SQLite (one writer at a time) is held at the batch write instead: it held before too."""
    engine = db_url_engine[1]
    first, second = jsonl(env / "a.jsonl", ["k1", "gate-a", "k3"]), jsonl(env / "b.jsonl", ["k3", "gate-b", "k1"])
    app = f"flywheel-test-{uuid.uuid4().hex[:8]}"
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.execute(text("CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                           "IF NEW.external_id LIKE 'gate-%' THEN PERFORM pg_advisory_xact_lock_shared(7311); END IF; "
                           "RETURN NEW; END $$"))
            c.execute(text("CREATE TRIGGER gate BEFORE INSERT ON conversations FOR EACH ROW EXECUTE FUNCTION gate()"))
        with engine.connect() as gate:
            gate.execute(text("SELECT pg_advisory_lock(7311)"))
            gate.commit()  # a session lock: kept; and pg_stat_activity is read afresh in each transaction
            a, b = (cli(env, n, "import", str(f), PGAPPNAME=app) for n, f in (("a", first), ("b", second)))
            waiting = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :app "
                           "AND wait_event_type = 'Lock'")

            def at_gate() -> bool:
                at = gate.execute(waiting, {"app": app}).scalar() == 2
                gate.commit()
                return at

            wait(at_gate, 60, "both imports at their gate")
            gate.execute(text("SELECT pg_advisory_unlock(7311)"))
            gate.commit()
    else:
        hold = "bot.services.importer:_Importer._write"
        a, b = (cli(env, n, "import", str(f), hold=hold) for n, f in (("a", first), ("b", second)))
        assert a.wait_held_or_exit() and b.wait_held_or_exit()
    (code_a, out_a), (code_b, out_b) = both(a, b)
    assert (code_a, code_b) == (0, 0), out_a + out_b
    added = [int(out.split("Imported ")[1].split()[0]) for out in (out_a, out_b)]
    assert sum(added) == 4  # k1, k3, gate-a, gate-b: each once
    assert count(engine, Conversation) == 4 and count(engine, Message) == 4 * 5


# --- flywheel publish GAP, flywheel regress, flywheel gaps target -------------------------------------------------
def drafted(env: Path) -> None:
    run("import", str(jsonl(env / "c.jsonl", ["c1"])))
    run("gaps", "flag", "c1", "--user", "U1")
    run("draft", "1", "--user", "U1")


def test_two_publishes_at_once_make_one_article_version(env: Path, db_url_engine) -> None:
    """Held (the publish attempt, `publish_attempts`): the first is stopped after it claimed its attempt; the second
    found the open attempt and said so (exit 1). Now the second exits 75 on the `publish:<gap>` lock first (which lets
    a rerun after a kill -9 resume at once: test_cli_kill9.py). One article, one version, one `published`."""
    drafted(env)
    first = cli(env, "a", "publish", "1", hold="bot.services.publishing:complete")
    assert first.wait_held_or_exit()
    second = cli(env, "b", "publish", "1")
    code_b, out_b = second.finish()
    assert code_b == 75 and "A `flywheel publish 1` is already running" in out_b and "Traceback" not in out_b
    code_a, out_a = first.finish()
    assert code_a == 0 and "Published article #1 v1" in out_a
    engine = db_url_engine[1]
    assert count(engine, Article) == 1 and count(engine, ArticleVersion) == 1
    assert count(engine, AuditEvent, AuditEvent.action == "published") == 1


def test_two_regression_runs_at_once_break_the_gap_once(env: Path, db_url_engine) -> None:
    """Held: both replay the case (the article no longer says the fact), both are held after their replay and go
    on together; both report the case broke (exit 4), the gap moves to failed once."""
    drafted(env)
    run("publish", "1")
    (env / "body.md").write_text("Our store sells shoes and hats.\n", encoding="utf-8")
    run("kb", "add", "Refund to Credit Card", str(env / "body.md"))  # v2 lacks the refund fact
    a, b = (cli(env, n, "regress", hold="bot.services.regression:replay", when="after") for n in "ab")
    assert a.wait_held_or_exit() and b.wait_held_or_exit()
    for code, output in both(a, b):
        assert code == 4 and "0/1 passing, 1 broke" in output
    engine = db_url_engine[1]
    assert count(engine, AuditEvent, AuditEvent.action == "regression-broke") == 1
    assert count(engine, Gap, Gap.state == "failed") == 1


def select_article(h: Harness, ts: str, value: str) -> None:
    """The thread's target select, as Slack sends a choice: a signed `block_actions` request."""
    action = {"action_id": ActionId.PICK_TARGET.value, "block_id": "b", "type": "external_select",
              "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": value}, "action_ts": "1.0"}
    payload = {"type": "block_actions", "user": {"id": ANA, "username": "ana", "team_id": "T111"},
               "api_app_id": "A111", "token": "verification_token", "team": {"id": "T111", "domain": "flywheel-test"},
               "container": {"type": "message", "message_ts": ts, "channel_id": REVIEW, "is_ephemeral": False},
               "channel": {"id": REVIEW, "name": "review"}, "message": h.message(REVIEW, ts), "trigger_id": "trig.1",
               "state": {"values": {}}, "response_url": h.slack.webhook_url("action"), "actions": [action]}
    assert h.dispatch(interaction_request(payload, secret=SECRET)).status == 200


def test_the_cli_target_racing_a_slack_select_ends_consistent(env: Path, db_url_engine, harness: Harness,
                                                              world: dict[str, ItemInfo]) -> None:
    """Held: `gaps target` is stopped after its checks; meanwhile a signed Slack select chooses another article
    (the same service call), and its notice is posted; then the CLI commits. The last choice is the one everywhere:
    the outline, the draft, and the last `target-chosen` of the audit trail (both choices are in it, in order)."""
    gap_msg = harness.flag(world["c1"])
    harness.write_draft(world["c1"], gap_msg)
    svc = harness.services
    with svc.session() as s:
        order, shipping = (s.scalars(select(Article.id).where(Article.title == t)).one()
                           for t in ("Order status", "Shipping times"))
    target = cli(env, "a", "gaps", "target", "1", "--article", str(order), hold="bot.kb:KnowledgeBase.get",
                 when="after")
    assert target.wait_held_or_exit()
    select_article(harness, gap_msg["ts"], TargetRef(gap_id=1, article_id=shipping).dump())
    harness.thread_with(world["c1"], "chose what gap")
    code, output = target.finish()
    assert code == 0 and f"updates article #{order}" in " ".join(output.split())
    with svc.session() as s:
        draft = s.scalars(select(Draft).where(Draft.gap_id == 1).order_by(Draft.id.desc())).first()
        outline = latest_outline(s, 1)
        chosen = s.scalars(select(AuditEvent).where(AuditEvent.action == "target-chosen").order_by(AuditEvent.id))
        assert draft is not None and outline is not None
        assert draft.target_article_id == order and outline.content["update_article_ids"] == [order]
        assert [e.detail.get("article_id") for e in chosen] == [shipping, order]


# --- flywheel weekly --force, flywheel digest (Slack: a local mock) ------------------------------------------------
@pytest.fixture
def slack_env(env: Path):
    run("import", str(jsonl(env / "s.jsonl", [f"s{i}" for i in range(4)])))
    with MockSlack() as slack:
        yield slack, {"SLACK_API_URL": slack.url, "SLACK_BOT_TOKEN": "xoxb-test", "FLYWHEEL_REVIEW_CHANNEL": "C0REVIEW",
                      "FLYWHEEL_DIGEST_SIZE": "2", "FLYWHEEL_STATS_CHANNEL": "C0STATS"}


def test_two_forced_weekly_posts_at_once_post_once(env: Path, slack_env) -> None:
    """Before: `--force` skips the week's claim, so two at once posted the report and the chart twice. Now a forced
    post holds the `weekly:<channel>` lock: the second exits 75. A later --force posts again, as asked."""
    slack, extra = slack_env
    first = cli(env, "a", "weekly", "--force", hold="bot.slack.weekly:post_message", **extra)
    assert first.wait_held_or_exit()
    second = cli(env, "b", "weekly", "--force", hold="bot.slack.weekly:post_message", **extra)
    second.wait_held_or_exit()
    (code_a, out_a), (code_b, out_b) = both(first, second)
    assert (code_a, code_b) == (0, 75), out_a + out_b
    assert "A forced weekly post to C0STATS is already running" in out_b
    assert len(slack.calls_to("chat.postMessage")) == 1 and len(slack.calls_to("files.completeUploadExternal")) == 1
    assert cli(env, "c", "weekly", "--force", **extra).finish()[0] == 0
    assert len(slack.calls_to("chat.postMessage")) == 2


def test_two_digests_at_once_post_once(env: Path, slack_env) -> None:
    """Held (the `digest:<channel>` claim): the first is stopped after the header; the second says another process
    is posting and sends nothing; the first posts the rest. One header, each item once."""
    slack, extra = slack_env
    first = cli(env, "a", "digest", hold="bot.slack.digest:_post", nth=2, **extra)
    assert first.wait_held_or_exit()
    code_b, out_b = cli(env, "b", "digest", **extra).finish()
    assert code_b == 0 and "Another Flywheel process is posting the digest" in out_b
    code_a, out_a = first.finish()
    assert code_a == 0 and "2 conversations, 3 messages sent now" in out_a
    assert len(slack.calls_to("chat.postMessage")) == 3


# --- any command, on a new (or not yet upgraded) database -----------------------------------------------------------
def test_commands_starting_at_once_on_a_new_database(tmp_path, monkeypatch, db_url_engine) -> None:
    """Every command migrates first. Before: two at once on a new database both created `alembic_version` (or the
    first tables): one crashed (PostgreSQL: UniqueViolation; SQLite: table already exists). Now they take turns."""
    cli_env(tmp_path, monkeypatch, db_url_engine)
    procs = [cli(tmp_path, n, "kb", "list", hold="storage.db:_alembic_config") for n in "abc"]
    assert all(p.wait_held_or_exit() for p in procs)
    for p in procs:
        p.release()
    for p in procs:
        code, output = p.finish()
        assert code == 0 and "Traceback" not in output, output
