"""The agent under test: given the conversation so far and a KB, return the next answer.

The configured agent (`FLYWHEEL_AGENT`) is built by `bot.integrations.agents.build_agent`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

from bot.kb.search import ExtraDoc, Searcher, conversation_query
from bot.llm.base import LLM, AnswerRequest, ArticleSnippet, Turn


@dataclass(frozen=True)
class AgentAnswer:
    text: str
    sources: list[int] = field(default_factory=list)  # KB article ids used


@dataclass
class AgentIdentity:
    """Who answered a replay: recorded on every run, so a broken regression case traces to its change."""

    name: str
    version: str | None = None
    model: str | None = None


_observed: ContextVar[AgentIdentity | None] = ContextVar("flywheel_agent_identity", default=None)
FIELD_MAX = 100  # the ReplayRun columns' length


def report_identity(*, version: object = None, model: object = None) -> None:
    """An agent tells what its answer said about itself (an HTTP agent's `agent_version`, the model that
    answered). Ignored outside a replay; non-strings and blanks are ignored."""
    current = _observed.get()
    if current is None:
        return
    if isinstance(version, str) and version.strip():
        current.version = version.strip()[:FIELD_MAX]
    if isinstance(model, str) and model.strip():
        current.model = model.strip()[:FIELD_MAX]


@contextmanager
def observe_identity(agent: Agent, *, name: str | None = None, version: str | None = None) -> Iterator[AgentIdentity]:
    """Collect the identity the agent reports during a replay (in this thread). What the agent reports wins
    over the settings (`FLYWHEEL_AGENT_NAME`, `FLYWHEEL_AGENT_VERSION`); the version is "unknown" without either."""
    who = AgentIdentity(name=(name or getattr(agent, "name", None) or "agent")[:FIELD_MAX],
                        model=getattr(agent, "model", None))
    token = _observed.set(who)
    try:
        yield who
    finally:
        _observed.reset(token)
        if who.version is None:
            who.version = (version or "unknown")[:FIELD_MAX]


class Agent(Protocol):
    """`kb` searches the KB the replay runs against (live, or shadow with drafts). Agents that read their
    own knowledge base instead receive the unpublished drafts of a shadow test as `extra`."""

    name: str

    def reply(
        self, history: list[Turn], kb: Searcher, *, extra: Sequence[ExtraDoc] = (), replay_id: str | None = None
    ) -> AgentAnswer: ...


class RagAgent:
    """The reference agent: KB search, then the LLM answers from the retrieved articles only."""

    name = "builtin-rag"

    def __init__(self, llm: LLM, *, top_k: int = 3) -> None:
        self.llm, self.top_k = llm, top_k

    def reply(
        self, history: list[Turn], kb: Searcher, *, extra: Sequence[ExtraDoc] = (), replay_id: str | None = None
    ) -> AgentAnswer:
        # `extra` is already inside the shadow `kb` searcher for the built-in agent.
        # the whole conversation, the last user turn weighing most (bot/kb/query.py)
        hits = kb.search(conversation_query(history), self.top_k)
        snippets = [ArticleSnippet(id=h.article_id, title=h.title, text=h.body) for h in hits]
        reply = self.llm.answer(AnswerRequest(history=history, articles=snippets))
        report_identity(model=getattr(self.llm, "name", None))
        return AgentAnswer(text=reply.answer, sources=reply.used_article_ids)

