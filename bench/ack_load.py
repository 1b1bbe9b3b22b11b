"""Acks under load (issue 14): 120 signed requests from 8 users at once through `flywheel serve`'s server
(`bot.server.make_server`, waitress, + `create_app`), a mock Slack Web API, and a local OpenAI-compatible model
that takes 5 s to answer. A third are `books` reactions on digest items (each first flag asks the model for an
outline), a third `/flywheel stats`, a third App Home opens. Each request is timed to its HTTP response (the
ack), on SQLite and on PostgreSQL. Target: p99 <= 300 ms for every kind, every request answered 200.

The slow work runs as a team runs it (README, "Run in production"): `bot.queue.start_jobs` as `flywheel serve` calls it,
so on SQLite the outlines are durable jobs run by serve's in-process consumer threads (FLYWHEEL_QUEUE_WORKERS),
and on PostgreSQL they are queued for one `flywheel worker` process (default concurrency) started here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import Result, database, ms, percentile, pg_available

NAME = "ack_load"
SECRET = "bench-signing-secret"
USERS = tuple(f"U0LOAD{i:03d}" for i in range(8))
REQUESTS, MODEL_LATENCY, ITEMS = 120, 5.0, 8
TARGET_MS = 300.0
KINDS = ("books reaction", "/flywheel stats", "app_home_opened")
QUESTIONS = ("How long does a refund to my credit card take?", "Can I change the delivery address of an order?",
             "Do you ship parcels to Iceland?", "How do I reset the password of my account?",
             "Why was my invoice charged twice?", "Can a gift card pay for shipping fees?",
             "Where is the warranty certificate of a blender?", "How do I close a business account?")
OUTLINE = {"title": "Refunds to a credit card", "summary": "The agent did not know the refund delay.",
           "kind": "missing", "sections": [{"heading": "When the refund arrives", "points": ["5 business days"]}],
           "required_facts": ["Refunds reach the card within 5 business days."], "questions_for_experts": [],
           "update_article_ids": []}


class SlowModel:
    """A local OpenAI-compatible Chat Completions endpoint answering every call after `latency` seconds with a
    structured outline (the only model call of this load)."""

    def __init__(self, latency: float) -> None:
        self.latency, self.calls = latency, 0
        self._lock = threading.Lock()
        model = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with model._lock:
                    model.calls += 1
                time.sleep(model.latency)
                body = json.dumps({
                    "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
                    "model": "bench-model", "usage": {"prompt_tokens": 400, "completion_tokens": 90,
                                                      "total_tokens": 490},
                    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None, "message": {
                        "role": "assistant", "content": json.dumps(OUTLINE), "refusal": None}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _post(opener: urllib.request.OpenerDirector, url: str, signed: Any) -> tuple[int, float]:
    request = urllib.request.Request(url, data=signed.body.encode(), headers=signed.headers, method="POST")
    start = time.perf_counter()
    try:
        with opener.open(request, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    except OSError:
        status = 0
    return status, time.perf_counter() - start


def _load(items: list[Any], webhook: str) -> list[tuple[str, str, Any]]:
    """The 120 requests, as (user, kind, signed request): each user sends the three kinds in turn."""
    from tests.support.signing import command_fields, command_request, event_request

    out = []
    for i in range(REQUESTS):
        user, kind = USERS[i % len(USERS)], KINDS[(i // len(USERS)) % len(KINDS)]
        if kind == "books reaction":
            item = items[i % len(items)]
            event = {"type": "reaction_added", "user": user, "reaction": "books", "event_ts": f"{time.time():.6f}",
                     "item": {"type": "message", "channel": item.channel, "ts": item.ts}}
            signed = event_request(event, secret=SECRET)
        elif kind == "/flywheel stats":
            signed = command_request(command_fields("stats", user_id=user, channel_id=items[0].channel,
                                                    response_url=webhook), secret=SECRET)
        else:
            signed = event_request({"type": "app_home_opened", "user": user, "channel": f"D{user[1:]}",
                                    "tab": "home", "event_ts": f"{time.time():.6f}"}, secret=SECRET)
        out.append((user, kind, signed))
    return out


def _fire(url: str, load: list[tuple[str, str, Any]]) -> list[tuple[str, int, float]]:
    """Each user's requests back to back in its own thread; all users start at once."""
    results: list[tuple[str, int, float]] = []
    lock, start = threading.Lock(), threading.Barrier(len(USERS))

    def user_thread(user: str) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        mine = [(kind, signed) for u, kind, signed in load if u == user]
        start.wait()
        for kind, signed in mine:
            status, seconds = _post(opener, url, signed)
            with lock:
                results.append((kind, status, seconds))

    threads = [threading.Thread(target=user_thread, args=(u,)) for u in USERS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@contextmanager
def _serving(url: str, model: SlowModel) -> Iterator[tuple[Any, Any, str, list[Any]]]:
    """The app on `url` behind the real server, a mock Slack, a digest of ITEMS conversations."""
    from bot.app import create_app
    from bot.kb.startup import start_search
    from bot.queue import is_postgres, start_jobs
    from bot.server import EVENTS_PATH, make_server
    from bot.services import build_services
    from bot.settings import Settings
    from bot.slack.client import make_web_client
    from tests.support.factories import conversation, load
    from tests.support.harness import REVIEW, post_items
    from tests.support.mock_slack import MockSlack

    with MockSlack() as slack:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, database_url=url, llm_provider="openai", openai_api_key="sk-bench-not-a-key",
            openai_base_url=model.url, llm_max_retries=0, slack_api_url=slack.url, slack_bot_token="xoxb-bench",
            slack_signing_secret=SECRET, review_channel=REVIEW, digest_size=ITEMS)
        svc = build_services(settings)
        with _tmpdir() as tmp:
            load(svc, tmp, [conversation(f"conv-{i}", gap=True, question=q) for i, q in enumerate(QUESTIONS)])
        items = list(post_items(svc, slack, [f"conv-{i}" for i in range(ITEMS)]).values())
        client = make_web_client(settings)
        app = create_app(settings, svc, client=client)
        start_search(svc.kb, settings)
        server = make_server(app, svc, "127.0.0.1", 0)
        worker = _worker(settings) if is_postgres(url) else None
        stop_jobs = start_jobs(svc, client)  # as `flywheel serve`: in-process consumers on SQLite only
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield slack, app, f"http://127.0.0.1:{server.server_port}{EVENTS_PATH}", items
        finally:
            server.shutdown()
            server.server_close()
            _drain(app)
            stop_jobs()
            if worker is not None:
                worker.terminate()  # SIGTERM: running jobs finish first
                worker.wait(60)
            svc.engine.dispose()


