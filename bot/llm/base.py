"""What the loop asks of a model, as pydantic structured outputs.

Conversation text always travels as *data* inside these models; providers must render it delimited
(never as instructions) and validate every answer against the schema.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Protocol, runtime_checkable

from pydantic import AfterValidator, BaseModel, Field

from bot.domain import GapKind, Verdict


class Turn(BaseModel):
    role: str = Field(description="user, agent, human or system")
    text: str


class ArticleSnippet(BaseModel):
    id: int = Field(description="knowledge base article id (negative for an unpublished draft)")
    title: str
    text: str = Field(description="the article body or a relevant excerpt")


class GapContext(BaseModel):
    """Everything known about a knowledge gap, for outlining and drafting."""

    gap_id: int
    kind: GapKind = GapKind.MISSING
    conversation_ref: str = Field(description="id of the conversation that showed the gap")
    transcript: list[Turn]
    question: str = Field(description="the customer turn the agent answered badly")
    agent_answer: str = Field(description="what the agent answered")
    human_answer: str | None = Field(
        None, description="what a human teammate answered after a handover: the best evidence"
    )
    related_articles: list[ArticleSnippet] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="teammates' notes, facts, links")
    other_conversation_refs: list[str] = Field(default_factory=list)


class OutlineSection(BaseModel):
    heading: str
    points: list[str] = Field(default_factory=list)


TITLE_MAX = 300  # the gap's, draft's and article's title columns (PostgreSQL refuses a longer one)


def one_line_title(value: str) -> str:
    """A model's title as stored: one line, at most TITLE_MAX characters (a model may send a paragraph)."""
    return " ".join(value.split())[:TITLE_MAX]


Title = Annotated[str, AfterValidator(one_line_title)]


class Outline(BaseModel):
    title: Title = Field(description="title of the article to write")
    summary: str = Field(description="one or two sentences: what the agent lacked")
    kind: GapKind = Field(description="missing, unclear, contradictory or stale knowledge")
    sections: list[OutlineSection]
    required_facts: list[str] = Field(
        description="facts the article must state; the replay judge checks the new answer for them"
    )
    questions_for_experts: list[str] = Field(default_factory=list)
    update_article_ids: list[int] = Field(
        default_factory=list,
        description="existing articles that should be updated instead of adding a new one",
    )


class DraftArticle(BaseModel):
    title: Title
    body: str = Field(description="the article in Markdown")
    tags: list[str] = Field(default_factory=list)
    cited_conversations: list[str] = Field(default_factory=list)


class JudgeRequest(BaseModel):
    question: str
    before_answer: str | None
    after_answer: str
    required_facts: list[str]
    reference: str = Field("", description="the article that should fill the gap")
    kb_excerpts: list[ArticleSnippet] = Field(default_factory=list)


class Judgement(BaseModel):
    verdict: Verdict
    reasons: list[str]
    confidence: float = Field(ge=0.0, le=1.0)
    missing_facts: list[str] = Field(default_factory=list)
    contradictions: list[str] = Field(default_factory=list)


class Change(StrEnum):
    WORSE = "worse"
    SAME = "same"
    BETTER = "better"


class TurnCompareRequest(BaseModel):
    """One agent turn that was not the flagged one, answered before and after a KB change."""

    question: str = Field(description="the customer's message this turn answers")
    before_answer: str = Field(description="the agent's answer before the change")
    after_answer: str = Field(description="the agent's answer after the change")
    kb_excerpts: list[ArticleSnippet] = Field(default_factory=list)


class TurnComparison(BaseModel):
    change: Change = Field(
        description="worse: contradicts the knowledge base, drops a fact the question asked about that the "
        "before answer gave, or answers something else; better: answers the question more correctly or "
        "completely; same otherwise (different words, same content)"
    )
    reason: str = Field(description="one short sentence naming what changed")


class AnswerRequest(BaseModel):
    history: list[Turn] = Field(description="the conversation so far, ending with the user turn")
    articles: list[ArticleSnippet] = Field(description="retrieved knowledge base articles")


class AgentReply(BaseModel):
    answer: str
    used_article_ids: list[int] = Field(default_factory=list)
    knows: bool = Field(description="false when the knowledge base did not cover the question")


@runtime_checkable
class LLM(Protocol):
    """A provider. Each method raises `bot.errors.LLMError` when the model fails; nothing is half-done."""

    name: str
    offline: bool

    def outline(self, gap: GapContext) -> Outline: ...

    def draft(self, gap: GapContext, outline: Outline) -> DraftArticle: ...

    def judge(self, request: JudgeRequest) -> Judgement: ...

    def answer(self, request: AnswerRequest) -> AgentReply: ...

    def compare(self, request: TurnCompareRequest) -> TurnComparison: ...
