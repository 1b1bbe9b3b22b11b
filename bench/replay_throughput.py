"""Replay throughput: 200 conversations x 4 user turns against a fake agent that sleeps L = 20 ms an answer,
concurrency C = 8. Ideal wall time = turns x L / C; target <= 1.15x ideal.

Two paths: the regression suite (`run_regressions`: cases, judge, verdict bookkeeping) and a plain thread
pool over `replay`. The agent does nothing but sleep, so the overhead measured is Flywheel's own."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from bench.common import Result, database, dispose, ms, pg_available, services
from bot.agents import AgentAnswer
from bot.kb.search import ExtraDoc, Searcher
from bot.llm.base import Turn

NAME = "replay_throughput"
CONVERSATIONS, USER_TURNS, LATENCY, CONCURRENCY = 200, 4, 0.020, 8
TARGET = 1.15


class SleepyAgent:
    """Implements `bot.agents.Agent`: answers after sleeping, like a remote agent with a fixed latency."""

    name = "bench-sleepy"

    def __init__(self, latency: float) -> None:
        self.latency = latency

    def reply(self, history: list[Turn], kb: Searcher, *, extra: Sequence[ExtraDoc] = (),
              replay_id: str | None = None) -> AgentAnswer:
        time.sleep(self.latency)
        return AgentAnswer(text=f"Answer number {len(history)}: the parcel ships within two days.")


def _conversations() -> list[tuple[int, dict]]:
    rows = []
    for i in range(CONVERSATIONS):
        messages = []
        for t in range(USER_TURNS):
            messages += [{"role": "user", "text": f"Question {t} about parcel {i}: when does it ship?"},
                         {"role": "agent", "text": "The parcel ships within two days."}]
        rows.append((i + 1, {"id": f"conv-{i}", "messages": messages}))
    return rows


def _make_cases(svc) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from storage.models import Conversation, Gap, RegressionCase

    now = dt.datetime.now(dt.UTC)
    with svc.session() as s:
        for cid in s.scalars(select(Conversation.id).order_by(Conversation.id)).all():
            gap = Gap(state="verified", kind="missing", conversation_id=cid, flagged_position=2 * USER_TURNS - 1,
                      flagged_by="bench", owner="bench", flagged_at=now, updated_at=now, verified_at=now)
            s.add(gap)
            s.flush()
            s.add(RegressionCase(gap_id=gap.id, conversation_id=cid, flagged_position=2 * USER_TURNS - 1,
                                 required_facts=["The parcel ships within two days."], active=True,
                                 last_verdict="pass", created_at=now))


def _setup(url: str):  # type: ignore[no-untyped-def]
    from bot.services.importer import import_records

    svc = services(url, agent=SleepyAgent(LATENCY), settings={"replay_concurrency": CONCURRENCY})
    import_records(svc, _conversations(), source="bench")
    _make_cases(svc)
    return svc


def _regressions(svc) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    from bot.services.regression import run_regressions

    start, cpu = time.perf_counter(), time.process_time()
    results = run_regressions(svc, actor="bench")
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall, cpu, sum(r.verdict == "pass" for r in results)


def _pool(svc) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from bot.services.replay import replay
    from storage.models import Conversation

    with svc.session() as s:
        ids = list(s.scalars(select(Conversation.id)))
    start, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        list(pool.map(lambda cid: replay(svc, conversation_id=cid, with_judge=False), ids))
    return time.perf_counter() - start, time.process_time() - cpu


def _cpu_row(result: Result, what: str, cpu: float) -> None:
    """Python CPU per conversation (GIL-serialised) against the agent's own time per conversation."""
    per, agent = cpu / CONVERSATIONS, USER_TURNS * LATENCY
    result.add(f"CPU per conversation, {what}", ms(per), f"agent time {ms(agent)}", per / agent, "info", None,
               bench=NAME)


def run(result: Result) -> None:
    ideal = CONVERSATIONS * USER_TURNS * LATENCY / CONCURRENCY
    target = f"<= {TARGET}x"
    backends = ["sqlite"] + (["postgresql"] if pg_available() else [])
    for kind in backends:
        with database(kind) as url:
            svc = _setup(url)
            try:
                wall, cpu, passed = _regressions(svc)
                result.add(f"regression suite, {CONVERSATIONS} conv x {USER_TURNS} turns, C={CONCURRENCY} "
                           f"({kind})", ms(wall), f"ideal {ms(ideal)}", wall / ideal, target,
                           wall / ideal <= TARGET, bench=NAME)
                _cpu_row(result, f"regression suite ({kind})", cpu)
                if passed != CONVERSATIONS:
                    result.notes.append(f"{NAME} ({kind}): only {passed}/{CONVERSATIONS} cases passed.")
                wall, cpu = _pool(svc)
                result.add(f"thread pool over replay(), same load ({kind})", ms(wall), f"ideal {ms(ideal)}",
                           wall / ideal, target, wall / ideal <= TARGET, bench=NAME)
                _cpu_row(result, f"replay() pool ({kind})", cpu)
            finally:
                dispose(svc)
    if len(backends) == 1:
        result.notes.append(f"{NAME}: PostgreSQL not reachable; SQLite only.")
