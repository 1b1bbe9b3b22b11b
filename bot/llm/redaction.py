"""Redaction of what is sent to a model and of what a model (or the offline provider) derives from customer text.

`bot.redact` holds the patterns; this module applies them to whole structures:

- `redact_tree` walks the JSON-able data of a request (every string leaf, keys excepted), so text is redacted
  *before* it is serialised (a JSON escape such as `\\n` glued to a phone number cannot hide it);
- `redact_outline` / `redact_draft` scrub a provider's output before it is stored, posted or published:
  titles, summaries, sections, required facts, questions, bodies and tags.

`scrubber_for(settings)` is the one place that turns Settings into the redaction function, so the company's
own contact data (an allowlist in Settings, when configured) is treated the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot import redact as redact_module
from bot.llm.base import DraftArticle, Outline, OutlineSection

if TYPE_CHECKING:
    from bot.settings import Settings

Scrub = Callable[[str], str]
_REDACTORS: dict[tuple[str, str, str], redact_module.Redactor] = {}


def scrubber_for(settings: Settings | None) -> Scrub:
    """The redaction function for these settings (their allowlist, regions and extra patterns); the module
    default when no settings are given. Redactors are cached by those values: building one parses them."""
    if settings is None:
        return redact_module.redact
    key = (settings.redact_extra_patterns, settings.redact_regions, settings.redact_allow)
    redactor = _REDACTORS.get(key)
    if redactor is None:
        if len(_REDACTORS) >= 32:
            _REDACTORS.clear()
        redactor = _REDACTORS.setdefault(key, redact_module.Redactor.from_settings(settings))
    return redactor.redact


def redact_tree(value: Any, scrub: Scrub) -> Any:
    """A copy of JSON-able data with every string value redacted (dict keys are ours, not customer text)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: redact_tree(v, scrub) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_tree(v, scrub) for v in value]
    return value


def redact_outline(outline: Outline, scrub: Scrub) -> Outline:
    """Every text of an outline redacted; ids and the kind are kept."""
    return outline.model_copy(update={
        "title": scrub(outline.title),
        "summary": scrub(outline.summary),
        "sections": [OutlineSection(heading=scrub(s.heading), points=[scrub(p) for p in s.points])
                     for s in outline.sections],
        "required_facts": [scrub(f) for f in outline.required_facts],
        "questions_for_experts": [scrub(q) for q in outline.questions_for_experts],
    })


def redact_draft(article: DraftArticle, scrub: Scrub) -> DraftArticle:
    """A drafted article with its title, body and tags redacted (cited conversation ids are kept)."""
    return article.model_copy(update={
        "title": scrub(article.title),
        "body": scrub(article.body),
        "tags": [scrub(t) for t in article.tags],
    })
