"""kill -9 of a running `flywheel serve` (SQLite: jobs in a persist-queue file, run by threads of serve) while
the outline's model call is in flight: after the restart the outline is posted, once, in the gap's thread.
Real subprocesses, a real signal, a local OpenAI-compatible server and the mock Slack Web API."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Outline
from tests.queue.procs import HttpHarness, SlowOpenAI, env_for, seed, serve
from tests.support.harness import ANA, texts, wait
from tests.support.mock_slack import MockSlack

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_kill9_mid_outline_then_restart_posts_the_outline_once(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'flywheel.db'}"
    llm = SlowOpenAI()
    with MockSlack() as slack:
        services, item = seed(db_url, slack, tmp_path)
        env = env_for(db_url, slack, llm)
        llm.hold()  # the outline's model call hangs: it is in flight when the process dies
        first, url = serve(env, tmp_path)
        try:
            harness = HttpHarness(url, slack, services)
            assert harness.react("books", item, user=ANA).status == 200
            assert llm.arrived.wait(30), first.output
            flag_msg = wait(lambda: harness.thread(item), what="the gap message (placeholder)")[0]
            assert "Suggested article" not in texts(flag_msg)
            first.kill9()
        finally:
            first.stop()
        assert (tmp_path / "flywheel.db-queue").exists()  # the job survived in the queue file
        calls_before = llm.calls
        llm.release()
        second, _ = serve(env, tmp_path)
        try:
            wait(lambda: any("Suggested article" in texts(m) for m in harness.thread(item)), 60,
                 "the outline after the restart")
        finally:
            second.stop()
        replies = harness.thread(item)
        posts = [c for c in slack.calls_to("chat.postMessage") if c.params.get("thread_ts") == item.ts]
    llm.stop()
    assert len(replies) == 1, [texts(r) for r in replies]  # one gap message, updated in place
    assert len(posts) == 1  # posted once (before the kill); the restart only updated it
    assert "Suggested article" in texts(replies[0]) and "Refunds to a card" in texts(replies[0])
    assert llm.calls == calls_before + 1  # the resumed job asked the model once more, nothing else did
    with services.session() as s:
        assert len(list(s.scalars(select(Outline)))) == 1
    assert second.popen.returncode == 0, second.output
