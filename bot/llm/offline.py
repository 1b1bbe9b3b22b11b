"""A deterministic offline provider: extractive and template-based, no network, no model.

Everything it writes is labelled as offline. It treats conversation text purely as data: it copies and
compares words, and never follows instructions found in them.
"""

from __future__ import annotations

from bot.domain import GapKind, Verdict
from bot.llm.base import (
    AgentReply,
    AnswerRequest,
    Change,
    DraftArticle,
    GapContext,
    Judgement,
    JudgeRequest,
    Outline,
    OutlineSection,
    TurnCompareRequest,
    TurnComparison,
)
from bot.llm.titles import topic_title
from bot.redact import redact
from bot.text import content_terms, coverage, says_dont_know, sentences, shorten, term_set

LABEL = "[offline provider: extractive, no LLM]"
DONT_KNOW_ANSWER = "I'm sorry, I don't have information about that. Let me connect you with a teammate."
FACT_COVERED = 0.6  # share of a fact's content words the answer must contain
MATCH_COVERED = 0.5  # share of the question's content words an article must contain to be used
MAX_FACTS = 5
KEPT_ENOUGH = 0.5  # share of the earlier answer's words about the question a new answer must keep (collateral)


def _title_from_question(question: str) -> str:
    """The topic the question is about ("Missed Collection of Garbage Service"); the question itself only when
    no topic can be told from it."""
    if topic := topic_title(question):
        return topic
    q = " ".join(question.split()).rstrip("?.! ")
    return shorten(q[:1].upper() + q[1:], 90) if q else "Untitled gap"


def _sections(facts: list[str], more: list[str]) -> list[OutlineSection]:
    """The article's structure. The facts it must state are a separate list (`required_facts`), so the sections
    say what each part is for and hold only the evidence beyond those facts, never the facts again."""
    answer = ("One or two sentences a customer can act on; they state the facts below"
              if facts else "The answer the experts give (see the questions below)")
    return [
        OutlineSection(heading="Short answer", points=[answer]),
        OutlineSection(heading="Details", points=more or ["Steps, contacts, times and costs that go with it"]),
        OutlineSection(heading="Exceptions and limits", points=[]),
    ]


