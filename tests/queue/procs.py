"""Helpers of the queue tests: a slow OpenAI-compatible server, `flywheel serve` / `flywheel worker` subprocesses,
a digest item to flag, and a `Harness` whose signed requests go over HTTP to the running server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.services import Services, build_services
from bot.settings import Settings
from tests.support.factories import conversation, load
from tests.support.harness import SECRET, Harness, post_items
from tests.support.http_client import http
from tests.support.mock_slack import MockSlack
from tests.support.openai_api import completion
from tests.support.signing import SignedRequest

ROOT = Path(__file__).resolve().parents[2]
OUTLINE = {"title": "Refunds to a card", "summary": "The agent lacked the refund delay.", "kind": "missing",
           "sections": [{"heading": "How long", "points": ["5 business days"]}],
           "required_facts": ["Refunds reach the card within 5 business days."], "questions_for_experts": [],
           "update_article_ids": []}


class HeldServer:
    """An HTTP server on 127.0.0.1 answering every POST with `answer(handler)`; `hold()` makes answers wait until
    `release()` (the moment a test kills the process waiting on it). `arrived`: a request is in flight."""

    path = "/"

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self._open = threading.Event()
        self._open.set()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps(owner.answer(self)).encode()
                owner.arrived.set()
                owner._open.wait(60)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the caller was killed meanwhile
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def answer(self, request: BaseHTTPRequestHandler) -> Any:
        raise NotImplementedError

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


class SlowOpenAI(HeldServer):
    """Chat Completions answering the outline."""

    path = "/v1"

    def __init__(self) -> None:
        self.calls = 0
        super().__init__()

    def answer(self, request: BaseHTTPRequestHandler) -> Any:
        self.calls += 1
        return completion(json.dumps(OUTLINE))


def env_for(db_url: str, slack: MockSlack, llm: SlowOpenAI | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYWHEEL_", "SLACK_", "OPENAI_", "DATABASE_"))}
    env.update(DATABASE_URL=db_url, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
               SLACK_API_URL=slack.url, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", COLUMNS="200",
               FLYWHEEL_PUBLISH_REQUIRES_TEST="false", FLYWHEEL_VERIFY_BACKOFF="0", FLYWHEEL_QUEUE_HEARTBEAT="1",
               FLYWHEEL_QUEUE_BACKOFF="0.5")
    if llm is not None:
        env.update(FLYWHEEL_LLM_PROVIDER="openai", OPENAI_API_KEY="sk-test-0123456789", OPENAI_BASE_URL=llm.url,
                   FLYWHEEL_LLM_MAX_RETRIES="0", FLYWHEEL_LLM_TIMEOUT="60")
    else:
        env.update(FLYWHEEL_LLM_PROVIDER="offline")
    env.update(extra)
    return env


class Proc:
    """A `flywheel` subprocess whose output is collected by a thread (so it never blocks on a full pipe)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.lines: list[str] = []
        self.popen = subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output)
            if found:
                return found
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"no {pattern!r} in the output of flywheel:\n{self.output}")

    def kill9(self) -> None:
        self.popen.kill()
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)


def serve(env: dict[str, str], cwd: Path, *args: str) -> tuple[Proc, str]:
    proc = Proc(["serve", "--host", "127.0.0.1", "--port", "0", *args], env, cwd)
    port = proc.wait_for(r"listening on http://127\.0\.0\.1:(\d+)/").group(1)
    return proc, f"http://127.0.0.1:{port}/slack/events"


def worker(env: dict[str, str], cwd: Path, *args: str) -> Proc:
    proc = Proc(["worker", *args], env, cwd)
    proc.wait_for(r"Flywheel worker running jobs")
    return proc


def seed(db_url: str, slack: MockSlack, tmp_path: Path) -> tuple[Services, Any]:
    """A migrated database with one flaggable conversation posted as a digest item; (services, the item)."""
    settings = Settings(_env_file=None, database_url=db_url)  # type: ignore[call-arg]
    services = build_services(settings)
    load(services, tmp_path, [conversation("c1", gap=True)])
    return services, post_items(services, slack, ["c1"])["c1"]


class HttpHarness(Harness):
    """The scenario harness, its signed requests sent to a running `flywheel serve` instead of an in-process app."""

    def __init__(self, url: str, slack: MockSlack, services: Services) -> None:
        super().__init__(None, slack, services)  # type: ignore[arg-type]
        self.url = url

    def dispatch(self, signed: SignedRequest) -> Any:
        status, _ = http(self.url, body=signed.body, headers=signed.headers)

        class Answer:
            pass

        answer = Answer()
        answer.status = status  # type: ignore[attr-defined]
        return answer
