"""Footprint: RSS of a fresh process idle after building the services and the Slack app (`create_app`, against
the local mock Slack), then after handling 10k signed `reaction_added` events on unrelated messages (the flag
emoji: each one looks its message up in the database and does nothing); CPU time per event, against a bare
Bolt app with a no-op listener measured in the same process. Falls back to 10k service calls when the Slack
app cannot be built."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Result, ms, rss_mb

NAME = "footprint"
EVENTS = 10_000
SECRET = "bench-signing-secret"
BATCH = 500  # events signed ahead of dispatching (RSS is sampled between batches)


def _events(n: int, start: int):  # type: ignore[no-untyped-def]
    from tests.support.signing import event_request

    for i in range(start, start + n):
        event = {"type": "reaction_added", "user": "U0BENCH", "reaction": "books", "event_ts": f"{i}.000",
                 "item": {"type": "message", "channel": "C0ELSEWHERE", "ts": f"1700000000.{i:06d}"}}
        yield event_request(event, secret=SECRET).to_bolt()


def _dispatch_all(app, marks: dict[int, float] | None = None) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds to dispatch EVENTS events and finish every listener (signing excluded); `marks` gets the
    RSS after each batch."""
    cpu = 0.0
    for start in range(0, EVENTS, BATCH):
        if marks is not None:
            marks[start] = rss_mb()
        batch = list(_events(BATCH, start))
        t = time.process_time()
        for request in batch:
            response = app.dispatch(request)
            if response.status != 200:
                raise RuntimeError(f"event refused with HTTP {response.status}")
        cpu += time.process_time() - t
    t = time.process_time()
    app.listener_runner.listener_executor.shutdown(wait=True)  # every listener has run
    return cpu + time.process_time() - t


def _bare_bolt(slack_url: str) -> float:
    from concurrent.futures import ThreadPoolExecutor

    from slack_bolt import App
    from slack_sdk import WebClient

    bare = App(signing_secret=SECRET, client=WebClient(token="xoxb-bare", base_url=slack_url),
               listener_executor=ThreadPoolExecutor(max_workers=16))
    bare.event("reaction_added")(lambda: None)
    return _dispatch_all(bare) / EVENTS


def _child() -> None:
    import os

    import bot.app  # noqa: F401 - imports first: the baseline RSS

    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        os.environ.pop(name, None)  # the mock Slack is on localhost
    from bench.common import services
    from tests.support.mock_slack import MockSlack

    out: dict[str, object] = {"rss_imports": rss_mb()}
    with tempfile.TemporaryDirectory() as tmp, MockSlack() as slack:
        url = f"sqlite:///{Path(tmp) / 'fp.db'}"
        try:
            from bot.app import create_app
            from bot.slack.client import make_web_client

            svc = services(url, settings={"slack_api_url": slack.url, "slack_bot_token": "xoxb-bench",
                                          "slack_signing_secret": SECRET, "review_channel": "C0REVIEW"})
            app = create_app(svc.settings, svc, client=make_web_client(svc.settings))
            out["mode"] = "slack"
        except Exception as exc:  # noqa: BLE001 - fall back, and say why
            svc, app, out["mode"] = services(url), None, f"service calls (Slack app unavailable: {exc!r:.120})"
        time.sleep(0.5)
        out["rss_idle"] = rss_mb()
        if app is not None:
            marks: dict[int, float] = {}
            out["cpu_per_event"] = _dispatch_all(app, marks) / EVENTS
            out["rss_warm"] = marks[1000]
        else:
            from bot.services.threads import find_item

            t = time.process_time()
            for i in range(EVENTS):
                find_item(svc, channel="C0ELSEWHERE", ts=f"1700000000.{i:06d}")
            out["cpu_per_event"] = (time.process_time() - t) / EVENTS
            out["rss_warm"] = out["rss_idle"]
        out["rss_after"] = rss_mb()
        svc.engine.dispose()
        out["bare_cpu_per_event"] = _bare_bolt(slack.url)
    print(json.dumps(out))


def run(result: Result) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.footprint", "--child"], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        result.notes.append(f"{NAME}: failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else '?'}")
        return
    f = json.loads(proc.stdout.strip().splitlines()[-1])
    what = f"{EVENTS:,} signed reaction_added events through create_app" if f["mode"] == "slack" else \
        f"{EVENTS:,} {f['mode']}"
    result.add("RSS idle: services + Slack app built (fresh process)", f"{f['rss_idle']:.0f} MiB",
               f"after imports {f['rss_imports']:.0f} MiB", f["rss_idle"] / f["rss_imports"], "info", None,
               bench=NAME)
    result.add(f"RSS after {what}", f"{f['rss_after']:.0f} MiB", f"idle {f['rss_idle']:.0f} MiB",
               f["rss_after"] / f["rss_idle"], "info (warm-up: threads, caches)", None, bench=NAME)
    growth = f["rss_after"] / f["rss_warm"]
    result.add(f"RSS after {EVENTS:,} events vs after the first 1,000 (warm)", f"{f['rss_after']:.0f} MiB",
               f"warm {f['rss_warm']:.0f} MiB", growth, "flat (<= 1.1x warm)", growth <= 1.1, bench=NAME)
    result.add("CPU per event (dispatch + listener, signing excluded)", ms(f["cpu_per_event"]),
               f"bare Bolt, no-op listener {ms(f['bare_cpu_per_event'])}",
               f["cpu_per_event"] / f["bare_cpu_per_event"], "info", None, bench=NAME)
    if f["mode"] != "slack":
        result.notes.append(f"{NAME}: measured {f['mode']}.")


if __name__ == "__main__" and sys.argv[1:] == ["--child"]:
    _child()
