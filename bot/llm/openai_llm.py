"""The OpenAI provider: Chat Completions with structured outputs (pydantic `response_format`).

Every SDK failure becomes a `bot.errors.LLMError` with a user-safe message and a `retryable` flag. The SDK
already retries timeouts, connection errors, 408/409/429 and 5xx (`max_retries`, with backoff), so an error
that reaches us has exhausted them. Logs carry the model, latency, token usage and request ids only: never
the API key, prompts, conversation text or the model's output. Requests leave through `bot.llm.remote`,
which redacts every string of the data before it is sent.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import TYPE_CHECKING, Any, TypeVar

import openai
import pydantic

from bot.domain import Verdict
from bot.errors import LLMError
from bot.llm import prompts
from bot.llm.base import (
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
from bot.llm.offline import DONT_KNOW_ANSWER
from bot.llm.redaction import Scrub
from bot.llm.remote import RemoteModel

if TYPE_CHECKING:
    import httpx2
    from openai import OpenAI

    from bot.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T", bound=pydantic.BaseModel)

_SAFE_CODE = re.compile(r"[a-z0-9_.\-]{1,64}")
_BAD_OUTPUT = (pydantic.ValidationError, json.JSONDecodeError, openai.APIResponseValidationError)


class OpenAILLM:
    offline = False

    def __init__(
        self, client: OpenAI | RemoteModel, model: str, *, timeout: float | None = None, scrub: Scrub | None = None
    ) -> None:
        # Every request goes through `RemoteModel`, which redacts the data it sends (the one choke point).
        self.remote = client if isinstance(client, RemoteModel) else RemoteModel(client, scrub=scrub)
        self.client = self.remote.client
        self.model = model
        self.name = f"openai:{model}"
        self.timeout = timeout if timeout is not None else _seconds(self.client.timeout)

    @classmethod
    def from_settings(cls, settings: Settings, *, http_client: httpx2.Client | None = None) -> OpenAILLM:
        """Build the client from Settings. A missing key is a configuration error, never a silent fallback."""
        remote = RemoteModel.from_settings(settings, http_client=http_client)
        return cls(remote, settings.openai_model, timeout=settings.llm_timeout)

    # --- the five tasks ----------------------------------------------------------------------------
    def outline(self, gap: GapContext) -> Outline:
        result = self._complete("outline", prompts.OUTLINE_SYSTEM, gap, Outline)
        known = {a.id for a in gap.related_articles}
        return result.model_copy(update={"update_article_ids": [i for i in result.update_article_ids if i in known]})

    def draft(self, gap: GapContext, outline: Outline) -> DraftArticle:
        result = self._complete("draft", prompts.DRAFT_SYSTEM, {"gap": gap, "outline": outline}, DraftArticle)
        refs = [gap.conversation_ref, *gap.other_conversation_refs]
        cited = [r for r in dict.fromkeys(result.cited_conversations) if r in refs]
        return result.model_copy(update={"cited_conversations": cited or refs})

    def judge(self, request: JudgeRequest) -> Judgement:
        if not request.required_facts and not request.reference.strip():
            return Judgement(
                verdict=Verdict.UNCLEAR,
                reasons=["No required facts or reference article to check the answer against."],
                confidence=0.0,
            )
        result = self._complete("judge", prompts.JUDGE_SYSTEM, request, Judgement)
        if result.verdict == Verdict.COLLATERAL:  # the replay decides that one, never the judge
            return result.model_copy(update={"verdict": Verdict.UNCLEAR})
        return result

    def compare(self, request: TurnCompareRequest) -> TurnComparison:
        return self._complete("compare", prompts.COMPARE_SYSTEM, request, TurnComparison)

    def answer(self, request: AnswerRequest) -> AgentReply:
        if not request.articles:
            return AgentReply(answer=DONT_KNOW_ANSWER, used_article_ids=[], knows=False)
        result = self._complete("answer", prompts.ANSWER_SYSTEM, request, AgentReply)
        known = {a.id for a in request.articles}
        used = [i for i in result.used_article_ids if i in known] if result.knows else []
        return result.model_copy(update={"used_article_ids": used})

    # --- one structured call ---------------------------------------------------------------------------
    def _complete(self, task: str, system: str, data: pydantic.BaseModel | dict[str, Any], schema: type[T]) -> T:
        started = time.monotonic()
        try:
            completion = self.remote.parse(model=self.model, system=system, data=data, schema=schema)
        except (openai.OpenAIError, *_BAD_OUTPUT) as exc:
            log.warning(
                "llm call failed task=%s model=%r latency_ms=%d error=%s status=%s request_id=%r",
                task,
                self.model,
                _ms(started),
                type(exc).__name__,
                getattr(exc, "status_code", None),
                getattr(exc, "request_id", None),
            )
            # `from None`: the SDK's exception text can echo the (redacted) key or the model's output.
            raise self._to_llm_error(exc) from None
        usage = completion.usage
        log.info(
            "llm call task=%s model=%r latency_ms=%d prompt_tokens=%s completion_tokens=%s id=%r request_id=%r",
            task,
            completion.model or self.model,
            _ms(started),
            usage.prompt_tokens if usage else None,
            usage.completion_tokens if usage else None,
            completion.id,
            getattr(completion, "_request_id", None),
        )
        if not completion.choices:
            raise LLMError("The model returned no answer; try again.", retryable=True)
        message = completion.choices[0].message
        if message.refusal:
            raise LLMError(
                "The model declined to answer this request. Try again, or write this one by hand.",
                retryable=False,
            )
        if message.parsed is None:
            raise LLMError("The model returned an empty answer; try again.", retryable=True)
        return message.parsed

    def _to_llm_error(self, exc: Exception) -> LLMError:
        """A user-safe LLMError for an SDK or parsing failure (no key, no conversation text, no SDK text)."""
        if isinstance(exc, openai.APITimeoutError):
            within = f"within {self.timeout:g} s" if self.timeout else "in time"
            return LLMError(
                f"The model did not answer {within} (tried {self.client.max_retries + 1} times); "
                "try again later, or raise FLYWHEEL_LLM_TIMEOUT.",
                retryable=True,
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(
                "Could not reach the OpenAI API (network error); check the connection and OPENAI_BASE_URL, "
                "then try again.",
                retryable=True,
            )
        if isinstance(exc, openai.RateLimitError):
            if "insufficient_quota" in (exc.code, exc.type):
                return LLMError(
                    "The OpenAI account has run out of quota (insufficient_quota): check the plan and billing "
                    "of the account behind OPENAI_API_KEY.",
                    retryable=False,
                )
            return LLMError("The OpenAI API is rate limiting requests (HTTP 429); try again shortly.")
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return LLMError(
                f"The OpenAI API refused the credentials (HTTP {exc.status_code}): check OPENAI_API_KEY "
                f"and that it may use model {self.model!r}.",
                retryable=False,
            )
        if isinstance(exc, openai.NotFoundError):
            return LLMError(
                f"The OpenAI API does not offer model {self.model!r} (HTTP 404): check OPENAI_MODEL and "
                "OPENAI_BASE_URL.",
                retryable=False,
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status >= 500 or status in (408, 409):
                return LLMError(f"The OpenAI API failed (HTTP {status}); try again later.", retryable=True)
            code = f", {exc.code}" if exc.code and _SAFE_CODE.fullmatch(exc.code) else ""
            return LLMError(f"The OpenAI API rejected the request (HTTP {status}{code}).", retryable=False)
        if isinstance(exc, openai.LengthFinishReasonError):
            return LLMError(
                "The model's answer was cut off at its length limit, so it could not be used.",
                retryable=False,
            )
        if isinstance(exc, openai.ContentFilterFinishReasonError):
            return LLMError("The model's content filter blocked the answer.", retryable=False)
        if isinstance(exc, _BAD_OUTPUT):
            return LLMError(
                "The model returned output that does not match the expected format; try again.",
                retryable=True,
            )
        return LLMError(f"The OpenAI call failed ({type(exc).__name__}).", retryable=False)


def _seconds(timeout: object) -> float | None:
    """The read timeout in seconds from the client's setting (a number or an httpx2.Timeout)."""
    if isinstance(timeout, (int, float)):
        return float(timeout)
    read = getattr(timeout, "read", None)
    return float(read) if isinstance(read, (int, float)) else None


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