class OfflineLLM:
    name = "offline"
    offline = True

    # --- outline ---------------------------------------------------------------------------------
    def outline(self, gap: GapContext) -> Outline:
        evidence = [s for s in sentences(gap.human_answer or "") if len(content_terms(s)) >= 3]
        for note in gap.notes:
            evidence.extend(s for s in sentences(note) if len(content_terms(s)) >= 2)
        facts = evidence[:MAX_FACTS]
        more = [e for e in evidence[MAX_FACTS:] if e not in facts]
        update = [a.id for a in gap.related_articles if coverage(gap.question, a.title + " " + a.text) >= 0.8]
        questions = []
        if not facts:
            questions.append(f"What is the correct, complete answer to: “{shorten(gap.question, 200)}”?")
        questions.append("Are there exceptions, limits or edge cases the agent should mention?")
        kind = GapKind.STALE if update else gap.kind
        source = "a teammate's answer after the handover" if gap.human_answer else "the conversation"
        return Outline(
            title=_title_from_question(gap.question),
            summary=f"{LABEL} The agent could not answer this question well; facts taken from {source}.",
            kind=kind,
            sections=_sections(facts, more),
            required_facts=facts,
            questions_for_experts=questions,
            update_article_ids=update[:1],
        )

    # --- draft -----------------------------------------------------------------------------------
    def draft(self, gap: GapContext, outline: Outline) -> DraftArticle:
        answer = " ".join(outline.required_facts) or "(No facts yet: add them in the thread, then redraft.)"
        parts = [answer, ""]
        extra = [n for n in gap.notes if not any(n.strip() in f for f in outline.required_facts)]
        if extra:
            parts += ["## Notes from the team", *[f"- {' '.join(n.split())}" for n in extra], ""]
        refs = [gap.conversation_ref, *gap.other_conversation_refs]
        parts += ["## Sources", *[f"- conversation {r}" for r in refs], "", f"_{LABEL}_"]
        tags = sorted({t for t in content_terms(outline.title) if len(t) > 3})[:5]
        return DraftArticle(title=outline.title, body="\n".join(parts).strip(), tags=tags, cited_conversations=refs)

    # --- judge -----------------------------------------------------------------------------------
    def judge(self, request: JudgeRequest) -> Judgement:
        after = request.after_answer
        facts = request.required_facts or sentences(request.reference)[:MAX_FACTS]
        if not facts:
            return Judgement(
                verdict=Verdict.UNCLEAR,
                reasons=[f"{LABEL} No required facts or reference article to check the answer against."],
                confidence=0.0,
            )
        scores = [coverage(f, after) for f in facts]
        missing = [f for f, s in zip(facts, scores, strict=True) if s < FACT_COVERED]
        covered = len(facts) - len(missing)
        mean = sum(scores) / len(scores)
        if says_dont_know(after) and covered < len(facts):
            verdict, why = Verdict.FAIL, "The new answer still says the agent does not know."
        elif not missing:
            verdict, why = Verdict.PASS, f"The new answer states all {len(facts)} required facts."
        elif covered == 0 or covered < len(facts) / 2:
            verdict, why = Verdict.FAIL, f"The new answer states {covered} of {len(facts)} required facts."
        else:
            verdict, why = Verdict.UNCLEAR, f"The new answer states {covered} of {len(facts)} required facts."
        conflicts = self._number_conflicts(after, request)
        if conflicts and verdict == Verdict.PASS:
            verdict = Verdict.UNCLEAR
            why += " But it gives figures the knowledge base does not contain."
        return Judgement(
            verdict=verdict,
            reasons=[f"{LABEL} {why}"],
            confidence=round(mean if verdict != Verdict.FAIL else 1 - mean, 2),
            missing_facts=missing,
            contradictions=conflicts,
        )

    @staticmethod
    def _number_conflicts(answer: str, request: JudgeRequest) -> list[str]:
        known = term_set(request.reference + " " + " ".join(request.required_facts))
        for snippet in request.kb_excerpts:
            known |= term_set(snippet.text)
        numbers = {t for t in term_set(answer) if any(c.isdigit() for c in t)}
        return sorted(f"figure {n} is not in the knowledge base" for n in numbers - known)

    # --- compare another turn before/after (collateral regressions) -------------------------------------
    def compare(self, request: TurnCompareRequest) -> TurnComparison:
        """Worse when the new answer drops what the old answer said about the question (the old answer's
        sentences that share words with it), or now says it does not know. A message that asks nothing (a
        greeting, thanks) is never a regression."""
        before, after = request.before_answer, request.after_answer
        asked = term_set(request.question)
        relevant = [s for s in sentences(before) if term_set(s) & asked]
        if not asked or not relevant:
            return TurnComparison(change=Change.SAME,
                                  reason=f"{LABEL} The earlier answer said nothing about the question's words.")
        if says_dont_know(before):
            better = not says_dont_know(after)
            return TurnComparison(change=Change.BETTER if better else Change.SAME,
                                  reason=f"{LABEL} The answer before said the agent did not know.")
        if says_dont_know(after):
            return TurnComparison(change=Change.WORSE, reason=f"{LABEL} The new answer says the agent does not know.")
        said = set().union(*(term_set(s) for s in relevant))
        kept = len(said & term_set(after)) / len(said)
        if kept < KEPT_ENOUGH:
            return TurnComparison(change=Change.WORSE, reason=(
                f"{LABEL} The new answer keeps {kept:.0%} of what the earlier answer said about this question."))
        return TurnComparison(change=Change.SAME, reason=f"{LABEL} The new answer keeps what the earlier one said.")

    # --- answer (the built-in agent's model) -------------------------------------------------------
    def answer(self, request: AnswerRequest) -> AgentReply:
        # The KB holds redacted text (titles and facts derived from customers are redacted), so the question is
        # compared in the same form: "[email] … refund" matches an article titled "[email] … refund".
        question = redact(next((t.text for t in reversed(request.history) if t.role == "user"), ""))
        best, best_cov = None, 0.0
        for article in request.articles:
            cov = coverage(question, article.title + " " + article.text)
            if cov > best_cov:
                best, best_cov = article, cov
        if best is None or best_cov < MATCH_COVERED:
            return AgentReply(answer=DONT_KNOW_ANSWER, used_article_ids=[], knows=False)
        return AgentReply(answer=_best_passage(best.text, question), used_article_ids=[best.id], knows=True)


def _best_passage(body: str, question: str, limit: int = 1500) -> str:
    """The article's paragraphs that cover the question best (the lead paragraph on ties), in article order,
    up to `limit` characters: an extractive answer quotes what is relevant, not the whole article."""
    paragraphs = [
        " ".join(p.split())
        for p in body.split("\n\n")
        if p.strip() and not p.lstrip().startswith(("#", "_[offline", "- conversation"))
    ]
    if not paragraphs:
        return shorten(body, limit)
    ranked = sorted(enumerate(paragraphs), key=lambda ip: (-coverage(question, ip[1]), ip[0]))
    chosen, used = [ranked[0]], len(ranked[0][1])
    for index, text in ranked[1:]:
        if coverage(question, text) == 0 or used + len(text) + 1 > limit:
            continue
        chosen.append((index, text))
        used += len(text) + 1
    return shorten(" ".join(text for _, text in sorted(chosen)), limit)
