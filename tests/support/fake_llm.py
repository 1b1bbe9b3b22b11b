"""A scripted model for tests: the `bot.llm.base.LLM` protocol with answers queued per task.

    llm = FakeLLM()                                   # unscripted calls go to the offline provider
    llm.enqueue("draft", LLMError("The model timed out; nothing was changed."))   # next draft raises it
    llm.enqueue("outline", Outline(...), Outline(...))                            # the next two outlines
    llm.enqueue("judge", lambda request: Judgement(...))                          # computed from the inputs
    llm.calls_to("draft")                             # [Call(task="draft", inputs=(gap, outline), ...)]

    strict = FakeLLM(fallback=None)                   # an unscripted call fails the test instead

Choice when a task's queue is empty: by default the call goes to a deterministic `OfflineLLM`, so a test
scripts only the step it is about and the rest of the loop runs as in production without a key (the root
`services` fixture uses this, which changes nothing visible: the name and `offline` flag are the
fallback's). With `fallback=None` an unscripted call raises `AssertionError` naming the task, for tests
that must account for every model call. Every call is recorded, scripted or not, with its inputs (the
pydantic requests, as the services sent them) and what it answered or raised.

`offline=False` makes the services treat the fake as a remote model (they redact customer text before it
leaves the process), so a test can check what a real provider would have been sent.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from bot.llm.base import (
    LLM,
    AgentReply,
    AnswerRequest,
    DraftArticle,
    GapContext,
    Judgement,
    JudgeRequest,
    Outline,
    TurnCompareRequest,
    TurnComparison,
)
from bot.llm.offline import OfflineLLM

Task = Literal["outline", "draft", "judge", "answer", "compare"]
RESULT_TYPES: dict[str, type[BaseModel]] = {
    "outline": Outline, "draft": DraftArticle, "judge": Judgement, "answer": AgentReply, "compare": TurnComparison,
}
Answer = BaseModel | BaseException | Callable[..., BaseModel]


@dataclass(frozen=True)
class Call:
    task: str
    inputs: tuple[BaseModel, ...]
    answer: BaseModel | None  # None when the call raised
    error: BaseException | None
    scripted: bool


class FakeLLM:
    """Implements the LLM protocol; thread-safe (Bolt runs listeners in a pool)."""

    def __init__(self, *, fallback: LLM | None | Literal["offline"] = "offline", name: str | None = None,
                 offline: bool | None = None) -> None:
        self.fallback: LLM | None = OfflineLLM() if fallback == "offline" else fallback  # type: ignore[assignment]
        self.name = name or (self.fallback.name if self.fallback is not None else "fake")
        self.offline = offline if offline is not None else (self.fallback.offline if self.fallback else True)
        self.calls: list[Call] = []
        self._queues: dict[str, deque[Answer]] = {task: deque() for task in RESULT_TYPES}
        self._lock = threading.Lock()

    # --- scripting -------------------------------------------------------------------------------
    def enqueue(self, task: Task, *answers: Answer) -> FakeLLM:
        """Queue answers for the next calls of `task`, in order: a result model of the task's type, an
        exception to raise, or a callable given the call's inputs that returns the result."""
        if task not in RESULT_TYPES:
            raise ValueError(f"unknown task {task!r}: one of {sorted(RESULT_TYPES)}")
        expected = RESULT_TYPES[task]
        for answer in answers:
            if isinstance(answer, BaseModel) and not isinstance(answer, expected):
                raise TypeError(f"{task} answers are {expected.__name__}, not {type(answer).__name__}")
            if not isinstance(answer, BaseModel | BaseException) and not callable(answer):
                raise TypeError(f"a {task} answer is a {expected.__name__}, an exception or a callable")
        with self._lock:
            self._queues[task].extend(answers)
        return self

    def pending(self, task: Task | None = None) -> int:
        """Answers still queued (for one task, or all): a test can assert its script was used up."""
        with self._lock:
            return sum(len(q) for t, q in self._queues.items() if task in (None, t))

    def calls_to(self, task: Task) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.task == task]

    # --- the protocol ----------------------------------------------------------------------------
    def outline(self, gap: GapContext) -> Outline:
        return self._call("outline", gap)  # type: ignore[return-value]

    def draft(self, gap: GapContext, outline: Outline) -> DraftArticle:
        return self._call("draft", gap, outline)  # type: ignore[return-value]

    def judge(self, request: JudgeRequest) -> Judgement:
        return self._call("judge", request)  # type: ignore[return-value]

    def answer(self, request: AnswerRequest) -> AgentReply:
        return self._call("answer", request)  # type: ignore[return-value]

    def compare(self, request: TurnCompareRequest) -> TurnComparison:
        return self._call("compare", request)  # type: ignore[return-value]

    def _call(self, task: str, *inputs: BaseModel) -> BaseModel:
        with self._lock:
            queue = self._queues[task]
            scripted = bool(queue)
            step = queue.popleft() if scripted else None
        try:
            if step is None:
                if self.fallback is None:
                    raise AssertionError(f"FakeLLM: no {task} answer queued (call enqueue({task!r}, ...) first)")
                result = getattr(self.fallback, task)(*inputs)
            elif isinstance(step, BaseException):
                raise step
            elif isinstance(step, BaseModel):
                result = step
            else:
                result = step(*inputs)
                if not isinstance(result, RESULT_TYPES[task]):
                    raise TypeError(f"the scripted {task} callable returned {type(result).__name__}")
        except BaseException as exc:
            self._record(Call(task, inputs, None, exc, scripted))
            raise
        self._record(Call(task, inputs, result, None, scripted))
        return result

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

