"""A fanned-out regression run whose jobs nobody runs (no `flywheel worker`) stops at FLYWHEEL_REGRESSION_DEADLINE
and reports the unfinished cases as errors, never as passes; the cases that did finish keep their results."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from sqlalchemy import select

from bot.queue import Runtime
from bot.queue import tasks as registry
from bot.services import Services
from bot.services.regression import run_regressions
from handlers.present import regress_message
from storage.models import RegressionCase


class StuckQueue:
    """A distributed queue whose workers are gone: jobs are queued and stay unfinished; `run_first` of them are
    run at once (as a worker that died after them would have)."""

    distributed = True

    def __init__(self, services: Services, run_first: int = 0) -> None:
        self.services, self.run_first, self.queued = services, run_first, []  # type: list[dict[str, Any]]

    def enqueue(self, task: str, payload: dict[str, Any], *, key: str | None = None) -> None:
        self.queued.append(payload)
        if len(self.queued) <= self.run_first:
            registry.run(Runtime(self.services), task, payload)

    def unfinished(self, task: str, *, batch: str | None = None) -> int:
        return len(self.queued) - min(self.run_first, len(self.queued))


def _cases(services: Services) -> list[int]:
    from bench.worker_scaling import _make_cases

    _make_cases(services)
    with services.session() as s:
        return list(s.scalars(select(RegressionCase.id).order_by(RegressionCase.id)))


def test_with_no_worker_the_run_ends_at_the_deadline_with_errors_not_passes(services: Services) -> None:
    ids = _cases(services)[:5]
    services.settings = services.settings.model_copy(update={"regression_deadline": 0.5})
    inline = dataclasses.replace(services, queue=None)  # the jobs' services: no queue
    services.queue = StuckQueue(inline, run_first=2)
    started = time.monotonic()
    results = run_regressions(services, case_ids=ids)
    assert time.monotonic() - started < 10  # it used to wait forever
    ran = results[:2]  # the two a worker ran keep their results
    assert [r.case_id for r in ran] == ids[:2] and all(r.error is None and r.run_id is not None for r in ran)
    stuck = results[2:]
    assert sorted(r.case_id for r in stuck) == sorted(ids[2:])
    assert all(r.error and "no result within 0.5 s" in r.error and r.verdict is None for r in stuck)
    passing = sum(r.verdict == "pass" for r in ran)
    assert f"{passing}/5 passing" in regress_message(results).text  # the unfinished ones are not passes
