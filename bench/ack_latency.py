"""Ack latency over HTTP: `flywheel serve`'s server (`bot.server.make_server`, waitress, + `create_app`) against
the local mock Slack. Signed requests are timed until the HTTP response (the ack): reaction events on unrelated
messages and `/flywheel help`, first idle, then while `/flywheel replay` commands keep ~8 slow replays in
flight (an agent that takes 0.5 s an answer). Slack's limit is 3 s; target p99 <= 0.1x of it.

SQLite, with the work queue as `flywheel serve` runs it (`bot.queue.start_jobs`): each replay is a durable job
run by serve's in-process consumer threads (FLYWHEEL_QUEUE_WORKERS), not by the request's listener."""

from __future__ import annotations

import os
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.common import Result, ms, percentile, services
from bench.replay_throughput import SleepyAgent

NAME = "ack_latency"
SECRET = "bench-signing-secret"
LIMIT, TARGET = 3.0, 0.1
REQUESTS = 150  # of each kind, per scenario
IN_FLIGHT, AGENT_LATENCY = 8, 0.5


def _post(url: str, signed) -> float:  # type: ignore[no-untyped-def]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=signed.body.encode(), headers=signed.headers, method="POST")
    start = time.perf_counter()
    with opener.open(request, timeout=10) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
    return time.perf_counter() - start


def _measure(url: str, webhook: str) -> tuple[list[float], list[float]]:
    from tests.support.signing import command_fields, command_request, event_request

    events, commands = [], []
    for i in range(REQUESTS):
        event = {"type": "reaction_added", "user": "U0BENCH", "reaction": "books", "event_ts": f"{i}.1",
                 "item": {"type": "message", "channel": "C0ELSEWHERE", "ts": f"1700000000.{i:06d}"}}
        events.append(_post(url, event_request(event, secret=SECRET)))
        commands.append(_post(url, command_request(command_fields("help", response_url=webhook), secret=SECRET)))
    return events, commands


def _load(url: str, webhook: str, stop: threading.Event) -> int:
    """Send slow `/flywheel replay` commands at the rate that would keep ~IN_FLIGHT running (more than the queue's
    consumer threads run at once, so the queue stays busy) until stopped; returns how many were sent."""
    from tests.support.signing import command_fields, command_request

    sent, period = 0, 4 * AGENT_LATENCY / IN_FLIGHT  # a replay answers 4 turns
    while not stop.is_set():
        _post(url, command_request(command_fields(f"replay conv-{sent % 20}", response_url=webhook), secret=SECRET))
        sent += 1
        stop.wait(period)
    return sent


def _rows(result: Result, label: str, events: list[float], commands: list[float]) -> None:
    for kind, times in (("reaction_added events", events), ("/flywheel help", commands)):
        p50, p99 = percentile(times, 50), percentile(times, 99)
        result.add(f"ack latency, {kind}, {label} ({len(times)} requests)", f"p50 {ms(p50)} / p99 {ms(p99)}",
                   f"Slack's limit {ms(LIMIT)}", p99 / LIMIT, f"p99 <= {TARGET}x", p99 / LIMIT <= TARGET, bench=NAME)


def run(result: Result) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        os.environ.pop(name, None)  # the mock Slack is on localhost
    from sqlalchemy import func, select

    from bot.app import create_app
    from bot.queue import start_jobs
    from bot.server import EVENTS_PATH, make_server
    from bot.services.importer import import_records
    from bot.slack.client import make_web_client
    from storage.models import ReplayRun
    from tests.support.mock_slack import MockSlack

    with tempfile.TemporaryDirectory() as tmp, MockSlack() as slack:
        svc = services(f"sqlite:///{Path(tmp) / 'ack.db'}", agent=SleepyAgent(AGENT_LATENCY), settings={
            "slack_api_url": slack.url, "slack_bot_token": "xoxb-bench", "slack_signing_secret": SECRET,
            "review_channel": "C0REVIEW"})
        messages = [m for t in range(4) for m in ({"role": "user", "text": f"Question {t}?"},
                                                  {"role": "agent", "text": "An answer."})]
        import_records(svc, ((i, {"id": f"conv-{i}", "messages": messages}) for i in range(20)), source="bench")
        client = make_web_client(svc.settings)
        app = create_app(svc.settings, svc, client=client)
        server = make_server(app, svc, "127.0.0.1", 0)
        stop_jobs = start_jobs(svc, client)  # as `flywheel serve` on SQLite: in-process consumer threads
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url, webhook = f"http://127.0.0.1:{server.server_port}{EVENTS_PATH}", slack.webhook_url()
        try:
            _rows(result, "idle", *_measure(url, webhook))
            stop = threading.Event()
            sent: list[int] = []
            loader = threading.Thread(target=lambda: sent.append(_load(url, webhook, stop)), daemon=True)
            loader.start()
            time.sleep(4 * AGENT_LATENCY)  # let the replays pile up
            busy = _measure(url, webhook)
            stop.set()
            loader.join()
            _rows(result, f"while queued replays run ({svc.settings.queue_workers} at once, one sent every "
                          f"{ms(4 * AGENT_LATENCY / IN_FLIGHT)})", *busy)
        finally:
            server.shutdown()
            server.server_close()
            app.listener_runner.listener_executor.shutdown(wait=True)
            stop_jobs()  # replays still running finish first; the rest stays queued
            with svc.session() as s:
                runs = s.scalar(select(func.count()).select_from(ReplayRun))
            svc.engine.dispose()
        result.notes.append(f"{NAME}: {sent[0] if sent else 0} `/flywheel replay` commands were sent as load and "
                            f"{runs} replays completed (queued jobs, {svc.settings.queue_workers} consumer threads), "
                            f"each 4 turns with an agent taking {ms(AGENT_LATENCY)} an answer.")
