"""The slow steps as queued tasks: each decodes its ids and calls the same `handlers.steps` function the
listener would have called inline, with the process's Slack client; the scheduled jobs (`bot/jobs.py`) too.

Idempotent by construction, so a rerun after a crash posts once:
* every step updates the placeholder message the listener posted before queueing (`ts`); the messages a step adds
  (a long draft's continuations) are recorded once posted and updated by a rerun (`bot/queue/posted.py`);
* `outline` reuses an outline already stored (`fill_outline`), so the model is asked once per gap;
* `publish` goes through `publishing.publish_or_verify`: an already published gap is verified, not re-published;
* `regression-case` writes its result once per (batch, case) (`regression.record_result`);
* `scheduled` runs a scheduled job under its own exactly-once claim (`bot/services/claims.py`), as the scheduler
  would have; `command-*` answer a slash command through its response_url (checked and spent by the listener).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from bot.queue.registry import Runtime
from handlers import steps

TaskFn = Callable[[Runtime, dict[str, Any]], None]
_TASKS: dict[str, TaskFn] = {}


def task(name: str) -> Callable[[TaskFn], TaskFn]:
    """Register `fn` under `name` (the name is what a job stores: never rename a task with jobs queued)."""

    def register(fn: TaskFn) -> TaskFn:
        _TASKS[name] = fn
        return fn

    return register


def tasks() -> dict[str, TaskFn]:
    return dict(_TASKS)


class UnknownTask(Exception):
    """A job names no registered task (written by another version, or forged): retrying cannot help."""


def run(runtime: Runtime, name: str, payload: dict[str, Any]) -> None:
    fn = _TASKS.get(name)
    if fn is None:
        raise UnknownTask(f"unknown task {name[:80]!r}")
    fn(runtime, payload)


def _where(p: dict[str, Any]) -> steps.Where:
    return steps.Where(str(p["channel"]), str(p["thread_ts"]), p.get("message_ts"))


@task("outline")
def outline(rt: Runtime, p: dict[str, Any]) -> None:
    steps.fill_outline(rt.services, rt.slack(), gap_id=int(p["gap_id"]), thread=_where(p), ts=str(p["ts"]),
                       user=p.get("user"))


@task("draft")
def draft(rt: Runtime, p: dict[str, Any]) -> None:
    steps.draft_into(rt.services, rt.slack(), gap_id=int(p["gap_id"]), user=str(p["user"]), where_=_where(p),
                     ts=str(p["ts"]))


@task("shadow-test")
def shadow_test(rt: Runtime, p: dict[str, Any]) -> None:
    steps.shadow_test_into(rt.services, rt.slack(), gap_id=int(p["gap_id"]), user=str(p["user"]),
                           where_=_where(p), ts=str(p["ts"]))


@task("publish")
def publish(rt: Runtime, p: dict[str, Any]) -> None:
    draft_id = p.get("draft_id")
    steps.publish_into(rt.services, rt.slack(), gap_id=int(p["gap_id"]), user=str(p["user"]), where_=_where(p),
                       ts=str(p["ts"]), draft_id=int(draft_id) if draft_id is not None else None,
                       job_token=f"{p['channel']}:{p['ts']}")  # one placeholder per click: this job's identity


@task("regression-case")
def regression_case(rt: Runtime, p: dict[str, Any]) -> None:
    from bot.services.regression import record_result, run_case

    result = run_case(rt.services, int(p["case_id"]), actor=p.get("actor"))
    record_result(rt.services, batch=str(p["batch"]), result=result)


@task("command-replay")
def command_replay(rt: Runtime, p: dict[str, Any]) -> None:
    steps.respond_to(str(p["response_url"]), share=bool(p.get("share")), compute=lambda: steps.replay_answer(
        rt.services, conversation_id=int(p["conversation_id"]), user=str(p["user"])))


@task("command-regress")
def command_regress(rt: Runtime, p: dict[str, Any]) -> None:
    steps.respond_to(str(p["response_url"]), share=bool(p.get("share")),
                     compute=lambda: steps.regress_answer(rt.services, rt.slack(), user=str(p["user"])))


@task("scheduled")
def scheduled(rt: Runtime, p: dict[str, Any]) -> None:
    """A scheduled job the scheduler queued (`bot/jobs.py: QUEUED`), run with the time it fired at."""
    from bot.jobs import QUEUED

    QUEUED[str(p["job"])](rt.services, rt.slack(), now=dt.datetime.fromisoformat(str(p["now"])))


@task("noop")
def noop(rt: Runtime, p: dict[str, Any]) -> None:
    """A job that does nothing (health checks of the queue, tests)."""
