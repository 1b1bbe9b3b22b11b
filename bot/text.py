"""Small, dependency-free text helpers shared by the offline provider, matching and search."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves hi hello thanks thank please ok okay yes also get got
    need want like know tell us let one""".split()
)

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")

DONT_KNOW = re.compile(
    r"\b(i\s+(?:do\s+not|don't|dont)\s+know|i'?m\s+(?:not\s+sure|sorry,?\s+i\s+(?:can(?:no|')t|do(?:n't| not)))"
    r"|i\s+(?:do\s+not|don't)\s+have\s+(?:any\s+)?information|unable\s+to\s+(?:help|answer|find)"
    r"|(?:can(?:no|')t|could\s+not|couldn't)\s+(?:help|answer|find)"
    r"|let\s+me\s+(?:connect|transfer)\s+you|transfer(?:ring)?\s+you\s+to\s+a\s+human)\b",
    re.IGNORECASE,
)


def stem(word: str) -> str:
    """A tiny suffix stripper: enough to match 'refunds'/'refund', 'charged'/'charge'."""
    for suffix in ("ing", "edly", "ed", "ies", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words without stopwords, in order (duplicates kept)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1]


def term_set(text: str) -> set[str]:
    return set(content_terms(text))


def coverage(needle: str, haystack: str) -> float:
    """Share of the needle's content terms found in the haystack (0..1)."""
    need = term_set(needle)
    if not need:
        return 0.0
    return len(need & term_set(haystack)) / len(need)


def jaccard(a: str, b: str) -> float:
    sa, sb = term_set(a), term_set(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


def sentences(text: str) -> list[str]:
    flat = " ".join(text.split())
    return [s.strip() for s in _SENTENCE.split(flat) if s.strip()]


def says_dont_know(text: str) -> bool:
    return bool(DONT_KNOW.search(text))


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary with an ellipsis; never silently (the ellipsis shows the cut)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: max(0, limit - 1)].rsplit(" ", 1)[0]
    return cut + "…"


def slugify(text: str, limit: int = 80) -> str:
    slug = "-".join(words(text))[:limit].strip("-")
    return slug or "article"
