"""Offline article titles: the topic of a customer's question, not the question word for word.

"Who do I call about missed collection of garbage service? and what should I do…" becomes "Missed Collection
of Garbage Service": the clause that asks, without its question words, pronouns and filler verbs, the longest
run of content words (joined by "of", "for", "in"…), in Title Case. Deterministic and dependency-free.
"""

from __future__ import annotations

import re

from bot.text import shorten

MAX_WORDS = 9
QUESTION_WORDS = frozenset("who whom whose what when where why which how".split())
# Skipped inside a topic without ending it ("a refund to my card" -> "refund to card").
SKIPPED = frozenset("a an the my your our their his her its this these those some any other".split())
# Words that never carry the topic and end it: question words, auxiliaries, pronouns, politeness, prepositions
# that start another part of the question, and filler verbs.
FILLER = QUESTION_WORDS | frozenset(
    """that me i you we they he she it us them myself yourself do does did done doing is are was were be been
    being am can could should would will shall may might must have has had having not no please kindly hi hello
    hey thanks thank just also really call contact reach tell know think find get got need want like let see
    ask asking go going try trying help heard hear use using used summarize explain describe list give show
    provide define compare wondering wonder looking long much many often there here about if since so then
    still now today anyone someone something way at from by after before during into than as such more
    i'm i've i'd i'll you're we're they're it's what's that's there's how's who's where's don't doesn't didn't
    can't won't isn't aren't but""".split()
)
TRAILING = frozenset("take takes work works cost costs mean means happen happens cause last start end".split())
CONNECTORS = frozenset("of for in on to and with".split())  # may join content words inside the topic
SMALL = CONNECTORS | frozenset("a an the or at by".split())  # lower-case in Title Case (not first)
_TOKEN = re.compile(r"[\w'’()&/.-]+")
_CLAUSE = re.compile(r"[?!;:,]|\.(?:\s|$)|\band\s+(?=(?:who|what|when|where|why|which|how)\b)", re.IGNORECASE)


def _clause(question: str) -> str:
    """The first clause that asks something (has a question word), else the first clause."""
    clauses = [c.strip() for c in _CLAUSE.split(question) if c and c.strip()]
    asking = [c for c in clauses if QUESTION_WORDS & {w.lower() for w in _TOKEN.findall(c)}]
    return (asking or clauses or [""])[0]


def _title_case(words: list[str]) -> str:
    out = []
    for i, word in enumerate(words):
        if any(ch.isupper() for ch in word) or any(ch.isdigit() for ch in word):
            out.append(word)  # acronyms, product names (MoGo, AEGD), numbers: as written
        elif i > 0 and word in SMALL:
            out.append(word)
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


def topic_title(question: str, limit: int = 90) -> str:
    """The topic of `question` as an article title, or "" when no content word is left."""
    tokens = [t.strip(".'’-") for t in _TOKEN.findall(_clause(question))]
    runs: list[list[str]] = [[]]
    for token in tokens:
        low = token.lower().replace("’", "'")
        if not token or low in SKIPPED:
            continue
        if low in FILLER:
            runs.append([])
        elif low in CONNECTORS:
            if runs[-1]:
                runs[-1].append(low)
        else:
            runs[-1].append(token if any(ch.isupper() for ch in token[1:]) else low)
    runs = [run[: next((i for i in range(len(run), 0, -1) if run[i - 1] not in CONNECTORS), 0)] for run in runs]
    best = max(runs, key=lambda run: sum(1 for w in run if w not in CONNECTORS), default=[])
    if not best:
        return ""
    words = best[:MAX_WORDS]
    while len(words) > 1 and (words[-1] in CONNECTORS or words[-1] in TRAILING):
        words.pop()
    if words[-1] in TRAILING:  # "How does it work?" names no topic
        return ""
    return shorten(_title_case(words), limit)
