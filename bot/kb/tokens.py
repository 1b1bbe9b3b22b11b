"""Text to search terms, the same on every backend: lower-cased Unicode words without English stopwords,
stemmed by Snowball's English stemmer (PyStemmer, C); Chinese, Japanese and Korean runs as character bigrams
(they have no spaces between words)."""

from __future__ import annotations

import re
import threading

import Stemmer

from bot.text import STOPWORDS

_TOKEN = re.compile(r"[^\W_]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_CACHE_MAX = 500_000

_stemmer = Stemmer.Stemmer("english")
_lock = threading.Lock()  # a Stemmer object is not safe to share between threads
_cache: dict[str, str] = {}  # word -> stem ("" for a stopword or a lone letter)


def _stem_new(word: str) -> str:
    if word in STOPWORDS or (len(word) == 1 and not word.isdigit()):
        stem = ""
    else:
        with _lock:
            stem = _stemmer.stemWord(word)
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[word] = stem
    return stem


def _bigrams(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def terms(text: str) -> list[str]:
    """The text's search terms in order, repeats kept (they are the term frequencies)."""
    out: list[str] = []
    cache = _cache
    for word in _TOKEN.findall(text.lower()):
        stem = cache.get(word)
        if stem is None:
            if _CJK.search(word):
                for part in re.split(f"({_CJK.pattern})", word):
                    if part:
                        out.extend(_bigrams(part) if _CJK.fullmatch(part) else [s for s in [_stem_new(part)] if s])
                continue
            stem = _stem_new(word)
        if stem:
            out.append(stem)
    return out
