"""The one door to a remote model (`bot.llm.remote`): every request carries redacted text, and no other module
talks to the OpenAI client."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx2
from openai import OpenAI
from pydantic import SecretStr

from bot.domain import GapKind
from bot.llm.base import (
    AnswerRequest,
    ArticleSnippet,
    DraftArticle,
    GapContext,
    JudgeRequest,
    Outline,
    OutlineSection,
    Turn,
)
from bot.llm.openai_llm import OpenAILLM
from bot.llm.redaction import redact_draft, redact_outline, redact_tree, scrubber_for
from bot.llm.remote import RemoteModel
from bot.services.topics import OpenAIEmbedder
from bot.settings import Settings
from tests.support.openai_api import KEY, MODEL, FakeAPI, completion

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ("OpenAI", "AsyncOpenAI", "AzureOpenAI")
PII = {
    "jo@example.com": "[email]", "+44 20 7946 0958": "[phone]", "4111-1111-1111-1111": "[card]",
    "DE89 3704 0044 0532 0130 00": "[iban]", "536-90-4399": "[ssn]",
}
TEXT = "Hi, " + ", ".join(PII) + ".\n+44 20 7946 0958 and my password is Tr0ub4dor&3xyz"  # a phone after "\n"
RAW = [*PII, "7946 0958", "Tr0ub4dor"]


def llm(api: FakeAPI, settings: Settings | None = None) -> OpenAILLM:
    http = httpx2.Client(transport=httpx2.MockTransport(api))
    if settings is not None:
        return OpenAILLM.from_settings(settings, http_client=http)
    return OpenAILLM(OpenAI(api_key=KEY, base_url="https://api.test/v1", max_retries=0, http_client=http), MODEL)


def sent(api: FakeAPI) -> str:
    """Every request body so far, as one string (JSON escapes decoded)."""
    return "\n".join(json.dumps(json.loads(r.content), ensure_ascii=False) for r in api.requests)


def assert_clean(text: str) -> None:
    leaked = [v for v in RAW if v in text]
    assert not leaked, leaked
    assert all(label in text for label in PII.values()) and "[secret]" in text


def gap() -> GapContext:
    return GapContext(
        gap_id=1, conversation_ref="c-1", transcript=[Turn(role="user", text=TEXT), Turn(role="human", text=TEXT)],
        question=TEXT, agent_answer=TEXT, human_answer=TEXT, notes=[TEXT],
        related_articles=[ArticleSnippet(id=3, title=TEXT, text=TEXT)],
    )


def outline() -> Outline:
    return Outline(title=TEXT, summary=TEXT, kind=GapKind.MISSING,
                   sections=[OutlineSection(heading=TEXT, points=[TEXT])],
                   required_facts=[TEXT], questions_for_experts=[TEXT])


def test_every_model_task_sends_redacted_data_only() -> None:
    api = FakeAPI(
        completion(outline().model_dump_json()),
        completion(DraftArticle(title="t", body="b").model_dump_json()),
        completion(json.dumps({"verdict": "pass", "reasons": ["ok"], "confidence": 0.9, "missing_facts": [],
                               "contradictions": []})),
        completion('{"answer": "a", "used_article_ids": [3], "knows": true}'),
    )
    model = llm(api)
    model.outline(gap())
    model.draft(gap(), outline())
    model.judge(JudgeRequest(question=TEXT, before_answer=TEXT, after_answer=TEXT, required_facts=[TEXT],
                             reference=TEXT, kb_excerpts=[ArticleSnippet(id=3, title=TEXT, text=TEXT)]))
    model.answer(AnswerRequest(history=[Turn(role="user", text=TEXT)],
                               articles=[ArticleSnippet(id=3, title="t", text=TEXT)]))
    assert len(api.requests) == 4
    for request in api.requests:
        assert_clean(json.dumps(json.loads(request.content), ensure_ascii=False))


def test_the_settings_allowlist_keeps_the_company_contact_data() -> None:
    settings = Settings(_env_file=None, openai_api_key=SecretStr(KEY), openai_base_url="https://api.test/v1",  # type: ignore[call-arg]
                        llm_max_retries=0, redact_allow="+44 20 7946 0958,help@acme.example")
    api = FakeAPI(completion('{"answer": "a", "used_article_ids": [], "knows": false}'))
    llm(api, settings).answer(AnswerRequest(
        history=[Turn(role="user", text="Mail help@acme.example or jo@example.com")],
        articles=[ArticleSnippet(id=1, title="Contact", text="Call +44 20 7946 0958.")],
    ))
    body = sent(api)
    assert "help@acme.example" in body and "+44 20 7946 0958" in body  # the company's own, on the allowlist
    assert "jo@example.com" not in body and "[email]" in body


def test_embeddings_are_redacted_and_keep_the_order() -> None:
    calls: list[dict[str, Any]] = []

    def create(**kw: Any) -> SimpleNamespace:
        calls.append(kw)
        rows = [SimpleNamespace(index=1, embedding=[2.0]), SimpleNamespace(index=0, embedding=[1.0])]
        return SimpleNamespace(data=rows)

    embedder = OpenAIEmbedder(SimpleNamespace(embeddings=SimpleNamespace(create=create)))
    assert embedder.embed([TEXT, "refund"]) == [[1.0], [2.0]]
    assert calls[0]["model"] == "text-embedding-3-small" and calls[0]["input"][1] == "refund"
    assert_clean(calls[0]["input"][0])


def test_redaction_happens_before_rendering() -> None:
    """A phone right after a newline is still found: the JSON escape ("\\n+44…") never hides it."""
    messages = RemoteModel(object()).messages("system", {"question": "line one\n+44 20 7946 0958"})
    assert "7946" not in messages[1]["content"] and "[phone]" in messages[1]["content"]
    assert messages[0] == {"role": "system", "content": "system"}
    assert redact_tree({"k jo@example.com": ["jo@example.com", 3, None]}, scrubber_for(None)) == {
        "k jo@example.com": ["[email]", 3, None]}  # keys are ours (field names), values are data


def test_derived_outline_and_draft_are_redacted_everywhere() -> None:
    scrub = scrubber_for(None)
    o = redact_outline(outline().model_copy(update={"update_article_ids": [4]}), scrub)
    assert_clean(o.model_dump_json())
    assert o.update_article_ids == [4] and o.kind == GapKind.MISSING
    d = redact_draft(DraftArticle(title=TEXT, body=TEXT, tags=["jo@example.com"], cited_conversations=["c-1"]), scrub)
    assert_clean(d.title + d.body) and d.tags == ["[email]"] and d.cited_conversations == ["c-1"]


def _python_files() -> list[Path]:
    return [p for top in ("bot", "handlers", "storage") for p in (ROOT / top).rglob("*.py")]


def test_no_module_but_the_choke_point_talks_to_the_openai_client() -> None:
    """`OpenAI(...)`, `.chat.completions` and `.embeddings` appear in bot/llm/remote.py only; only the LLM layer
    imports the SDK at all (openai_llm.py for its exception types)."""
    offenders = []
    for path in _python_files():
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            imported = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                        [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(m == "openai" or m.startswith("openai.") for m in imported) and not rel.startswith("bot/llm/"):
                offenders.append(f"{rel}:{node.lineno} imports openai")
            builds = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CLIENTS
            calls_client = builds or (isinstance(node, ast.Attribute) and node.attr in ("completions", "embeddings"))
            if calls_client and rel != "bot/llm/remote.py":
                offenders.append(f"{rel}:{node.lineno} calls the OpenAI client")
    assert not offenders, offenders


def test_the_source_check_would_see_a_direct_call() -> None:
    """The check above is not vacuous: the choke point itself is found by it."""
    tree = ast.parse((ROOT / "bot/llm/remote.py").read_text(encoding="utf-8"))
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert {"completions", "embeddings"} <= attrs


def test_scrubber_for_settings_is_cached_and_honours_the_allowlist() -> None:
    settings = Settings(_env_file=None, redact_allow="help@acme.example")  # type: ignore[call-arg]
    scrub = scrubber_for(settings)
    assert scrub("help@acme.example, jo@example.com") == "help@acme.example, [email]"
    assert scrubber_for(Settings(_env_file=None, redact_allow="help@acme.example")).__self__ is scrub.__self__  # type: ignore[attr-defined,call-arg]
