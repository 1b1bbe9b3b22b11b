"""Round 3: the PostgreSQL queue under a kill -9 in the middle of a publish. `flywheel serve` and two `flywheel
worker` processes; the publish goes to a signed-webhook receiver that holds its answer; the worker holding it (found
by the connection it opened) is killed with SIGKILL, the other retries the job: the article reaches the receiver
once (one Idempotency-Key: a retry re-sends the same delivery, answered from the receiver's dedup), the KB holds it
once, and the verdict is posted once. Skipped without FLYWHEEL_TEST_POSTGRES_URL."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from handlers.ids import ActionId
from storage.models import Article, Gap
from tests.conftest import NO_POSTGRES, PG_URL, _drop_pg_schema, _pg_url
from tests.queue.procs import HeldServer, HttpHarness, Proc, env_for, seed, serve, worker
from tests.support.harness import ANA, REVIEW, texts, wait
from tests.support.mock_slack import MockSlack

pytestmark = [pytest.mark.skipif(not PG_URL, reason=NO_POSTGRES),
              pytest.mark.skipif(sys.platform != "linux", reason="/proc and POSIX signals")]


class SlowReceiver(HeldServer):
    """A webhook receiver that records each delivery's Idempotency-Key."""

    path = "/hook"

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, str, int]] = []  # (event, Idempotency-Key, client port)
        super().__init__()

    def answer(self, request: BaseHTTPRequestHandler) -> Any:
        key = request.headers.get("Idempotency-Key") or ""
        self.deliveries.append((request.headers.get("X-Flywheel-Event") or "", key, request.client_address[1]))
        return {"external_id": f"ext-{key[:8]}", "url": "https://help.fake/a"}


def owner_of(port: int, procs: list[Proc]) -> Proc:
    """The process whose socket has local port `port` (the sender of a request the receiver holds)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in list(f)[1:]:
                cols = line.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(cols[9])
    for proc in procs:
        fd_dir = f"/proc/{proc.popen.pid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(f"{fd_dir}/{fd}") in {f"socket:[{i}]" for i in inodes}:
                    return proc
            except OSError:
                continue
    raise AssertionError(f"no worker owns port {port}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield _pg_url(schema)
    _drop_pg_schema(schema)


@pytest.mark.parametrize("claim_timeout", [
    pytest.param("2", id="claim-timeout-2s"),
    pytest.param("300", id="claim-timeout-default"),  # the retried job resumes its own attempt at once
])
def test_kill9_of_the_worker_publishing_publishes_once_and_posts_one_verdict(pg_url: str, tmp_path: Path,
                                                                             claim_timeout: str) -> None:
    hook = SlowReceiver()
    with MockSlack() as slack:
        services, item = seed(pg_url, slack, tmp_path)
        env = env_for(pg_url, slack, None, FLYWHEEL_PUBLISHER="webhook", FLYWHEEL_WEBHOOK_URL=hook.url,
                      FLYWHEEL_WEBHOOK_SECRET="hook-secret-0123456789", FLYWHEEL_WEBHOOK_TIMEOUT="60",
                      FLYWHEEL_PUBLISH_CLAIM_TIMEOUT=claim_timeout)
        web, url = serve(env, tmp_path)
        workers = [worker(env, tmp_path), worker(env, tmp_path)]
        try:
            harness = HttpHarness(url, slack, services)
            assert harness.react("books", item, user=ANA).status == 200
            gap_msg = harness.thread_with(item, "Suggested article", 60)
            assert harness.click(REVIEW, gap_msg["ts"], ActionId.WRITE_DRAFT).status == 200
            draft = harness.thread_with(item, "Draft for gap #", 60)
            hook.hold()
            assert harness.click(REVIEW, draft["ts"], ActionId.PUBLISH).status == 200
            assert hook.arrived.wait(60), "".join(w.output for w in workers) + web.output
            holder = owner_of(hook.deliveries[0][2], workers)
            holder.kill9()
            hook.release()
            survivor = next(w for w in workers if w is not holder)
            try:
                wait(lambda: any("replayed after publishing" in texts(m) for m in harness.thread(item)), 45,
                     "the verdict from the surviving worker")
            except AssertionError:
                pytest.fail(f"no verdict; webhook got {hook.deliveries}; thread: "
                            f"{[texts(m)[:200] for m in harness.thread(item)]}\nsurvivor:\n{survivor.output}")
            survivor.wait_for("job done task='publish'", 30)
        finally:
            web.stop()
            for w in workers:
                w.stop()
            hook.stop()
        replies = harness.thread(item)
    published = [d for d in hook.deliveries if d[0] == "article.published"]
    assert len({key for _, key, _ in published}) == 1, hook.deliveries  # one article, however often it was sent
    assert sum("replayed after publishing" in texts(m) for m in replies) == 1  # one verdict
    assert "job of a dead worker retried" in survivor.output
    with services.session() as s:
        gap = s.scalars(select(Gap)).one()
        assert gap.article_id is not None
        title = s.get_one(Article, gap.article_id).title
        assert len(list(s.scalars(select(Article).where(Article.title == title)))) == 1  # the KB holds it once
