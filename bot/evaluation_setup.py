"""What `flywheel eval` and its timed loop share: a timed LLM, throwaway services, the KB, the tasks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.agents import RagAgent
from bot.errors import InvalidInput
from bot.evaluation_data import SOURCE, EvalTask, Passage, passage_title, to_conversation
from bot.publishers import BuiltinPublisher
from bot.services import Services
from bot.services.importer import import_records
from bot.text import slugify
from storage.models import Conversation


class TimedLLM:
    """Wraps a provider and sums the time spent inside its calls (thread-safe)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.offline = inner, inner.name, inner.offline
        self.seconds, self.calls = 0.0, 0
        self._lock = threading.Lock()

    def _timed(self, method: str, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return getattr(self.inner, method)(*args)
        finally:
            with self._lock:
                self.seconds += time.perf_counter() - start
                self.calls += 1

    def outline(self, gap: Any) -> Any:
        return self._timed("outline", gap)

    def draft(self, gap: Any, outline: Any) -> Any:
        return self._timed("draft", gap, outline)

    def judge(self, request: Any) -> Any:
        return self._timed("judge", request)

    def answer(self, request: Any) -> Any:
        return self._timed("answer", request)

    def compare(self, request: Any) -> Any:
        return self._timed("compare", request)


def eval_services(services_factory: Callable[..., Services], db: Path) -> tuple[Services, TimedLLM]:
    """Services on a throwaway SQLite file: the configured provider, timed; the built-in agent; and the
    built-in publisher (an eval never publishes to the team's real KB)."""
    svc = services_factory(database_url=f"sqlite:///{db}")
    timed = TimedLLM(svc.llm)
    svc.llm, svc.agent, svc.publisher = timed, RagAgent(timed), BuiltinPublisher()
    return svc, timed


def build_kb(svc: Services, passages: Sequence[Passage]) -> dict[str, int]:
    """One article a distinct passage; returns document_id -> article id."""
    ids: dict[str, int] = {}
    with svc.session() as s:
        for p in passages:
            if p.doc_id not in ids:
                article, _ = svc.kb.save(s, title=passage_title(p), body=p.text, slug=slugify(f"gold {p.doc_id}"),
                                         author="eval")
                ids[p.doc_id] = article.id
    return ids


def import_tasks(svc: Services, tasks: Sequence[EvalTask]) -> dict[str, int]:
    """Store the tasks as conversations; returns task_id -> conversation id."""
    report = import_records(svc, enumerate((to_conversation(t) for t in tasks), 1), source=SOURCE)
    if report.bad_lines:
        bad = report.bad_lines[0]
        raise InvalidInput(f"Task {bad.line} of the selection could not be stored: {bad.reason}.")
    with svc.session() as s:
        rows = s.execute(select(Conversation.external_id, Conversation.id).where(Conversation.source == SOURCE))
        return {ext: cid for ext, cid in rows}