def _worker(settings: Any) -> subprocess.Popen[bytes]:
    """`flywheel worker` (default concurrency) on `url`, configured as the server is; returns once it runs jobs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYWHEEL_", "SLACK_", "OPENAI_", "DATABASE_"))}
    env.update(DATABASE_URL=settings.database_url, FLYWHEEL_LLM_PROVIDER="openai", OPENAI_API_KEY="sk-bench-not-a-key",
               OPENAI_BASE_URL=settings.openai_base_url, FLYWHEEL_LLM_MAX_RETRIES="0",
               SLACK_API_URL=settings.slack_api_url, SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET,
               FLYWHEEL_REVIEW_CHANNEL=settings.review_channel, FLYWHEEL_DIGEST_SIZE=str(ITEMS),
               PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "worker"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    for line in iter(proc.stdout.readline, b""):
        if b"running jobs" in line:
            break
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain the pipe
    return proc


@contextmanager
def _tmpdir() -> Iterator[Path]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="flywheel-ackload-") as tmp:
        yield Path(tmp)


def _drain(app: Any) -> None:
    """Let every listener (and lazy listener) started by the load finish before the database goes."""
    executors = {id(e): e for e in (getattr(app.listener_runner, "listener_executor", None),
                                    getattr(app.listener_runner.lazy_listener_runner, "executor", None)) if e}
    for executor in executors.values():
        executor.shutdown(wait=True)


def _wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _answers(slack: Any) -> tuple[int, int, int]:
    """(stats answers through response_url, users whose App Home was published, outline messages)."""
    stats = sum("stats" in json.dumps(c.params).lower() for c in slack.calls_to("webhook"))
    homes = len({c.params.get("user_id") for c in slack.calls_to("views.publish")})
    with slack._lock:  # noqa: SLF001 - the mock's state, read while its handlers may write
        messages = list(slack.messages.values())
    outlines = sum("Suggested article" in json.dumps(m) for m in messages)
    return stats, homes, outlines


def _measure(result: Result, backend: str, url: str) -> None:
    model = SlowModel(MODEL_LATENCY)
    try:
        with _serving(url, model) as (slack, _app, endpoint, items):
            load = _load(items, slack.webhook_url("stats"))
            started = time.perf_counter()
            results = _fire(endpoint, load)
            wall = time.perf_counter() - started
            wanted = (REQUESTS // 3, len(USERS), ITEMS)
            answered = _wait_until(lambda: all(a >= w for a, w in zip(_answers(slack), wanted, strict=True)), 120)
            stats, homes, outlines = _answers(slack)
    finally:
        model.close()
    bad = [r for r in results if r[1] != 200]
    for kind in KINDS:
        times = [s for k, status, s in results if k == kind]
        p50, p99 = percentile(times, 50), percentile(times, 99)
        result.add(f"ack under load, {kind}, {backend} ({len(times)} of {REQUESTS} requests, 8 users at once, "
                   f"model {MODEL_LATENCY:g} s)", f"p50 {ms(p50)} / p99 {ms(p99)}", f"target {ms(TARGET_MS / 1000)}",
                   p99 * 1000 / TARGET_MS, "p99 <= 300 ms", p99 * 1000 <= TARGET_MS, bench=NAME)
    result.add(f"ack under load, requests not answered 200, {backend}", str(len(bad)), f"{REQUESTS} requests",
               None, "0", not bad, bench=NAME)
    result.notes.append(
        f"{NAME} ({backend}; slow work queued, run by "
        f"{'one `flywheel worker` process' if backend == 'postgresql' else 'serve’s in-process consumer threads'}):"
        f" the 120 requests took {ms(wall)}; then {stats} stats answers through response_url, "
        f"App Home published for {homes} users, outlines posted on {outlines} of {ITEMS} digest items "
        f"({model.calls} model calls){'' if answered else ' (not all within 120 s)'}; non-200 statuses: "
        f"{sorted({r[1] for r in bad}) or 'none'}.")


def run(result: Result) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        os.environ.pop(name, None)  # the mock Slack and the model are on localhost
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    backends = ["sqlite"] + (["postgresql"] if pg_available() else [])
    for backend in backends:
        with database(backend) as url:
            _measure(result, backend, url)
    if "postgresql" not in backends:
        result.notes.append(f"{NAME}: PostgreSQL not reachable, its figures are missing.")


if __name__ == "__main__":
    import logging
    import sys

    logging.basicConfig(level=logging.ERROR)
    out = Result()
    run(out)
    for row in out.rows:
        print(f"[{'ok' if row.ok else ('info' if row.ok is None else 'MISS')}] {row.figure}: {row.measured}")
    for note in out.notes:
        print(note)
    sys.exit(0)
